package amqpserver_test

import (
	"bytes"
	"strings"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	wire "github.com/warrenmq/warren/internal/amqp"
	"github.com/warrenmq/warren/internal/warrentest"
)

func TestBasicQos(t *testing.T) {
	t.Parallel()
	p := node(t)

	t.Run("per consumer", func(t *testing.T) {
		c := newClient(t, p)
		c.declare("pc", nil)
		if err := c.ch.Qos(2, 0, false); err != nil {
			t.Fatal(err)
		}
		ds := c.consume("pc", "", false)
		// A later qos applies to later consumers only.
		if err := c.ch.Qos(10, 0, false); err != nil {
			t.Fatal(err)
		}
		c.publishText("pc", "1", "2", "3", "4", "5")
		wantCounts(t, p, "pc", 3, 2, 1)
		d1 := recv(t, ds)
		recv(t, ds)
		noDelivery(t, ds)
		if err := d1.Ack(false); err != nil {
			t.Fatal(err)
		}
		equal(t, "next", string(recv(t, ds).Body), "3")
		wantCounts(t, p, "pc", 2, 2, 1)

		// Each consumer has its own limit.
		c2 := clientOn(t, c.conn)
		if err := c2.ch.Qos(1, 0, false); err != nil {
			t.Fatal(err)
		}
		c2.declare("pc2", nil)
		c2.consume("pc2", "a", false)
		c2.consume("pc2", "b", false)
		c2.publishText("pc2", "1", "2", "3", "4")
		wantCounts(t, p, "pc2", 2, 2, 2)
		// prefetch 0 is unlimited.
		c3 := clientOn(t, c.conn)
		c3.declare("pc3", nil)
		c3.publishText("pc3", "1", "2", "3", "4")
		c3.consume("pc3", "", false)
		wantCounts(t, p, "pc3", 0, 4, 1)
	})

	t.Run("global", func(t *testing.T) {
		c := newClient(t, p)
		c.declare("ga", nil)
		c.declare("gb", nil)
		if err := c.ch.Qos(3, 0, true); err != nil {
			t.Fatal(err)
		}
		da := c.consume("ga", "", false)
		c.consume("gb", "", false)
		c.publishText("ga", "a1", "a2")
		c.publishText("gb", "b1", "b2", "b3")
		_, ua, _ := queue(t, p, "ga").Counts()
		_, ub, _ := queue(t, p, "gb").Counts()
		equal(t, "unacked over the channel", ua+ub, 3)
		// Acking one lets one more through, from either queue.
		d := recv(t, da)
		if err := d.Ack(false); err != nil {
			t.Fatal(err)
		}
		c.sync()
		warrentest.Eventually(t, waitTimeout, func() bool {
			ra, ua, _ := queue(t, p, "ga").Counts()
			rb, ub, _ := queue(t, p, "gb").Counts()
			return ua+ub == 3 && ra+rb == 1
		})
		// basic.get is not limited by it.
		c.declare("gc", nil)
		c.publishText("gc", "c1")
		c.get("gc", false)
	})

	t.Run("prefetch_size", func(t *testing.T) {
		c := newClient(t, p)
		c.wantHardErr(c.ch.Qos(0, 1, false), amqp.NotImplemented, "NOT_IMPLEMENTED - prefetch_size!=0 (1)")
	})
}

