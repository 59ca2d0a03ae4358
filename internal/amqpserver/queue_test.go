package amqpserver_test

import (
	"strings"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/warrenmq/warren/internal/warrentest"
)

func TestQueueDeclare(t *testing.T) {
	t.Parallel()
	p := node(t)
	c := newClient(t, p)

	// Server-named.
	q, err := c.ch.QueueDeclare("", false, false, true, false, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(q.Name, "amq.gen-") || len(q.Name) != len("amq.gen-")+22 {
		t.Fatalf("server-named queue %q, want amq.gen- and 22 characters", q.Name)
	}
	q2 := c.declare("", nil)
	if q2.Name == q.Name {
		t.Fatal("two server-named queues got the same name")
	}
	// A server-named queue can be declared passively, not by name.
	if _, err := c.ch.QueueDeclarePassive(q.Name, false, false, true, false, nil); err != nil {
		t.Fatal(err)
	}
	_, err = c.ch.QueueDeclare(q2.Name, false, false, false, false, nil)
	c.wantErr(err, 403, "ACCESS_REFUSED - queue name '"+q2.Name+"' contains reserved prefix 'amq.*'")

	// Counts in declare-ok: ready messages (not unacked ones) and consumers.
	c.declare("counted", nil)
	c.publishText("counted", "1", "2", "3")
	got, err := c.ch.QueueDeclare("counted", false, false, false, false, nil)
	if err != nil {
		t.Fatal(err)
	}
	equal(t, "message_count", got.Messages, 3)
	equal(t, "consumer_count", got.Consumers, 0)
	other := newClient(t, p)
	if err := other.ch.Qos(1, 0, false); err != nil {
		t.Fatal(err)
	}
	other.consume("counted", "", false)
	wantCounts(t, p, "counted", 2, 1, 1)
	got, err = c.ch.QueueDeclare("counted", false, false, false, false, nil)
	if err != nil {
		t.Fatal(err)
	}
	equal(t, "message_count", got.Messages, 2)
	equal(t, "consumer_count", got.Consumers, 1)
	got, err = c.ch.QueueDeclarePassive("counted", false, false, false, false, nil)
	if err != nil {
		t.Fatal(err)
	}
	equal(t, "passive message_count", got.Messages, 2)
	equal(t, "passive consumer_count", got.Consumers, 1)

	// Flags.
	if _, err := c.ch.QueueDeclare("flags", true, true, false, false, amqp.Table{"x-message-ttl": int32(1000)}); err != nil {
		t.Fatal(err)
	}
	bq := queue(t, p, "flags")
	if !bq.Durable || !bq.AutoDelete || bq.Exclusive || bq.Args["x-message-ttl"] != int32(1000) {
		t.Fatalf("queue flags: %+v", bq)
	}
	// An equivalent redeclare, with an integer of another width, is fine.
	if _, err := c.ch.QueueDeclare("flags", true, true, false, false, amqp.Table{"x-message-ttl": int64(1000), "x-unchecked": "x"}); err != nil {
		t.Fatal(err)
	}
	// x-queue-type classic is the default.
	c.declare("classic", nil)
	c.declare("classic", amqp.Table{"x-queue-type": "classic"})

	// An exclusive queue that is asked to be durable is not.
	if _, err := c.ch.QueueDeclare("excl-durable", true, false, true, false, nil); err != nil {
		t.Fatal(err)
	}
	if queue(t, p, "excl-durable").Durable {
		t.Fatal("exclusive queue is durable")
	}
	// nowait
	if _, err := c.ch.QueueDeclare("nowait", false, false, false, true, nil); err != nil {
		t.Fatal(err)
	}
	c.sync()
	queue(t, p, "nowait")
}

func TestQueueDeclareErrors(t *testing.T) {
	t.Parallel()
	p := node(t)
	setup := newClient(t, p)
	setup.declare("q", nil)
	if _, err := setup.ch.QueueDeclare("ttl", false, false, false, false, amqp.Table{"x-message-ttl": int32(1000)}); err != nil {
		t.Fatal(err)
	}
	if _, err := setup.ch.QueueDeclare("durable", true, false, false, false, nil); err != nil {
		t.Fatal(err)
	}
	type declare struct {
		name                                    string
		durable, autoDelete, exclusive, passive bool
		args                                    amqp.Table
	}
	for _, tc := range []struct {
		name   string
		d      declare
		code   int
		reason string
	}{
		{"passive missing", declare{name: "nope", passive: true}, 404, "NOT_FOUND - no queue 'nope' in vhost '/'"},
		{"durable", declare{name: "q", durable: true}, 406, "PRECONDITION_FAILED - inequivalent arg 'durable' for queue 'q' in vhost '/': received 'true' but current is 'false'"},
		{"not durable", declare{name: "durable"}, 406, "PRECONDITION_FAILED - inequivalent arg 'durable' for queue 'durable' in vhost '/': received 'false' but current is 'true'"},
		{"auto_delete", declare{name: "q", autoDelete: true}, 406, "PRECONDITION_FAILED - inequivalent arg 'auto_delete' for queue 'q' in vhost '/': received 'true' but current is 'false'"},
		{"exclusive", declare{name: "q", exclusive: true}, 405, "RESOURCE_LOCKED - cannot obtain exclusive access to locked queue 'q' in vhost '/'. It could be originally declared on another connection or the exclusive property value does not match that of the original declaration."},
		{"x-message-ttl value", declare{name: "ttl", args: amqp.Table{"x-message-ttl": int32(2000)}}, 406,
			"PRECONDITION_FAILED - inequivalent arg 'x-message-ttl' for queue 'ttl' in vhost '/': received '2000' but current is '1000'"},
		{"x-message-ttl type", declare{name: "ttl", args: amqp.Table{"x-message-ttl": "1000"}}, 406,
			"PRECONDITION_FAILED - inequivalent arg 'x-message-ttl' for queue 'ttl' in vhost '/': received '1000' but current is '1000'"},
		{"x-message-ttl missing", declare{name: "ttl"}, 406,
			"PRECONDITION_FAILED - inequivalent arg 'x-message-ttl' for queue 'ttl' in vhost '/': received none but current is the value '1000' of type 'signedint'"},
		{"x-message-ttl added", declare{name: "q", args: amqp.Table{"x-message-ttl": int64(5)}}, 406,
			"PRECONDITION_FAILED - inequivalent arg 'x-message-ttl' for queue 'q' in vhost '/': received the value '5' of type 'long' but current is none"},
		{"x-queue-type", declare{name: "q", args: amqp.Table{"x-queue-type": "quorum"}}, 406,
			"PRECONDITION_FAILED - inequivalent arg 'x-queue-type' for queue 'q' in vhost '/': received the value 'quorum' of type 'longstr' but current is none"},
		{"reserved prefix", declare{name: "amq.q"}, 403, "ACCESS_REFUSED - queue name 'amq.q' contains reserved prefix 'amq.*'"},
		{"reserved prefix passive", declare{name: "amq.q", passive: true}, 404, "NOT_FOUND - no queue 'amq.q' in vhost '/'"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := newClient(t, p)
			d := tc.d
			var err error
			if d.passive {
				_, err = c.ch.QueueDeclarePassive(d.name, d.durable, d.autoDelete, d.exclusive, false, d.args)
			} else {
				_, err = c.ch.QueueDeclare(d.name, d.durable, d.autoDelete, d.exclusive, false, d.args)
			}
			c.wantErr(err, tc.code, tc.reason)
		})
	}
}

