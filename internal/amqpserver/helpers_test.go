package amqpserver_test

import (
	"errors"
	"fmt"
	"net"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	wire "github.com/warrenmq/warren/internal/amqp"
	"github.com/warrenmq/warren/internal/broker"
	"github.com/warrenmq/warren/internal/warrentest"
)

// waitTimeout bounds every wait for something the server must do.
const waitTimeout = 5 * time.Second

// quiet is how long a test waits to be sure something does NOT happen,
// after a round trip that would have made it happen already.
const quiet = 100 * time.Millisecond

// node starts an in-process node with RabbitMQ's defaults (or cfg).
func node(t *testing.T, cfg ...warrentest.InProcConfig) *warrentest.InProc {
	t.Helper()
	var c warrentest.InProcConfig
	if len(cfg) > 0 {
		c = cfg[0]
	}
	return warrentest.StartInProc(t, c)
}

// dial opens a connection that is closed when the test ends.
func dial(t testing.TB, url string) *amqp.Connection {
	t.Helper()
	conn, err := amqp.Dial(url)
	if err != nil {
		t.Fatalf("dial %s: %v", url, err)
	}
	t.Cleanup(func() { _ = conn.CloseDeadline(time.Now().Add(waitTimeout)) })
	return conn
}

// dialConfig is dial with a client configuration.
func dialConfig(t testing.TB, url string, cfg amqp.Config) *amqp.Connection {
	t.Helper()
	conn, err := amqp.DialConfig(url, cfg)
	if err != nil {
		t.Fatalf("dial %s: %v", url, err)
	}
	t.Cleanup(func() { _ = conn.CloseDeadline(time.Now().Add(waitTimeout)) })
	return conn
}

// channel opens a channel on conn.
func channel(t testing.TB, conn *amqp.Connection) *amqp.Channel {
	t.Helper()
	ch, err := conn.Channel()
	if err != nil {
		t.Fatalf("channel: %v", err)
	}
	return ch
}

// client is one connection with one channel and notifications for both
// closing, registered before anything can go wrong.
type client struct {
	t         testing.TB
	conn      *amqp.Connection
	ch        *amqp.Channel
	connClose chan *amqp.Error
	chClose   chan *amqp.Error
}

func newClient(t testing.TB, p *warrentest.InProc) *client {
	t.Helper()
	conn := dial(t, p.URL())
	return clientOn(t, conn)
}

// clientOn opens a new channel on an existing connection.
func clientOn(t testing.TB, conn *amqp.Connection) *client {
	t.Helper()
	c := &client{t: t, conn: conn, ch: channel(t, conn)}
	c.connClose = conn.NotifyClose(make(chan *amqp.Error, 1))
	c.chClose = c.ch.NotifyClose(make(chan *amqp.Error, 1))
	return c
}

// reopen replaces a closed channel by a fresh one on the same connection.
func (c *client) reopen() {
	c.t.Helper()
	c.ch = channel(c.t, c.conn)
	c.chClose = c.ch.NotifyClose(make(chan *amqp.Error, 1))
}

func (c *client) declare(name string, args amqp.Table) amqp.Queue {
	c.t.Helper()
	q, err := c.ch.QueueDeclare(name, false, false, false, false, args)
	if err != nil {
		c.t.Fatalf("queue.declare %q: %v", name, err)
	}
	return q
}

func (c *client) exchange(name, kind string) {
	c.t.Helper()
	if err := c.ch.ExchangeDeclare(name, kind, false, false, false, false, nil); err != nil {
		c.t.Fatalf("exchange.declare %q: %v", name, err)
	}
}

func (c *client) bind(queue, key, exchange string, args amqp.Table) {
	c.t.Helper()
	if err := c.ch.QueueBind(queue, key, exchange, false, args); err != nil {
		c.t.Fatalf("queue.bind %q -> %q (%q): %v", exchange, queue, key, err)
	}
}

