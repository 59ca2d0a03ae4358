package amqpserver_test

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/warrenmq/warren/internal/broker"
	"github.com/warrenmq/warren/internal/warrentest"
)

// Queue semantics: TTL, dead-lettering, length limits, priorities,
// consumer priorities, single active consumer, delivery limits, alternate
// exchanges, CC/BCC and policies. test/semantics checks the same
// behaviours side by side with RabbitMQ.

func setPolicy(t *testing.T, p *warrentest.InProc, op broker.Op, name, pattern, applyTo string, prio int, def map[string]any) {
	t.Helper()
	raw, _ := json.Marshal(def)
	if _, err := p.Broker.Apply(&broker.Command{Op: op, Vhost: "/", Name: name, Pattern: pattern,
		ApplyTo: applyTo, Priority: prio, Value: raw}); err != nil {
		t.Fatalf("%s %s: %v", op, name, err)
	}
}

func clearPolicy(t *testing.T, p *warrentest.InProc, op broker.Op, name string) {
	t.Helper()
	if _, err := p.Broker.Apply(&broker.Command{Op: op, Vhost: "/", Name: name}); err != nil {
		t.Fatalf("%s %s: %v", op, name, err)
	}
}

// death returns the i-th x-death entry of d.
func death(t *testing.T, d amqp.Delivery, i int) amqp.Table {
	t.Helper()
	ds, ok := d.Headers["x-death"].([]any)
	if !ok || len(ds) <= i {
		t.Fatalf("x-death = %#v, want at least %d entries", d.Headers["x-death"], i+1)
	}
	e, ok := ds[i].(amqp.Table)
	if !ok {
		t.Fatalf("x-death[%d] = %#v, not a table", i, ds[i])
	}
	return e
}

// checkDeath compares an x-death entry field by field (time by type).
func checkDeath(t *testing.T, e amqp.Table, count int64, reason, queue, exchange string, keys ...string) {
	t.Helper()
	equal(t, "x-death count", e["count"], any(count))
	equal(t, "x-death reason", e["reason"], any(reason))
	equal(t, "x-death queue", e["queue"], any(queue))
	equal(t, "x-death exchange", e["exchange"], any(exchange))
	if _, ok := e["time"].(time.Time); !ok {
		t.Fatalf("x-death time = %#v, want a timestamp", e["time"])
	}
	var got []string
	for _, k := range e["routing-keys"].([]any) {
		got = append(got, k.(string))
	}
	equalSlice(t, "x-death routing-keys", got, keys)
}

func TestMessageTTL(t *testing.T) {
	t.Parallel()
	p := node(t)
	c := newClient(t, p)

	// A queue TTL: messages leave promptly without anyone reading.
	c.declare("ttl.q", amqp.Table{"x-message-ttl": int32(50)})
	c.publishText("ttl.q", "a", "b")
	wantCounts(t, p, "ttl.q", 0, 0, 0)
	equal(t, "expired", queue(t, p, "ttl.q").Stats.Expired.Load(), uint64(2))

	// Per-message TTL: an expired message behind a live one stays until it
	// reaches the head, and is then dropped, never delivered.
	c.declare("ttl.m", nil)
	c.publish("", "ttl.m", amqp.Publishing{Body: []byte("live"), Expiration: "60000"})
	c.publish("", "ttl.m", amqp.Publishing{Body: []byte("short"), Expiration: "1"})
	c.publish("", "ttl.m", amqp.Publishing{Body: []byte("forever")})
	c.sync()
	time.Sleep(20 * time.Millisecond)
	wantCounts(t, p, "ttl.m", 3, 0, 0)
	equalSlice(t, "bodies", c.getBodies("ttl.m", 2, true), []string{"live", "forever"})
	c.getEmpty("ttl.m")

	// The sooner of queue and message TTL wins.
	c.declare("ttl.both", amqp.Table{"x-message-ttl": int32(60000)})
	c.publish("", "ttl.both", amqp.Publishing{Body: []byte("x"), Expiration: "10"})
	c.sync()
	wantCounts(t, p, "ttl.both", 0, 0, 0)

	// TTL 0: delivered if a consumer can take it at once, else dropped.
	c.declare("ttl.zero", amqp.Table{"x-message-ttl": int32(0)})
	c.publishText("ttl.zero", "nobody")
	wantCounts(t, p, "ttl.zero", 0, 0, 0)
	ds := c.consume("ttl.zero", "z", true)
	c.publishText("ttl.zero", "someone")
	equal(t, "body", string(recv(t, ds).Body), "someone")

	// An invalid expiration closes the channel as RabbitMQ does.
	c.publish("", "ttl.m", amqp.Publishing{Body: []byte("x"), Expiration: "soon"})
	c.wantChannelClosed(406, "PRECONDITION_FAILED - invalid expiration 'soon': no_integer")
}

