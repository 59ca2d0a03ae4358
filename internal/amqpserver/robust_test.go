package amqpserver_test

// Robustness tests: misbehaving peers speaking raw bytes to the AMQP
// listener. Each case checks what the server answers (reply code and text
// as RabbitMQ 3.10 sends them, see rabbit_reader.erl and
// rabbit_command_assembler.erl), that the socket is then closed, and that
// an ordinary client on the same server still works afterwards.

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	amqp091 "github.com/rabbitmq/amqp091-go"

	"github.com/warrenmq/warren/internal/amqp"
	"github.com/warrenmq/warren/internal/warrentest"
)

// robustIOTimeout bounds every read and write of the raw connections.
const robustIOTimeout = 10 * time.Second

// rawConn is a client that speaks AMQP frames by hand.
type rawConn struct {
	t  testing.TB
	nc net.Conn
	r  *amqp.Reader
}

func dialRaw(t testing.TB, addr string) *rawConn {
	t.Helper()
	nc, err := net.DialTimeout("tcp", addr, robustIOTimeout)
	if err != nil {
		t.Fatalf("dial %s: %v", addr, err)
	}
	t.Cleanup(func() { nc.Close() })
	r := amqp.NewReader(nc, 0)
	r.SetMaxFrameSize(0) // accept whatever the server sends
	return &rawConn{t: t, nc: nc, r: r}
}

func (c *rawConn) write(b []byte) {
	c.t.Helper()
	_ = c.nc.SetWriteDeadline(time.Now().Add(robustIOTimeout))
	if _, err := c.nc.Write(b); err != nil {
		c.t.Fatalf("write: %v", err)
	}
}

func (c *rawConn) send(ch uint16, m amqp.Method) {
	c.t.Helper()
	c.write(amqp.AppendMethodFrame(nil, ch, m))
}

// readMethod returns the next method frame, skipping heartbeats.
func (c *rawConn) readMethod() (uint16, amqp.Method, error) {
	for {
		_ = c.nc.SetReadDeadline(time.Now().Add(robustIOTimeout))
		f, err := c.r.ReadFrame()
		if err != nil {
			return 0, nil, err
		}
		switch f.Type {
		case amqp.FrameHeartbeat:
			continue
		case amqp.FrameMethod:
			m, err := amqp.DecodeMethod(f.Payload)
			return f.Channel, m, err
		default:
			return f.Channel, nil, fmt.Errorf("got frame type %d on channel %d, want a method", f.Type, f.Channel)
		}
	}
}

// expect reads the next method, which must be an M on channel ch.
func expectMethod[M amqp.Method](c *rawConn, ch uint16) M {
	c.t.Helper()
	got, m, err := c.readMethod()
	if err != nil {
		c.t.Fatalf("reading %T: %v", *new(M), err)
	}
	mm, ok := m.(M)
	if !ok || got != ch {
		c.t.Fatalf("got %s on channel %d (%+v), want %T on channel %d", m.Name(), got, m, *new(M), ch)
	}
	return mm
}

// handshake runs the client side of the connection handshake as guest on
// vhost /, negotiating frameMax (0: the server's proposal).
func (c *rawConn) handshake(frameMax uint32) {
	c.t.Helper()
	c.write(amqp.ProtocolHeader)
	expectMethod[*amqp.ConnectionStart](c, 0)
	c.send(0, robustStartOk())
	tune := expectMethod[*amqp.ConnectionTune](c, 0)
	if frameMax == 0 {
		frameMax = tune.FrameMax
	}
	c.send(0, &amqp.ConnectionTuneOk{ChannelMax: tune.ChannelMax, FrameMax: frameMax})
	c.send(0, &amqp.ConnectionOpen{VirtualHost: "/"})
	expectMethod[*amqp.ConnectionOpenOk](c, 0)
}

func robustStartOk() *amqp.ConnectionStartOk {
	return &amqp.ConnectionStartOk{
		ClientProperties: amqp.Table{
			"product":      "warren robust_test",
			"capabilities": amqp.Table{"authentication_failure_close": true},
		},
		Mechanism: "PLAIN",
		Response:  "\x00guest\x00guest",
		Locale:    "en_US",
	}
}

func (c *rawConn) openChannel(id uint16) {
	c.t.Helper()
	c.send(id, &amqp.ChannelOpen{})
	expectMethod[*amqp.ChannelOpenOk](c, id)
}

// expectClose reads the server's connection.close, checks its code and
// that its text contains text, answers close-ok and waits for the socket
// to close. Nothing but heartbeats may come before the close or after it.
func (c *rawConn) expectClose(code uint16, text string) *amqp.ConnectionClose {
	c.t.Helper()
	ch, m, err := c.readMethod()
	if err != nil {
		c.t.Fatalf("want connection.close %d (%s), got error %v", code, text, err)
	}
	cl, ok := m.(*amqp.ConnectionClose)
	if !ok || ch != 0 {
		c.t.Fatalf("want connection.close %d (%s) on channel 0, got %s on channel %d: %+v", code, text, m.Name(), ch, m)
	}
	if cl.ReplyCode != code || !strings.Contains(cl.ReplyText, text) {
		c.t.Fatalf("connection.close = %d %q, want %d containing %q", cl.ReplyCode, cl.ReplyText, code, text)
	}
	// The server may already have hung up (frame errors): ignore failures.
	_ = c.nc.SetWriteDeadline(time.Now().Add(robustIOTimeout))
	_, _ = c.nc.Write(amqp.AppendMethodFrame(nil, 0, &amqp.ConnectionCloseOk{}))
	c.expectHangup()
	return cl
}

