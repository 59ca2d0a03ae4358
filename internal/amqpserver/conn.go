package amqpserver

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/warrenmq/warren/internal/amqp"
	"github.com/warrenmq/warren/internal/broker"
)

const (
	readBufSize = 64 << 10
	// highWater is how many bytes may wait in a connection's outbound
	// buffer before dispatch to it pauses (a slow consumer's socket).
	highWater = 1 << 20
	lowWater  = highWater / 4
	// closeGrace is how long we wait for close-ok after sending close.
	closeGrace = 3 * time.Second
	// Publisher flow control (waitFlow).
	flowPoll    = time.Millisecond
	flowMaxWait = 100 * time.Millisecond
)

// conn is one client connection. The reader goroutine (serve) owns the
// protocol state; other goroutines only append to the outbound buffer.
type conn struct {
	srv *Server
	nc  net.Conn
	id  uint64
	log *slog.Logger
	r   *amqp.Reader

	lastRead atomic.Int64 // unix nanos of the last successful socket read

	// Outbound side, shared with the writer goroutine and with queues
	// dispatching from other connections.
	outMu     sync.Mutex
	out       []byte
	wmu       sync.Mutex   // held around each socket write (writeOut)
	spare     []byte       // the last written buffer, reused; guarded by wmu
	lastWrite atomic.Int64 // unix nanos of the last socket write, for heartbeats
	writerUp  atomic.Bool  // the writer goroutine runs (from the end of the handshake)
	wake      chan struct{}
	tuned     chan time.Duration // the heartbeat interval, sent once after tune-ok
	done      chan struct{}      // closed when the reader ends
	wdone     chan struct{}      // closed when the writer ends
	paused    atomic.Bool        // some session was refused for lack of room
	closeSent atomic.Bool        // connection.close went out; only close-ok matters now
	closeOk   bool               // we answered the client's close: it hangs up first (reader only)
	blockedAt atomic.Int64       // non-zero while reading is suspended by an alarm
	forced    chan struct{}      // closed by forceClose, to wake a reader blocked by an alarm
	forceOnce sync.Once

	// Negotiated at tune.
	frameMax   uint32
	channelMax uint16
	heartbeat  atomic.Int64 // nanoseconds; 0 = none

	// Set at start-ok/open; read-only afterwards.
	user        *broker.User
	az          connAuthz // TLS identity and limits (authz.go)
	vhost       *broker.Vhost
	clientProps amqp.Table
	caps        amqp.Table

	// Reader-goroutine state.
	channels    map[uint16]*channel
	dirty       []*channel // channels with confirms to send at the end of a read batch
	blockedSent bool
	flowQueue   *broker.Queue // a backlogged queue this batch published to (flow control)

	sessMu   sync.Mutex
	sessions map[uint16]*broker.Session // for the writer to resume after draining

	intro connIntro // management views and counters (introspect.go)

	openedAs atomic.Pointer[openedAs] // set at connection.open, for log records
}

func newConn(s *Server, nc net.Conn) *conn {
	id := s.nextID.Add(1)
	c := &conn{
		srv: s, nc: nc, id: id,
		wake:     make(chan struct{}, 1),
		tuned:    make(chan time.Duration, 1),
		done:     make(chan struct{}),
		wdone:    make(chan struct{}),
		forced:   make(chan struct{}),
		frameMax: s.cfg.FrameMax,
		channels: map[uint16]*channel{},
		sessions: map[uint16]*broker.Session{},
	}
	c.log = slog.New(&connLog{h: s.log.Handler(), c: c})
	c.r = amqp.NewReader(readCounter{c}, readBufSize)
	c.r.SetMaxFrameSize(amqp.FrameMinSize) // until tune-ok
	return c
}

// readCounter records when the socket last gave us bytes, for heartbeats.
type readCounter struct{ c *conn }

func (rc readCounter) Read(p []byte) (int, error) {
	n, err := rc.c.nc.Read(p)
	if n > 0 {
		rc.c.intro.recvOct.Add(uint64(n))
		rc.c.intro.recvCnt.Add(1)
		rc.c.lastRead.Store(time.Now().UnixNano())
	}
	return n, err
}

// connLog adds the connection's attributes (conn, and user and vhost once
// open) to a record only when one is logged. Most connections log
// nothing, and Logger.With formats its attributes at once: two With calls
// were a measurable part of the cost of a short-lived connection.
type connLog struct {
	h slog.Handler
	c *conn
}