func TestDeadLetterHeaders(t *testing.T) {
	t.Parallel()
	p := node(t)
	c := newClient(t, p)
	c.exchange("dlx", "fanout")
	c.declare("dlq", nil)
	c.bind("dlq", "", "dlx", nil)
	c.declare("src", amqp.Table{"x-dead-letter-exchange": "dlx"})

	// Rejected: the first death also sets x-first-death-*.
	c.publish("", "src", amqp.Publishing{Body: []byte("r"), Headers: amqp.Table{"CC": []any{"other"}}, Expiration: "60000"})
	c.sync()
	d := c.get("src", false)
	if err := d.Nack(false, false); err != nil {
		t.Fatal(err)
	}
	wantCounts(t, p, "dlq", 1, 0, 0)
	got := c.get("dlq", true)
	checkDeath(t, death(t, got, 0), 1, "rejected", "src", "", "src", "other")
	equal(t, "original-expiration", death(t, got, 0)["original-expiration"], any("60000"))
	equal(t, "expiration", got.Expiration, "")
	equal(t, "x-first-death-reason", got.Headers["x-first-death-reason"], any("rejected"))
	equal(t, "x-first-death-queue", got.Headers["x-first-death-queue"], any("src"))
	equal(t, "x-first-death-exchange", got.Headers["x-first-death-exchange"], any(""))
	equal(t, "routing key", got.RoutingKey, "src")
	equal(t, "exchange", got.Exchange, "dlx")

	// Dead-lettered again from the same queue for the same reason: that
	// entry counts 2 and comes first; another reason adds an entry.
	c.publish("", "src", amqp.Publishing{Body: got.Body, Headers: got.Headers})
	c.sync()
	if err := c.get("src", false).Reject(false); err != nil {
		t.Fatal(err)
	}
	wantCounts(t, p, "dlq", 1, 0, 0)
	again := c.get("dlq", true)
	checkDeath(t, death(t, again, 0), 2, "rejected", "src", "", "src", "other")
	c.declare("src.ttl", amqp.Table{"x-dead-letter-exchange": "dlx", "x-message-ttl": int32(1)})
	c.publish("", "src.ttl", amqp.Publishing{Body: again.Body, Headers: again.Headers})
	c.sync()
	wantCounts(t, p, "dlq", 1, 0, 0)
	third := c.get("dlq", true)
	checkDeath(t, death(t, third, 0), 1, "expired", "src.ttl", "", "src.ttl", "other")
	checkDeath(t, death(t, third, 1), 2, "rejected", "src", "", "src", "other")
	equal(t, "x-first-death-reason kept", third.Headers["x-first-death-reason"], any("rejected"))

	// A dead-letter routing key replaces the routing keys and drops CC.
	c.exchange("dlx.direct", "direct")
	c.declare("dlq.rk", nil)
	c.bind("dlq.rk", "moved", "dlx.direct", nil)
	c.declare("src.rk", amqp.Table{"x-dead-letter-exchange": "dlx.direct", "x-dead-letter-routing-key": "moved"})
	c.publish("", "src.rk", amqp.Publishing{Body: []byte("k"), Headers: amqp.Table{"CC": []any{"x"}}})
	c.sync()
	if err := c.get("src.rk", false).Reject(false); err != nil {
		t.Fatal(err)
	}
	wantCounts(t, p, "dlq.rk", 1, 0, 0)
	moved := c.get("dlq.rk", true)
	equal(t, "routing key", moved.RoutingKey, "moved")
	if _, ok := moved.Headers["CC"]; ok {
		t.Fatal("CC kept with a dead-letter routing key")
	}
	checkDeath(t, death(t, moved, 0), 1, "rejected", "src.rk", "", "src.rk", "x")

	// A missing dead-letter exchange drops the message.
	c.declare("src.nodlx", amqp.Table{"x-dead-letter-exchange": "missing"})
	c.publishText("src.nodlx", "gone")
	if err := c.get("src.nodlx", false).Nack(false, false); err != nil {
		t.Fatal(err)
	}
	wantCounts(t, p, "src.nodlx", 0, 0, 0)
}

