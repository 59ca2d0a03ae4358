package amqpserver_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/warrenmq/warren/internal/warrentest"
)

// The x-delayed-message exchange type: RabbitMQ's delayed-message
// plugin's semantics (rabbitmq-delayed-message-exchange), which the
// RabbitMQ 3.10.8 node of the cross-check mode does not ship, so these
// tests assert the plugin's documented and coded behaviour directly.

func delayedArgs(kind string) amqp.Table { return amqp.Table{"x-delayed-type": kind} }

func (c *client) delayedExchange(name, kind string, durable bool) {
	c.t.Helper()
	if err := c.ch.ExchangeDeclare(name, "x-delayed-message", durable, false, false, false, delayedArgs(kind)); err != nil {
		c.t.Fatalf("exchange.declare %q: %v", name, err)
	}
}

func withDelay(body string, delay any) amqp.Publishing {
	p := amqp.Publishing{Body: []byte(body)}
	if delay != nil {
		p.Headers = amqp.Table{"x-delay": delay}
	}
	return p
}

func TestDelayedDeclare(t *testing.T) {
	t.Parallel()
	p := node(t)
	c := newClient(t, p)
	const mustExist = "PRECONDITION_FAILED - Invalid argument, 'x-delayed-type' must be an existing exchange type"
	err := c.ch.ExchangeDeclare("d", "x-delayed-message", false, false, false, false, nil)
	c.wantErr(err, 406, mustExist)
	err = c.ch.ExchangeDeclare("d", "x-delayed-message", false, false, false, false, amqp.Table{"x-delayed-type": int32(1)})
	c.wantErr(err, 406, mustExist)
	err = c.ch.ExchangeDeclare("d", "x-delayed-message", false, false, false, false, delayedArgs("x-delayed-message"))
	c.wantErr(err, 406, "PRECONDITION_FAILED - Invalid argument, 'x-delayed-message' can't be used for 'x-delayed-type'")

	c.delayedExchange("d", "topic", true)
	// Redeclaring compares what RabbitMQ compares (not x-delayed-type).
	c.delayedExchange("d", "topic", true)
	c.delayedExchange("d", "fanout", true)
	if err := c.ch.ExchangeDeclarePassive("d", "", false, false, false, false, nil); err != nil {
		t.Fatal(err)
	}
	err = c.ch.ExchangeDeclare("d", "topic", true, false, false, false, nil)
	c.wantErr(err, 406, "PRECONDITION_FAILED - inequivalent arg 'type' for exchange 'd' in vhost '/': received 'topic' but current is 'x-delayed-message'")
	// The underlying type's binding rules apply: a headers exchange
	// checks x-match.
	c.delayedExchange("dh", "headers", false)
	c.declare("q", nil)
	err = c.ch.QueueBind("q", "", "dh", false, amqp.Table{"x-match": "some"})
	if !isCode(err, 406) {
		t.Fatalf("headers binding with a bad x-match: %v, want 406", err)
	}
	c.reopen()

	err = c.ch.ExchangeDeclare("d2", "x-delayed-message", false, false, false, false, delayedArgs("bogus"))
	c.wantHardErr(err, 503, "COMMAND_INVALID - unknown exchange type 'bogus'")
}

