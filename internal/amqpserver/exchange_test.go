package amqpserver_test

import (
	"fmt"
	"testing"

	amqp "github.com/rabbitmq/amqp091-go"
)

func TestExchangeDeclare(t *testing.T) {
	t.Parallel()
	p := node(t)
	c := newClient(t, p)
	for _, kind := range []string{"direct", "fanout", "topic", "headers"} {
		name := "x-" + kind
		if err := c.ch.ExchangeDeclare(name, kind, false, false, false, false, nil); err != nil {
			t.Fatalf("declare %s: %v", kind, err)
		}
		// Redeclaring the same is fine; so is a passive declare of any kind.
		if err := c.ch.ExchangeDeclare(name, kind, false, false, false, false, nil); err != nil {
			t.Fatalf("redeclare %s: %v", kind, err)
		}
		if err := c.ch.ExchangeDeclarePassive(name, "fanout", true, true, true, false, nil); err != nil {
			t.Fatalf("passive %s: %v", kind, err)
		}
		x := p.Broker.Vhost("/").Exchange(name)
		if x == nil || x.Kind != kind || x.Durable || x.AutoDelete || x.Internal {
			t.Fatalf("exchange %s: %+v", name, x)
		}
	}
	if err := c.ch.ExchangeDeclare("x-flags", "topic", true, true, true, false, amqp.Table{"alternate-exchange": "ae", "other": int32(1)}); err != nil {
		t.Fatal(err)
	}
	x := p.Broker.Vhost("/").Exchange("x-flags")
	if x == nil || !x.Durable || !x.AutoDelete || !x.Internal || x.Args["alternate-exchange"] != "ae" {
		t.Fatalf("exchange x-flags: %+v", x)
	}
	// Only alternate-exchange takes part in equivalence.
	if err := c.ch.ExchangeDeclare("x-flags", "topic", true, true, true, false, amqp.Table{"alternate-exchange": "ae"}); err != nil {
		t.Fatal(err)
	}
	// Built-in exchanges may be redeclared with their own properties.
	if err := c.ch.ExchangeDeclare("amq.direct", "direct", true, false, false, false, nil); err != nil {
		t.Fatal(err)
	}
	// Server-side nowait.
	if err := c.ch.ExchangeDeclare("x-nowait", "fanout", false, false, false, true, nil); err != nil {
		t.Fatal(err)
	}
	c.sync()
	if p.Broker.Vhost("/").Exchange("x-nowait") == nil {
		t.Fatal("nowait declare did not declare")
	}
}

