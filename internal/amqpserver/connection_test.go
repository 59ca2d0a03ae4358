package amqpserver_test

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	wire "github.com/warrenmq/warren/internal/amqp"
	"github.com/warrenmq/warren/internal/warrentest"
)

func TestConnectionStart(t *testing.T) {
	t.Parallel()
	p := node(t)
	conn := dial(t, p.URL())
	equal(t, "major", conn.Major, 0)
	equal(t, "minor", conn.Minor, 9)
	if !strings.Contains(conn.Locales[0], "en_US") {
		t.Errorf("locales = %v, want en_US", conn.Locales)
	}
	for _, k := range []string{"product", "version", "platform", "copyright", "information", "cluster_name"} {
		if _, ok := conn.Properties[k]; !ok {
			t.Errorf("server property %q missing", k)
		}
	}
	caps, ok := conn.Properties["capabilities"].(amqp.Table)
	if !ok {
		t.Fatalf("capabilities = %#v, want a table", conn.Properties["capabilities"])
	}
	want := []string{"publisher_confirms", "exchange_exchange_bindings", "basic.nack", "consumer_cancel_notify",
		"connection.blocked", "consumer_priorities", "authentication_failure_close", "per_consumer_qos", "direct_reply_to"}
	for _, k := range want {
		if v, ok := caps[k].(bool); !ok || !v {
			t.Errorf("capability %q = %#v, want true", k, caps[k])
		}
	}
	equal(t, "number of capabilities", len(caps), len(want))

	// The mechanisms, in RabbitMQ's order.
	raw := rawDial(t, p.Addr)
	raw.write(wire.ProtocolHeader)
	start := expect[*wire.ConnectionStart](raw)
	equal(t, "mechanisms", start.Mechanisms, "PLAIN AMQPLAIN")
	equal(t, "locales", start.Locales, "en_US")
}

// A client that speaks another protocol version gets ours back, then the
// socket is closed.
func TestConnectionBadProtocolHeader(t *testing.T) {
	t.Parallel()
	p := node(t)
	raw := rawDial(t, p.Addr)
	raw.write([]byte("AMQP\x01\x01\x08\x00"))
	got := make([]byte, 8)
	_ = raw.nc.SetReadDeadline(time.Now().Add(waitTimeout))
	if _, err := raw.nc.Read(got); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, wire.ProtocolHeader) {
		t.Fatalf("got %q, want %q", got, wire.ProtocolHeader)
	}
	raw.wantEOF(waitTimeout)
}

func TestConnectionLogin(t *testing.T) {
	t.Parallel()
	p := node(t)
	for _, tc := range []struct {
		name string
		sasl amqp.Authentication
		ok   bool
	}{
		{"PLAIN", &amqp.PlainAuth{Username: "guest", Password: "guest"}, true},
		{"AMQPLAIN", &amqp.AMQPlainAuth{Username: "guest", Password: "guest"}, true},
		{"PLAIN wrong password", &amqp.PlainAuth{Username: "guest", Password: "nope"}, false},
		{"AMQPLAIN wrong password", &amqp.AMQPlainAuth{Username: "guest", Password: "nope"}, false},
		{"PLAIN unknown user", &amqp.PlainAuth{Username: "nobody", Password: "guest"}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			conn, err := amqp.DialConfig("amqp://"+p.Addr+"/", amqp.Config{SASL: []amqp.Authentication{tc.sasl}})
			if tc.ok {
				if err != nil {
					t.Fatal(err)
				}
				defer conn.Close()
				ch := channel(t, conn)
				if _, err := ch.QueueDeclare("", false, true, true, false, nil); err != nil {
					t.Fatal(err)
				}
				return
			}
			// amqp091-go does not announce authentication_failure_close,
			// so, as RabbitMQ does, the server just closes the socket.
			if !errors.Is(err, amqp.ErrCredentials) {
				t.Fatalf("got %v, want ErrCredentials", err)
			}
		})
	}
}