func (l *connLog) Enabled(ctx context.Context, lv slog.Level) bool { return l.h.Enabled(ctx, lv) }

func (l *connLog) Handle(ctx context.Context, r slog.Record) error {
	c := l.c
	out := slog.NewRecord(r.Time, r.Level, r.Message, r.PC)
	out.AddAttrs(slog.String("conn", c.nc.RemoteAddr().String()+" -> "+c.nc.LocalAddr().String()))
	if v := c.openedAs.Load(); v != nil {
		out.AddAttrs(slog.String("user", v.user), slog.String("vhost", v.vhost))
	}
	r.Attrs(func(a slog.Attr) bool { out.AddAttrs(a); return true })
	return l.h.Handle(ctx, out)
}

func (l *connLog) WithAttrs(as []slog.Attr) slog.Handler {
	return &connLog{h: l.h.WithAttrs(as), c: l.c}
}

func (l *connLog) WithGroup(name string) slog.Handler {
	return &connLog{h: l.h.WithGroup(name), c: l.c}
}

// openedAs is who opened the connection, for its log records.
type openedAs struct{ user, vhost string }

// serve runs the connection to its end. The writer goroutine starts only
// once the handshake is done: until then the reader writes its few
// replies itself (see signal), which saves a goroutine and a wake-up per
// handshake step, and a goroutine per client that never gets that far.
func (c *conn) serve() {
	err := c.run()
	c.finish(err)
}

// startWriter hands writing over to the writer goroutine.
func (c *conn) startWriter() {
	c.lastWrite.Store(time.Now().UnixNano())
	c.outMu.Lock()
	c.writerUp.Store(true)
	c.outMu.Unlock()
	go c.writeLoop()
}

// finish releases everything the connection held.
func (c *conn) finish(err error) {
	c.releaseChannels()
	if c.vhost != nil {
		c.vhost.CloseOwner(c.id)
	}
	c.srv.track.remove(c)
	c.intro.closed(c)
	close(c.done)
	if c.writerUp.Load() {
		<-c.wdone
	} else {
		_ = c.writeOut() // a close or close-ok of a failed handshake
	}
	if c.closeOk {
		c.awaitHangUp()
	}
	c.nc.Close()
	switch {
	case err == nil, errors.Is(err, io.EOF), errors.Is(err, net.ErrClosed):
		c.log.Debug("connection closed")
	default:
		c.log.Info("connection closed", "reason", err)
	}
}

// releaseChannels ends every channel of the connection.
func (c *conn) releaseChannels() {
	for id, ch := range c.channels {
		ch.release()
		delete(c.channels, id)
	}
}

// sendCloseOk answers the client's connection.close at once.
func (c *conn) sendCloseOk() {
	c.sendMethod(0, &amqp.ConnectionCloseOk{})
	c.flush()
	c.closeOk = true
}

// awaitHangUp waits (at most closeGrace) for the client to close its end
// after our close-ok, as RabbitMQ does: closing first could reach a client
// as an EOF before it has taken in the close-ok (amqp091-go then reports
// the clean close as error 501), and the side that closes first is left
// with the TIME_WAIT socket, which belongs to the client.
func (c *conn) awaitHangUp() {
	_ = c.nc.SetReadDeadline(time.Now().Add(closeGrace))
	var buf [64]byte
	for {
		if _, err := c.nc.Read(buf[:]); err != nil {
			return
		}
	}
}

// errClientClosed ends the read loop after a clean close handshake.
var errClientClosed = errors.New("closed by client")

func (c *conn) run() error {
	if err := c.handshake(); err != nil {
		return err
	}
	for {
		if err := c.readAndHandle(); err != nil {
			if errors.Is(err, errClientClosed) {
				return nil
			}
			var ae *amqp.Error
			if errors.As(err, &ae) {
				return c.closeWithError(ae)
			}
			if c.closeSent.Load() {
				return nil // the close timed out or the peer hung up: fine
			}
			if ne := (net.Error)(nil); errors.As(err, &ne) && ne.Timeout() && c.hbTimedOut() {
				c.log.Warn("missed heartbeats from client", "timeout", time.Duration(c.heartbeat.Load()))
			}
			return err
		}
	}
}

func (c *conn) hbTimedOut() bool { return c.heartbeat.Load() > 0 }

// readAndHandle reads one frame and acts on it.
func (c *conn) readAndHandle() error {
	f, err := c.r.ReadFrame()
	if err != nil {
		return err
	}
	if c.closeSent.Load() {
		return c.handleWhileClosing(f)
	}
	if err := c.handleFrame(f); err != nil {
		return err
	}
	if !c.r.FrameBuffered() {
		c.endOfBatch() // the next read would wait for the socket
	}
	return nil
}