func TestBasicConsume(t *testing.T) {
	t.Parallel()
	p := node(t)
	setup := newClient(t, p)
	setup.declare("q", nil)

	t.Run("no-ack", func(t *testing.T) {
		c := newClient(t, p)
		c.declare("noack", nil)
		ds := c.consume("noack", "", true)
		c.publishText("noack", "1", "2")
		equalSlice(t, "bodies", recvBodies(t, ds, 2), []string{"1", "2"})
		wantCounts(t, p, "noack", 0, 0, 1)
	})
	t.Run("server-generated tag", func(t *testing.T) {
		raw := rawDial(t, p.Addr)
		raw.open(nil)
		raw.send(1, &wire.ChannelOpen{})
		expect[*wire.ChannelOpenOk](raw)
		raw.send(1, &wire.BasicConsume{Queue: "q"})
		ok := expect[*wire.BasicConsumeOk](raw)
		if !strings.HasPrefix(ok.ConsumerTag, "amq.ctag-") || len(ok.ConsumerTag) != len("amq.ctag-")+22 {
			t.Fatalf("consumer tag %q, want amq.ctag- and 22 characters", ok.ConsumerTag)
		}
		raw.send(1, &wire.BasicCancel{ConsumerTag: ok.ConsumerTag})
		equal(t, "cancelled tag", expect[*wire.BasicCancelOk](raw).ConsumerTag, ok.ConsumerTag)
	})
	t.Run("exclusive", func(t *testing.T) {
		c := newClient(t, p)
		c.declare("ex", nil)
		if _, err := c.ch.Consume("ex", "first", false, true, false, false, nil); err != nil {
			t.Fatal(err)
		}
		const inUse = "ACCESS_REFUSED - queue 'ex' in vhost '/' in exclusive use"
		other := newClient(t, p)
		_, err := other.ch.Consume("ex", "", false, false, false, false, nil)
		other.wantErr(err, 403, inUse)
		_, err = c.ch.Consume("ex", "second", false, false, false, false, nil)
		c.wantErr(err, 403, inUse)
		// The channel closed, and with it the exclusive consumer: free again.
		ds := other.consume("ex", "", true)
		_, err = c.ch.Consume("ex", "third", false, true, false, false, nil)
		c.wantErr(err, 403, inUse)
		c.publishText("ex", "x")
		equal(t, "body", string(recv(t, ds).Body), "x")
	})
	t.Run("duplicate tag", func(t *testing.T) {
		c := newClient(t, p)
		c.consume("q", "dup", false)
		other := clientOn(t, c.conn)
		other.consume("q", "dup", false) // another channel may use it
		_, err := c.ch.Consume("q", "dup", false, false, false, false, nil)
		c.wantHardErr(err, amqp.NotAllowed, "NOT_ALLOWED - attempt to reuse consumer tag 'dup'")
	})
	t.Run("missing queue", func(t *testing.T) {
		c := newClient(t, p)
		_, err := c.ch.Consume("nope", "", false, false, false, false, nil)
		c.wantErr(err, 404, "NOT_FOUND - no queue 'nope' in vhost '/'")
	})
}

func TestBasicCancel(t *testing.T) {
	t.Parallel()
	p := node(t)
	c := newClient(t, p)
	c.declare("q", nil)
	ds := c.consume("q", "tag", false)
	c.publishText("q", "1")
	d := recv(t, ds)
	if err := c.ch.Cancel("tag", false); err != nil {
		t.Fatal(err)
	}
	if _, ok := <-ds; ok {
		t.Fatal("deliveries after cancel")
	}
	c.publishText("q", "2")
	wantCounts(t, p, "q", 1, 1, 0)
	// The cancelled consumer's delivery can still be acked.
	if err := d.Ack(false); err != nil {
		t.Fatal(err)
	}
	c.sync()
	wantCounts(t, p, "q", 1, 0, 0)
	// Cancelling an unknown tag is fine.
	if err := c.ch.Cancel("unknown", false); err != nil {
		t.Fatal(err)
	}
	c.declare("", nil)
}

func TestBasicRoundRobin(t *testing.T) {
	t.Parallel()
	p := node(t)
	c := newClient(t, p)
	c.declare("q", nil)
	a, b := newClient(t, p), newClient(t, p)
	da := a.consume("q", "", true)
	db := b.consume("q", "", true)
	c.publishText("q", "1", "2", "3", "4", "5", "6")
	equalSlice(t, "first consumer", recvBodies(t, da, 3), []string{"1", "3", "5"})
	equalSlice(t, "second consumer", recvBodies(t, db, 3), []string{"2", "4", "6"})
}