// An exclusive queue belongs to its connection: others get 405 for every
// operation on it, and it goes when its connection closes.
func TestQueueExclusive(t *testing.T) {
	t.Parallel()
	p := node(t)
	owner := newClient(t, p)
	if _, err := owner.ch.QueueDeclare("mine", false, false, true, false, nil); err != nil {
		t.Fatal(err)
	}
	owner.publishText("mine", "m")
	const locked = "RESOURCE_LOCKED - cannot obtain exclusive access to locked queue 'mine' in vhost '/'. It could be originally declared on another connection or the exclusive property value does not match that of the original declaration."
	for _, tc := range []struct {
		name string
		do   func(ch *amqp.Channel) error
	}{
		{"declare", func(ch *amqp.Channel) error {
			_, err := ch.QueueDeclare("mine", false, false, true, false, nil)
			return err
		}},
		{"declare not exclusive", func(ch *amqp.Channel) error {
			_, err := ch.QueueDeclare("mine", false, false, false, false, nil)
			return err
		}},
		{"declare passive", func(ch *amqp.Channel) error {
			_, err := ch.QueueDeclarePassive("mine", false, false, true, false, nil)
			return err
		}},
		{"consume", func(ch *amqp.Channel) error {
			_, err := ch.Consume("mine", "", false, false, false, false, nil)
			return err
		}},
		{"get", func(ch *amqp.Channel) error { _, _, err := ch.Get("mine", false); return err }},
		{"purge", func(ch *amqp.Channel) error { _, err := ch.QueuePurge("mine", false); return err }},
		{"delete", func(ch *amqp.Channel) error { _, err := ch.QueueDelete("mine", false, false, false); return err }},
		{"bind", func(ch *amqp.Channel) error { return ch.QueueBind("mine", "k", "amq.direct", false, nil) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := newClient(t, p)
			c.wantErr(tc.do(c.ch), 405, locked)
		})
	}
	// Unbinding what is not bound is not checked, as in RabbitMQ.
	other := newClient(t, p)
	if err := other.ch.QueueUnbind("mine", "k", "amq.direct", nil); err != nil {
		t.Fatal(err)
	}
	// Still intact, and fully usable by its owner, from any channel.
	ch2 := clientOn(t, owner.conn)
	if _, err := ch2.ch.QueueDeclare("mine", false, false, true, false, nil); err != nil {
		t.Fatal(err)
	}
	ch2.bind("mine", "k", "amq.direct", nil)
	equal(t, "body", string(ch2.get("mine", true).Body), "m")

	owner.conn.Close()
	warrentest.Eventually(t, waitTimeout, func() bool { return p.Broker.Vhost("/").Queue("mine") == nil })
	if len(p.Broker.Vhost("/").Exchange("amq.direct").Bindings()) != 0 {
		t.Fatal("the exclusive queue's binding survived it")
	}
	// Now anyone may take the name.
	if _, err := other.ch.QueueDeclare("mine", false, false, true, false, nil); err != nil {
		t.Fatal(err)
	}
}