func TestDeadLetterCycles(t *testing.T) {
	t.Parallel()
	p := node(t)
	c := newClient(t, p)
	// Two queues expiring into each other: the message goes round once and
	// is dropped when it would enter a queue it already died in.
	c.declare("cyc.a", amqp.Table{"x-message-ttl": int32(5), "x-dead-letter-exchange": "", "x-dead-letter-routing-key": "cyc.b"})
	c.declare("cyc.b", amqp.Table{"x-message-ttl": int32(5), "x-dead-letter-exchange": "", "x-dead-letter-routing-key": "cyc.a"})
	c.publishText("cyc.a", "round")
	time.Sleep(50 * time.Millisecond)
	wantCounts(t, p, "cyc.a", 0, 0, 0)
	wantCounts(t, p, "cyc.b", 0, 0, 0)
	equal(t, "dead-lettered from a", queue(t, p, "cyc.a").Stats.DeadLettered.Load(), uint64(1))
	equal(t, "dead-lettered from b", queue(t, p, "cyc.b").Stats.DeadLettered.Load(), uint64(1))

	// A queue dead-lettering to itself on expiry: dropped at once.
	c.declare("cyc.self", amqp.Table{"x-message-ttl": int32(5), "x-dead-letter-exchange": ""})
	c.publishText("cyc.self", "once")
	time.Sleep(30 * time.Millisecond)
	wantCounts(t, p, "cyc.self", 0, 0, 0)

	// Rejections break cycles: a message rejected back into its own queue
	// keeps coming back, counting its deaths.
	c.declare("cyc.rej", amqp.Table{"x-dead-letter-exchange": ""})
	c.publishText("cyc.rej", "again")
	for i := 1; i <= 3; i++ {
		d := c.get("cyc.rej", false)
		if i > 1 {
			checkDeath(t, death(t, d, 0), int64(i-1), "rejected", "cyc.rej", "", "cyc.rej")
		}
		if err := d.Reject(false); err != nil {
			t.Fatal(err)
		}
		wantCounts(t, p, "cyc.rej", 1, 0, 0)
	}
}

