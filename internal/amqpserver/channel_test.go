package amqpserver_test

import (
	"errors"
	"testing"

	amqp "github.com/rabbitmq/amqp091-go"

	wire "github.com/warrenmq/warren/internal/amqp"
	"github.com/warrenmq/warren/internal/warrentest"
)

func TestChannelOpenClose(t *testing.T) {
	t.Parallel()
	p := node(t)
	conn := dial(t, p.URL())
	var chs []*amqp.Channel
	for i := 0; i < 5; i++ {
		chs = append(chs, channel(t, conn))
	}
	if err := chs[2].Close(); err != nil {
		t.Fatalf("channel.close: %v", err)
	}
	if _, err := chs[2].QueueDeclare("", false, false, true, false, nil); !errors.Is(err, amqp.ErrClosed) {
		t.Fatalf("declare on a closed channel: %v", err)
	}
	for i, ch := range chs {
		if i == 2 {
			continue
		}
		if _, err := ch.QueueDeclare("", false, false, true, false, nil); err != nil {
			t.Fatalf("channel %d: %v", i, err)
		}
	}
	// A closed channel's number can be opened again.
	ch := channel(t, conn)
	if _, err := ch.QueueDeclare("", false, false, true, false, nil); err != nil {
		t.Fatal(err)
	}
}

func TestChannelMax(t *testing.T) {
	t.Parallel()
	p := node(t, warrentest.InProcConfig{ChannelMax: 3})

	// amqp091-go keeps to the negotiated channel_max itself.
	conn := dial(t, p.URL())
	equal(t, "negotiated channel_max", conn.Config.ChannelMax, 3)
	for i := 0; i < 3; i++ {
		channel(t, conn)
	}
	if _, err := conn.Channel(); !errors.Is(err, amqp.ErrChannelMax) {
		t.Fatalf("4th channel: %v, want ErrChannelMax", err)
	}

	// The server counts open channels, as RabbitMQ does (not ids).
	raw := rawDial(t, p.Addr)
	raw.open(nil)
	for _, id := range []uint16{1, 2, 7} {
		raw.send(id, &wire.ChannelOpen{})
		if ch, _ := raw.method(); ch != id {
			t.Fatalf("open-ok on channel %d, want %d", ch, id)
		}
	}
	raw.send(4, &wire.ChannelOpen{})
	raw.wantClose(530, "NOT_ALLOWED - number of channels opened (3) has reached the negotiated channel_max (3)")
}

func TestChannelSecondOpen(t *testing.T) {
	t.Parallel()
	p := node(t)
	raw := rawDial(t, p.Addr)
	raw.open(nil)
	raw.send(1, &wire.ChannelOpen{})
	expect[*wire.ChannelOpenOk](raw)
	raw.send(1, &wire.ChannelOpen{})
	raw.wantClose(504, "CHANNEL_ERROR - second 'channel.open' seen")
}

func TestChannelFlow(t *testing.T) {
	t.Parallel()
	p := node(t)
	c := newClient(t, p)
	if err := c.ch.Flow(true); err != nil {
		t.Fatalf("flow active=true: %v", err)
	}
	c.wantHardErr(c.ch.Flow(false), amqp.NotImplemented, "NOT_IMPLEMENTED - active=false")
}

// Soft errors close the channel only; the connection and its other
// channels carry on. Hard errors close the connection and every channel.
func TestChannelSoftAndHardErrors(t *testing.T) {
	t.Parallel()
	p := node(t)
	conn := dial(t, p.URL())
	a, b := clientOn(t, conn), clientOn(t, conn)
	b.declare("survivor", nil)

	_, err := a.ch.QueueDeclarePassive("missing", false, false, false, false, nil)
	a.wantErr(err, amqp.NotFound, "NOT_FOUND - no queue 'missing' in vhost '/'")
	b.publishText("survivor", "still here")
	equal(t, "body", string(b.get("survivor", true).Body), "still here")
	a.declare("", nil) // the reopened channel works

	err = a.ch.ExchangeDeclare("x", "nope", false, false, false, false, nil)
	a.wantHardErr(err, amqp.CommandInvalid, "COMMAND_INVALID - unknown exchange type 'nope'")
	if !b.ch.IsClosed() {
		t.Fatal("a hard error left another channel open")
	}
	if _, err := b.ch.QueueDeclare("", false, false, true, false, nil); err == nil {
		t.Fatal("the connection still works after a hard error")
	}
	warrentest.Eventually(t, waitTimeout, func() bool { return p.Server.ConnectionCount() == 0 })
}

// Methods a server does not take from a client are hard 503 errors, and
// methods sent after channel.close are ignored until close-ok.
func TestChannelUnexpectedMethods(t *testing.T) {
	t.Parallel()
	p := node(t)
	for _, tc := range []struct {
		name string
		m    wire.Method
	}{
		{"server method", &wire.BasicDeliver{ConsumerTag: "x", DeliveryTag: 1}},
		{"connection method on a channel", &wire.ConnectionOpen{VirtualHost: "/"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			raw := rawDial(t, p.Addr)
			raw.open(nil)
			raw.send(1, &wire.ChannelOpen{})
			expect[*wire.ChannelOpenOk](raw)
			raw.send(1, tc.m)
			raw.wantClose(503, "COMMAND_INVALID - unimplemented method")
		})
	}
	t.Run("after channel.close", func(t *testing.T) {
		raw := rawDial(t, p.Addr)
		raw.open(nil)
		raw.send(1, &wire.ChannelOpen{})
		expect[*wire.ChannelOpenOk](raw)
		raw.send(1, &wire.QueueDeclare{Queue: "missing", Passive: true})
		m := expect[*wire.ChannelClose](raw)
		equal(t, "reply code", m.ReplyCode, 404)
		equal(t, "reply text", m.ReplyText, "NOT_FOUND - no queue 'missing' in vhost '/'")
		equal(t, "class", m.ClassId, 50)
		equal(t, "method", m.MethodId, 10)
		raw.send(1, &wire.QueueDeclare{Queue: "ignored"}) // before our close-ok: dropped
		raw.send(1, &wire.ChannelCloseOk{})
		raw.send(1, &wire.ChannelOpen{})
		expect[*wire.ChannelOpenOk](raw)
		raw.send(1, &wire.QueueDeclare{Queue: "ignored", Passive: true})
		expect[*wire.ChannelClose](raw)
	})
}