func TestQueueAutoDelete(t *testing.T) {
	t.Parallel()
	p := node(t)
	c := newClient(t, p)
	v := p.Broker.Vhost("/")
	if _, err := c.ch.QueueDeclare("ad", false, true, false, false, nil); err != nil {
		t.Fatal(err)
	}
	// Not deleted before it had a consumer.
	c.sync()
	if v.Queue("ad") == nil {
		t.Fatal("auto-delete queue deleted without ever having a consumer")
	}
	c.consume("ad", "c1", true)
	c.consume("ad", "c2", true)
	if err := c.ch.Cancel("c1", false); err != nil {
		t.Fatal(err)
	}
	if v.Queue("ad") == nil {
		t.Fatal("deleted while a consumer remained")
	}
	if err := c.ch.Cancel("c2", false); err != nil {
		t.Fatal(err)
	}
	warrentest.Eventually(t, waitTimeout, func() bool { return v.Queue("ad") == nil })

	// Also when the consuming channel closes.
	if _, err := c.ch.QueueDeclare("ad2", false, true, false, false, nil); err != nil {
		t.Fatal(err)
	}
	consumer := clientOn(t, c.conn)
	consumer.consume("ad2", "", false)
	if err := consumer.ch.Close(); err != nil {
		t.Fatal(err)
	}
	warrentest.Eventually(t, waitTimeout, func() bool { return v.Queue("ad2") == nil })
}

