package amqpserver_test

import (
	"testing"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/warrenmq/warren/internal/warrentest"
)

// Durable definitions survive a restart of the real binary, clean or
// after kill -9; transient ones do not.
func TestDurableDefinitions(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		stop func(n *warrentest.Node)
	}{
		{"clean restart", func(n *warrentest.Node) { n.Stop() }},
		{"kill -9", func(n *warrentest.Node) { n.Kill() }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			n := warrentest.Start(t)
			setupDurable(t, n.AMQPURL())
			tc.stop(n)
			n.Restart(t)
			checkDurable(t, n.AMQPURL())
			if tc.name == "clean restart" {
				// What changed after the first restart is durable too.
				n.Restart(t)
				checkAfterChanges(t, n.AMQPURL())
			}
		})
	}
}

var (
	durableQueueArgs = amqp.Table{"x-message-ttl": int32(60000), "x-max-length": int64(100), "x-queue-mode": "lazy"}
	durableXArgs     = amqp.Table{"alternate-exchange": "ae"}
	headersBindArgs  = amqp.Table{"x-match": "any", "h": "v", "n": int16(7)}
)

func setupDurable(t *testing.T, url string) {
	c := clientOn(t, dial(t, url))
	for _, x := range []struct {
		name, kind          string
		durable, autoDelete bool
		args                amqp.Table
	}{
		{"d.topic", "topic", true, false, nil},
		{"d.headers", "headers", true, false, nil},
		{"d.e2e", "fanout", true, false, nil},
		{"d.ad", "direct", true, true, nil},
		{"d.args", "direct", true, false, durableXArgs},
		{"t.x", "direct", false, false, nil},
	} {
		if err := c.ch.ExchangeDeclare(x.name, x.kind, x.durable, x.autoDelete, false, false, x.args); err != nil {
			t.Fatal(err)
		}
	}
	for _, q := range []struct {
		name                           string
		durable, autoDelete, exclusive bool
		args                           amqp.Table
	}{
		{"d.q", true, false, false, durableQueueArgs},
		{"d.q2", true, false, false, nil},
		{"d.adq", true, true, false, nil},
		{"d.deleted", true, false, false, nil},
		{"t.q", false, false, false, nil},
		{"e.q", true, false, true, nil},
	} {
		if _, err := c.ch.QueueDeclare(q.name, q.durable, q.autoDelete, q.exclusive, false, q.args); err != nil {
			t.Fatal(err)
		}
	}
	c.bind("d.q", "a.*", "d.topic", nil)
	c.bind("d.q", "k", "amq.topic", nil) // from a built-in exchange
	if err := c.ch.ExchangeBind("d.e2e", "#", "d.topic", false, nil); err != nil {
		t.Fatal(err)
	}
	c.bind("d.q2", "", "d.e2e", nil)
	c.bind("d.q2", "", "d.headers", headersBindArgs)
	c.bind("d.q2", "x", "d.ad", nil)
	c.bind("d.q", "y", "d.ad", nil)
	c.bind("t.q", "a.*", "d.topic", nil) // transient: its queue is
	c.bind("d.q", "", "t.x", nil)        // transient: its exchange is
	c.bind("e.q", "a.*", "d.topic", nil) // transient: its queue is exclusive
	// Changes to durable definitions are durable too.
	if err := c.ch.QueueUnbind("d.q", "y", "d.ad", nil); err != nil {
		t.Fatal(err)
	}
	if _, err := c.ch.QueueDelete("d.deleted", false, false, false); err != nil {
		t.Fatal(err)
	}
	c.bind("d.q2", "gone", "amq.direct", nil)
	if err := c.ch.QueueUnbind("d.q2", "gone", "amq.direct", nil); err != nil {
		t.Fatal(err)
	}
}