// expectHangup waits until the server closes the socket; any frame but a
// heartbeat before that fails the test.
func (c *rawConn) expectHangup() {
	c.t.Helper()
	for {
		_ = c.nc.SetReadDeadline(time.Now().Add(robustIOTimeout))
		f, err := c.r.ReadFrame()
		if err == nil {
			if f.Type == amqp.FrameHeartbeat {
				continue
			}
			c.t.Fatalf("server sent frame type %d on channel %d (% x) where it should have closed the socket", f.Type, f.Channel, f.Payload)
		}
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			c.t.Fatalf("server did not close the socket within %v", robustIOTimeout)
		}
		return // EOF, reset: closed
	}
}

// readAll reads until the server closes the socket and returns the bytes.
func (c *rawConn) readAll() []byte {
	c.t.Helper()
	_ = c.nc.SetReadDeadline(time.Now().Add(robustIOTimeout))
	var buf bytes.Buffer
	_, err := io.Copy(&buf, c.nc)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		c.t.Fatalf("server did not close the socket within %v (read so far: %q)", robustIOTimeout, buf.Bytes())
	}
	return buf.Bytes()
}

// frame builds a raw frame with an explicit frame-end octet.
func rawFrame(typ uint8, ch uint16, payload []byte, end byte) []byte {
	b := []byte{typ, byte(ch >> 8), byte(ch)}
	b = binary.BigEndian.AppendUint32(b, uint32(len(payload)))
	b = append(b, payload...)
	return append(b, end)
}

// methodPayload is a method frame payload: class id, method id, args.
func rawMethodPayload(classID, methodID uint16, args []byte) []byte {
	b := binary.BigEndian.AppendUint16(nil, classID)
	b = binary.BigEndian.AppendUint16(b, methodID)
	return append(b, args...)
}

// headerFrame is a content header for class 60 announcing size body bytes,
// with no properties.
func rawHeaderFrame(ch uint16, size uint64) []byte {
	return amqp.AppendHeaderFrame(nil, ch, amqp.ClassBasic, size, []byte{0, 0})
}

func rawBodyFrame(ch uint16, body []byte) []byte {
	return rawFrame(amqp.FrameBody, ch, body, amqp.FrameEnd)
}

// checkServes runs an ordinary client on the server: declare, publish,
// consume, ack.
func checkStillServes(t testing.TB, url string) {
	t.Helper()
	conn, err := amqp091.Dial(url)
	if err != nil {
		t.Fatalf("server no longer serves: dial: %v", err)
	}
	defer conn.Close()
	ch, err := conn.Channel()
	if err != nil {
		t.Fatalf("server no longer serves: channel: %v", err)
	}
	q, err := ch.QueueDeclare("", false, true, true, false, nil)
	if err != nil {
		t.Fatalf("server no longer serves: queue.declare: %v", err)
	}
	body := fmt.Sprintf("still serving %d", rand.Int64())
	if err := ch.Publish("", q.Name, false, false, amqp091.Publishing{Body: []byte(body)}); err != nil {
		t.Fatalf("server no longer serves: publish: %v", err)
	}
	dels, err := ch.Consume(q.Name, "", false, true, false, false, nil)
	if err != nil {
		t.Fatalf("server no longer serves: consume: %v", err)
	}
	select {
	case d := <-dels:
		if string(d.Body) != body {
			t.Fatalf("server no longer serves: consumed %q, want %q", d.Body, body)
		}
		if err := d.Ack(false); err != nil {
			t.Fatalf("server no longer serves: ack: %v", err)
		}
	case <-time.After(robustIOTimeout):
		t.Fatalf("server no longer serves: no delivery within %v", robustIOTimeout)
	}
}

// waitConnections polls until the server holds want connections.
func waitConnCount(t testing.TB, p *warrentest.InProc, want int) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for backoff := time.Millisecond; p.Server.ConnectionCount() != want; backoff = min(2*backoff, 50*time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("server holds %d connections, want %d", p.Server.ConnectionCount(), want)
		}
		time.Sleep(backoff)
	}
}

// TestRobustProtocolHeader: anything but the AMQP 0-9-1 header is answered
// with that header and the socket is closed (AMQP 0-9-1 section 4.2.2;
// RabbitMQ: rabbit_reader:handle_input(handshake, ...) -> refuse_connection,
// which sends <<"AMQP",0,0,9,1>> and throws).
func TestRobustProtocolHeader(t *testing.T) {
	p := warrentest.StartInProc(t, warrentest.InProcConfig{})
	cases := []struct {
		name string
		hdr  string
	}{
		{"garbage", "\x16\x03\x01\x02\x00\x01\x00\x01"}, // a TLS ClientHello
		{"http", "GET / HTTP/1.1\r\nHost: x\r\n\r\n"},
		{"binary zeros", "\x00\x00\x00\x00\x00\x00\x00\x00"},
		{"AMQP 0-10", "AMQP\x01\x01\x00\x0a"},
		{"AMQP 1.0", "AMQP\x00\x01\x00\x00"},
		{"AMQP 1.0 SASL", "AMQP\x03\x01\x00\x00"},
		{"AMQP 0-9-2", "AMQP\x00\x00\x09\x02"},
		{"AMQP 1-0-0-0", "AMQP\x01\x00\x00\x00"},
		{"header then frames", "AMQX\x00\x00\x09\x01\x01\x00\x00\x00\x00\x00\x00\xce"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := dialRaw(t, p.Addr)
			c.write([]byte(tc.hdr))
			if got := c.readAll(); !bytes.Equal(got, amqp.ProtocolHeader) {
				t.Fatalf("server answered %q, want %q then close", got, amqp.ProtocolHeader)
			}
		})
	}
	waitConnCount(t, p, 0)
	checkStillServes(t, p.URL())
}