func TestBasicMandatory(t *testing.T) {
	t.Parallel()
	p := node(t)
	c := newClient(t, p)
	returns := c.ch.NotifyReturn(make(chan amqp.Return, 1))
	c.exchange("x", "direct")
	msg := amqp.Publishing{ContentType: "text/plain", Headers: amqp.Table{"h": "v"}, MessageId: "id", Body: []byte("lost")}
	if err := c.ch.Publish("x", "nowhere", true, false, msg); err != nil {
		t.Fatal(err)
	}
	select {
	case r := <-returns:
		equal(t, "reply code", r.ReplyCode, amqp.NoRoute)
		equal(t, "reply text", r.ReplyText, "NO_ROUTE")
		equal(t, "exchange", r.Exchange, "x")
		equal(t, "routing key", r.RoutingKey, "nowhere")
		equal(t, "body", string(r.Body), "lost")
		equal(t, "content type", r.ContentType, "text/plain")
		equal(t, "message id", r.MessageId, "id")
		equal(t, "header", r.Headers["h"], any("v"))
	case <-time.After(waitTimeout):
		t.Fatal("no basic.return")
	}
	// Not mandatory: dropped silently.
	c.publish("x", "nowhere", msg)
	// Mandatory and routed: no return.
	c.declare("q", nil)
	if err := c.ch.Publish("", "q", true, false, msg); err != nil {
		t.Fatal(err)
	}
	c.sync()
	select {
	case r := <-returns:
		t.Fatalf("unexpected return %+v", r)
	case <-time.After(quiet):
	}
	wantCounts(t, p, "q", 1, 0, 0)
}

func TestBasicImmediate(t *testing.T) {
	t.Parallel()
	p := node(t)
	c := newClient(t, p)
	c.declare("q", nil)
	if err := c.ch.Publish("", "q", false, true, amqp.Publishing{Body: []byte("x")}); err != nil {
		t.Fatal(err)
	}
	c.wantHardErr(nil, amqp.NotImplemented, "NOT_IMPLEMENTED - immediate=true")
	wantCounts(t, p, "q", 0, 0, 0)
}

func TestBasicGet(t *testing.T) {
	t.Parallel()
	p := node(t)
	c := newClient(t, p)
	c.declare("q", nil)
	c.getEmpty("q")
	c.publishText("q", "1", "2", "3")
	d := c.get("q", false)
	equal(t, "body", string(d.Body), "1")
	equal(t, "message count", d.MessageCount, 2)
	equal(t, "redelivered", d.Redelivered, false)
	equal(t, "exchange", d.Exchange, "")
	equal(t, "routing key", d.RoutingKey, "q")
	equal(t, "delivery tag", d.DeliveryTag, 1)
	d = c.get("q", true)
	equal(t, "message count", d.MessageCount, 1)
	equal(t, "delivery tag", d.DeliveryTag, 2)
	wantCounts(t, p, "q", 1, 1, 0)
	_, _, err := c.ch.Get("nope", false)
	c.wantErr(err, 404, "NOT_FOUND - no queue 'nope' in vhost '/'")
}