func TestQueuePurge(t *testing.T) {
	t.Parallel()
	p := node(t)
	c := newClient(t, p)
	c.declare("q", nil)
	c.publishText("q", "1", "2", "3", "4")
	d := c.get("q", false) // unacked messages are not purged
	n, err := c.ch.QueuePurge("q", false)
	if err != nil {
		t.Fatal(err)
	}
	equal(t, "purged", n, 3)
	wantCounts(t, p, "q", 0, 1, 0)
	if err := c.ch.Nack(d.DeliveryTag, false, true); err != nil {
		t.Fatal(err)
	}
	equal(t, "requeued after purge", string(c.get("q", true).Body), "1")
	if n, err = c.ch.QueuePurge("q", false); err != nil || n != 0 {
		t.Fatalf("purge of an empty queue: %d %v", n, err)
	}
	_, err = c.ch.QueuePurge("nope", false)
	c.wantErr(err, 404, "NOT_FOUND - no queue 'nope' in vhost '/'")
}

func TestQueueDelete(t *testing.T) {
	t.Parallel()
	p := node(t)
	c := newClient(t, p)
	v := p.Broker.Vhost("/")

	c.declare("q", nil)
	c.publishText("q", "1", "2")
	n, err := c.ch.QueueDelete("q", false, false, false)
	if err != nil {
		t.Fatal(err)
	}
	equal(t, "message count", n, 2)
	if v.Queue("q") != nil {
		t.Fatal("not deleted")
	}
	if n, err = c.ch.QueueDelete("q", false, false, false); err != nil || n != 0 {
		t.Fatalf("delete of a missing queue: %d %v", n, err)
	}
	if n, err = c.ch.QueueDelete("q", true, true, false); err != nil || n != 0 {
		t.Fatalf("delete of a missing queue: %d %v", n, err)
	}

	// if-unused and if-empty. Unacked messages do not make a queue
	// non-empty; if-empty is checked before if-unused.
	c.declare("used", nil)
	consumer := newClient(t, p)
	if err := consumer.ch.Qos(1, 0, false); err != nil {
		t.Fatal(err)
	}
	consumer.consume("used", "", false)
	_, err = c.ch.QueueDelete("used", true, false, false)
	c.wantErr(err, 406, "PRECONDITION_FAILED - queue 'used' in vhost '/' in use")
	c.publishText("used", "1")
	wantCounts(t, p, "used", 0, 1, 1)
	if n, err = c.ch.QueueDelete("used", false, true, false); err != nil {
		t.Fatal(err)
	}
	equal(t, "message count", n, 0)

	c.declare("both", nil)
	consumer.consume("both", "", false)
	c.publishText("both", "1", "2")
	wantCounts(t, p, "both", 1, 1, 1)
	_, err = c.ch.QueueDelete("both", true, true, false)
	c.wantErr(err, 406, "PRECONDITION_FAILED - queue 'both' in vhost '/' not empty")
	_, err = c.ch.QueueDelete("both", false, true, false)
	c.wantErr(err, 406, "PRECONDITION_FAILED - queue 'both' in vhost '/' not empty")
	if n, err = c.ch.QueueDelete("both", false, false, false); err != nil {
		t.Fatal(err)
	}
	equal(t, "message count", n, 1)

	// Consumers of a deleted queue get basic.cancel.
	c.declare("cancelled", nil)
	cancels := consumer.ch.NotifyCancel(make(chan string, 1))
	ds := consumer.consume("cancelled", "the-tag", false)
	if _, err := c.ch.QueueDelete("cancelled", false, false, false); err != nil {
		t.Fatal(err)
	}
	select {
	case tag := <-cancels:
		equal(t, "cancelled tag", tag, "the-tag")
	case <-time.After(waitTimeout):
		t.Fatal("no basic.cancel")
	}
	for range ds { // amqp091-go closes the deliveries of a cancelled consumer
	}
	// The consumer's channel still works.
	consumer.declare("", nil)
}