// TestRobustProtocolHeaderAMQP09 checks the AMQP 0-9 header (AMQP 1 1 0 9),
// which RabbitMQ accepts and serves as 0-9-1: rabbit_reader.erl,
// handshake({1, 1, 0, 9}, State) -> start_connection({0, 9, 0},
// rabbit_framing_amqp_0_9_1, State) ("This is the protocol header for 0-9,
// which we can safely treat as though it were 0-9-1").
func TestRobustProtocolHeaderAMQP09(t *testing.T) {
	p := warrentest.StartInProc(t, warrentest.InProcConfig{})
	c := dialRaw(t, p.Addr)
	c.write([]byte("AMQP\x01\x01\x00\x09"))
	_ = c.nc.SetReadDeadline(time.Now().Add(robustIOTimeout))
	first := make([]byte, 8)
	if _, err := io.ReadFull(c.nc, first); err != nil {
		t.Fatalf("after an AMQP 0-9 protocol header: %v (RabbitMQ answers connection.start)", err)
	}
	if bytes.HasPrefix(first, []byte("AMQP")) {
		t.Fatalf("the server refused the AMQP 0-9 protocol header, answering %q; RabbitMQ serves it as 0-9-1 and answers connection.start", first)
	}
	r := amqp.NewReader(io.MultiReader(bytes.NewReader(first), c.nc), 0)
	r.SetMaxFrameSize(0)
	f, err := r.ReadFrame()
	if err != nil {
		t.Fatalf("after an AMQP 0-9 protocol header: %v (RabbitMQ answers connection.start)", err)
	}
	m, err := amqp.DecodeMethod(f.Payload)
	if err != nil {
		t.Fatal(err)
	}
	start, ok := m.(*amqp.ConnectionStart)
	if !ok {
		t.Fatalf("got %s, want connection.start", m.Name())
	}
	if start.VersionMajor != 0 || start.VersionMinor != 9 {
		t.Fatalf("connection.start version %d-%d, want 0-9", start.VersionMajor, start.VersionMinor)
	}
}