// endOfBatch runs when no more input is buffered: confirms accumulated
// during the batch go out as one multiple-ack per channel.
func (c *conn) endOfBatch() {
	for _, ch := range c.dirty {
		ch.flushConfirms()
	}
	c.dirty = c.dirty[:0]
	if q := c.flowQueue; q != nil {
		c.flowQueue = nil
		waitFlow(q)
	}
}

// waitFlow is Warren's publisher flow control. A publisher that just fed a
// queue whose consumers are behind waits, before reading more, while those
// consumers make progress: they get the CPU instead of ten flat-out
// publishers filling the queue faster than it drains (RabbitMQ's credit
// flow has the same aim). Consumers that stall (no delivery within a
// couple of milliseconds) release the publisher at once, and the wait is
// bounded, so a stuck consumer never blocks publishing.
func waitFlow(q *broker.Queue) {
	deadline := time.Now().Add(flowMaxWait)
	for q.Backlogged() && time.Now().Before(deadline) {
		before := q.Stats.Delivered.Load()
		time.Sleep(flowPoll)
		if q.Stats.Delivered.Load() == before {
			return
		}
	}
}

// handleWhileClosing discards everything but close/close-ok once we have
// sent connection.close (AMQP 0-9-1, 2.2.4).
func (c *conn) handleWhileClosing(f amqp.Frame) error {
	if f.Type != amqp.FrameMethod || f.Channel != 0 {
		return nil
	}
	m, err := amqp.DecodeMethod(f.Payload)
	if err != nil {
		return nil
	}
	switch m.(type) {
	case *amqp.ConnectionCloseOk:
		return errClientClosed
	case *amqp.ConnectionClose:
		// As rabbit_reader: the channels end (deliveries requeued, direct
		// reply-to consumers gone) before close-ok tells the client so.
		c.releaseChannels()
		c.sendCloseOk()
		return errClientClosed
	}
	return nil
}

func (c *conn) handleFrame(f amqp.Frame) error {
	switch f.Type {
	case amqp.FrameHeartbeat:
		if len(f.Payload) != 0 {
			return amqp.ConnectionError(amqp.ReplyFrameError, "FRAME_ERROR - type %d, %s: unknown_frame", f.Type, snippet(f.Payload))
		}
		if f.Channel != 0 {
			return unexpectedFrame(f)
		}
		return nil
	case amqp.FrameMethod:
		if f.Channel == 0 {
			return c.handleConnMethod(f.Payload)
		}
	case amqp.FrameHeader, amqp.FrameBody:
		if f.Channel == 0 {
			return unexpectedFrame(f)
		}
	default:
		return amqp.ConnectionError(amqp.ReplyFrameError, "FRAME_ERROR - type %d, %s: unknown_frame", f.Type, snippet(f.Payload))
	}
	ch := c.channels[f.Channel]
	if ch == nil {
		if f.Type != amqp.FrameMethod {
			return unexpectedFrame(f)
		}
		return c.openChannel(f)
	}
	return ch.handleFrame(f)
}

func unexpectedFrame(f amqp.Frame) *amqp.Error {
	return amqp.ConnectionError(amqp.ReplyUnexpectedFrame, "UNEXPECTED_FRAME - type %d, %s", f.Type, snippet(f.Payload))
}

func snippet(p []byte) string {
	if len(p) <= 16 {
		return fmt.Sprintf("all octets = %v", p)
	}
	return fmt.Sprintf("first 16 octets = %v", p[:16])
}

func (c *conn) openChannel(f amqp.Frame) error {
	m, err := amqp.DecodeMethod(f.Payload)
	if err != nil {
		return err
	}
	if _, ok := m.(*amqp.ChannelOpen); !ok {
		return methodError(amqp.ReplyChannelError, m, "CHANNEL_ERROR - expected 'channel.open'")
	}
	if c.channelMax != 0 && len(c.channels) >= int(c.channelMax) {
		return methodError(amqp.ReplyNotAllowed, m, "NOT_ALLOWED - number of channels opened (%d) has reached the negotiated channel_max (%d)", len(c.channels), c.channelMax)
	}
	if err := c.srv.track.openChannel(c, m); err != nil {
		return err
	}
	ch := newChannel(c, f.Channel)
	c.channels[f.Channel] = ch
	c.sessMu.Lock()
	c.sessions[f.Channel] = ch.sess
	c.sessMu.Unlock()
	c.intro.addChannel(ch)
	c.sendMethod(f.Channel, &amqp.ChannelOpenOk{})
	return nil
}