// Held messages come in due order, not publish order, with x-delay set to
// minus the delay; messages without a usable delay are routed at once
// with their headers untouched.
func TestDelayedRouting(t *testing.T) {
	t.Parallel()
	p := node(t)
	c := newClient(t, p)
	c.delayedExchange("dx", "direct", false)
	c.declare("q", nil)
	c.bind("q", "k", "dx", nil)
	ds := c.consume("q", "", true)

	now := []struct {
		body  string
		delay any
	}{{"none", nil}, {"zero", int32(0)}, {"negative", int64(-5)}, {"beyond 2^32-1", int64(1 << 32)}, {"junk", "soon"}}
	for _, m := range now {
		c.publish("dx", "k", withDelay(m.body, m.delay))
	}
	for _, m := range now {
		d := recv(t, ds)
		if string(d.Body) != m.body || d.Headers["x-delay"] != m.delay {
			t.Fatalf("got %q with x-delay %#v, want %q routed at once with %#v", d.Body, d.Headers["x-delay"], m.body, m.delay)
		}
	}

	held := []struct {
		body  string
		delay any
		ms    int64
	}{{"late", int32(400), 400}, {"early", "150", 150}, {"middle", float64(250.9), 250}, {"short", uint8(200), 200}}
	start := map[string]time.Time{}
	for _, m := range held {
		start[m.body] = time.Now()
		c.publish("dx", "k", withDelay(m.body, m.delay))
	}
	c.sync()
	if n, ok := p.Broker.Vhost("/").Exchange("dx").MessagesDelayed(); !ok || n == 0 {
		t.Fatalf("messages_delayed = %d, %v right after publishing", n, ok)
	}
	for _, want := range []string{"early", "short", "middle", "late"} {
		d := recv(t, ds)
		if string(d.Body) != want {
			t.Fatalf("got %q, want %q next", d.Body, want)
		}
		var ms int64
		for _, m := range held {
			if m.body == want {
				ms = m.ms
			}
		}
		if got := d.Headers["x-delay"]; got != int32(-ms) {
			t.Fatalf("%s: x-delay %#v, want int32(%d)", want, got, -ms)
		}
		if d.Exchange != "dx" || d.RoutingKey != "k" || d.Redelivered {
			t.Fatalf("%s: delivered from %q/%q redelivered %v", want, d.Exchange, d.RoutingKey, d.Redelivered)
		}
		// Never before its time (the server starts counting after we did).
		if el := time.Since(start[want]); el < time.Duration(ms)*time.Millisecond {
			t.Fatalf("%s delivered %v after publishing, before its %dms delay", want, el, ms)
		}
	}
	if n, _ := p.Broker.Vhost("/").Exchange("dx").MessagesDelayed(); n != 0 {
		t.Fatalf("messages_delayed = %d after delivery", n)
	}
}

// Each underlying type routes the held message with its own rules, and
// exchange-to-exchange bindings are followed when it is routed.
func TestDelayedUnderlyingTypes(t *testing.T) {
	t.Parallel()
	p := node(t)
	c := newClient(t, p)
	c.delayedExchange("dt", "topic", false)
	c.delayedExchange("df", "fanout", false)
	c.delayedExchange("dh", "headers", false)
	c.exchange("inner", "fanout")
	for _, q := range []string{"qt", "qf", "qh", "qe"} {
		c.declare(q, nil)
	}
	c.bind("qt", "a.*", "dt", nil)
	c.bind("qf", "ignored", "df", nil)
	c.bind("qh", "", "dh", amqp.Table{"x-match": "all", "h": "v"})
	if err := c.ch.ExchangeBind("inner", "b.#", "dt", false, nil); err != nil {
		t.Fatal(err)
	}
	c.bind("qe", "", "inner", nil)

	// The non-matching ones are due first: had they been routed, they
	// would arrive before the matching ones.
	c.publish("dt", "a.b.c", withDelay("topic miss", int32(50)))
	c.publish("dt", "a.b", withDelay("topic hit", int32(120)))
	c.publish("dt", "b.x.y", withDelay("e2e hit", int32(120)))
	c.publish("df", "any", withDelay("fanout hit", int32(120)))
	miss := withDelay("headers miss", int32(50))
	miss.Headers["h"] = "w"
	c.publish("dh", "", miss)
	hit := withDelay("headers hit", int32(120))
	hit.Headers["h"] = "v"
	c.publish("dh", "", hit)
	c.sync()
	for q, want := range map[string]string{"qt": "topic hit", "qe": "e2e hit", "qf": "fanout hit", "qh": "headers hit"} {
		d := recv(t, c.consume(q, "", true))
		if string(d.Body) != want || d.Headers["x-delay"] != int32(-120) {
			t.Fatalf("%s: got %q x-delay %#v, want %q with -120", q, d.Body, d.Headers["x-delay"], want)
		}
	}
	for _, q := range []string{"qt", "qh"} {
		c.getEmpty(q)
	}
}