// TestRobustFrameErrors sends one bad thing after a complete handshake
// (frame_max 4096, channel 1 open) and checks the connection.close that
// comes back, the hang-up, and that the server then serves others.
func TestRobustFrameErrors(t *testing.T) {
	p := warrentest.StartInProc(t, warrentest.InProcConfig{})
	declare := func(ch uint16, name string) []byte {
		return amqp.AppendMethodFrame(nil, ch, &amqp.QueueDeclare{Queue: name, AutoDelete: true})
	}
	publish := func(ch uint16, key string) []byte {
		return amqp.AppendMethodFrame(nil, ch, &amqp.BasicPublish{RoutingKey: key})
	}
	cases := []struct {
		name string
		send func(t *testing.T, c *rawConn) []byte
		code uint16
		text string
		// classID/methodID the close must name (0, 0: none).
		classID, methodID uint16
		// queue that must be empty afterwards (nothing half-published
		// got through), "" for none.
		emptyQueue string
	}{
		{
			// rabbit_reader:handle_input({frame_payload, ...}) ->
			// fatal_frame_error({invalid_frame_end_marker, EndMarker}, ...)
			name: "bad frame-end octet",
			send: func(t *testing.T, c *rawConn) []byte {
				f := declare(1, "robust-frame-end")
				f[len(f)-1] = 0x00
				return f
			},
			// RabbitMQ's text: "FRAME_ERROR - type 1, first 16 octets =
			// <<...>>: {invalid_frame_end_marker,0}" (~p may wrap it).
			code: amqp.ReplyFrameError, text: "invalid_frame_end_marker",
		},
		{
			name: "frame-end octet of a heartbeat",
			send: func(t *testing.T, c *rawConn) []byte {
				return rawFrame(amqp.FrameHeartbeat, 0, nil, 0xCD)
			},
			code: amqp.ReplyFrameError, text: "{invalid_frame_end_marker,205}",
		},
		{
			// handle_input(frame_header, ...) when PayloadSize > FrameMax -
			// ?EMPTY_FRAME_SIZE + ?FRAME_SIZE_FUDGE -> fatal_frame_error(
			// {frame_too_large, PayloadSize, FrameMax - ?EMPTY_FRAME_SIZE}, ...)
			name: "declared size 2 GiB",
			send: func(t *testing.T, c *rawConn) []byte {
				return []byte{amqp.FrameBody, 0, 1, 0x80, 0, 0, 0} // header only
			},
			code: amqp.ReplyFrameError, text: "{frame_too_large,2147483648,4088}",
		},
		{
			name: "declared size 4 GiB - 1",
			send: func(t *testing.T, c *rawConn) []byte {
				return []byte{amqp.FrameMethod, 0, 1, 0xff, 0xff, 0xff, 0xff}
			},
			code: amqp.ReplyFrameError, text: "{frame_too_large,4294967295,4088}",
		},
		{
			// 4096 - 8 + 8 (RabbitMQ's fudge) is the largest payload accepted.
			name: "one byte over frame_max plus fudge",
			send: func(t *testing.T, c *rawConn) []byte {
				c.write(publish(1, "robust-too-large"))
				b := rawHeaderFrame(1, 8192)
				return append(b, rawBodyFrame(1, make([]byte, 4097))...)
			},
			code: amqp.ReplyFrameError, text: "{frame_too_large,4097,4088}",
		},
		{
			name: "unknown frame type",
			send: func(t *testing.T, c *rawConn) []byte {
				return rawFrame(7, 1, []byte("hello"), amqp.FrameEnd)
			},
			code: amqp.ReplyFrameError, text: "unknown_frame",
		},
		{
			// rabbit_channel:handle_method(_Method, _, #ch{cfg = #conf{state = starting}}) ->
			// rabbit_misc:protocol_error(channel_error, "expected 'channel.open'", [])
			name: "method on a channel never opened",
			send: func(t *testing.T, c *rawConn) []byte { return declare(5, "robust-unopened") },
			code: amqp.ReplyChannelError, text: "CHANNEL_ERROR - expected 'channel.open'",
			classID: amqp.ClassQueue, methodID: amqp.MethodQueueDeclare,
		},
		{
			// rabbit_command_assembler:process(_Frame, {method, _}) ->
			// unexpected_frame("expected method frame, got non method frame instead", ...)
			name: "content header without basic.publish",
			send: func(t *testing.T, c *rawConn) []byte { return rawHeaderFrame(1, 3) },
			code: amqp.ReplyUnexpectedFrame, text: "UNEXPECTED_FRAME",
		},
		{
			name: "content header on a channel never opened",
			send: func(t *testing.T, c *rawConn) []byte { return rawHeaderFrame(9, 3) },
			code: amqp.ReplyUnexpectedFrame, text: "UNEXPECTED_FRAME",
		},
		{
			name: "content body without basic.publish",
			send: func(t *testing.T, c *rawConn) []byte { return rawBodyFrame(1, []byte("abc")) },
			code: amqp.ReplyUnexpectedFrame, text: "UNEXPECTED_FRAME",
		},
		{
			name: "content header on channel 0",
			send: func(t *testing.T, c *rawConn) []byte { return rawHeaderFrame(0, 3) },
			code: amqp.ReplyUnexpectedFrame, text: "UNEXPECTED_FRAME",
		},
		{
			// rabbit_command_assembler:process(_Frame, {content_header, Method, ClassId, _}) ->
			// unexpected_frame("expected content header for class ~w, got non content header frame instead", ...)
			name: "method where the content header belongs",
			send: func(t *testing.T, c *rawConn) []byte {
				return append(publish(1, "robust-no-header"), declare(1, "robust-no-header")...)
			},
			code: amqp.ReplyUnexpectedFrame, text: "expected content header for class 60",
			classID: amqp.ClassBasic, methodID: amqp.MethodBasicPublish,
			emptyQueue: "robust-no-header",
		},
		{
			name: "content header of another class",
			send: func(t *testing.T, c *rawConn) []byte {
				b := publish(1, "robust-class")
				return append(b, amqp.AppendHeaderFrame(nil, 1, amqp.ClassQueue, 3, []byte{0, 0})...)
			},
			code: amqp.ReplyUnexpectedFrame, text: "expected content header for class 60, got one for class 50",
			classID: amqp.ClassBasic, methodID: amqp.MethodBasicPublish,
		},
		{
			name: "method where the body belongs",
			send: func(t *testing.T, c *rawConn) []byte {
				b := publish(1, "robust-no-body")
				b = append(b, rawHeaderFrame(1, 10)...)
				b = append(b, rawBodyFrame(1, []byte("12345"))...)
				return append(b, declare(1, "robust-no-body")...)
			},
			code: amqp.ReplyUnexpectedFrame, text: "expected content body",
			classID: amqp.ClassBasic, methodID: amqp.MethodBasicPublish,
			emptyQueue: "robust-no-body",
		},
		{
			// RabbitMQ 3.10 does not check this at once: its assembler
			// subtracts the fragment size from the remaining size and goes
			// on waiting for a body that can never end, so the next method
			// is a 505 "expected content body" there (observed with 3.10.8).
			// Warren refuses the oversized body itself; either way the
			// message must not be delivered.
			name: "body frame larger than announced",
			send: func(t *testing.T, c *rawConn) []byte {
				b := publish(1, "robust-big-body")
				b = append(b, rawHeaderFrame(1, 5)...)
				return append(b, rawBodyFrame(1, []byte("0123456789"))...)
			},
			code: amqp.ReplyFrameError, text: "FRAME_ERROR",
			classID: amqp.ClassBasic, methodID: amqp.MethodBasicPublish,
			emptyQueue: "robust-big-body",
		},
		{
			// RabbitMQ's generated rabbit_framing_amqp_0_9_1:lookup_method_name/1
			// exits with {unknown_method_id, Id}, which no handler in
			// rabbit_reader catches (start_connection catches throws only),
			// so the reader process dies and the socket is closed without
			// connection.close (observed with 3.10.8: the log shows
			// "exception exit: {unknown_method_id,{60,999}}" and the client
			// gets a TCP reset). Warren answers with a hard 503
			// COMMAND_INVALID instead, which a client can report; the
			// connection ends either way.
			name: "unknown method id",
			send: func(t *testing.T, c *rawConn) []byte {
				return rawFrame(amqp.FrameMethod, 1, rawMethodPayload(amqp.ClassBasic, 999, nil), amqp.FrameEnd)
			},
			code: amqp.ReplyCommandInvalid, text: "COMMAND_INVALID",
			classID: amqp.ClassBasic, methodID: 999,
		},
		{
			name: "unknown class id on channel 0",
			send: func(t *testing.T, c *rawConn) []byte {
				return rawFrame(amqp.FrameMethod, 0, rawMethodPayload(99, 10, nil), amqp.FrameEnd)
			},
			code: amqp.ReplyCommandInvalid, text: "COMMAND_INVALID",
			classID: 99, methodID: 10,
		},
		{
			// rabbit_channel:handle_method(_MethodRecord, _Content, _State) ->
			// rabbit_misc:protocol_error(command_invalid, "unimplemented method", [])
			name: "server-only method from the client",
			send: func(t *testing.T, c *rawConn) []byte {
				return amqp.AppendMethodFrame(nil, 1, &amqp.BasicConsumeOk{ConsumerTag: "x"})
			},
			code: amqp.ReplyCommandInvalid, text: "COMMAND_INVALID",
			classID: amqp.ClassBasic, methodID: amqp.MethodBasicConsumeOk,
		},
		{
			name: "method payload shorter than its ids",
			send: func(t *testing.T, c *rawConn) []byte {
				return rawFrame(amqp.FrameMethod, 1, []byte{0, 50}, amqp.FrameEnd)
			},
			code: amqp.ReplyFrameError, text: "FRAME_ERROR",
		},
		{
			// The generated decode_method_fields falls through to
			// rabbit_misc:frame_error(Name, BinaryFields) ->
			// protocol_error(frame_error, "cannot decode ~w", ...): 501 naming the method.
			name: "truncated shortstr",
			send: func(t *testing.T, c *rawConn) []byte {
				args := []byte{0, 0, 10, 'a', 'b'} // reserved-1, queue name of 10 bytes with 2 present
				return rawFrame(amqp.FrameMethod, 1, rawMethodPayload(amqp.ClassQueue, amqp.MethodQueueDeclare, args), amqp.FrameEnd)
			},
			code: amqp.ReplyFrameError, text: "FRAME_ERROR - cannot decode",
			classID: amqp.ClassQueue, methodID: amqp.MethodQueueDeclare,
		},
		{
			name: "truncated basic.publish",
			send: func(t *testing.T, c *rawConn) []byte {
				args := []byte{0, 0, 0, 200, 'k'} // exchange "", routing key of 200 bytes with 1 present
				return rawFrame(amqp.FrameMethod, 1, rawMethodPayload(amqp.ClassBasic, amqp.MethodBasicPublish, args), amqp.FrameEnd)
			},
			code: amqp.ReplyFrameError, text: "FRAME_ERROR - cannot decode",
			classID: amqp.ClassBasic, methodID: amqp.MethodBasicPublish,
		},
		{
			name: "table length past the payload",
			send: func(t *testing.T, c *rawConn) []byte {
				args := []byte{0, 0, 1, 'q', 0} // reserved-1, queue "q", bits
				args = append(args, 0, 0, 1, 0) // arguments table of 256 bytes, none present
				return rawFrame(amqp.FrameMethod, 1, rawMethodPayload(amqp.ClassQueue, amqp.MethodQueueDeclare, args), amqp.FrameEnd)
			},
			code: amqp.ReplyFrameError, text: "FRAME_ERROR - cannot decode",
			classID: amqp.ClassQueue, methodID: amqp.MethodQueueDeclare,
		},
		{
			name: "trailing bytes after the arguments",
			send: func(t *testing.T, c *rawConn) []byte {
				f := amqp.AppendMethodFrame(nil, 1, &amqp.ChannelFlow{Active: true})
				payload := append(f[amqp.FrameHeaderSize:len(f)-1:len(f)-1], 0xde, 0xad)
				return rawFrame(amqp.FrameMethod, 1, payload, amqp.FrameEnd)
			},
			code: amqp.ReplyFrameError, text: "FRAME_ERROR - cannot decode",
			classID: amqp.ClassChannel, methodID: amqp.MethodChannelFlow,
		},
		{
			// rabbit_reader:handle_frame(Type, Channel, Payload, State) when ?IS_RUNNING(State):
			// heartbeat -> unexpected_frame(Type, Channel, Payload, State)
			name: "heartbeat on channel 1",
			send: func(t *testing.T, c *rawConn) []byte {
				return rawFrame(amqp.FrameHeartbeat, 1, nil, amqp.FrameEnd)
			},
			code: amqp.ReplyUnexpectedFrame, text: "UNEXPECTED_FRAME",
		},
		{
			name: "heartbeat on a channel never opened",
			send: func(t *testing.T, c *rawConn) []byte {
				return rawFrame(amqp.FrameHeartbeat, 77, nil, amqp.FrameEnd)
			},
			code: amqp.ReplyUnexpectedFrame, text: "UNEXPECTED_FRAME",
		},
		{
			// rabbit_command_assembler:analyze_frame(?FRAME_HEARTBEAT, <<>>, _)
			// is the only heartbeat clause; one with a payload falls through
			// to error, which rabbit_reader:handle_frame reports as
			// frame_error(unknown_frame, ...). The channel.open after it
			// shows whether the server went on reading.
			name: "heartbeat with a payload",
			send: func(t *testing.T, c *rawConn) []byte {
				b := rawFrame(amqp.FrameHeartbeat, 0, []byte{1, 2, 3}, amqp.FrameEnd)
				return amqp.AppendMethodFrame(b, 2, &amqp.ChannelOpen{})
			},
			code: amqp.ReplyFrameError, text: "unknown_frame",
		},
		{
			// process({content_header, ClassId, 0, ...}, ...) matches weight
			// 0 only; any other weight is "expected content header for class
			// 60, got non content header frame instead" (the spec: weight
			// is unused and must be zero).
			name: "content header with a non-zero weight",
			send: func(t *testing.T, c *rawConn) []byte {
				b := publish(1, "robust-weight")
				h := rawHeaderFrame(1, 3)
				h[amqp.FrameHeaderSize+3] = 1 // weight = 1
				b = append(b, h...)
				return amqp.AppendMethodFrame(b, 2, &amqp.ChannelOpen{})
			},
			code: amqp.ReplyUnexpectedFrame, text: "expected content header for class 60",
			classID: amqp.ClassBasic, methodID: amqp.MethodBasicPublish,
			emptyQueue: "robust-weight",
		},
		{
			name: "second channel.open",
			send: func(t *testing.T, c *rawConn) []byte {
				return amqp.AppendMethodFrame(nil, 1, &amqp.ChannelOpen{})
			},
			code: amqp.ReplyChannelError, text: "CHANNEL_ERROR - second 'channel.open' seen",
			classID: amqp.ClassChannel, methodID: amqp.MethodChannelOpen,
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := dialRaw(t, p.Addr)
			c.handshake(4096)
			c.openChannel(1)
			if tc.emptyQueue != "" {
				c.send(1, &amqp.QueueDeclare{Queue: tc.emptyQueue})
				expectMethod[*amqp.QueueDeclareOk](c, 1)
			}
			var before runtime.MemStats
			runtime.ReadMemStats(&before)
			c.write(tc.send(t, c))
			cl := c.expectClose(tc.code, tc.text)
			if cl.ClassId != tc.classID || cl.MethodId != tc.methodID {
				t.Errorf("connection.close names method (%d, %d), want (%d, %d)", cl.ClassId, cl.MethodId, tc.classID, tc.methodID)
			}
			var after runtime.MemStats
			runtime.ReadMemStats(&after)
			// A declared frame size is never allocated before it is checked.
			if grew := after.TotalAlloc - before.TotalAlloc; grew > 64<<20 {
				t.Errorf("the server allocated %d MiB handling a bad frame", grew>>20)
			}
			waitConnCount(t, p, 0)
			if tc.emptyQueue != "" {
				if q := p.Broker.Vhost("/").Queue(tc.emptyQueue); q == nil {
					t.Errorf("queue %s is gone", tc.emptyQueue)
				} else if ready, unacked, _ := q.Counts(); ready+unacked != 0 {
					t.Errorf("queue %s holds %d messages, want none: a bad publish got through", tc.emptyQueue, ready+unacked)
				}
			}
			checkStillServes(t, p.URL())
		})
	}
}