func TestExchangeDeclareErrors(t *testing.T) {
	t.Parallel()
	p := node(t)
	setup := newClient(t, p)
	setup.exchange("x", "direct")
	if err := setup.ch.ExchangeDeclare("xae", "direct", false, false, false, false, amqp.Table{"alternate-exchange": "ae1"}); err != nil {
		t.Fatal(err)
	}

	type declare struct {
		name, kind                             string
		durable, autoDelete, internal, passive bool
		args                                   amqp.Table
	}
	for _, tc := range []struct {
		name   string
		d      declare
		code   int
		reason string
	}{
		{"passive missing", declare{name: "nope", kind: "direct", passive: true}, 404, "NOT_FOUND - no exchange 'nope' in vhost '/'"},
		{"type", declare{name: "x", kind: "fanout"}, 406, "PRECONDITION_FAILED - inequivalent arg 'type' for exchange 'x' in vhost '/': received 'fanout' but current is 'direct'"},
		{"durable", declare{name: "x", kind: "direct", durable: true}, 406, "PRECONDITION_FAILED - inequivalent arg 'durable' for exchange 'x' in vhost '/': received 'true' but current is 'false'"},
		{"auto_delete", declare{name: "x", kind: "direct", autoDelete: true}, 406, "PRECONDITION_FAILED - inequivalent arg 'auto_delete' for exchange 'x' in vhost '/': received 'true' but current is 'false'"},
		{"internal", declare{name: "x", kind: "direct", internal: true}, 406, "PRECONDITION_FAILED - inequivalent arg 'internal' for exchange 'x' in vhost '/': received 'true' but current is 'false'"},
		{"alternate-exchange", declare{name: "xae", kind: "direct", args: amqp.Table{"alternate-exchange": "ae2"}}, 406,
			"PRECONDITION_FAILED - inequivalent arg 'alternate-exchange' for exchange 'xae' in vhost '/': received 'ae2' but current is 'ae1'"},
		{"alternate-exchange missing", declare{name: "xae", kind: "direct"}, 406,
			"PRECONDITION_FAILED - inequivalent arg 'alternate-exchange' for exchange 'xae' in vhost '/': received none but current is the value 'ae1' of type 'longstr'"},
		{"builtin inequivalent", declare{name: "amq.topic", kind: "topic"}, 406, "PRECONDITION_FAILED - inequivalent arg 'durable' for exchange 'amq.topic' in vhost '/': received 'false' but current is 'true'"},
		{"reserved prefix", declare{name: "amq.foo", kind: "direct"}, 403, "ACCESS_REFUSED - exchange name 'amq.foo' contains reserved prefix 'amq.*'"},
		{"reserved prefix passive", declare{name: "amq.foo", kind: "direct", passive: true}, 404, "NOT_FOUND - no exchange 'amq.foo' in vhost '/'"},
		{"default exchange", declare{name: "", kind: "direct"}, 403, "ACCESS_REFUSED - operation not permitted on the default exchange"},
		{"default exchange passive", declare{name: "", kind: "direct", passive: true}, 403, "ACCESS_REFUSED - operation not permitted on the default exchange"},
		{"unknown type", declare{name: "y", kind: "nope"}, 503, "COMMAND_INVALID - unknown exchange type 'nope'"},
		{"unknown type for the default exchange", declare{name: "", kind: "nope"}, 503, "COMMAND_INVALID - unknown exchange type 'nope'"},
		{"unknown type for an existing exchange", declare{name: "x", kind: "nope"}, 503, "COMMAND_INVALID - unknown exchange type 'nope'"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := newClient(t, p)
			d := tc.d
			var err error
			if d.passive {
				err = c.ch.ExchangeDeclarePassive(d.name, d.kind, d.durable, d.autoDelete, d.internal, false, d.args)
			} else {
				err = c.ch.ExchangeDeclare(d.name, d.kind, d.durable, d.autoDelete, d.internal, false, d.args)
			}
			if tc.code == 503 {
				c.wantHardErr(err, tc.code, tc.reason)
			} else {
				c.wantErr(err, tc.code, tc.reason)
			}
		})
	}
	if x := p.Broker.Vhost("/").Exchange("x"); x.Kind != "direct" || x.Durable {
		t.Fatalf("a failed redeclare changed the exchange: %+v", x)
	}
}

