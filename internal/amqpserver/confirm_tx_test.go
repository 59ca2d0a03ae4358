package amqpserver_test

import (
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	wire "github.com/warrenmq/warren/internal/amqp"
)

func TestConfirmAcksEveryPublish(t *testing.T) {
	t.Parallel()
	p := node(t)
	c := newClient(t, p)
	c.declare("q", nil)
	if err := c.ch.Confirm(false); err != nil {
		t.Fatal(err)
	}
	confirms := c.ch.NotifyPublish(make(chan amqp.Confirmation, 200))
	const n = 150
	for i := 0; i < n; i++ {
		key := "q"
		if i%3 == 0 {
			key = "unroutable" // confirmed too
		}
		c.publish("", key, amqp.Publishing{Body: []byte("x")})
	}
	for i := 1; i <= n; i++ {
		select {
		case cf := <-confirms:
			equal(t, "delivery tag", cf.DeliveryTag, uint64(i))
			equal(t, "ack", cf.Ack, true)
		case <-time.After(waitTimeout):
			t.Fatalf("no confirm for publish %d", i)
		}
	}
	wantCounts(t, p, "q", n-n/3, 0, 0)

	// PublishWithDeferredConfirm.
	dc, err := c.ch.PublishWithDeferredConfirm("", "q", false, false, amqp.Publishing{Body: []byte("y")})
	if err != nil {
		t.Fatal(err)
	}
	equal(t, "deferred tag", dc.DeliveryTag, uint64(n+1))
	done := make(chan bool, 1)
	go func() { done <- dc.Wait() }()
	select {
	case ok := <-done:
		equal(t, "deferred ack", ok, true)
	case <-time.After(waitTimeout):
		t.Fatal("deferred confirm never came")
	}
}

// Publishes that arrive together are confirmed with multiple=true, and
// every sequence number is covered exactly once.
func TestConfirmMultiple(t *testing.T) {
	t.Parallel()
	p := node(t)
	raw := rawDial(t, p.Addr)
	raw.open(nil)
	raw.send(1, &wire.ChannelOpen{})
	expect[*wire.ChannelOpenOk](raw)
	raw.send(1, &wire.ConfirmSelect{})
	expect[*wire.ConfirmSelectOk](raw)
	raw.send(1, &wire.QueueDeclare{Queue: "q"})
	expect[*wire.QueueDeclareOk](raw)
	var batch []byte
	for i := 0; i < 50; i++ {
		batch = wire.AppendMethodFrame(batch, 1, &wire.BasicPublish{RoutingKey: "q"})
		batch = wire.AppendHeaderFrame(batch, 1, wire.ClassBasic, 1, []byte{0, 0})
		batch = wire.AppendBodyFrames(batch, 1, []byte("x"), 4096)
	}
	raw.write(batch)
	var acked uint64
	multiple := false
	for acked < 50 {
		a := expect[*wire.BasicAck](raw)
		if a.DeliveryTag <= acked {
			t.Fatalf("ack %d after %d", a.DeliveryTag, acked)
		}
		if a.DeliveryTag != acked+1 && !a.Multiple {
			t.Fatalf("ack %d without multiple skips %d..%d", a.DeliveryTag, acked+1, a.DeliveryTag-1)
		}
		multiple = multiple || a.Multiple
		acked = a.DeliveryTag
	}
	if !multiple {
		t.Fatal("50 publishes in one write were acked one by one")
	}
}

// A mandatory unroutable message is returned before it is confirmed.
func TestConfirmReturnBeforeAck(t *testing.T) {
	t.Parallel()
	p := node(t)
	raw := rawDial(t, p.Addr)
	raw.open(nil)
	raw.send(1, &wire.ChannelOpen{})
	expect[*wire.ChannelOpenOk](raw)
	raw.send(1, &wire.ConfirmSelect{})
	expect[*wire.ConfirmSelectOk](raw)
	b := wire.AppendMethodFrame(nil, 1, &wire.BasicPublish{RoutingKey: "nowhere", Mandatory: true})
	b = wire.AppendHeaderFrame(b, 1, wire.ClassBasic, 3, []byte{0, 0})
	b = wire.AppendBodyFrames(b, 1, []byte("abc"), 4096)
	raw.write(b)
	r := expect[*wire.BasicReturn](raw)
	equal(t, "reply code", r.ReplyCode, 312)
	equal(t, "reply text", r.ReplyText, "NO_ROUTE")
	if f := raw.frame(); f.Type != wire.FrameHeader {
		t.Fatalf("frame type %d, want content header", f.Type)
	}
	if f := raw.frame(); f.Type != wire.FrameBody || string(f.Payload) != "abc" {
		t.Fatalf("frame type %d %q, want the body", f.Type, f.Payload)
	}
	a := expect[*wire.BasicAck](raw)
	equal(t, "ack", a.DeliveryTag, 1)

	// The same through amqp091-go.
	c := newClient(t, p)
	returns := c.ch.NotifyReturn(make(chan amqp.Return, 1))
	if err := c.ch.Confirm(false); err != nil {
		t.Fatal(err)
	}
	confirms := c.ch.NotifyPublish(make(chan amqp.Confirmation, 1))
	if err := c.ch.Publish("", "nowhere", true, false, amqp.Publishing{Body: []byte("r")}); err != nil {
		t.Fatal(err)
	}
	select {
	case r := <-returns:
		equal(t, "returned", string(r.Body), "r")
	case <-time.After(waitTimeout):
		t.Fatal("no return")
	}
	select {
	case cf := <-confirms:
		equal(t, "confirm", cf, amqp.Confirmation{DeliveryTag: 1, Ack: true})
	case <-time.After(waitTimeout):
		t.Fatal("no confirm")
	}
}