// TestRobustHandshakeErrors: bad input during the handshake ends the
// connection without a panic and without hanging the server. RabbitMQ
// closes silently here (handle_exception's last clause: sleep 3 s, throw
// handshake_error) except for the reply-worthy errors checked below.
func TestRobustHandshakeErrors(t *testing.T) {
	p := warrentest.StartInProc(t, warrentest.InProcConfig{})
	cases := []struct {
		name string
		// run gets a connection that has sent the protocol header and read
		// connection.start.
		run func(t *testing.T, c *rawConn)
	}{
		{"frame too large before tune", func(t *testing.T, c *rawConn) {
			c.write([]byte{amqp.FrameMethod, 0, 0, 0x7f, 0xff, 0xff, 0xff})
			c.expectHangup()
		}},
		{"bad frame-end in start-ok", func(t *testing.T, c *rawConn) {
			f := amqp.AppendMethodFrame(nil, 0, robustStartOk())
			f[len(f)-1] = 'X'
			c.write(f)
			c.expectHangup()
		}},
		{"garbage instead of start-ok", func(t *testing.T, c *rawConn) {
			c.write(bytes.Repeat([]byte{0xff}, 64))
			c.expectHangup()
		}},
		{"start-ok on channel 1", func(t *testing.T, c *rawConn) {
			c.send(1, robustStartOk())
			c.expectHangupOrClose()
		}},
		{"truncated start-ok", func(t *testing.T, c *rawConn) {
			f := amqp.AppendMethodFrame(nil, 0, robustStartOk())
			payload := f[amqp.FrameHeaderSize : len(f)-1]
			c.write(rawFrame(amqp.FrameMethod, 0, payload[:len(payload)-3], amqp.FrameEnd))
			c.expectHangupOrClose()
		}},
		{"unknown mechanism", func(t *testing.T, c *rawConn) {
			m := robustStartOk()
			m.Mechanism = "NOPE"
			c.send(0, m)
			c.expectHangupOrClose()
		}},
		{"wrong password", func(t *testing.T, c *rawConn) {
			m := robustStartOk()
			m.Response = "\x00guest\x00wrong"
			c.send(0, m)
			// authentication_failure_close: rabbit_reader sends 403 first.
			c.expectClose(amqp.ReplyAccessRefused, "ACCESS_REFUSED")
		}},
		// RabbitMQ 3.10.8 means to send this 530 (rabbit_reader:
		// validate_negotiated_integer_value) but, the error being wrapped
		// with its stacktrace, falls into the silent-close clause; the
		// reply is what its code intends and what a client can report.
		{"frame_max below the minimum", func(t *testing.T, c *rawConn) {
			c.send(0, robustStartOk())
			tune := expectMethod[*amqp.ConnectionTune](c, 0)
			c.send(0, &amqp.ConnectionTuneOk{ChannelMax: tune.ChannelMax, FrameMax: 1024})
			c.expectClose(amqp.ReplyNotAllowed, "NOT_ALLOWED - negotiated frame_max = 1024 is lower than the minimum allowed value (4096)")
		}},
		{"unknown vhost", func(t *testing.T, c *rawConn) {
			c.send(0, robustStartOk())
			tune := expectMethod[*amqp.ConnectionTune](c, 0)
			c.send(0, &amqp.ConnectionTuneOk{ChannelMax: tune.ChannelMax, FrameMax: tune.FrameMax})
			c.send(0, &amqp.ConnectionOpen{VirtualHost: "no-such-vhost"})
			c.expectClose(amqp.ReplyNotAllowed, "NOT_ALLOWED - vhost no-such-vhost not found")
		}},
		{"channel.open before connection.open", func(t *testing.T, c *rawConn) {
			c.send(0, robustStartOk())
			tune := expectMethod[*amqp.ConnectionTune](c, 0)
			c.send(0, &amqp.ConnectionTuneOk{ChannelMax: tune.ChannelMax, FrameMax: tune.FrameMax})
			c.send(1, &amqp.ChannelOpen{})
			c.expectHangupOrClose()
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := dialRaw(t, p.Addr)
			c.write(amqp.ProtocolHeader)
			expectMethod[*amqp.ConnectionStart](c, 0)
			tc.run(t, c)
			waitConnCount(t, p, 0)
			checkStillServes(t, p.URL())
		})
	}
}