func TestExchangeDelete(t *testing.T) {
	t.Parallel()
	p := node(t)
	c := newClient(t, p)
	v := p.Broker.Vhost("/")

	c.exchange("gone", "fanout")
	if err := c.ch.ExchangeDelete("gone", false, false); err != nil {
		t.Fatal(err)
	}
	if v.Exchange("gone") != nil {
		t.Fatal("exchange not deleted")
	}
	// Deleting a missing exchange is fine, as in RabbitMQ.
	if err := c.ch.ExchangeDelete("gone", false, false); err != nil {
		t.Fatal(err)
	}
	if err := c.ch.ExchangeDelete("gone", true, false); err != nil {
		t.Fatal(err)
	}

	// if-unused: in use while it has bindings (as a source).
	c.exchange("used", "direct")
	c.declare("q", nil)
	c.bind("q", "k", "used", nil)
	c.wantErr(c.ch.ExchangeDelete("used", true, false), 406, "PRECONDITION_FAILED - exchange 'used' in vhost '/' in use")
	if err := c.ch.QueueUnbind("q", "k", "used", nil); err != nil {
		t.Fatal(err)
	}
	if err := c.ch.ExchangeDelete("used", true, false); err != nil {
		t.Fatal(err)
	}

	// Being a binding's destination does not count as in use.
	c.exchange("src", "fanout")
	c.exchange("dst", "fanout")
	if err := c.ch.ExchangeBind("dst", "", "src", false, nil); err != nil {
		t.Fatal(err)
	}
	if err := c.ch.ExchangeDelete("dst", true, false); err != nil {
		t.Fatal(err)
	}
	if len(v.Exchange("src").Bindings()) != 0 {
		t.Fatal("deleting an exchange left bindings to it")
	}

	// Deleting an exchange removes its bindings.
	c.exchange("withq", "fanout")
	c.bind("q", "", "withq", nil)
	if err := c.ch.ExchangeDelete("withq", false, false); err != nil {
		t.Fatal(err)
	}
	c.exchange("withq", "fanout")
	c.publishText("", "x")
	c.publish("withq", "", amqp.Publishing{Body: []byte("x")})
	c.sync()
	wantCounts(t, p, "q", 0, 0, 0)

	for _, tc := range []struct{ name, reason string }{
		{"", "ACCESS_REFUSED - operation not permitted on the default exchange"},
		{"amq.direct", "ACCESS_REFUSED - deletion of system exchange 'amq.direct' in vhost '/' not allowed"},
		{"amq.fanout", "ACCESS_REFUSED - deletion of system exchange 'amq.fanout' in vhost '/' not allowed"},
		{"amq.nope", "ACCESS_REFUSED - deletion of system exchange 'amq.nope' in vhost '/' not allowed"},
	} {
		c.wantErr(c.ch.ExchangeDelete(tc.name, false, false), 403, tc.reason)
	}
}

// An auto-delete exchange goes when its last binding (as a source) goes,
// not before it ever had one.
func TestExchangeAutoDelete(t *testing.T) {
	t.Parallel()
	p := node(t)
	c := newClient(t, p)
	v := p.Broker.Vhost("/")
	if err := c.ch.ExchangeDeclare("ad", "direct", false, true, false, false, nil); err != nil {
		t.Fatal(err)
	}
	c.declare("q1", nil)
	c.declare("q2", nil)
	c.bind("q1", "a", "ad", nil)
	c.bind("q2", "b", "ad", nil)
	if err := c.ch.QueueUnbind("q1", "a", "ad", nil); err != nil {
		t.Fatal(err)
	}
	if v.Exchange("ad") == nil {
		t.Fatal("deleted while a binding remained")
	}
	if err := c.ch.QueueUnbind("q2", "b", "ad", nil); err != nil {
		t.Fatal(err)
	}
	if v.Exchange("ad") != nil {
		t.Fatal("auto-delete exchange survived its last binding")
	}
	err := c.ch.ExchangeDeclarePassive("ad", "direct", false, true, false, false, nil)
	c.wantErr(err, 404, "NOT_FOUND - no exchange 'ad' in vhost '/'")

	// Deleting the bound queue removes the last binding too.
	if err := c.ch.ExchangeDeclare("ad2", "fanout", false, true, false, false, nil); err != nil {
		t.Fatal(err)
	}
	c.bind("q1", "", "ad2", nil)
	if _, err := c.ch.QueueDelete("q1", false, false, false); err != nil {
		t.Fatal(err)
	}
	if v.Exchange("ad2") != nil {
		t.Fatal("auto-delete exchange survived the deletion of its last bound queue")
	}

	// An exchange-to-exchange binding counts; unbinding it deletes the source.
	if err := c.ch.ExchangeDeclare("ad3", "fanout", false, true, false, false, nil); err != nil {
		t.Fatal(err)
	}
	c.exchange("plain", "fanout")
	if err := c.ch.ExchangeBind("plain", "", "ad3", false, nil); err != nil {
		t.Fatal(err)
	}
	if err := c.ch.ExchangeUnbind("plain", "", "ad3", false, nil); err != nil {
		t.Fatal(err)
	}
	if v.Exchange("ad3") != nil {
		t.Fatal("auto-delete exchange survived its last exchange binding")
	}
	if v.Exchange("plain") == nil {
		t.Fatal("the destination went too")
	}
}