func (c *client) publish(exchange, key string, msg amqp.Publishing) {
	c.t.Helper()
	if err := c.ch.Publish(exchange, key, false, false, msg); err != nil {
		c.t.Fatalf("publish to %q (%q): %v", exchange, key, err)
	}
}

// publishText publishes bodies to the default exchange, then makes a
// round trip so that they have been routed when it returns.
func (c *client) publishText(queue string, bodies ...string) {
	c.t.Helper()
	for _, b := range bodies {
		c.publish("", queue, amqp.Publishing{Body: []byte(b)})
	}
	c.sync()
}

// sync makes a round trip on the channel: everything sent before has been
// handled by the server when it returns.
func (c *client) sync() {
	c.t.Helper()
	if err := c.ch.ExchangeDeclarePassive("amq.direct", "direct", true, false, false, false, nil); err != nil {
		c.t.Fatalf("sync: %v", err)
	}
}

// get fetches one message, which must be there.
func (c *client) get(queue string, autoAck bool) amqp.Delivery {
	c.t.Helper()
	d, ok, err := c.ch.Get(queue, autoAck)
	if err != nil {
		c.t.Fatalf("basic.get %q: %v", queue, err)
	}
	if !ok {
		c.t.Fatalf("basic.get %q: empty", queue)
	}
	return d
}

// getEmpty checks the queue answers basic.get-empty.
func (c *client) getEmpty(queue string) {
	c.t.Helper()
	d, ok, err := c.ch.Get(queue, true)
	if err != nil {
		c.t.Fatalf("basic.get %q: %v", queue, err)
	}
	if ok {
		c.t.Fatalf("basic.get %q: got %q, want get-empty", queue, d.Body)
	}
}

// getBodies gets n messages and returns their bodies.
func (c *client) getBodies(queue string, n int, autoAck bool) []string {
	c.t.Helper()
	var out []string
	for i := 0; i < n; i++ {
		out = append(out, string(c.get(queue, autoAck).Body))
	}
	return out
}

func (c *client) consume(queue, tag string, autoAck bool) <-chan amqp.Delivery {
	c.t.Helper()
	ds, err := c.ch.Consume(queue, tag, autoAck, false, false, false, nil)
	if err != nil {
		c.t.Fatalf("basic.consume %q: %v", queue, err)
	}
	return ds
}

// wantChannelClosed waits for the server to close the channel with code
// and reason, and checks the connection survives.
func (c *client) wantChannelClosed(code int, reason string) {
	c.t.Helper()
	e := waitErr(c.t, c.chClose, "channel.close")
	checkErr(c.t, e, code, reason)
	if c.conn.IsClosed() {
		c.t.Fatalf("a channel error (%d) closed the connection", code)
	}
	c.reopen()
}

// wantConnClosed waits for the server to close the connection with code
// and reason.
func (c *client) wantConnClosed(code int, reason string) {
	c.t.Helper()
	e := waitErr(c.t, c.connClose, "connection.close")
	checkErr(c.t, e, code, reason)
}

// wantErr checks that err (returned by a synchronous method) is the
// channel error code/reason, and that the channel, not the connection,
// was closed.
func (c *client) wantErr(err error, code int, reason string) {
	c.t.Helper()
	checkErr(c.t, err, code, reason)
	c.wantChannelClosed(code, reason)
}

// wantHardErr checks that err (from a synchronous method, or nil for an
// asynchronous one) and the connection's close are code/reason.
func (c *client) wantHardErr(err error, code int, reason string) {
	c.t.Helper()
	if err != nil {
		checkErr(c.t, err, code, reason)
	}
	c.wantConnClosed(code, reason)
}

func waitErr(t testing.TB, ch <-chan *amqp.Error, what string) *amqp.Error {
	t.Helper()
	select {
	case e, ok := <-ch:
		if !ok || e == nil {
			t.Fatalf("%s: closed without an error", what)
		}
		return e
	case <-time.After(waitTimeout):
		t.Fatalf("no %s within %v", what, waitTimeout)
	}
	return nil
}