func TestMaxLength(t *testing.T) {
	t.Parallel()
	p := node(t)
	c := newClient(t, p)
	c.exchange("ml.dlx", "fanout")
	c.declare("ml.dlq", nil)
	c.bind("ml.dlq", "", "ml.dlx", nil)

	// drop-head: the oldest go, to the dead-letter exchange.
	c.declare("ml.drop", amqp.Table{"x-max-length": int32(2), "x-dead-letter-exchange": "ml.dlx"})
	c.publishText("ml.drop", "1", "2", "3", "4", "5")
	wantCounts(t, p, "ml.drop", 2, 0, 0)
	equalSlice(t, "kept", c.getBodies("ml.drop", 2, true), []string{"4", "5"})
	wantCounts(t, p, "ml.dlq", 3, 0, 0)
	d := c.get("ml.dlq", true)
	equal(t, "first dropped", string(d.Body), "1")
	checkDeath(t, death(t, d, 0), 1, "maxlen", "ml.drop", "", "ml.drop")
	c.ch.QueuePurge("ml.dlq", false)

	// max-length-bytes counts bodies.
	c.declare("ml.bytes", amqp.Table{"x-max-length-bytes": int32(10)})
	c.publishText("ml.bytes", "aaaa", "bbbb", "cccc")
	wantCounts(t, p, "ml.bytes", 2, 0, 0)
	equalSlice(t, "kept", c.getBodies("ml.bytes", 2, true), []string{"bbbb", "cccc"})

	// reject-publish: confirming publishers get a nack; mandatory does not
	// return the message. reject-publish-dlx also dead-letters it.
	for _, mode := range []string{"reject-publish", "reject-publish-dlx"} {
		name := "ml." + mode
		c.declare(name, amqp.Table{"x-max-length": int32(1), "x-overflow": mode, "x-dead-letter-exchange": "ml.dlx"})
		pub := newClient(t, p)
		if err := pub.ch.Confirm(false); err != nil {
			t.Fatal(err)
		}
		confirms := pub.ch.NotifyPublish(make(chan amqp.Confirmation, 2))
		returns := pub.ch.NotifyReturn(make(chan amqp.Return, 1))
		for _, b := range []string{"kept", "refused"} {
			if err := pub.ch.Publish("", name, true, false, amqp.Publishing{Body: []byte(b)}); err != nil {
				t.Fatal(err)
			}
		}
		equal(t, mode+" first confirm", (<-confirms).Ack, true)
		equal(t, mode+" second confirm", (<-confirms).Ack, false)
		select {
		case r := <-returns:
			t.Fatalf("%s: message returned: %q", mode, r.Body)
		case <-time.After(quiet):
		}
		wantCounts(t, p, name, 1, 0, 0)
		equal(t, "kept", string(c.get(name, true).Body), "kept")
		if mode == "reject-publish-dlx" {
			wantCounts(t, p, "ml.dlq", 1, 0, 0)
			d := c.get("ml.dlq", true)
			equal(t, "dead-lettered", string(d.Body), "refused")
			checkDeath(t, death(t, d, 0), 1, "maxlen", name, "", name)
		} else {
			wantCounts(t, p, "ml.dlq", 0, 0, 0)
		}
	}
}

func TestPriorityQueue(t *testing.T) {
	t.Parallel()
	p := node(t)
	c := newClient(t, p)
	c.declare("prio", amqp.Table{"x-max-priority": int32(10)})
	for _, m := range []struct {
		body string
		prio uint8
	}{{"low", 1}, {"mid1", 5}, {"none", 0}, {"mid2", 5}, {"top", 10}, {"over", 200}} {
		c.publish("", "prio", amqp.Publishing{Body: []byte(m.body), Priority: m.prio})
	}
	c.sync()
	// Above the maximum counts as the maximum; FIFO within a priority.
	d := c.get("prio", false)
	equal(t, "first", string(d.Body), "top")
	if err := d.Nack(false, true); err != nil {
		t.Fatal(err)
	}
	first := c.get("prio", true)
	equal(t, "requeued first again", string(first.Body), "top")
	equal(t, "redelivered", first.Redelivered, true)
	equalSlice(t, "order", c.getBodies("prio", 5, true), []string{"over", "mid1", "mid2", "low", "none"})

	// A consumer sees the same order.
	for i := 0; i < 3; i++ {
		c.publish("", "prio", amqp.Publishing{Body: []byte(fmt.Sprint(i)), Priority: uint8(i)})
	}
	c.sync()
	equalSlice(t, "consumed", recvBodies(t, c.consume("prio", "pc", true), 3), []string{"2", "1", "0"})

	c2 := newClient(t, p)
	_, err := c2.ch.QueueDeclare("prio.bad", false, false, false, false, amqp.Table{"x-max-priority": int32(256)})
	c2.wantErr(err, 406, "PRECONDITION_FAILED - invalid arg 'x-max-priority' for queue 'prio.bad' in vhost '/': {max_value_exceeded,256}")
}