func TestExchangeInternal(t *testing.T) {
	t.Parallel()
	p := node(t)
	c := newClient(t, p)
	if err := c.ch.ExchangeDeclare("internal", "fanout", false, false, true, false, nil); err != nil {
		t.Fatal(err)
	}
	c.exchange("front", "fanout")
	if err := c.ch.ExchangeBind("internal", "", "front", false, nil); err != nil {
		t.Fatal(err)
	}
	c.declare("q", nil)
	c.bind("q", "", "internal", nil)

	// Reachable through a binding, not directly.
	c.publish("front", "", amqp.Publishing{Body: []byte("via front")})
	equal(t, "body", string(c.get("q", true).Body), "via front")
	c.publish("internal", "", amqp.Publishing{Body: []byte("direct")})
	c.wantChannelClosed(403, "ACCESS_REFUSED - cannot publish to internal exchange 'internal' in vhost '/'")
	c.getEmpty("q")
}

func TestExchangePublishToMissing(t *testing.T) {
	t.Parallel()
	p := node(t)
	c := newClient(t, p)
	c.publish("nope", "k", amqp.Publishing{Body: []byte("x")})
	c.wantChannelClosed(404, "NOT_FOUND - no exchange 'nope' in vhost '/'")
	// A mandatory publish too: the error wins over basic.return.
	returns := c.ch.NotifyReturn(make(chan amqp.Return, 1))
	if err := c.ch.Publish("nope", "k", true, false, amqp.Publishing{Body: []byte("x")}); err != nil {
		t.Fatal(err)
	}
	c.wantChannelClosed(404, "NOT_FOUND - no exchange 'nope' in vhost '/'")
	select {
	case r, ok := <-returns: // amqp091-go closes it with the channel
		if ok {
			t.Fatalf("unexpected basic.return %+v", r)
		}
	default:
	}
}

func TestExchangeDefaultExchange(t *testing.T) {
	t.Parallel()
	p := node(t)
	c := newClient(t, p)
	c.declare("q", nil)
	c.exchange("x", "direct")
	const refused = "ACCESS_REFUSED - operation not permitted on the default exchange"
	c.wantErr(c.ch.QueueBind("q", "k", "", false, nil), 403, refused)
	c.wantErr(c.ch.QueueUnbind("q", "q", "", nil), 403, refused)
	c.wantErr(c.ch.ExchangeBind("x", "k", "", false, nil), 403, refused)
	c.wantErr(c.ch.ExchangeBind("", "k", "x", false, nil), 403, refused)
	c.wantErr(c.ch.ExchangeUnbind("", "k", "x", false, nil), 403, refused)
	// Publishing to it routes by queue name.
	c.publishText("q", "hello")
	c.publishText("nope", "lost")
	equal(t, "body", string(c.get("q", true).Body), "hello")
	c.getEmpty("q")
}