// A client that announces authentication_failure_close gets RabbitMQ's
// connection.close 403; one that does not is just disconnected.
func TestConnectionLoginRefused(t *testing.T) {
	t.Parallel()
	p := node(t)
	amqplain := func(user, pass string) string {
		b, err := wire.AppendTable(nil, wire.Table{"LOGIN": user, "PASSWORD": pass})
		if err != nil {
			t.Fatal(err)
		}
		return string(b[4:]) // AMQPLAIN is a table without its length
	}
	for _, tc := range []struct {
		name, mech, resp string
	}{
		{"PLAIN wrong password", "PLAIN", "\x00guest\x00nope"},
		{"PLAIN unknown user", "PLAIN", "\x00nobody\x00guest"},
		{"AMQPLAIN wrong password", "AMQPLAIN", amqplain("guest", "nope")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			raw := rawDial(t, p.Addr)
			raw.start(wire.Table{"authentication_failure_close": true}, tc.mech, tc.resp)
			raw.wantClose(403, "ACCESS_REFUSED - Login was refused using authentication mechanism "+tc.mech+". For details see the broker logfile.")
		})
		t.Run(tc.name+" without capability", func(t *testing.T) {
			raw := rawDial(t, p.Addr)
			raw.start(nil, tc.mech, tc.resp)
			_ = raw.nc.SetReadDeadline(time.Now().Add(waitTimeout))
			f, err := raw.r.ReadFrame()
			if err == nil {
				t.Fatalf("got frame type %d, want the socket closed", f.Type)
			}
		})
	}
}

func TestConnectionUnknownVhost(t *testing.T) {
	t.Parallel()
	p := node(t)
	_, err := amqp.Dial("amqp://guest:guest@" + p.Addr + "/nope")
	checkErr(t, err, amqp.NotAllowed, "NOT_ALLOWED - vhost nope not found")
}

func TestConnectionTuneNegotiation(t *testing.T) {
	t.Parallel()
	p := node(t) // frame_max 131072, channel_max 2047
	for _, tc := range []struct {
		name        string
		frameMax    uint32
		channelMax  uint16
		wantCloseOK string // empty: the connection opens
	}{
		{"server values", 131072, 2047, ""},
		{"smaller values", 4096, 1, ""},
		{"frame_max too large", 200000, 2047, "NOT_ALLOWED - negotiated frame_max = 200000 is higher than the maximum allowed value (131072)"},
		{"frame_max unlimited", 0, 2047, "NOT_ALLOWED - negotiated frame_max = 0 is higher than the maximum allowed value (131072)"},
		{"frame_max too small", 4095, 2047, "NOT_ALLOWED - negotiated frame_max = 4095 is lower than the minimum allowed value (4096)"},
		{"channel_max too large", 131072, 2048, "NOT_ALLOWED - negotiated channel_max = 2048 is higher than the maximum allowed value (2047)"},
		{"channel_max unlimited", 131072, 0, "NOT_ALLOWED - negotiated channel_max = 0 (no limit) is higher than the maximum allowed value (2047)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			raw := rawDial(t, p.Addr)
			raw.start(wire.Table{"authentication_failure_close": true}, "PLAIN", "\x00guest\x00guest")
			tune := expect[*wire.ConnectionTune](raw)
			equal(t, "tune frame_max", tune.FrameMax, 131072)
			equal(t, "tune channel_max", tune.ChannelMax, 2047)
			raw.send(0, &wire.ConnectionTuneOk{FrameMax: tc.frameMax, ChannelMax: tc.channelMax})
			if tc.wantCloseOK != "" {
				raw.wantClose(530, tc.wantCloseOK)
				return
			}
			raw.send(0, &wire.ConnectionOpen{VirtualHost: "/"})
			expect[*wire.ConnectionOpenOk](raw)
		})
	}

	// amqp091-go takes the smaller of its and the server's values.
	conn := dial(t, p.URL())
	equal(t, "negotiated frame_max", conn.Config.FrameSize, 131072)
	equal(t, "negotiated channel_max", conn.Config.ChannelMax, 2047)
	conn = dialConfig(t, p.URL(), amqp.Config{FrameSize: 8192, ChannelMax: 10})
	equal(t, "negotiated frame_max", conn.Config.FrameSize, 8192)
	equal(t, "negotiated channel_max", conn.Config.ChannelMax, 10)
}