// expectHangupOrClose accepts a hard connection.close (answered with
// close-ok) or a silent hang-up.
func (c *rawConn) expectHangupOrClose() {
	c.t.Helper()
	_ = c.nc.SetReadDeadline(time.Now().Add(robustIOTimeout))
	f, err := c.r.ReadFrame()
	if err != nil {
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			c.t.Fatalf("server neither answered nor closed within %v", robustIOTimeout)
		}
		return
	}
	m, derr := amqp.DecodeMethod(f.Payload)
	cl, ok := m.(*amqp.ConnectionClose)
	if f.Type != amqp.FrameMethod || derr != nil || !ok || !amqp.IsHardCode(cl.ReplyCode) {
		c.t.Fatalf("server sent frame type %d channel %d (% x), want a hard connection.close or a hang-up", f.Type, f.Channel, f.Payload)
	}
	_, _ = c.nc.Write(amqp.AppendMethodFrame(nil, 0, &amqp.ConnectionCloseOk{}))
	c.expectHangup()
}

// TestRobustTruncatedFrame: a peer that hangs up in the middle of a frame
// leaves nothing behind.
func TestRobustTruncatedFrame(t *testing.T) {
	p := warrentest.StartInProc(t, warrentest.InProcConfig{})
	full := amqp.AppendMethodFrame(nil, 1, &amqp.QueueDeclare{Queue: "robust-truncated"})
	cases := []struct {
		name string
		data []byte
	}{
		{"inside the frame header", full[:4]},
		{"inside the payload", full[:len(full)/2]},
		{"before the frame-end", full[:len(full)-1]},
		{"inside a body", append(append(amqp.AppendMethodFrame(nil, 1, &amqp.BasicPublish{RoutingKey: "robust-truncated"}),
			rawHeaderFrame(1, 100)...), rawBodyFrame(1, make([]byte, 100))[:50]...)},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := dialRaw(t, p.Addr)
			c.handshake(0)
			c.openChannel(1)
			c.write(tc.data)
			c.nc.Close()
			waitConnCount(t, p, 0)
			checkStillServes(t, p.URL())
		})
	}
	if q := p.Broker.Vhost("/").Queue("robust-truncated"); q != nil {
		t.Errorf("queue robust-truncated exists: a truncated frame was acted on")
	}
}