// A held message routes nowhere at publish time: mandatory returns it
// (the plugin does not support mandatory), yet it is delivered when due;
// a confirm means the message is stored, not delivered.
func TestDelayedMandatoryAndConfirm(t *testing.T) {
	t.Parallel()
	p := node(t)
	c := newClient(t, p)
	c.delayedExchange("dm", "direct", true)
	if _, err := c.ch.QueueDeclare("dq", true, false, false, false, nil); err != nil {
		t.Fatal(err)
	}
	c.bind("dq", "k", "dm", nil)
	returns := c.ch.NotifyReturn(make(chan amqp.Return, 2))
	if err := c.ch.Confirm(false); err != nil {
		t.Fatal(err)
	}
	confirms := c.ch.NotifyPublish(make(chan amqp.Confirmation, 3))
	m := withDelay("held", int32(100))
	m.DeliveryMode = amqp.Persistent
	if err := c.ch.Publish("dm", "k", true, false, m); err != nil {
		t.Fatal(err)
	}
	long := withDelay("an hour", int32(3_600_000))
	long.DeliveryMode = amqp.Persistent
	c.publish("dm", "k", long)
	c.publish("dm", "k", withDelay("now", nil))
	select {
	case r := <-returns:
		if r.ReplyCode != 312 || r.ReplyText != "NO_ROUTE" || string(r.Body) != "held" {
			t.Fatalf("return %d %q %q", r.ReplyCode, r.ReplyText, r.Body)
		}
	case <-time.After(waitTimeout):
		t.Fatal("no basic.return for a mandatory delayed message")
	}
	for i := uint64(1); i <= 3; i++ {
		select {
		case cf := <-confirms:
			if !cf.Ack || cf.DeliveryTag != i {
				t.Fatalf("confirm %+v, want ack %d", cf, i)
			}
		case <-time.After(waitTimeout):
			t.Fatalf("no confirm %d", i)
		}
	}
	ds := c.consume("dq", "", true)
	if d := recv(t, ds); string(d.Body) != "now" {
		t.Fatalf("got %q, want now", d.Body)
	}
	if d := recv(t, ds); string(d.Body) != "held" || d.DeliveryMode != amqp.Persistent {
		t.Fatalf("got %q (mode %d), want held, persistent", d.Body, d.DeliveryMode)
	}
	if n, _ := p.Broker.Vhost("/").Exchange("dm").MessagesDelayed(); n != 1 {
		t.Fatalf("messages_delayed = %d, want the hour-long one", n)
	}
}

// Deleting a delayed exchange drops what it holds.
func TestDelayedDeleteDrops(t *testing.T) {
	t.Parallel()
	p := node(t)
	c := newClient(t, p)
	c.delayedExchange("gone", "direct", true)
	c.delayedExchange("keep", "direct", false)
	c.declare("q", nil)
	c.bind("q", "k", "gone", nil)
	c.bind("q", "k", "keep", nil)
	for _, mode := range []uint8{amqp.Transient, amqp.Persistent} {
		// due well before the kept one, and long after the delete
		m := withDelay("dropped", int32(1000))
		m.DeliveryMode = mode
		c.publish("gone", "k", m)
	}
	c.publish("keep", "k", withDelay("kept", int32(1500)))
	c.sync()
	if n, _ := p.Broker.Vhost("/").Exchange("gone").MessagesDelayed(); n != 2 {
		t.Fatalf("messages_delayed = %d, want 2", n)
	}
	if err := c.ch.ExchangeDelete("gone", false, false); err != nil {
		t.Fatal(err)
	}
	// A new exchange of the same name starts empty.
	c.delayedExchange("gone", "direct", true)
	c.bind("q", "k", "gone", nil)
	if n, _ := p.Broker.Vhost("/").Exchange("gone").MessagesDelayed(); n != 0 {
		t.Fatalf("new exchange holds %d", n)
	}
	ds := c.consume("q", "", true)
	if d := recv(t, ds); string(d.Body) != "kept" {
		t.Fatalf("got %q, want only the kept message", d.Body)
	}
	c.sync()
	noDelivery(t, ds)
}