func checkDurable(t *testing.T, url string) {
	c := clientOn(t, dial(t, url))
	for _, x := range []string{"d.topic", "d.headers", "d.e2e", "d.ad", "d.args"} {
		if err := c.ch.ExchangeDeclarePassive(x, "direct", false, false, false, false, nil); err != nil {
			t.Fatalf("exchange %s: %v", x, err)
		}
	}
	for _, q := range []string{"d.q", "d.q2", "d.adq"} {
		if _, err := c.ch.QueueDeclarePassive(q, false, false, false, false, nil); err != nil {
			t.Fatalf("queue %s: %v", q, err)
		}
	}
	err := c.ch.ExchangeDeclarePassive("t.x", "direct", false, false, false, false, nil)
	c.wantErr(err, 404, "NOT_FOUND - no exchange 't.x' in vhost '/'")
	for _, q := range []string{"t.q", "e.q", "d.deleted"} {
		_, err := c.ch.QueueDeclarePassive(q, false, false, false, false, nil)
		c.wantErr(err, 404, "NOT_FOUND - no queue '"+q+"' in vhost '/'")
	}

	// Redeclaring with the same properties and arguments works: their
	// types survived.
	if _, err := c.ch.QueueDeclare("d.q", true, false, false, false, durableQueueArgs); err != nil {
		t.Fatal(err)
	}
	if err := c.ch.ExchangeDeclare("d.args", "direct", true, false, false, false, durableXArgs); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		args   amqp.Table
		reason string
	}{
		{amqp.Table{"x-message-ttl": int32(1), "x-max-length": int64(100), "x-queue-mode": "lazy"},
			"PRECONDITION_FAILED - inequivalent arg 'x-message-ttl' for queue 'd.q' in vhost '/': received '1' but current is '60000'"},
		{amqp.Table{"x-message-ttl": int32(60000), "x-max-length": "100", "x-queue-mode": "lazy"},
			"PRECONDITION_FAILED - inequivalent arg 'x-max-length' for queue 'd.q' in vhost '/': received '100' but current is '100'"},
	} {
		_, err := c.ch.QueueDeclare("d.q", true, false, false, false, tc.args)
		c.wantErr(err, 406, tc.reason)
	}
	_, err = c.ch.QueueDeclare("d.q", false, false, false, false, durableQueueArgs)
	c.wantErr(err, 406, "PRECONDITION_FAILED - inequivalent arg 'durable' for queue 'd.q' in vhost '/': received 'false' but current is 'true'")
	err = c.ch.ExchangeDeclare("d.ad", "direct", true, false, false, false, nil)
	c.wantErr(err, 406, "PRECONDITION_FAILED - inequivalent arg 'auto_delete' for exchange 'd.ad' in vhost '/': received 'false' but current is 'true'")

	// Bindings: the durable ones route, the transient ones are gone.
	c.publish("d.topic", "a.b", amqp.Publishing{Body: []byte("topic")}) // d.q, and d.q2 by d.e2e
	c.publish("amq.topic", "k", amqp.Publishing{Body: []byte("builtin")})
	c.publish("d.headers", "", amqp.Publishing{Headers: amqp.Table{"n": int32(7)}, Body: []byte("headers")})
	c.publish("d.ad", "x", amqp.Publishing{Body: []byte("ad")})
	c.publish("d.ad", "y", amqp.Publishing{Body: []byte("unbound")})
	c.publish("amq.direct", "gone", amqp.Publishing{Body: []byte("unbound")})
	c.sync()
	equalSlice(t, "d.q", c.getBodies("d.q", 2, true), []string{"topic", "builtin"})
	c.getEmpty("d.q")
	equalSlice(t, "d.q2", c.getBodies("d.q2", 3, true), []string{"topic", "headers", "ad"})
	c.getEmpty("d.q2")
	// The exclusive queue is gone, so anyone may declare it.
	if _, err := c.ch.QueueDeclare("e.q", false, false, true, false, nil); err != nil {
		t.Fatal(err)
	}

	// if-unused and auto-delete work on recovered objects.
	c.wantErr(c.ch.ExchangeDelete("d.topic", true, false), 406, "PRECONDITION_FAILED - exchange 'd.topic' in vhost '/' in use")
	if err := c.ch.QueueUnbind("d.q2", "x", "d.ad", nil); err != nil {
		t.Fatal(err)
	}
	err = c.ch.ExchangeDeclarePassive("d.ad", "direct", false, false, false, false, nil)
	c.wantErr(err, 404, "NOT_FOUND - no exchange 'd.ad' in vhost '/'")
	c.consume("d.adq", "adq", false)
	if err := c.ch.Cancel("adq", false); err != nil {
		t.Fatal(err)
	}
	_, err = c.ch.QueueDeclarePassive("d.adq", false, false, false, false, nil)
	c.wantErr(err, 404, "NOT_FOUND - no queue 'd.adq' in vhost '/'")
	consumer := newClientURL(t, url)
	consumer.consume("d.q2", "", false)
	_, err = c.ch.QueueDelete("d.q2", true, false, false)
	c.wantErr(err, 406, "PRECONDITION_FAILED - queue 'd.q2' in vhost '/' in use")
}

// checkAfterChanges runs after another restart: the auto-deletions of
// checkDurable stuck, the rest is intact.
func checkAfterChanges(t *testing.T, url string) {
	c := clientOn(t, dial(t, url))
	err := c.ch.ExchangeDeclarePassive("d.ad", "direct", false, false, false, false, nil)
	c.wantErr(err, 404, "NOT_FOUND - no exchange 'd.ad' in vhost '/'")
	_, err = c.ch.QueueDeclarePassive("d.adq", false, false, false, false, nil)
	c.wantErr(err, 404, "NOT_FOUND - no queue 'd.adq' in vhost '/'")
	if _, err := c.ch.QueueDeclare("d.q", true, false, false, false, durableQueueArgs); err != nil {
		t.Fatal(err)
	}
	c.publish("d.topic", "a.b", amqp.Publishing{Body: []byte("again")})
	c.sync()
	equal(t, "d.q", string(c.get("d.q", true).Body), "again")
	equal(t, "d.q2", string(c.get("d.q2", true).Body), "again")
}

func newClientURL(t *testing.T, url string) *client {
	t.Helper()
	return clientOn(t, dial(t, url))
}