// A message larger than frame_max travels in several body frames both
// ways and arrives whole.
func TestConnectionFrameMaxSplitsBodies(t *testing.T) {
	t.Parallel()
	p := node(t, warrentest.InProcConfig{FrameMax: 4096})
	body := bytes.Repeat([]byte("0123456789abcdef"), 1250) // 20000 bytes

	c := newClient(t, p)
	equal(t, "negotiated frame_max", c.conn.Config.FrameSize, 4096)
	c.declare("big", nil)
	c.publish("", "big", amqp.Publishing{Body: body})
	if d := c.get("big", true); !bytes.Equal(d.Body, body) {
		t.Fatalf("got %d bytes back, want the %d sent", len(d.Body), len(body))
	}

	// Look at the frames themselves.
	raw := rawDial(t, p.Addr)
	raw.open(nil)
	raw.send(1, &wire.ChannelOpen{})
	expect[*wire.ChannelOpenOk](raw)
	raw.publish(1, "", "big", body, 4096-8)
	raw.send(1, &wire.BasicGet{Queue: "big", NoAck: true})
	expect[*wire.BasicGetOk](raw)
	if f := raw.frame(); f.Type != wire.FrameHeader {
		t.Fatalf("frame type %d, want a content header", f.Type)
	}
	var got []byte
	frames := 0
	for len(got) < len(body) {
		f := raw.frame()
		if f.Type != wire.FrameBody {
			t.Fatalf("frame type %d after %d body bytes, want a body frame", f.Type, len(got))
		}
		if len(f.Payload)+8 > 4096 {
			t.Fatalf("body frame of %d bytes exceeds frame_max 4096", len(f.Payload)+8)
		}
		got = append(got, f.Payload...)
		frames++
	}
	if !bytes.Equal(got, body) {
		t.Fatal("the body came back different")
	}
	equal(t, "body frames", frames, 5) // ceil(20000 / 4088)
}

// A client frame larger than the negotiated frame_max is a hard 501.
func TestConnectionFrameTooLarge(t *testing.T) {
	t.Parallel()
	p := node(t, warrentest.InProcConfig{FrameMax: 4096})
	raw := rawDial(t, p.Addr)
	raw.open(nil)
	raw.send(1, &wire.ChannelOpen{})
	expect[*wire.ChannelOpenOk](raw)
	raw.publish(1, "", "q", make([]byte, 5000), 5000)
	m := expect[*wire.ConnectionClose](raw)
	equal(t, "reply code", m.ReplyCode, 501)
	if !strings.HasPrefix(m.ReplyText, "FRAME_ERROR - ") || !strings.HasSuffix(m.ReplyText, "{frame_too_large,5000,4088}") {
		t.Fatalf("reply text %q", m.ReplyText)
	}
	raw.wantEOF(waitTimeout)
}

func TestConnectionHeartbeatKeepsIdleClient(t *testing.T) {
	t.Parallel()
	p := node(t)
	conn := dialConfig(t, p.URL(), amqp.Config{Heartbeat: time.Second})
	equal(t, "negotiated heartbeat", conn.Config.Heartbeat, time.Second)
	closed := conn.NotifyClose(make(chan *amqp.Error, 1))
	select {
	case e := <-closed:
		t.Fatalf("idle connection with heartbeats closed: %v", e)
	case <-time.After(4 * time.Second):
	}
	c := clientOn(t, conn)
	c.declare("", nil)
}

func TestConnectionHeartbeatDropsSilentClient(t *testing.T) {
	t.Parallel()
	p := node(t, warrentest.InProcConfig{Heartbeat: time.Second})
	raw := rawDial(t, p.Addr)
	raw.open(nil) // accepts the server's heartbeat of 1s, then says nothing
	took := raw.wantEOF(5 * time.Second)
	if took < time.Second || took > 3500*time.Millisecond {
		t.Fatalf("dropped after %v, want about 2-3 s (two missed heartbeats)", took)
	}
	warrentest.Eventually(t, waitTimeout, func() bool { return p.Server.ConnectionCount() == 0 })
}

func TestConnectionClientClose(t *testing.T) {
	t.Parallel()
	p := node(t)
	conn, err := amqp.Dial(p.URL())
	if err != nil {
		t.Fatal(err)
	}
	closed := conn.NotifyClose(make(chan *amqp.Error, 1))
	ch := channel(t, conn)
	if _, err := ch.QueueDeclare("", false, false, true, false, nil); err != nil {
		t.Fatal(err)
	}
	equal(t, "connections", p.Server.ConnectionCount(), 1)
	if err := conn.Close(); err != nil {
		t.Fatalf("close: %v", err)
	}
	if e, ok := <-closed; ok {
		t.Fatalf("clean close reported error %v", e)
	}
	warrentest.Eventually(t, waitTimeout, func() bool { return p.Server.ConnectionCount() == 0 })
	equal(t, "queues left", len(p.Broker.Vhost("/").Queues()), 0)
}

