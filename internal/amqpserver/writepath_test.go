package amqpserver_test

import (
	"errors"
	"fmt"
	"net"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	wire "github.com/warrenmq/warren/internal/amqp"
	"github.com/warrenmq/warren/internal/warrentest"
)

// Bursts, single messages after a pause and replies on the consuming
// connection all go out through its one buffer (writeOut, shared by the
// writer goroutine and the reader's own writes): every frame must arrive
// whole and in order.
func TestWritePathsKeepOrder(t *testing.T) {
	t.Parallel()
	p := node(t)
	pub := newClient(t, p)
	cons := newClient(t, p)
	cons.declare("order", nil)
	ds := cons.consume("order", "c1", true)
	var want []string
	n := 0
	for round := range 20 {
		// A burst: the writer goroutine coalesces it.
		var burst []string
		for range 50 {
			burst = append(burst, fmt.Sprintf("m%d", n))
			n++
		}
		pub.publishText("order", burst...)
		want = append(want, burst...)
		// Single messages with pauses: each is a write of its own.
		for range 5 {
			body := fmt.Sprintf("m%d", n)
			n++
			pub.publishText("order", body)
			want = append(want, body)
			time.Sleep(300 * time.Microsecond)
		}
		// A reply on the consuming connection in between.
		if _, err := cons.ch.QueueDeclarePassive("order", false, false, false, false, nil); err != nil {
			t.Fatalf("round %d: passive declare: %v", round, err)
		}
	}
	got := recvBodies(t, ds, len(want))
	equalSlice(t, "deliveries", got, want)
}

// After close-ok for the client's connection.close, the server leaves the
// hang-up to the client, as RabbitMQ does: a client must never read an EOF
// where it waits for close-ok.
func TestCloseOkThenClientHangsUp(t *testing.T) {
	t.Parallel()
	p := node(t)
	c := rawDial(t, p.Addr)
	c.open(nil)
	c.send(1, &wire.ChannelOpen{})
	expect[*wire.ChannelOpenOk](c)
	c.send(0, &wire.ConnectionClose{ReplyCode: 200, ReplyText: "bye"})
	expect[*wire.ConnectionCloseOk](c)
	_ = c.nc.SetReadDeadline(time.Now().Add(quiet))
	var buf [16]byte
	n, err := c.nc.Read(buf[:])
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() {
		t.Fatalf("after close-ok the server sent %d bytes / closed first: %v", n, err)
	}
	c.nc.Close()
	warrentest.Eventually(t, waitTimeout, func() bool { return p.Server.ConnectionCount() == 0 })
}

// A broker shutdown while a client is still in the handshake ends that
// connection (the reader writes the handshake itself; there is no writer
// goroutine to send a close yet).
func TestShutdownDuringHandshake(t *testing.T) {
	t.Parallel()
	p := node(t)
	c := rawDial(t, p.Addr)
	c.write(wire.ProtocolHeader)
	expect[*wire.ConnectionStart](c)
	closed := make(chan struct{})
	go func() { p.Server.Close(); close(closed) }()
	c.wantEOF(waitTimeout)
	select {
	case <-closed:
	case <-time.After(waitTimeout):
		t.Fatal("Server.Close did not return")
	}
	equal(t, "connections", p.Server.ConnectionCount(), 0)
}

// Many short connections in a row, each with a channel, as a client that
// connects per request does; each must open, work and close cleanly.
func TestConnectionChurn(t *testing.T) {
	t.Parallel()
	p := node(t)
	for i := range 200 {
		conn, err := amqp.Dial(p.URL())
		if err != nil {
			t.Fatalf("dial %d: %v", i, err)
		}
		closed := conn.NotifyClose(make(chan *amqp.Error, 1))
		ch, err := conn.Channel()
		if err != nil {
			t.Fatalf("channel %d: %v", i, err)
		}
		if _, err := ch.QueueDeclare("", false, true, true, false, nil); err != nil {
			t.Fatalf("declare %d: %v", i, err)
		}
		if err := conn.Close(); err != nil {
			t.Fatalf("close %d: %v", i, err)
		}
		if e, ok := <-closed; ok {
			t.Fatalf("connection %d: clean close reported %v", i, e)
		}
	}
	warrentest.Eventually(t, waitTimeout, func() bool { return p.Server.ConnectionCount() == 0 })
	equal(t, "queues left", len(p.Broker.Vhost("/").Queues()), 0)
}

// BenchmarkConnectionOpenClose is the cost of a short-lived connection
// (handshake, channel.open, close) over loopback TCP, client included.
func BenchmarkConnectionOpenClose(b *testing.B) {
	p := warrentest.StartInProc(b, warrentest.InProcConfig{})
	b.ReportAllocs()
	for b.Loop() {
		conn, err := amqp.Dial(p.URL())
		if err != nil {
			b.Fatal(err)
		}
		if _, err := conn.Channel(); err != nil {
			b.Fatal(err)
		}
		if err := conn.Close(); err != nil {
			b.Fatal(err)
		}
	}
}