func TestConsumerPriorities(t *testing.T) {
	t.Parallel()
	p := node(t)
	c := newClient(t, p)
	c.declare("cp", nil)
	low, high := newClient(t, p), newClient(t, p)
	for _, x := range []*client{low, high} {
		if err := x.ch.Qos(2, 0, false); err != nil {
			t.Fatal(err)
		}
	}
	lowDs, err := low.ch.Consume("cp", "low", false, false, false, false, amqp.Table{"x-priority": int32(-1)})
	if err != nil {
		t.Fatal(err)
	}
	highDs, err := high.ch.Consume("cp", "high", false, false, false, false, amqp.Table{"x-priority": int32(10)})
	if err != nil {
		t.Fatal(err)
	}
	// The high-priority consumer gets messages while it has credit; only
	// then does the low one.
	c.publishText("cp", "1", "2", "3")
	equalSlice(t, "high", recvBodies(t, highDs, 2), []string{"1", "2"})
	equal(t, "low", string(recv(t, lowDs).Body), "3")

	_, err = c.ch.Consume("cp", "bad", false, false, false, false, amqp.Table{"x-priority": "high"})
	c.wantErr(err, 406, "PRECONDITION_FAILED - invalid arg 'x-priority' for queue 'cp' in vhost '/': \"expected integer, got longstr\"")
}

func TestSingleActiveConsumer(t *testing.T) {
	t.Parallel()
	p := node(t)
	c := newClient(t, p)
	c.declare("sac", amqp.Table{"x-single-active-consumer": true})
	a, b := newClient(t, p), newClient(t, p)
	aDs := a.consume("sac", "a", false)
	bDs := b.consume("sac", "b", false)
	equal(t, "active", queue(t, p, "sac").SingleActiveConsumer(), "a")
	c.publishText("sac", "1", "2", "3")
	got := recvBodies(t, aDs, 3)
	equalSlice(t, "a got all", got, []string{"1", "2", "3"})
	noDelivery(t, bDs)
	// a goes away with 3 unacknowledged: b takes over, in order.
	a.conn.Close()
	ds := recvBodies(t, bDs, 3)
	equalSlice(t, "b after failover", ds, []string{"1", "2", "3"})
	equal(t, "active", queue(t, p, "sac").SingleActiveConsumer(), "b")
}

func TestDeliveryLimit(t *testing.T) {
	t.Parallel()
	p := node(t)
	c := newClient(t, p)
	c.declare("dl.dlq", nil)
	// A quorum queue's feature (Warren has no Raft yet: a quorum-typed
	// queue is a durable single-node queue with quorum queues' semantics).
	if _, err := c.ch.QueueDeclare("dl", true, false, false, false, amqp.Table{"x-queue-type": "quorum",
		"x-delivery-limit": int32(1), "x-dead-letter-exchange": "", "x-dead-letter-routing-key": "dl.dlq"}); err != nil {
		t.Fatal(err)
	}
	c.publishText("dl", "poison")
	d := c.get("dl", false)
	if _, ok := d.Headers["x-delivery-count"]; ok {
		t.Fatal("x-delivery-count on a first delivery")
	}
	if err := d.Nack(false, true); err != nil {
		t.Fatal(err)
	}
	d = c.get("dl", false)
	equal(t, "x-delivery-count", d.Headers["x-delivery-count"], any(int64(1)))
	if err := d.Nack(false, true); err != nil {
		t.Fatal(err)
	}
	wantCounts(t, p, "dl", 0, 0, 0)
	wantCounts(t, p, "dl.dlq", 1, 0, 0)
	checkDeath(t, death(t, c.get("dl.dlq", true), 0), 1, "delivery_limit", "dl", "", "dl")

	_, err := c.ch.QueueDeclare("dl.classic", false, false, false, false, amqp.Table{"x-delivery-limit": int32(1)})
	c.wantErr(err, 406, "PRECONDITION_FAILED - invalid arg 'x-delivery-limit' for queue 'dl.classic' in vhost '/' of queue type rabbit_classic_queue")
}