// dropChannel forgets a channel after its close handshake.
func (c *conn) dropChannel(ch *channel) {
	ch.release()
	delete(c.channels, ch.id)
	c.sessMu.Lock()
	delete(c.sessions, ch.id)
	c.sessMu.Unlock()
	c.srv.track.closeChannel(c)
	c.intro.removeChannel(ch)
}

func methodError(code uint16, m amqp.Method, format string, args ...any) *amqp.Error {
	e := amqp.ConnectionError(code, format, args...)
	if m != nil {
		e.ClassID, e.MethodID = m.ClassID(), m.MethodID()
	}
	return e
}

func (c *conn) handleConnMethod(payload []byte) error {
	m, err := amqp.DecodeMethod(payload)
	if err != nil {
		return err
	}
	switch m := m.(type) {
	case *amqp.ConnectionClose:
		// As rabbit_reader: the channels end (deliveries requeued, direct
		// reply-to consumers gone) before close-ok tells the client so.
		c.releaseChannels()
		c.sendCloseOk()
		return errClientClosed
	case *amqp.ConnectionCloseOk:
		return errClientClosed
	case *amqp.ConnectionBlocked, *amqp.ConnectionUnblocked:
		return nil // a client may tell us it is blocked; nothing to do
	default:
		return methodError(amqp.ReplyChannelError, m, "CHANNEL_ERROR - unexpected method in connection state running")
	}
}

// closeWithError sends connection.close for a hard error and waits briefly
// for close-ok. Frame errors mean we lost sync, so we stop reading at once.
func (c *conn) closeWithError(e *amqp.Error) error {
	c.log.Warn("closing connection", "code", e.Code, "reason", e.Text)
	c.sendClose(e)
	if e.Code == amqp.ReplyFrameError {
		c.flush()
		time.Sleep(100 * time.Millisecond) // let the close reach the peer before the socket goes
		return e
	}
	_ = c.nc.SetReadDeadline(time.Now().Add(closeGrace))
	for {
		f, err := c.r.ReadFrame()
		if err != nil {
			return e
		}
		if herr := c.handleWhileClosing(f); herr != nil {
			c.flush()
			return e
		}
	}
}

func (c *conn) sendClose(e *amqp.Error) {
	if c.closeSent.Swap(true) {
		return
	}
	text := e.Text
	if len(text) > 255 {
		text = text[:255]
	}
	c.sendMethod(0, &amqp.ConnectionClose{ReplyCode: e.Code, ReplyText: text, ClassId: e.ClassID, MethodId: e.MethodID})
}

// forceClose is called from other goroutines (shutdown, management): it
// sends connection.close and gives the client closeGrace to answer.
func (c *conn) forceClose(reason string) {
	c.forceOnce.Do(func() { close(c.forced) })
	if !c.writerUp.Load() {
		// Still in the handshake (maybe a TLS one, whose writes would wait
		// for it): not open yet, so just end it. The handshake checks
		// forced after starting the writer, so one of the two sees the
		// other.
		_ = c.nc.SetDeadline(time.Now())
		return
	}
	c.sendClose(amqp.ConnectionError(amqp.ReplyConnectionForced, "CONNECTION_FORCED - %s", reason))
	_ = c.nc.SetReadDeadline(time.Now().Add(closeGrace))
}

// waitIfBlocked suspends reading while a resource alarm is raised, telling
// the client with connection.blocked / unblocked when it asked for them.
func (c *conn) waitIfBlocked() {
	a := c.srv.alarm.Load()
	if a == nil {
		return
	}
	c.endOfBatch() // confirms of what was already accepted still go out
	notify := capability(c.caps, "connection.blocked")
	if notify && !c.blockedSent {
		// RabbitMQ's reason names the resource: "low on memory".
		c.sendMethod(0, &amqp.ConnectionBlocked{Reason: "low on " + a.reason})
		c.blockedSent = true
	}
	c.blockedAt.Store(time.Now().UnixNano())
	select {
	case <-a.cleared:
	case <-c.forced: // shutdown or management: the close handshake must run
	case <-c.srv.ctx.Done():
	}
	c.blockedAt.Store(0)
	c.lastRead.Store(time.Now().UnixNano())
	if notify && c.blockedSent && !c.closeSent.Load() {
		c.sendMethod(0, &amqp.ConnectionUnblocked{})
		c.blockedSent = false
	}
}