func checkErr(t testing.TB, err error, code int, reason string) {
	t.Helper()
	var e *amqp.Error
	if !errors.As(err, &e) {
		t.Fatalf("got error %v (%T), want *amqp.Error %d %q", err, err, code, reason)
	}
	if e.Code != code || e.Reason != reason {
		t.Fatalf("got %d %q,\nwant %d %q", e.Code, e.Reason, code, reason)
	}
	if !e.Server {
		t.Fatalf("error %d %q was raised by the client, not the server", e.Code, e.Reason)
	}
}

func isCode(err error, code int) bool {
	var e *amqp.Error
	return errors.As(err, &e) && e.Code == code
}

// recv waits for one delivery.
func recv(t testing.TB, ds <-chan amqp.Delivery) amqp.Delivery {
	t.Helper()
	select {
	case d, ok := <-ds:
		if !ok {
			t.Fatal("delivery channel closed")
		}
		return d
	case <-time.After(waitTimeout):
		t.Fatalf("no delivery within %v", waitTimeout)
	}
	return amqp.Delivery{}
}

// recvBodies receives n deliveries and returns their bodies.
func recvBodies(t testing.TB, ds <-chan amqp.Delivery, n int) []string {
	t.Helper()
	var out []string
	for i := 0; i < n; i++ {
		out = append(out, string(recv(t, ds).Body))
	}
	return out
}

// noDelivery checks nothing more arrives (call after a round trip).
func noDelivery(t testing.TB, ds <-chan amqp.Delivery) {
	t.Helper()
	select {
	case d := <-ds:
		t.Fatalf("unexpected delivery %q", d.Body)
	case <-time.After(quiet):
	}
}

// queue returns the broker's queue, for looking at its counters.
func queue(t testing.TB, p *warrentest.InProc, name string) *broker.Queue {
	t.Helper()
	q := p.Broker.Vhost("/").Queue(name)
	if q == nil {
		t.Fatalf("queue %q does not exist", name)
	}
	return q
}