func TestConfirmAndTxExclusive(t *testing.T) {
	t.Parallel()
	p := node(t)
	c := newClient(t, p)
	if err := c.ch.Tx(); err != nil {
		t.Fatal(err)
	}
	c.wantErr(c.ch.Confirm(false), 406, "PRECONDITION_FAILED - cannot switch from tx to confirm mode")
	if err := c.ch.Confirm(false); err != nil {
		t.Fatal(err)
	}
	if err := c.ch.Confirm(false); err != nil { // again is fine
		t.Fatal(err)
	}
	c.wantErr(c.ch.Tx(), 406, "PRECONDITION_FAILED - cannot switch from confirm to tx mode")
}

func TestTxPublish(t *testing.T) {
	t.Parallel()
	p := node(t)
	c := newClient(t, p)
	c.declare("q", nil)
	returns := c.ch.NotifyReturn(make(chan amqp.Return, 1))
	if err := c.ch.Tx(); err != nil {
		t.Fatal(err)
	}
	if err := c.ch.Tx(); err != nil { // again is fine
		t.Fatal(err)
	}
	c.publishText("q", "1", "2")
	if err := c.ch.Publish("", "nowhere", true, false, amqp.Publishing{Body: []byte("r")}); err != nil {
		t.Fatal(err)
	}
	c.sync()
	wantCounts(t, p, "q", 0, 0, 0)
	select {
	case r := <-returns:
		t.Fatalf("returned before commit: %+v", r)
	default:
	}
	if err := c.ch.TxCommit(); err != nil {
		t.Fatal(err)
	}
	wantCounts(t, p, "q", 2, 0, 0)
	select {
	case r := <-returns:
		equal(t, "returned", string(r.Body), "r")
	case <-time.After(waitTimeout):
		t.Fatal("no return after commit")
	}

	c.publishText("q", "3")
	if err := c.ch.TxRollback(); err != nil {
		t.Fatal(err)
	}
	if err := c.ch.TxCommit(); err != nil { // nothing left to commit
		t.Fatal(err)
	}
	wantCounts(t, p, "q", 2, 0, 0)
	// The channel stays transactional.
	c.publishText("q", "4")
	wantCounts(t, p, "q", 2, 0, 0)
	if err := c.ch.TxCommit(); err != nil {
		t.Fatal(err)
	}
	equalSlice(t, "committed", c.getBodies("q", 3, true), []string{"1", "2", "4"})
}

func TestTxAcks(t *testing.T) {
	t.Parallel()
	p := node(t)
	c := newClient(t, p)
	c.declare("q", nil)
	c.publishText("q", "1", "2", "3", "4")
	if err := c.ch.Tx(); err != nil {
		t.Fatal(err)
	}
	c.getBodies("q", 4, false)
	if err := c.ch.Ack(2, true); err != nil {
		t.Fatal(err)
	}
	if err := c.ch.Reject(3, true); err != nil {
		t.Fatal(err)
	}
	c.sync()
	wantCounts(t, p, "q", 0, 4, 0) // nothing applied yet
	if err := c.ch.TxCommit(); err != nil {
		t.Fatal(err)
	}
	wantCounts(t, p, "q", 1, 1, 0) // 1, 2 acked, 3 requeued, 4 unacked

	// Rolled back acks leave the messages unacked, and can be acked again.
	if err := c.ch.Ack(4, false); err != nil {
		t.Fatal(err)
	}
	if err := c.ch.TxRollback(); err != nil {
		t.Fatal(err)
	}
	wantCounts(t, p, "q", 1, 1, 0)
	if err := c.ch.Ack(4, false); err != nil {
		t.Fatal(err)
	}
	if err := c.ch.TxCommit(); err != nil {
		t.Fatal(err)
	}
	wantCounts(t, p, "q", 1, 0, 0)

	// An unknown tag fails at once, not at commit, as in RabbitMQ.
	d := c.get("q", false)
	equal(t, "body", string(d.Body), "3")
	if err := c.ch.Ack(d.DeliveryTag, false); err != nil {
		t.Fatal(err)
	}
	if err := c.ch.Ack(d.DeliveryTag, false); err != nil {
		t.Fatal(err)
	}
	c.wantChannelClosed(406, "PRECONDITION_FAILED - unknown delivery tag 5")
	wantCounts(t, p, "q", 1, 0, 0) // the uncommitted ack was not applied
}

func TestTxErrors(t *testing.T) {
	t.Parallel()
	p := node(t)
	c := newClient(t, p)
	c.wantErr(c.ch.TxCommit(), 406, "PRECONDITION_FAILED - channel is not transactional")
	c.wantErr(c.ch.TxRollback(), 406, "PRECONDITION_FAILED - channel is not transactional")
}