func TestBasicAckNackReject(t *testing.T) {
	t.Parallel()
	p := node(t)
	for _, tc := range []struct {
		name string
		// settle acts on deliveries tagged 1..4 (bodies "1".."4").
		settle func(ch *amqp.Channel) error
		ready  []string // what is in the queue afterwards, in order
		left   int      // deliveries still unacked
	}{
		{"ack", func(ch *amqp.Channel) error { return ch.Ack(2, false) }, nil, 3},
		{"ack multiple", func(ch *amqp.Channel) error { return ch.Ack(3, true) }, nil, 1},
		{"ack all", func(ch *amqp.Channel) error { return ch.Ack(0, true) }, nil, 0},
		{"nack requeue", func(ch *amqp.Channel) error { return ch.Nack(2, false, true) }, []string{"2"}, 3},
		{"nack multiple requeue", func(ch *amqp.Channel) error { return ch.Nack(3, true, true) }, []string{"1", "2", "3"}, 1},
		{"nack multiple drop", func(ch *amqp.Channel) error { return ch.Nack(3, true, false) }, nil, 1},
		{"nack all", func(ch *amqp.Channel) error { return ch.Nack(0, true, true) }, []string{"1", "2", "3", "4"}, 0},
		{"reject requeue", func(ch *amqp.Channel) error { return ch.Reject(4, true) }, []string{"4"}, 3},
		{"reject drop", func(ch *amqp.Channel) error { return ch.Reject(1, false) }, nil, 3},
		{"ack then multiple", func(ch *amqp.Channel) error {
			if err := ch.Ack(2, false); err != nil {
				return err
			}
			return ch.Nack(4, true, true)
		}, []string{"1", "3", "4"}, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := newClient(t, p)
			q := c.declare("", nil).Name
			c.publishText(q, "1", "2", "3", "4")
			c.getBodies(q, 4, false)
			if err := tc.settle(c.ch); err != nil {
				t.Fatal(err)
			}
			c.sync()
			wantCounts(t, p, q, len(tc.ready), tc.left, 0)
			for _, want := range tc.ready {
				d := c.get(q, true)
				equal(t, "requeued", string(d.Body), want)
				equal(t, "redelivered", d.Redelivered, true)
			}
		})
	}

	for _, tc := range []struct {
		name   string
		settle func(ch *amqp.Channel) error
		reason string
	}{
		{"ack unknown tag", func(ch *amqp.Channel) error { return ch.Ack(99, false) }, "PRECONDITION_FAILED - unknown delivery tag 99"},
		{"ack multiple unknown tag", func(ch *amqp.Channel) error { return ch.Ack(99, true) }, "PRECONDITION_FAILED - unknown delivery tag 99"},
		{"nack unknown tag", func(ch *amqp.Channel) error { return ch.Nack(99, false, true) }, "PRECONDITION_FAILED - unknown delivery tag 99"},
		{"reject unknown tag", func(ch *amqp.Channel) error { return ch.Reject(99, true) }, "PRECONDITION_FAILED - unknown delivery tag 99"},
		{"ack tag 0", func(ch *amqp.Channel) error { return ch.Ack(0, false) }, "PRECONDITION_FAILED - unknown delivery tag 0"},
		{"double ack", func(ch *amqp.Channel) error {
			if err := ch.Ack(1, false); err != nil {
				return err
			}
			return ch.Ack(1, false)
		}, "PRECONDITION_FAILED - unknown delivery tag 1"},
		{"ack after requeue", func(ch *amqp.Channel) error {
			if err := ch.Nack(1, false, true); err != nil {
				return err
			}
			return ch.Ack(1, false)
		}, "PRECONDITION_FAILED - unknown delivery tag 1"},
		{"ack of a no-ack get", func(ch *amqp.Channel) error { return ch.Ack(3, false) }, "PRECONDITION_FAILED - unknown delivery tag 3"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := newClient(t, p)
			q := c.declare("", nil).Name
			c.publishText(q, "1", "2", "3")
			c.getBodies(q, 2, false)
			c.get(q, true)
			if err := tc.settle(c.ch); err != nil {
				t.Fatal(err)
			}
			c.wantChannelClosed(406, tc.reason)
			// The channel's unacked deliveries went back to the queue.
			wantCounts(t, p, q, 2-strings.Count(tc.name, "double"), 0, 0)
		})
	}
}

func TestBasicRecover(t *testing.T) {
	t.Parallel()
	p := node(t)
	c := newClient(t, p)
	c.declare("q", nil)
	c.publishText("q", "1", "2")
	ds := c.consume("q", "", false)
	recvBodies(t, ds, 2)
	if err := c.ch.Recover(true); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"1", "2"} {
		d := recv(t, ds)
		equal(t, "body", string(d.Body), want)
		equal(t, "redelivered", d.Redelivered, true)
		if want == "2" {
			if err := d.Ack(true); err != nil {
				t.Fatal(err)
			}
		}
	}
	c.sync()
	wantCounts(t, p, "q", 0, 0, 1)
	c.wantHardErr(c.ch.Recover(false), amqp.NotImplemented, "NOT_IMPLEMENTED - requeue=false")
}