// Dead-lettering to a delayed exchange delays the message (retry with
// back-off): the x-delay header travels with it.
func TestDelayedDeadLetterRetry(t *testing.T) {
	t.Parallel()
	p := node(t)
	c := newClient(t, p)
	c.delayedExchange("retry", "direct", false)
	c.declare("work", amqp.Table{"x-dead-letter-exchange": "retry", "x-dead-letter-routing-key": "again"})
	c.declare("later", nil)
	c.bind("later", "again", "retry", nil)
	c.publish("", "work", withDelay("job", int32(150)))
	c.sync()
	d := c.get("work", false)
	start := time.Now()
	if err := d.Reject(false); err != nil {
		t.Fatal(err)
	}
	got := recv(t, c.consume("later", "", true))
	if el := time.Since(start); el < 150*time.Millisecond {
		t.Fatalf("dead-lettered message arrived after %v, before its delay", el)
	}
	if string(got.Body) != "job" || got.Headers["x-delay"] != int32(-150) {
		t.Fatalf("got %q x-delay %#v", got.Body, got.Headers["x-delay"])
	}
	deaths, _ := got.Headers["x-death"].([]any)
	if len(deaths) != 1 {
		t.Fatalf("x-death %#v", got.Headers["x-death"])
	}
	if death, _ := deaths[0].(amqp.Table); death["reason"] != "rejected" || death["queue"] != "work" {
		t.Fatalf("x-death %#v", deaths[0])
	}
}

// Persistent messages held by a durable delayed exchange survive a clean
// restart and kill -9 (once confirmed), and are routed when due; transient
// ones do not. A routed message is not routed again after another restart.
func TestDelayedSurvivesRestart(t *testing.T) {
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
			c := clientOn(t, dial(t, n.AMQPURL()))
			c.delayedExchange("dd", "direct", true)
			if _, err := c.ch.QueueDeclare("dq", true, false, false, false, nil); err != nil {
				t.Fatal(err)
			}
			c.bind("dq", "k", "dd", nil)
			if err := c.ch.Confirm(false); err != nil {
				t.Fatal(err)
			}
			confirms := c.ch.NotifyPublish(make(chan amqp.Confirmation, 3))
			// The transient one is due first: if it survived it would
			// be delivered first.
			c.publish("dd", "k", withDelay("transient", int32(1000)))
			p := withDelay("persistent", int32(1500))
			p.DeliveryMode = amqp.Persistent
			c.publish("dd", "k", p)
			long := withDelay("an hour", int32(3_600_000))
			long.DeliveryMode = amqp.Persistent
			c.publish("dd", "k", long)
			for i := uint64(1); i <= 3; i++ {
				select {
				case cf := <-confirms:
					if !cf.Ack {
						t.Fatalf("nack %d", cf.DeliveryTag)
					}
				case <-time.After(waitTimeout):
					t.Fatalf("no confirm %d", i)
				}
			}
			tc.stop(n)
			n.Restart(t)

			c = clientOn(t, dial(t, n.AMQPURL()))
			ds := c.consume("dq", "", false)
			d := recv(t, ds)
			if string(d.Body) != "persistent" || d.Headers["x-delay"] != int32(-1500) || d.DeliveryMode != amqp.Persistent {
				t.Fatalf("after restart got %q x-delay %#v mode %d", d.Body, d.Headers["x-delay"], d.DeliveryMode)
			}
			c.sync()
			noDelivery(t, ds)
			checkMessagesDelayed(t, n, "dd", 1)

			// Left unacked in a durable queue; the exchange must not route
			// it again.
			n.Restart(t)
			c = clientOn(t, dial(t, n.AMQPURL()))
			q, err := c.ch.QueueDeclarePassive("dq", true, false, false, false, nil)
			if err != nil {
				t.Fatal(err)
			}
			if q.Messages != 1 {
				t.Fatalf("dq holds %d messages after the second restart, want 1", q.Messages)
			}
			checkMessagesDelayed(t, n, "dd", 1)
		})
	}
}