func TestAlternateExchangeAndCC(t *testing.T) {
	t.Parallel()
	p := node(t)
	c := newClient(t, p)
	if err := c.ch.ExchangeDeclare("ae.main", "direct", false, false, false, false, amqp.Table{"alternate-exchange": "ae.alt"}); err != nil {
		t.Fatal(err)
	}
	c.exchange("ae.alt", "fanout")
	c.declare("ae.routed", nil)
	c.declare("ae.unrouted", nil)
	c.bind("ae.routed", "k", "ae.main", nil)
	c.bind("ae.unrouted", "", "ae.alt", nil)
	returns := c.ch.NotifyReturn(make(chan amqp.Return, 1))
	if err := c.ch.Publish("ae.main", "nomatch", true, false, amqp.Publishing{Body: []byte("stray")}); err != nil {
		t.Fatal(err)
	}
	c.publish("ae.main", "k", amqp.Publishing{Body: []byte("routed")})
	c.sync()
	select {
	case r := <-returns:
		t.Fatalf("returned although the alternate exchange took it: %q", r.Body)
	case <-time.After(quiet):
	}
	equal(t, "alternate", string(c.get("ae.unrouted", true).Body), "stray")
	equal(t, "routed", string(c.get("ae.routed", true).Body), "routed")

	// By policy; the argument wins over a policy.
	c.exchange("ae.bypolicy", "direct")
	setPolicy(t, p, broker.OpSetPolicy, "ae", "^ae\\.bypolicy$", "exchanges", 0, map[string]any{"alternate-exchange": "ae.alt"})
	c.publish("ae.bypolicy", "x", amqp.Publishing{Body: []byte("policy")})
	c.sync()
	wantCounts(t, p, "ae.unrouted", 1, 0, 0)
	c.ch.QueuePurge("ae.unrouted", false)

	// CC and BCC add routing keys; BCC is not delivered.
	c.exchange("cc.x", "direct")
	for _, q := range []string{"cc.a", "cc.b", "cc.c"} {
		c.declare(q, nil)
		c.bind(q, q, "cc.x", nil)
	}
	c.publish("cc.x", "cc.a", amqp.Publishing{Body: []byte("m"), Headers: amqp.Table{"CC": []any{"cc.b"}, "BCC": []any{"cc.c"}}})
	c.sync()
	for _, q := range []string{"cc.a", "cc.b", "cc.c"} {
		d := c.get(q, true)
		if _, ok := d.Headers["BCC"]; ok {
			t.Fatalf("%s: BCC delivered", q)
		}
		if _, ok := d.Headers["CC"]; !ok {
			t.Fatalf("%s: CC missing", q)
		}
	}
}