func TestExchangeBindErrors(t *testing.T) {
	t.Parallel()
	p := node(t)
	setup := newClient(t, p)
	setup.declare("q", nil)
	setup.exchange("x", "direct")
	setup.exchange("h", "headers")
	for _, tc := range []struct {
		name   string
		do     func(ch *amqp.Channel) error
		code   int
		reason string
	}{
		{"queue.bind missing queue", func(ch *amqp.Channel) error { return ch.QueueBind("nope", "k", "x", false, nil) }, 404, "NOT_FOUND - no queue 'nope' in vhost '/'"},
		{"queue.bind missing exchange", func(ch *amqp.Channel) error { return ch.QueueBind("q", "k", "nope", false, nil) }, 404, "NOT_FOUND - no exchange 'nope' in vhost '/'"},
		{"queue.bind both missing", func(ch *amqp.Channel) error { return ch.QueueBind("nope", "k", "nox", false, nil) }, 404, "NOT_FOUND - no exchange 'nox' in vhost '/'"},
		{"exchange.bind missing destination", func(ch *amqp.Channel) error { return ch.ExchangeBind("nope", "k", "x", false, nil) }, 404, "NOT_FOUND - no exchange 'nope' in vhost '/'"},
		{"exchange.bind missing source", func(ch *amqp.Channel) error { return ch.ExchangeBind("x", "k", "nope", false, nil) }, 404, "NOT_FOUND - no exchange 'nope' in vhost '/'"},
		{"headers invalid x-match", func(ch *amqp.Channel) error {
			return ch.QueueBind("q", "", "h", false, amqp.Table{"x-match": "some"})
		}, 406, `PRECONDITION_FAILED - Invalid x-match field value <<"some">>; expected all, any, all-with-x, or any-with-x`},
		{"headers x-match of wrong type", func(ch *amqp.Channel) error {
			return ch.QueueBind("q", "", "h", false, amqp.Table{"x-match": int32(1)})
		}, 406, `PRECONDITION_FAILED - Invalid x-match field type signedint (value 1); expected longstr`},
		{"no previously declared queue", func(ch *amqp.Channel) error { return ch.QueueBind("", "k", "x", false, nil) }, 404, "NOT_FOUND - no previously declared queue"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := newClient(t, p)
			c.wantErr(tc.do(c.ch), tc.code, tc.reason)
		})
	}
	// Unbinding what is not there is fine in RabbitMQ 3.10, even when the
	// queue or exchange is missing.
	c := newClient(t, p)
	for _, do := range []func() error{
		func() error { return c.ch.QueueUnbind("q", "nokey", "x", nil) },
		func() error { return c.ch.QueueUnbind("nope", "k", "x", nil) },
		func() error { return c.ch.QueueUnbind("q", "k", "nope", nil) },
		func() error { return c.ch.ExchangeUnbind("x", "k", "nope", false, nil) },
		func() error { return c.ch.ExchangeUnbind("nope", "k", "x", false, nil) },
	} {
		if err := do(); err != nil {
			t.Fatal(err)
		}
	}
	// Binding twice is one binding.
	c.bind("q", "k", "x", nil)
	c.bind("q", "k", "x", nil)
	equal(t, "bindings", len(p.Broker.Vhost("/").Exchange("x").Bindings()), 1)
}

// routeCase publishes one message and says which queues get it.
type routeCase struct {
	key     string
	headers amqp.Table
	want    []string
}

func checkRoutes(t *testing.T, c *client, exchange string, queues []string, cases []routeCase) {
	t.Helper()
	for i, rc := range cases {
		body := fmt.Sprintf("m%d", i)
		c.publish(exchange, rc.key, amqp.Publishing{Headers: rc.headers, Body: []byte(body)})
		c.sync()
		got := map[string]bool{}
		for _, q := range queues {
			for {
				d, ok, err := c.ch.Get(q, true)
				if err != nil {
					t.Fatal(err)
				}
				if !ok {
					break
				}
				if string(d.Body) != body {
					t.Fatalf("case %d (%q %v): queue %s has %q", i, rc.key, rc.headers, q, d.Body)
				}
				if got[q] {
					t.Fatalf("case %d (%q %v): queue %s got the message twice", i, rc.key, rc.headers, q)
				}
				got[q] = true
			}
		}
		want := map[string]bool{}
		for _, q := range rc.want {
			want[q] = true
		}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("case %d (%q %v): routed to %v, want %v", i, rc.key, rc.headers, keys(got), rc.want)
		}
	}
}