// checkMessagesDelayed reads the exchange from the management API.
func checkMessagesDelayed(t *testing.T, n *warrentest.Node, name string, want int) {
	t.Helper()
	req, err := http.NewRequest("GET", "http://"+n.WaitAddr("http")+"/api/exchanges/%2F/"+name, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.SetBasicAuth("guest", "guest")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var x struct {
		Type            string         `json:"type"`
		Arguments       map[string]any `json:"arguments"`
		MessagesDelayed *int           `json:"messages_delayed"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&x); err != nil {
		t.Fatalf("GET /api/exchanges/%%2F/%s: %s: %v", name, resp.Status, err)
	}
	if x.Type != "x-delayed-message" || x.Arguments["x-delayed-type"] != "direct" || x.MessagesDelayed == nil || *x.MessagesDelayed != want {
		t.Fatalf("exchange %s: %+v (messages_delayed %v), want %d delayed", name, x, x.MessagesDelayed, want)
	}
}

// Sender-selected distribution: CC and BCC keys apply when a held message
// is routed, persistent or not; BCC never reaches a consumer.
func TestDelayedCCBCC(t *testing.T) {
	t.Parallel()
	p := node(t)
	c := newClient(t, p)
	c.delayedExchange("dcc", "direct", true)
	for _, q := range []string{"main", "cc", "bcc"} {
		c.declare(q, nil)
		c.bind(q, q, "dcc", nil)
	}
	for _, mode := range []uint8{amqp.Transient, amqp.Persistent} {
		m := withDelay(fmt.Sprintf("mode %d", mode), int32(50))
		m.DeliveryMode = mode
		m.Headers["CC"] = []any{"cc"}
		m.Headers["BCC"] = []any{"bcc"}
		c.publish("dcc", "main", m)
	}
	for _, q := range []string{"main", "cc", "bcc"} {
		ds := c.consume(q, "", true)
		for _, mode := range []uint8{amqp.Transient, amqp.Persistent} {
			d := recv(t, ds)
			if want := fmt.Sprintf("mode %d", mode); string(d.Body) != want || d.RoutingKey != "main" {
				t.Fatalf("%s: got %q via %q, want %q via main", q, d.Body, d.RoutingKey, want)
			}
			if _, ok := d.Headers["BCC"]; ok || d.Headers["x-delay"] != int32(-50) {
				t.Fatalf("%s: headers %v", q, d.Headers)
			}
		}
	}
}

// A delayed exchange reached through an exchange-to-exchange binding holds
// the message as if it had been published to it, as the plugin's exchange
// does whatever brought the message there.
func TestDelayedThroughExchangeBinding(t *testing.T) {
	t.Parallel()
	p := node(t)
	c := newClient(t, p)
	c.exchange("front", "direct")
	c.delayedExchange("later", "direct", false)
	if err := c.ch.ExchangeBind("later", "k", "front", false, nil); err != nil {
		t.Fatal(err)
	}
	c.declare("now.q", nil)
	c.bind("now.q", "k", "front", nil)
	c.declare("later.q", nil)
	c.bind("later.q", "k", "later", nil)
	start := time.Now()
	c.publish("front", "k", withDelay("m", int32(150)))
	c.sync()
	wantCounts(t, p, "now.q", 1, 0, 0) // the direct binding delivers at once
	wantCounts(t, p, "later.q", 0, 0, 0)
	ds := c.consume("later.q", "l", true)
	d := recv(t, ds)
	if waited := time.Since(start); waited < 150*time.Millisecond {
		t.Fatalf("delivered after %v, before its 150 ms delay", waited)
	}
	equal(t, "x-delay", d.Headers["x-delay"], any(int32(-150)))
	// Without a delay it passes straight through.
	c.publish("front", "k", withDelay("plain", nil))
	equal(t, "undelayed", string(recv(t, ds).Body), "plain")
}