func TestPolicies(t *testing.T) {
	t.Parallel()
	p := node(t)
	c := newClient(t, p)
	c.declare("pol.q", nil)
	c.publishText("pol.q", "1", "2", "3", "4", "5", "6", "7", "8", "9", "10")

	// A policy set while the queue is in use applies at once.
	setPolicy(t, p, broker.OpSetPolicy, "cap", "^pol\\.", "queues", 0, map[string]any{"max-length": 5})
	wantCounts(t, p, "pol.q", 5, 0, 0)
	equal(t, "policy", queue(t, p, "pol.q").PolicyInfo().Policy, "cap")

	// The higher priority wins; apply-to is honoured.
	setPolicy(t, p, broker.OpSetPolicy, "cap3", "^pol\\.q$", "queues", 5, map[string]any{"max-length": 3})
	setPolicy(t, p, broker.OpSetPolicy, "xonly", "^pol\\.q$", "exchanges", 10, map[string]any{"max-length": 1})
	wantCounts(t, p, "pol.q", 3, 0, 0)
	equal(t, "policy", queue(t, p, "pol.q").PolicyInfo().Policy, "cap3")

	// Numeric limits: the smaller of argument and policy; an operator
	// policy caps both.
	c.declare("pol.args", amqp.Table{"x-max-length": int32(4)})
	c.publishText("pol.args", "1", "2", "3", "4", "5")
	wantCounts(t, p, "pol.args", 4, 0, 0) // argument 4, policy "cap" 5
	setPolicy(t, p, broker.OpSetOperatorPolicy, "opcap", "^pol\\.", "queues", 0, map[string]any{"max-length": 2})
	wantCounts(t, p, "pol.args", 2, 0, 0)
	wantCounts(t, p, "pol.q", 2, 0, 0)
	info := queue(t, p, "pol.q").PolicyInfo()
	equal(t, "operator policy", info.OperatorPolicy, "opcap")
	equal(t, "effective max-length", info.Effective["max-length"], any(float64(2)))

	// Clearing policies stops trimming new messages.
	clearPolicy(t, p, broker.OpClearOperatorPolicy, "opcap")
	clearPolicy(t, p, broker.OpClearPolicy, "cap3")
	clearPolicy(t, p, broker.OpClearPolicy, "cap")
	c.publishText("pol.q", "a", "b", "c", "d")
	wantCounts(t, p, "pol.q", 6, 0, 0)

	// Dead-letter settings: the argument wins over the policy.
	c.declare("pol.dl1", nil)
	c.declare("pol.dl2", nil)
	c.declare("pol.dlsrc", amqp.Table{"x-dead-letter-exchange": "", "x-dead-letter-routing-key": "pol.dl1"})
	setPolicy(t, p, broker.OpSetPolicy, "dl", "^pol\\.dlsrc$", "queues", 0, map[string]any{"dead-letter-exchange": "", "dead-letter-routing-key": "pol.dl2", "message-ttl": 1})
	c.publishText("pol.dlsrc", "x")
	wantCounts(t, p, "pol.dl1", 1, 0, 0)

	// Operator policies may only cap limits; bad definitions are refused.
	for _, tc := range []struct {
		op  broker.Op
		def string
	}{
		{broker.OpSetOperatorPolicy, `{"dead-letter-exchange":"x"}`},
		{broker.OpSetPolicy, `{"max-length":"ten"}`},
		{broker.OpSetPolicy, `{"no-such-key":1}`},
	} {
		_, err := p.Broker.Apply(&broker.Command{Op: tc.op, Vhost: "/", Name: "bad", Pattern: ".*", ApplyTo: "all", Value: []byte(tc.def)})
		if err == nil {
			t.Fatalf("%s %s accepted", tc.op, tc.def)
		}
	}
}

func TestQueueExpires(t *testing.T) {
	t.Parallel()
	p := node(t)
	c := newClient(t, p)
	c.declare("exp.q", amqp.Table{"x-expires": int32(50)})
	c.publishText("exp.q", "x")
	deadline := time.Now().Add(waitTimeout)
	for p.Broker.Vhost("/").Queue("exp.q") != nil {
		if time.Now().After(deadline) {
			t.Fatal("queue with x-expires not deleted")
		}
		time.Sleep(5 * time.Millisecond)
	}
	// In use (a consumer), it stays.
	c.declare("exp.used", amqp.Table{"x-expires": int32(20)})
	c.consume("exp.used", "keep", true)
	time.Sleep(100 * time.Millisecond)
	queue(t, p, "exp.used")

	_, err := c.ch.QueueDeclare("exp.zero", false, false, false, false, amqp.Table{"x-expires": int32(0)})
	c.wantErr(err, 406, "PRECONDITION_FAILED - invalid arg 'x-expires' for queue 'exp.zero' in vhost '/': {value_zero,0}")
}