// Messages come out in the order they went in; a requeued message goes
// back to its place, marked redelivered.
func TestQueueOrder(t *testing.T) {
	t.Parallel()
	p := node(t)
	c := newClient(t, p)
	c.declare("q", nil)
	c.publishText("q", "1", "2", "3", "4", "5")
	d1, d2, d3 := c.get("q", false), c.get("q", false), c.get("q", false)
	equalSlice(t, "first three", []string{string(d1.Body), string(d2.Body), string(d3.Body)}, []string{"1", "2", "3"})
	if err := c.ch.Nack(d2.DeliveryTag, false, true); err != nil {
		t.Fatal(err)
	}
	d := c.get("q", false)
	equal(t, "after requeue", string(d.Body), "2")
	equal(t, "redelivered", d.Redelivered, true)
	equal(t, "message count", d.MessageCount, 2)
	d4 := c.get("q", false)
	equal(t, "next", string(d4.Body), "4")
	equal(t, "redelivered", d4.Redelivered, false)
	// Requeue 3 and 1 (multiple, with 2 and 4 acked first).
	if err := c.ch.Ack(d.DeliveryTag, false); err != nil {
		t.Fatal(err)
	}
	if err := c.ch.Ack(d4.DeliveryTag, false); err != nil {
		t.Fatal(err)
	}
	if err := c.ch.Nack(0, true, true); err != nil {
		t.Fatal(err)
	}
	equalSlice(t, "after requeueing 1 and 3", c.getBodies("q", 3, true), []string{"1", "3", "5"})
	c.getEmpty("q")
}

// The spec's shortcuts: an empty queue name means the channel's last
// declared queue; with an empty routing key too, queue.bind binds by it.
func TestQueueNameShortcut(t *testing.T) {
	t.Parallel()
	p := node(t)
	c := newClient(t, p)
	for _, tc := range []struct {
		name string
		do   func(ch *amqp.Channel) error
	}{
		{"bind", func(ch *amqp.Channel) error { return ch.QueueBind("", "", "amq.direct", false, nil) }},
		{"unbind", func(ch *amqp.Channel) error { return ch.QueueUnbind("", "", "amq.direct", nil) }},
		{"purge", func(ch *amqp.Channel) error { _, err := ch.QueuePurge("", false); return err }},
		{"delete", func(ch *amqp.Channel) error { _, err := ch.QueueDelete("", false, false, false); return err }},
		{"get", func(ch *amqp.Channel) error { _, _, err := ch.Get("", false); return err }},
		{"consume", func(ch *amqp.Channel) error {
			_, err := ch.Consume("", "", false, false, false, false, nil)
			return err
		}},
	} {
		c.wantErr(tc.do(c.ch), 404, "NOT_FOUND - no previously declared queue")
	}

	q := c.declare("", nil)
	if err := c.ch.QueueBind("", "", "amq.direct", false, nil); err != nil {
		t.Fatal(err)
	}
	c.publish("amq.direct", q.Name, amqp.Publishing{Body: []byte("by name")})
	d, ok, err := c.ch.Get("", true)
	if err != nil || !ok {
		t.Fatalf("get by shortcut: %v %v", ok, err)
	}
	equal(t, "body", string(d.Body), "by name")
	if err := c.ch.QueueUnbind("", "", "amq.direct", nil); err != nil {
		t.Fatal(err)
	}
	equal(t, "bindings", len(p.Broker.Vhost("/").Exchange("amq.direct").Bindings()), 0)
	// A passive declare makes its queue the last declared, too.
	c.declare("named", nil)
	if _, err := c.ch.QueueDeclarePassive(q.Name, false, false, false, false, nil); err != nil {
		t.Fatal(err)
	}
	c.publishText(q.Name, "x")
	n, err := c.ch.QueuePurge("", false)
	if err != nil {
		t.Fatal(err)
	}
	equal(t, "purged", n, 1)
	if _, err := c.ch.QueueDelete("", false, false, false); err != nil {
		t.Fatal(err)
	}
	if p.Broker.Vhost("/").Queue(q.Name) != nil {
		t.Fatal("queue.delete with the shortcut did not delete")
	}
}