// TestRobustHandshakeTimeout: a client that stalls anywhere before
// connection.open-ok is dropped after the handshake timeout (RabbitMQ:
// handshake_timeout, rabbit_reader:handle_other(handshake_timeout, State)
// throws unless the connection is running).
func TestRobustHandshakeTimeout(t *testing.T) {
	const timeout = 500 * time.Millisecond
	p := warrentest.StartInProc(t, warrentest.InProcConfig{HandshakeTimeout: timeout})
	cases := []struct {
		name string
		run  func(c *rawConn)
	}{
		{"silent", func(c *rawConn) {}},
		{"half a protocol header", func(c *rawConn) { c.write(amqp.ProtocolHeader[:5]) }},
		{"after the protocol header", func(c *rawConn) {
			c.write(amqp.ProtocolHeader)
			expectMethod[*amqp.ConnectionStart](c, 0)
		}},
		{"after start-ok", func(c *rawConn) {
			c.write(amqp.ProtocolHeader)
			expectMethod[*amqp.ConnectionStart](c, 0)
			c.send(0, robustStartOk())
			expectMethod[*amqp.ConnectionTune](c, 0)
		}},
		{"after tune-ok", func(c *rawConn) {
			c.write(amqp.ProtocolHeader)
			expectMethod[*amqp.ConnectionStart](c, 0)
			c.send(0, robustStartOk())
			tune := expectMethod[*amqp.ConnectionTune](c, 0)
			c.send(0, &amqp.ConnectionTuneOk{ChannelMax: tune.ChannelMax, FrameMax: tune.FrameMax})
		}},
		{"half a frame", func(c *rawConn) {
			c.write(amqp.ProtocolHeader)
			expectMethod[*amqp.ConnectionStart](c, 0)
			c.write(amqp.AppendMethodFrame(nil, 0, robustStartOk())[:10])
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			start := time.Now()
			c := dialRaw(t, p.Addr)
			tc.run(c)
			c.expectHangup()
			if d := time.Since(start); d < timeout {
				t.Errorf("dropped after %v, before the %v handshake timeout", d, timeout)
			}
			waitConnCount(t, p, 0)
		})
	}
	// An open connection is not subject to the handshake timeout.
	c := dialRaw(t, p.Addr)
	c.handshake(0)
	idle := time.NewTimer(3 * timeout)
	<-idle.C
	c.openChannel(1)
	c.send(0, &amqp.ConnectionClose{ReplyCode: amqp.ReplySuccess, ReplyText: "bye"})
	expectMethod[*amqp.ConnectionCloseOk](c, 0)
	c.expectHangup()
	checkStillServes(t, p.URL())
}

// TestRobustContentHeaderNoPreallocation: a content header announcing a
// large body (up to the maximum message size) must not make the server
// allocate that body before it arrives; otherwise a handful of 20-byte
// frames on a few channels reserve gigabytes. RabbitMQ accumulates body
// fragments as they come (rabbit_command_assembler:process({content_body,
// FragmentBin}, ...) prepends each fragment to payload_fragments_rev).
func TestRobustContentHeaderNoPreallocation(t *testing.T) {
	p := warrentest.StartInProc(t, warrentest.InProcConfig{})
	const channels, announced = 4, 100 << 20
	c := dialRaw(t, p.Addr)
	c.handshake(0)
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	var b []byte
	for id := uint16(1); id <= channels; id++ {
		c.openChannel(id)
		b = amqp.AppendMethodFrame(b[:0], id, &amqp.BasicPublish{RoutingKey: "robust-prealloc"})
		b = append(b, rawHeaderFrame(id, announced)...)
		b = append(b, rawBodyFrame(id, []byte("x"))...)
		c.write(b)
	}
	// The server has handled everything above once it answers this.
	c.send(channels+1, &amqp.ChannelOpen{})
	expectMethod[*amqp.ChannelOpenOk](c, channels+1)
	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	if grew := after.TotalAlloc - before.TotalAlloc; grew > 32<<20 {
		t.Errorf("announcing %d bodies of %d MiB (1 byte sent each) made the server allocate %d MiB", channels, announced>>20, grew>>20)
	}
	c.nc.Close()
	waitConnCount(t, p, 0)
	checkStillServes(t, p.URL())
}