func capability(caps amqp.Table, name string) bool {
	v, _ := caps[name].(bool)
	return v
}

// --- outbound ---

// sendMethod queues a method frame.
func (c *conn) sendMethod(ch uint16, m amqp.Method) {
	c.outMu.Lock()
	c.out = amqp.AppendMethodFrame(c.out, ch, m)
	c.outMu.Unlock()
	c.signal()
}

// signal tells the writer there is something to write. Before the writer
// runs (the handshake), the caller, the reader, writes it itself.
func (c *conn) signal() {
	if !c.writerUp.Load() {
		if err := c.writeOut(); err != nil {
			c.nc.Close() // unblocks the reader
		}
		return
	}
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

// flush writes what is queued now, from the calling goroutine, so a close
// or close-ok is on the wire before the caller goes on to end the
// connection.
func (c *conn) flush() {
	if err := c.writeOut(); err != nil {
		c.nc.Close()
	}
}

// writeOut writes the outbound buffer in one syscall. wmu keeps writes
// whole and in order when the reader (flush, handshake) and the writer
// goroutine both write; the written buffer is kept for reuse.
func (c *conn) writeOut() error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	c.outMu.Lock()
	buf := c.out
	c.out = c.spare[:0]
	c.outMu.Unlock()
	var err error
	if len(buf) > 0 {
		if _, err = c.nc.Write(buf); err == nil {
			c.intro.sendOct.Add(uint64(len(buf)))
			c.intro.sendCnt.Add(1)
			c.lastWrite.Store(time.Now().UnixNano())
		}
	}
	if cap(buf) > 4*highWater {
		buf = nil // don't keep a huge buffer after a burst
	}
	c.spare = buf
	return err
}

// writeLoop writes whatever accumulated in one syscall, sends heartbeats
// when idle, and drops the peer after two missed heartbeat intervals.
func (c *conn) writeLoop() {
	defer close(c.wdone)
	// The heartbeat ticker starts once tune-ok set an interval, and ticks
	// at half of it, so idle connections without heartbeats cost nothing.
	var tick *time.Ticker
	var tickC <-chan time.Time
	defer func() {
		if tick != nil {
			tick.Stop()
		}
	}()
	for {
		var final bool
		select {
		case <-c.wake:
		case <-c.done:
			final = true
		case hb := <-c.tuned:
			if hb > 0 {
				tick = time.NewTicker(max(hb/2, 100*time.Millisecond))
				tickC = tick.C
			}
			continue
		case now := <-tickC:
			hb := time.Duration(c.heartbeat.Load())
			if now.Sub(time.Unix(0, c.lastWrite.Load())) >= hb/2 {
				c.outMu.Lock()
				if len(c.out) == 0 {
					c.out = amqp.AppendHeartbeat(c.out)
				}
				c.outMu.Unlock()
			}
			if c.blockedAt.Load() == 0 && now.Sub(time.Unix(0, c.lastRead.Load())) > 2*hb {
				c.log.Warn("missed heartbeats from client, closing", "timeout", hb)
				c.nc.Close()
			}
		}
		if err := c.writeOut(); err != nil {
			c.nc.Close() // unblocks the reader
			// Keep draining so producers never see a full buffer.
			c.outMu.Lock()
			c.out = c.out[:0]
			c.outMu.Unlock()
			if final {
				return
			}
			continue
		}
		if c.paused.Load() {
			c.outMu.Lock()
			n := len(c.out)
			c.outMu.Unlock()
			if n < lowWater {
				c.paused.Store(false)
				c.resumeSessions()
			}
		}
		if final {
			for {
				c.outMu.Lock()
				n := len(c.out)
				c.outMu.Unlock()
				if n == 0 {
					return
				}
				if err := c.writeOut(); err != nil {
					return
				}
			}
		}
	}
}

func (c *conn) resumeSessions() {
	c.sessMu.Lock()
	ss := make([]*broker.Session, 0, len(c.sessions))
	for _, s := range c.sessions {
		ss = append(ss, s)
	}
	c.sessMu.Unlock()
	for _, s := range ss {
		s.Resume()
	}
}

// writable is the sinks' room check; marks the connection paused when full.
func (c *conn) writableLocked() bool {
	if len(c.out) < highWater {
		return true
	}
	c.paused.Store(true)
	return false
}

var hostname, _ = os.Hostname()