// Unacked messages go back to their queue, in order and marked
// redelivered, when their channel or connection closes.
func TestBasicRequeueOnClose(t *testing.T) {
	t.Parallel()
	p := node(t)
	for _, tc := range []struct {
		name  string
		close func(c *client) error
	}{
		{"channel close", func(c *client) error { return c.ch.Close() }},
		{"connection close", func(c *client) error { return c.conn.Close() }},
		{"channel error", func(c *client) error {
			_, err := c.ch.QueueDeclarePassive("nope", false, false, false, false, nil)
			if !isCode(err, 404) {
				t.Fatalf("got %v, want 404", err)
			}
			return nil
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			setup := newClient(t, p)
			q := setup.declare("", nil).Name
			setup.publishText(q, "1", "2", "3", "4")
			c := newClient(t, p)
			if err := c.ch.Qos(2, 0, false); err != nil {
				t.Fatal(err)
			}
			ds := c.consume(q, "", false)
			recv(t, ds)
			d2 := recv(t, ds)
			equal(t, "get", string(c.get(q, false).Body), "3")
			if err := d2.Ack(false); err != nil {
				t.Fatal(err)
			}
			equal(t, "next delivery", string(recv(t, ds).Body), "4")
			wantCounts(t, p, q, 0, 3, 1)
			if err := tc.close(c); err != nil {
				t.Fatal(err)
			}
			wantCounts(t, p, q, 3, 0, 0)
			for _, want := range []string{"1", "3", "4"} {
				d := setup.get(q, true)
				equal(t, "requeued", string(d.Body), want)
				equal(t, "redelivered", d.Redelivered, true)
			}
		})
	}
}

// Every basic property and every field-table type survive the broker
// unchanged, by basic.deliver and by basic.get.
func TestBasicPropertiesRoundTrip(t *testing.T) {
	t.Parallel()
	p := node(t)
	c := newClient(t, p)
	c.declare("q", nil)
	ts := time.Unix(1700000000, 0)
	headers := amqp.Table{
		"bool":      true,
		"int8":      int8(-8),
		"uint8":     uint8(8),
		"int16":     int16(-16),
		"uint16":    uint16(16),
		"int32":     int32(-32),
		"uint32":    uint32(32),
		"int64":     int64(-64),
		"float32":   float32(3.25),
		"float64":   float64(6.5),
		"decimal":   amqp.Decimal{Scale: 2, Value: 12345},
		"string":    "héllo",
		"bytes":     []byte{0, 1, 2, 255},
		"timestamp": ts,
		"table":     amqp.Table{"nested": "yes", "n": int32(1)},
		"array":     []any{"a", int32(1), true, nil, amqp.Table{"k": "v"}},
		"void":      nil,
	}
	msg := amqp.Publishing{
		Headers:         headers,
		ContentType:     "application/json",
		ContentEncoding: "gzip",
		DeliveryMode:    amqp.Persistent,
		Priority:        7,
		CorrelationId:   "corr",
		ReplyTo:         "reply",
		Expiration:      "60000",
		MessageId:       "mid",
		Timestamp:       ts,
		Type:            "type",
		UserId:          "guest",
		AppId:           "app",
		Body:            []byte(`{"a":1}`),
	}
	check := func(how string, d amqp.Delivery) {
		t.Helper()
		for k, want := range headers {
			got := d.Headers[k]
			if !sameValue(got, want) {
				t.Errorf("%s: header %s = %#v, want %#v", how, k, got, want)
			}
		}
		equal(t, how+": headers", len(d.Headers), len(headers))
		equal(t, how+": content type", d.ContentType, msg.ContentType)
		equal(t, how+": content encoding", d.ContentEncoding, msg.ContentEncoding)
		equal(t, how+": delivery mode", d.DeliveryMode, msg.DeliveryMode)
		equal(t, how+": priority", d.Priority, msg.Priority)
		equal(t, how+": correlation id", d.CorrelationId, msg.CorrelationId)
		equal(t, how+": reply to", d.ReplyTo, msg.ReplyTo)
		equal(t, how+": expiration", d.Expiration, msg.Expiration)
		equal(t, how+": message id", d.MessageId, msg.MessageId)
		equal(t, how+": timestamp", d.Timestamp.Unix(), msg.Timestamp.Unix())
		equal(t, how+": type", d.Type, msg.Type)
		equal(t, how+": user id", d.UserId, msg.UserId)
		equal(t, how+": app id", d.AppId, msg.AppId)
		equal(t, how+": body", string(d.Body), string(msg.Body))
	}
	c.publish("", "q", msg)
	check("basic.get", c.get("q", true))
	ds := c.consume("q", "", true)
	c.publish("", "q", msg)
	check("basic.deliver", recv(t, ds))

	// No properties at all.
	c.publish("", "q", amqp.Publishing{Body: []byte("bare")})
	d := recv(t, ds)
	if d.ContentType != "" || d.Headers != nil || d.DeliveryMode != 0 || !d.Timestamp.IsZero() {
		t.Fatalf("bare message grew properties: %+v", d)
	}
}