// TestRobustPartialHandshakeStorm opens 500 connections at once, each
// stopping at a random point of the handshake (or later) and hanging up;
// the server must end up with no connection and no leftover goroutine,
// and keep serving.
func TestRobustPartialHandshakeStorm(t *testing.T) {
	p := warrentest.StartInProc(t, warrentest.InProcConfig{HandshakeTimeout: 5 * time.Second})
	checkStillServes(t, p.URL()) // warm up: goroutines started once per process
	waitConnCount(t, p, 0)
	baseline := runtime.NumGoroutine()

	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	const conns = 500
	// The steps of a handshake and a little more, in order; each
	// connection does the first n of them (n random, 0 to all) and hangs
	// up, or, after all of them, closes cleanly.
	steps := []func(c *rawConn) error{
		func(c *rawConn) error { _, err := c.nc.Write(amqp.ProtocolHeader[:3]); return err },
		func(c *rawConn) error { _, err := c.nc.Write(amqp.ProtocolHeader[3:]); return err },
		func(c *rawConn) error { // read connection.start
			_, m, err := c.readMethod()
			if _, ok := m.(*amqp.ConnectionStart); err == nil && !ok {
				err = fmt.Errorf("got %s, want connection.start", m.Name())
			}
			return err
		},
		func(c *rawConn) error { // half a start-ok
			_, err := c.nc.Write(amqp.AppendMethodFrame(nil, 0, robustStartOk())[:12])
			return err
		},
		func(c *rawConn) error { // the rest of it, read tune
			_, err := c.nc.Write(amqp.AppendMethodFrame(nil, 0, robustStartOk())[12:])
			if err == nil {
				_, _, err = c.readMethod()
			}
			return err
		},
		func(c *rawConn) error {
			_, err := c.nc.Write(amqp.AppendMethodFrame(nil, 0, &amqp.ConnectionTuneOk{ChannelMax: 2047, FrameMax: 131072}))
			return err
		},
		func(c *rawConn) error {
			_, err := c.nc.Write(amqp.AppendMethodFrame(nil, 0, &amqp.ConnectionOpen{VirtualHost: "/"}))
			return err
		},
		func(c *rawConn) error { // read open-ok
			_, m, err := c.readMethod()
			if _, ok := m.(*amqp.ConnectionOpenOk); err == nil && !ok {
				err = fmt.Errorf("got %s, want connection.open-ok", m.Name())
			}
			return err
		},
		func(c *rawConn) error {
			_, err := c.nc.Write(amqp.AppendMethodFrame(nil, 1, &amqp.ChannelOpen{}))
			return err
		},
		func(c *rawConn) error { // a consumer on an exclusive queue, then a publish cut short
			var b []byte
			b = amqp.AppendMethodFrame(b, 1, &amqp.QueueDeclare{Exclusive: true})
			b = amqp.AppendMethodFrame(b, 1, &amqp.BasicConsume{Queue: ""})
			b = amqp.AppendMethodFrame(b, 1, &amqp.BasicPublish{RoutingKey: "amq.nonexistent"})
			b = append(b, rawHeaderFrame(1, 10)...)
			_, err := c.nc.Write(b)
			return err
		},
	}
	var wg sync.WaitGroup
	errs := make(chan error, conns)
	for i := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(seed, uint64(i)))
			stop := rng.IntN(len(steps) + 1) // len(steps): do all, then close cleanly
			nc, err := net.DialTimeout("tcp", p.Addr, robustIOTimeout)
			if err != nil {
				errs <- fmt.Errorf("conn %d: dial: %w", i, err)
				return
			}
			defer nc.Close()
			_ = nc.SetDeadline(time.Now().Add(robustIOTimeout))
			r := amqp.NewReader(nc, 4096)
			r.SetMaxFrameSize(0)
			c := &rawConn{t: t, nc: nc, r: r}
			if rng.IntN(10) == 0 { // not AMQP at all
				if _, err := nc.Write([]byte("GET / HTTP/1.1\r\n\r\n")); err != nil {
					errs <- fmt.Errorf("conn %d: write: %w", i, err)
				}
				if stop%2 == 0 {
					_, _ = io.Copy(io.Discard, nc)
				}
				return
			}
			for s := 0; s < min(stop, len(steps)); s++ {
				if err := steps[s](c); err != nil {
					errs <- fmt.Errorf("conn %d: step %d of %d: %w", i, s, stop, err)
					return
				}
			}
			if stop == len(steps) {
				if _, err := nc.Write(amqp.AppendMethodFrame(nil, 0, &amqp.ConnectionClose{ReplyCode: amqp.ReplySuccess})); err != nil {
					errs <- fmt.Errorf("conn %d: close: %w", i, err)
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	waitConnCount(t, p, 0)
	// Goroutines of the closed connections wind down right after they are
	// removed from the server; poll without sleeping long.
	deadline := time.Now().Add(10 * time.Second)
	for backoff := time.Millisecond; runtime.NumGoroutine() > baseline+5; backoff = min(2*backoff, 50*time.Millisecond) {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			buf = buf[:runtime.Stack(buf, true)]
			t.Fatalf("%d goroutines, baseline %d\n%s", runtime.NumGoroutine(), baseline, buf)
		}
		time.Sleep(backoff)
	}
	checkStillServes(t, p.URL())
}