func TestConnectionServerClose(t *testing.T) {
	t.Parallel()
	p := node(t)
	c1, c2 := newClient(t, p), newClient(t, p)
	p.Server.Close()
	c1.wantConnClosed(amqp.ConnectionForced, "CONNECTION_FORCED - broker forced connection closure with reason 'shutdown'")
	c2.wantConnClosed(amqp.ConnectionForced, "CONNECTION_FORCED - broker forced connection closure with reason 'shutdown'")
	equal(t, "connections", p.Server.ConnectionCount(), 0)
}

// Under a resource alarm a publishing connection is blocked (told so with
// connection.blocked) and its messages wait; consumers keep receiving;
// clearing the alarm unblocks it and the messages arrive.
func TestConnectionBlocked(t *testing.T) {
	t.Parallel()
	p := node(t)
	setup := newClient(t, p)
	setup.declare("blocked", nil)
	setup.declare("backlog", nil)
	setup.publishText("backlog", "b1", "b2", "b3")

	consumer := newClient(t, p)
	pubConn := dial(t, p.URL())
	blocked := pubConn.NotifyBlocked(make(chan amqp.Blocking, 2))
	pub := clientOn(t, pubConn)

	p.Server.SetAlarm("memory")
	t.Cleanup(func() { p.Server.SetAlarm("") })

	// Consumers still get what is queued, and may ack it.
	backlog := consumer.consume("backlog", "", false)
	equalSlice(t, "backlog", recvBodies(t, backlog, 3), []string{"b1", "b2", "b3"})
	consumer.sync()

	// Nothing happens to a connection before it publishes.
	select {
	case b := <-blocked:
		t.Fatalf("blocked before publishing: %+v", b)
	default:
	}
	// As in RabbitMQ, the connection blocks after the content frame of a
	// publish: a message without a body has gone through, one with a body
	// waits for the rest of it to be read.
	ds := consumer.consume("blocked", "", true)
	pub.publish("", "blocked", amqp.Publishing{})
	pub.publish("", "blocked", amqp.Publishing{Body: []byte("m1")})
	pub.publish("", "blocked", amqp.Publishing{Body: []byte("m2")})
	select {
	case b := <-blocked:
		equal(t, "blocked", b, amqp.Blocking{Active: true, Reason: "low on memory"})
	case <-time.After(waitTimeout):
		t.Fatal("no connection.blocked")
	}
	equal(t, "empty message", len(recv(t, ds).Body), 0)
	noDelivery(t, ds)
	wantCounts(t, p, "blocked", 0, 0, 1)

	p.Server.SetAlarm("")
	select {
	case b := <-blocked:
		equal(t, "unblocked", b, amqp.Blocking{Active: false})
	case <-time.After(waitTimeout):
		t.Fatal("no connection.unblocked")
	}
	equalSlice(t, "after the alarm", recvBodies(t, ds, 2), []string{"m1", "m2"})
	pub.publishText("blocked", "m3")
	equalSlice(t, "after the alarm", recvBodies(t, ds, 1), []string{"m3"})
}

// A connection blocked by an alarm is not dropped for missed heartbeats,
// and a server shutdown still closes it.
func TestConnectionBlockedShutdown(t *testing.T) {
	t.Parallel()
	p := node(t)
	c := newClient(t, p)
	blocked := c.conn.NotifyBlocked(make(chan amqp.Blocking, 2))
	c.declare("q", nil)
	p.Server.SetAlarm("disk")
	c.publish("", "q", amqp.Publishing{Body: []byte("x")})
	select {
	case b := <-blocked:
		equal(t, "blocked", b, amqp.Blocking{Active: true, Reason: "low on disk"})
	case <-time.After(waitTimeout):
		t.Fatal("no connection.blocked")
	}
	done := make(chan struct{})
	go func() { p.Server.Close(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Server.Close hangs on a blocked connection")
	}
	c.wantConnClosed(amqp.ConnectionForced, "CONNECTION_FORCED - broker forced connection closure with reason 'shutdown'")
}