// wantCounts waits until the queue has ready and unacked messages and
// consumers as given.
func wantCounts(t testing.TB, p *warrentest.InProc, name string, ready, unacked, consumers int) {
	t.Helper()
	q := queue(t, p, name)
	deadline := time.Now().Add(waitTimeout)
	for {
		r, u, c := q.Counts()
		if r == ready && u == unacked && c == consumers {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("queue %q: ready=%d unacked=%d consumers=%d, want %d %d %d", name, r, u, c, ready, unacked, consumers)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func equal[T comparable](t testing.TB, what string, got, want T) {
	t.Helper()
	if got != want {
		t.Fatalf("%s = %v, want %v", what, got, want)
	}
}

func equalSlice[T comparable](t testing.TB, what string, got, want []T) {
	t.Helper()
	if fmt.Sprint(got) != fmt.Sprint(want) || len(got) != len(want) {
		t.Fatalf("%s = %v, want %v", what, got, want)
	}
}

// --- a raw AMQP client, for what amqp091-go will not do ---

type rawClient struct {
	t  testing.TB
	nc net.Conn
	r  *wire.Reader
}

func rawDial(t testing.TB, addr string) *rawClient {
	t.Helper()
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	r := wire.NewReader(nc, 64<<10)
	r.SetMaxFrameSize(1 << 20)
	return &rawClient{t: t, nc: nc, r: r}
}

func (c *rawClient) write(b []byte) {
	c.t.Helper()
	if _, err := c.nc.Write(b); err != nil {
		c.t.Fatalf("raw write: %v", err)
	}
}

func (c *rawClient) send(ch uint16, m wire.Method) {
	c.t.Helper()
	c.write(wire.AppendMethodFrame(nil, ch, m))
}

// publish sends basic.publish with body split into frames of at most
// frameBody bytes.
func (c *rawClient) publish(ch uint16, exchange, key string, body []byte, frameBody int) {
	c.t.Helper()
	b := wire.AppendMethodFrame(nil, ch, &wire.BasicPublish{Exchange: exchange, RoutingKey: key})
	b = wire.AppendHeaderFrame(b, ch, wire.ClassBasic, uint64(len(body)), []byte{0, 0})
	b = wire.AppendBodyFrames(b, ch, body, uint32(frameBody+8))
	c.write(b)
}

// frame reads the next frame that is not a heartbeat.
func (c *rawClient) frame() wire.Frame {
	c.t.Helper()
	_ = c.nc.SetReadDeadline(time.Now().Add(waitTimeout))
	for {
		f, err := c.r.ReadFrame()
		if err != nil {
			c.t.Fatalf("raw read: %v", err)
		}
		if f.Type != wire.FrameHeartbeat {
			f.Payload = append([]byte(nil), f.Payload...)
			return f
		}
	}
}

// method reads the next method frame.
func (c *rawClient) method() (uint16, wire.Method) {
	c.t.Helper()
	f := c.frame()
	if f.Type != wire.FrameMethod {
		c.t.Fatalf("raw: got frame type %d, want a method", f.Type)
	}
	m, err := wire.DecodeMethod(f.Payload)
	if err != nil {
		c.t.Fatalf("raw: decode: %v", err)
	}
	return f.Channel, m
}

// expect reads the next method, which must be an M.
func expect[M wire.Method](c *rawClient) M {
	c.t.Helper()
	_, m := c.method()
	mm, ok := m.(M)
	if !ok {
		c.t.Fatalf("raw: got %s %+v, want %T", m.Name(), m, *new(M))
	}
	return mm
}

// start sends the protocol header and answers connection.start.
func (c *rawClient) start(caps wire.Table, mechanism, response string) *wire.ConnectionStart {
	c.t.Helper()
	c.write(wire.ProtocolHeader)
	s := expect[*wire.ConnectionStart](c)
	props := wire.Table{"product": "raw test client"}
	if caps != nil {
		props["capabilities"] = caps
	}
	c.send(0, &wire.ConnectionStartOk{ClientProperties: props, Mechanism: mechanism, Response: response, Locale: "en_US"})
	return s
}

// open runs the whole handshake as guest, answering tune with tuneOk's
// values (nil: the server's), and opens vhost /.
func (c *rawClient) open(tuneOk func(*wire.ConnectionTune) *wire.ConnectionTuneOk) {
	c.t.Helper()
	c.start(wire.Table{"authentication_failure_close": true}, "PLAIN", "\x00guest\x00guest")
	tune := expect[*wire.ConnectionTune](c)
	ok := &wire.ConnectionTuneOk{ChannelMax: tune.ChannelMax, FrameMax: tune.FrameMax, Heartbeat: tune.Heartbeat}
	if tuneOk != nil {
		ok = tuneOk(tune)
	}
	c.send(0, ok)
	if ok.FrameMax != 0 {
		c.r.SetMaxFrameSize(ok.FrameMax)
	}
	c.send(0, &wire.ConnectionOpen{VirtualHost: "/"})
	expect[*wire.ConnectionOpenOk](c)
}

// wantClose reads connection.close, checks it, and answers close-ok.
func (c *rawClient) wantClose(code uint16, text string) {
	c.t.Helper()
	m := expect[*wire.ConnectionClose](c)
	if m.ReplyCode != code || m.ReplyText != text {
		c.t.Fatalf("connection.close %d %q,\nwant %d %q", m.ReplyCode, m.ReplyText, code, text)
	}
	c.send(0, &wire.ConnectionCloseOk{})
	c.wantEOF(waitTimeout)
}

// wantEOF waits until the server closes the socket, skipping what it
// sends meanwhile, and returns how long that took.
func (c *rawClient) wantEOF(within time.Duration) time.Duration {
	c.t.Helper()
	start := time.Now()
	_ = c.nc.SetReadDeadline(start.Add(within))
	for {
		if _, err := c.r.ReadFrame(); err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				c.t.Fatalf("the server did not close the socket within %v", within)
			}
			return time.Since(start)
		}
	}
}