// Persistent messages keep their priority and expiry across a restart,
// and dead-lettering still works afterwards.
func TestSemanticsSurviveRestart(t *testing.T) {
	t.Parallel()
	n := warrentest.Start(t)
	c := clientOn(t, dial(t, n.AMQPURL()))
	durable := func(name string, args amqp.Table) {
		if _, err := c.ch.QueueDeclare(name, true, false, false, false, args); err != nil {
			t.Fatal(err)
		}
	}
	durable("r.prio", amqp.Table{"x-max-priority": int32(5)})
	durable("r.dlq", nil)
	durable("r.ttl", amqp.Table{"x-message-ttl": int32(1500), "x-dead-letter-exchange": "", "x-dead-letter-routing-key": "r.dlq"})
	if err := c.ch.Confirm(false); err != nil {
		t.Fatal(err)
	}
	confirms := c.ch.NotifyPublish(make(chan amqp.Confirmation, 5))
	for i, prio := range []uint8{1, 3, 5, 3} {
		c.publish("", "r.prio", amqp.Publishing{Body: []byte(fmt.Sprint(i)), Priority: prio, DeliveryMode: amqp.Persistent})
	}
	c.publish("", "r.ttl", amqp.Publishing{Body: []byte("ttl"), DeliveryMode: amqp.Persistent})
	for i := 0; i < 5; i++ {
		if !(<-confirms).Ack {
			t.Fatal("nacked")
		}
	}
	n.Kill()
	n.Restart(t)
	c = clientOn(t, dial(t, n.AMQPURL()))
	equalSlice(t, "priority order after restart", c.getBodies("r.prio", 4, true), []string{"2", "1", "3", "0"})
	deadline := time.Now().Add(waitTimeout)
	for {
		d, ok, err := c.ch.Get("r.dlq", true)
		if err != nil {
			t.Fatal(err)
		}
		if ok {
			equal(t, "dead-lettered", string(d.Body), "ttl")
			checkDeath(t, death(t, d, 0), 1, "expired", "r.ttl", "", "r.ttl")
			equal(t, "still persistent", d.DeliveryMode, uint8(amqp.Persistent))
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the persistent message did not expire after the restart")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestConsumerTimeout(t *testing.T) {
	t.Parallel()
	p := node(t, warrentest.InProcConfig{ConsumerTimeout: 200 * time.Millisecond})
	c := newClient(t, p)
	c.declare("ct", nil)
	c.publishText("ct", "slow", "fast")

	// A consumer that acks in time is left alone.
	ok := newClient(t, p)
	if err := ok.ch.Qos(1, 0, false); err != nil {
		t.Fatal(err)
	}
	ds := ok.consume("ct", "ok", false)
	d := recv(t, ds)
	if err := d.Ack(false); err != nil {
		t.Fatal(err)
	}
	if err := ok.ch.Cancel("ok", false); err != nil {
		t.Fatal(err)
	}
	// One that sits on a delivery loses its channel, and the delivery
	// goes back to the queue.
	slow := newClient(t, p)
	slow.consume("ct", "slow", false)
	slow.wantChannelClosed(406, fmt.Sprintf("PRECONDITION_FAILED - delivery acknowledgement on channel %d timed out. "+
		"Timeout value used: 200 ms. This timeout value can be configured, see consumers doc guide to learn more", 1))
	wantCounts(t, p, "ct", 1, 0, 0)
	equal(t, "redelivered", c.get("ct", true).Redelivered, true)
}