func sameValue(a, b any) bool {
	switch x := a.(type) {
	case []byte:
		y, ok := b.([]byte)
		return ok && bytes.Equal(x, y)
	case time.Time:
		y, ok := b.(time.Time)
		return ok && x.Equal(y)
	case amqp.Table:
		y, ok := b.(amqp.Table)
		if !ok || len(x) != len(y) {
			return false
		}
		for k := range x {
			if !sameValue(x[k], y[k]) {
				return false
			}
		}
		return true
	case []any:
		y, ok := b.([]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for i := range x {
			if !sameValue(x[i], y[i]) {
				return false
			}
		}
		return true
	}
	return a == b
}

func TestBasicMessageSizes(t *testing.T) {
	t.Parallel()
	p := node(t)
	c := newClient(t, p)
	c.declare("q", nil)
	ds := c.consume("q", "sizes", true)
	pattern := []byte("0123456789abcdefghijklmnopqrstuvwxyz!")
	for _, size := range []int{0, 1, 4095, 131072 - 8, 131072, 1 << 20, 1<<20 + 17} {
		body := bytes.Repeat(pattern, size/len(pattern)+1)[:size]
		c.publish("", "q", amqp.Publishing{Body: body})
		d := recv(t, ds)
		if !bytes.Equal(d.Body, body) {
			t.Fatalf("size %d: got %d bytes back, different", size, len(d.Body))
		}
	}
	// And through basic.get.
	if err := c.ch.Cancel("sizes", false); err != nil {
		t.Fatal(err)
	}
	c.publish("", "q", amqp.Publishing{Body: nil})
	c.sync()
	equal(t, "empty body", len(c.get("q", true).Body), 0)
}

func TestBasicMaxMessageSize(t *testing.T) {
	t.Parallel()
	p := node(t, warrentest.InProcConfig{MaxMessageSize: 1000})
	c := newClient(t, p)
	c.declare("q", nil)
	c.publish("", "q", amqp.Publishing{Body: make([]byte, 1000)})
	c.sync()
	wantCounts(t, p, "q", 1, 0, 0)
	c.publish("", "q", amqp.Publishing{Body: make([]byte, 1001)})
	c.wantChannelClosed(406, "PRECONDITION_FAILED - message size 1001 is larger than configured max size 1000")
	c.publish("", "q", amqp.Publishing{Body: make([]byte, 5000)})
	c.wantChannelClosed(406, "PRECONDITION_FAILED - message size 5000 is larger than configured max size 1000")
	wantCounts(t, p, "q", 1, 0, 0)
	c.publishText("q", "small")
	wantCounts(t, p, "q", 2, 0, 0)
}