func keys(m map[string]bool) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

func TestExchangeRouting(t *testing.T) {
	t.Parallel()
	p := node(t)
	t.Run("direct", func(t *testing.T) {
		c := newClient(t, p)
		c.exchange("d", "direct")
		qs := []string{"d1", "d2", "d3"}
		for _, q := range qs {
			c.declare(q, nil)
		}
		c.bind("d1", "a", "d", nil)
		c.bind("d2", "a", "d", nil)
		c.bind("d2", "b", "d", nil)
		c.bind("d3", "", "d", nil)
		checkRoutes(t, c, "d", qs, []routeCase{
			{key: "a", want: []string{"d1", "d2"}},
			{key: "b", want: []string{"d2"}},
			{key: "", want: []string{"d3"}},
			{key: "c"},
			{key: "A"},
		})
		// The pre-declared amq.direct works the same.
		c.bind("d1", "k", "amq.direct", nil)
		checkRoutes(t, c, "amq.direct", qs, []routeCase{{key: "k", want: []string{"d1"}}, {key: "a"}})
	})
	t.Run("fanout", func(t *testing.T) {
		c := newClient(t, p)
		c.exchange("f", "fanout")
		qs := []string{"f1", "f2", "f3"}
		for _, q := range qs {
			c.declare(q, nil)
		}
		c.bind("f1", "", "f", nil)
		c.bind("f2", "whatever", "f", nil)
		c.bind("f2", "other", "f", nil)
		checkRoutes(t, c, "f", qs, []routeCase{
			{key: "", want: []string{"f1", "f2"}},
			{key: "x.y", want: []string{"f1", "f2"}},
		})
		c.bind("f3", "", "amq.fanout", nil)
		checkRoutes(t, c, "amq.fanout", qs, []routeCase{{key: "k", want: []string{"f3"}}})
	})
	t.Run("topic", func(t *testing.T) {
		c := newClient(t, p)
		c.exchange("t", "topic")
		qs := []string{"star", "hash", "multi", "exact", "all"}
		for _, q := range qs {
			c.declare(q, nil)
		}
		c.bind("star", "a.*.c", "t", nil)
		c.bind("hash", "a.#", "t", nil)
		c.bind("multi", "*.b.*", "t", nil)
		c.bind("multi", "a.b.#", "t", nil)
		c.bind("multi", "#.c", "t", nil)
		c.bind("exact", "a.b.c", "t", nil)
		c.bind("all", "#", "t", nil)
		checkRoutes(t, c, "t", qs, []routeCase{
			{key: "a.b.c", want: []string{"star", "hash", "multi", "exact", "all"}},
			{key: "a.x.c", want: []string{"star", "hash", "multi", "all"}},
			{key: "a", want: []string{"hash", "all"}},
			{key: "a.b", want: []string{"hash", "multi", "all"}},
			{key: "a.b.c.d", want: []string{"hash", "multi", "all"}},
			{key: "x.b.y", want: []string{"multi", "all"}},
			{key: "c", want: []string{"multi", "all"}},
			{key: "b.a.c.d", want: []string{"all"}},
			{key: "", want: []string{"all"}},
		})
		c.bind("exact", "k.*", "amq.topic", nil)
		checkRoutes(t, c, "amq.topic", qs, []routeCase{{key: "k.1", want: []string{"exact"}}, {key: "k.1.2"}})
	})
	t.Run("headers", func(t *testing.T) {
		c := newClient(t, p)
		c.exchange("h", "headers")
		qs := []string{"all", "any", "default", "allx", "anyx", "presence"}
		for _, q := range qs {
			c.declare(q, nil)
		}
		c.bind("all", "", "h", amqp.Table{"x-match": "all", "a": "1", "b": int32(2)})
		c.bind("any", "", "h", amqp.Table{"x-match": "any", "a": "1", "b": int32(2)})
		c.bind("default", "ignored", "h", amqp.Table{"a": "1"})
		c.bind("allx", "", "h", amqp.Table{"x-match": "all-with-x", "x-k": "v"})
		c.bind("anyx", "", "h", amqp.Table{"x-match": "any-with-x", "x-k": "v", "c": "3"})
		c.bind("presence", "", "h", amqp.Table{"x-match": "any", "p": nil})
		checkRoutes(t, c, "h", qs, []routeCase{
			{headers: amqp.Table{"a": "1", "b": int32(2)}, want: []string{"all", "any", "default"}},
			{headers: amqp.Table{"a": "1", "b": int64(2)}, want: []string{"all", "any", "default"}},
			{headers: amqp.Table{"a": "1"}, want: []string{"any", "default"}},
			{headers: amqp.Table{"b": int32(2)}, want: []string{"any"}},
			{headers: amqp.Table{"a": "2", "b": int32(3)}},
			{headers: amqp.Table{"x-k": "v"}, want: []string{"allx", "anyx"}},
			{headers: amqp.Table{"c": "3"}, want: []string{"anyx"}},
			{headers: amqp.Table{"p": "anything"}, want: []string{"presence"}},
			{key: "ignored"},
		})
		c.bind("default", "", "amq.match", amqp.Table{"x-match": "any", "m": true})
		c.bind("all", "", "amq.headers", amqp.Table{"n": true})
		checkRoutes(t, c, "amq.match", qs, []routeCase{{headers: amqp.Table{"m": true}, want: []string{"default"}}, {headers: amqp.Table{"m": false}}})
		checkRoutes(t, c, "amq.headers", qs, []routeCase{{headers: amqp.Table{"n": true}, want: []string{"all"}}})
	})
}

func TestExchangeToExchange(t *testing.T) {
	t.Parallel()
	p := node(t)
	c := newClient(t, p)
	c.exchange("e1", "topic")
	c.exchange("e2", "direct")
	c.exchange("e3", "fanout")
	for _, q := range []string{"q2", "q3"} {
		c.declare(q, nil)
	}
	// e1 -(a.#)-> e2 -(a.b)-> q2; e2 -(a.b)-> e3 -> q3 and e3 -> e1 (a cycle).
	if err := c.ch.ExchangeBind("e2", "a.#", "e1", false, nil); err != nil {
		t.Fatal(err)
	}
	c.bind("q2", "a.b", "e2", nil)
	if err := c.ch.ExchangeBind("e3", "a.b", "e2", false, nil); err != nil {
		t.Fatal(err)
	}
	c.bind("q3", "", "e3", nil)
	if err := c.ch.ExchangeBind("e1", "", "e3", false, nil); err != nil {
		t.Fatal(err)
	}
	// Two paths to q3 (e1 -> e2 -> e3 and e3 directly): still one copy.
	if err := c.ch.ExchangeBind("e3", "#", "e1", false, nil); err != nil {
		t.Fatal(err)
	}
	qs := []string{"q2", "q3"}
	checkRoutes(t, c, "e1", qs, []routeCase{
		{key: "a.b", want: []string{"q2", "q3"}},
		{key: "a.c", want: []string{"q3"}},
		{key: "z", want: []string{"q3"}},
	})
	checkRoutes(t, c, "e3", qs, []routeCase{{key: "a.b", want: []string{"q2", "q3"}}})
	checkRoutes(t, c, "e2", qs, []routeCase{{key: "a.b", want: []string{"q2", "q3"}}, {key: "x"}})

	if err := c.ch.ExchangeUnbind("e3", "#", "e1", false, nil); err != nil {
		t.Fatal(err)
	}
	if err := c.ch.ExchangeUnbind("e2", "a.#", "e1", false, nil); err != nil {
		t.Fatal(err)
	}
	checkRoutes(t, c, "e1", qs, []routeCase{{key: "a.b"}})
}
