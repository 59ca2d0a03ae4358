package perf

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/warrenmq/warren/internal/amqp"
)

// The client is deliberately minimal: it speaks frames through
// internal/amqp, with no per-message allocation and no goroutine hand-off
// on the hot path. During setup a connection is used synchronously (rpc);
// afterwards its producer or consumer owns the read side and every writer
// goes through write, one syscall per batch.

const (
	handshakeTimeout = 30 * time.Second
	closeTimeout     = 5 * time.Second
	defaultFrameMax  = 128 << 10
	perfChannel      = 1
)

// BrokerError is a connection.close or channel.close sent by the broker.
type BrokerError struct {
	Scope string // "connection" or "channel N"
	Addr  string
	Err   *amqp.Error
}

func (e *BrokerError) Error() string {
	s := fmt.Sprintf("%s: %s closed by the broker: %d %s", e.Addr, e.Scope, e.Err.Code, e.Err.Text)
	if e.Err.ClassID != 0 {
		s += fmt.Sprintf(" (in reply to %s)", amqp.MethodName(e.Err.ClassID, e.Err.MethodID))
	}
	return s
}

func (e *BrokerError) Unwrap() error { return e.Err }

// timedReader remembers when the last read from the socket returned, so a
// consumer timestamps a whole chunk of deliveries with one clock read.
type timedReader struct {
	nc   net.Conn
	last int64 // unix nanos
}

func (t *timedReader) Read(p []byte) (int, error) {
	n, err := t.nc.Read(p)
	t.last = time.Now().UnixNano()
	return n, err
}

// conn is one AMQP connection.
type conn struct {
	nc       net.Conn
	addr     string
	tr       *timedReader
	r        *amqp.Reader
	frameMax uint32
	hb       time.Duration
	props    amqp.Table // the server's properties

	wmu     sync.Mutex
	closing bool   // connection.close sent; nothing else may be written. Guarded by wmu.
	scratch []byte // guarded by wmu

	blocked  atomic.Bool   // connection.blocked is in force
	nextCh   uint16        // for probe channels during setup
	done     chan struct{} // closed by finish; stops the heartbeat sender
	doneOnce sync.Once
}

type dialOptions struct {
	uri       URI
	frameMax  uint32 // requested, 0 = the server's
	heartbeat uint16 // seconds, 0 = none
	readBuf   int
	name      string // connection_name client property
}

// dial connects, authenticates with PLAIN, tunes and opens the vhost and
// channel 1. ctx bounds the whole handshake.
func dial(ctx context.Context, o dialOptions) (*conn, error) {
	d := net.Dialer{Timeout: handshakeTimeout}
	nc, err := d.DialContext(ctx, "tcp", o.uri.Addr)
	if err != nil {
		return nil, err
	}
	c := &conn{nc: nc, addr: o.uri.Addr, done: make(chan struct{}), nextCh: perfChannel + 1}
	c.tr = &timedReader{nc: nc}
	c.r = amqp.NewReader(c.tr, o.readBuf)
	stop := context.AfterFunc(ctx, func() { _ = nc.SetDeadline(time.Now()) })
	_ = nc.SetDeadline(time.Now().Add(handshakeTimeout))
	err = c.handshake(o)
	if err == nil {
		_, err = c.rpc(perfChannel, &amqp.ChannelOpen{}, amqp.MethodChannelOpenOk)
	}
	stopped := stop()
	_ = nc.SetDeadline(time.Time{})
	if err != nil {
		if !stopped && ctx.Err() != nil {
			err = ctx.Err()
		}
		nc.Close()
		var be *BrokerError
		var ne net.Error
		switch {
		case errors.As(err, &be):
			return nil, err // names the address already
		case errors.As(err, &ne) && ne.Timeout():
			return nil, fmt.Errorf("%s: no answer to the AMQP handshake within %v: %w", o.uri.Addr, handshakeTimeout, err)
		}
		return nil, fmt.Errorf("%s: %w", o.uri.Addr, err)
	}
	if c.hb > 0 {
		go c.heartbeats()
	}
	return c, nil
}

func (c *conn) handshake(o dialOptions) error {
	if _, err := c.nc.Write(amqp.ProtocolHeader); err != nil {
		return err
	}
	m, err := c.await(0, amqp.ClassConnection, amqp.MethodConnectionStart)
	if err != nil {
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return fmt.Errorf("not an AMQP 0-9-1 server (connection closed after the protocol header)")
		}
		return err
	}
	start := m.(*amqp.ConnectionStart)
	c.props = start.ServerProperties
	if !strings.Contains(" "+start.Mechanisms+" ", " PLAIN ") {
		return fmt.Errorf("server does not offer PLAIN authentication (offers %q)", start.Mechanisms)
	}
	err = c.send(0, &amqp.ConnectionStartOk{
		ClientProperties: amqp.Table{
			"product":         "warren perf",
			"platform":        "Go " + runtime.Version(),
			"connection_name": o.name,
			"capabilities": amqp.Table{
				"publisher_confirms":           true,
				"basic.nack":                   true,
				"consumer_cancel_notify":       true,
				"connection.blocked":           true,
				"exchange_exchange_bindings":   true,
				"authentication_failure_close": true,
			},
		},
		Mechanism: "PLAIN",
		Response:  "\x00" + o.uri.User + "\x00" + o.uri.Password,
		Locale:    "en_US",
	})
	if err != nil {
		return err
	}
	m, err = c.await(0, amqp.ClassConnection, amqp.MethodConnectionTune)
	if err != nil {
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return fmt.Errorf("connection closed during authentication (user %q: wrong credentials?)", o.uri.User)
		}
		return err
	}
	tune := m.(*amqp.ConnectionTune)
	c.frameMax = tune.FrameMax
	if o.frameMax != 0 && (c.frameMax == 0 || o.frameMax < c.frameMax) {
		c.frameMax = max(o.frameMax, amqp.FrameMinSize)
	}
	if c.frameMax == 0 {
		c.frameMax = defaultFrameMax
	}
	c.hb = time.Duration(o.heartbeat) * time.Second
	err = c.send(0, &amqp.ConnectionTuneOk{ChannelMax: tune.ChannelMax, FrameMax: c.frameMax, Heartbeat: o.heartbeat})
	if err != nil {
		return err
	}
	c.r.SetMaxFrameSize(c.frameMax)
	_, err = c.rpc(0, &amqp.ConnectionOpen{VirtualHost: o.uri.Vhost}, amqp.MethodConnectionOpenOk)
	return err
}

// heartbeats sends a heartbeat every half interval until the connection ends.
func (c *conn) heartbeats() {
	t := time.NewTicker(c.hb / 2)
	defer t.Stop()
	hb := amqp.AppendHeartbeat(nil)
	for {
		select {
		case <-c.done:
			return
		case <-t.C:
			if c.write(hb) != nil {
				return
			}
		}
	}
}

// write sends b in one write, unless connection.close has been sent.
func (c *conn) write(b []byte) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if c.closing {
		return errClosing
	}
	_, err := c.nc.Write(b)
	return err
}

var errClosing = errors.New("connection closing")

// send writes one method frame.
func (c *conn) send(ch uint16, m amqp.Method) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if c.closing {
		return errClosing
	}
	c.scratch = amqp.AppendMethodFrame(c.scratch[:0], ch, m)
	_, err := c.nc.Write(c.scratch)
	return err
}

// rpc sends m on channel ch and waits for the reply method of m's class.
// Only for setup, before a producer or consumer owns the read side.
func (c *conn) rpc(ch uint16, m amqp.Method, reply uint16) (amqp.Method, error) {
	if err := c.send(ch, m); err != nil {
		return nil, err
	}
	return c.await(ch, m.ClassID(), reply)
}

// await reads until method (class, method) arrives on channel ch. A
// connection.close or a channel.close of ch from the broker is answered
// and returned as a *BrokerError.
func (c *conn) await(ch, class, method uint16) (amqp.Method, error) {
	for {
		f, err := c.r.ReadFrame()
		if err != nil {
			return nil, err
		}
		if f.Type != amqp.FrameMethod {
			continue // heartbeats; content of a basic.return is not expected during setup
		}
		cid, mid, args, err := amqp.ParseMethod(f.Payload)
		if err != nil {
			return nil, err
		}
		if cid == class && mid == method && f.Channel == ch {
			return amqp.DecodeMethod(f.Payload)
		}
		if berr := c.handleClose(f.Channel, cid, mid, args); berr != nil {
			return nil, berr
		}
	}
}

// handleClose deals with the frames any reader must handle besides its
// own: connection.close and channel.close (answered; returned as errors),
// connection.blocked/unblocked (recorded). Anything else returns nil.
func (c *conn) handleClose(ch, cid, mid uint16, args []byte) error {
	switch {
	case cid == amqp.ClassConnection && mid == amqp.MethodConnectionClose:
		var m amqp.ConnectionClose
		_ = m.Decode(args)
		c.wmu.Lock()
		c.closing = true
		_, _ = c.nc.Write(amqp.AppendMethodFrame(nil, 0, &amqp.ConnectionCloseOk{}))
		c.wmu.Unlock()
		return &BrokerError{Scope: "connection", Addr: c.addr, Err: &amqp.Error{Code: m.ReplyCode, Text: m.ReplyText, ClassID: m.ClassId, MethodID: m.MethodId}}
	case cid == amqp.ClassChannel && mid == amqp.MethodChannelClose:
		var m amqp.ChannelClose
		_ = m.Decode(args)
		_ = c.send(ch, &amqp.ChannelCloseOk{})
		return &BrokerError{Scope: fmt.Sprintf("channel %d", ch), Addr: c.addr, Err: &amqp.Error{Code: m.ReplyCode, Text: m.ReplyText, ClassID: m.ClassId, MethodID: m.MethodId}}
	case cid == amqp.ClassConnection && mid == amqp.MethodConnectionBlocked:
		c.blocked.Store(true)
	case cid == amqp.ClassConnection && mid == amqp.MethodConnectionUnblocked:
		c.blocked.Store(false)
	}
	return nil
}

// exists reports whether an exchange or queue exists, by a passive declare
// on a throwaway channel (a 404 closes that channel only).
func (c *conn) exists(kind, name string) (bool, error) {
	ch := c.nextCh
	c.nextCh++
	if _, err := c.rpc(ch, &amqp.ChannelOpen{}, amqp.MethodChannelOpenOk); err != nil {
		return false, err
	}
	var err error
	if kind == "exchange" {
		_, err = c.rpc(ch, &amqp.ExchangeDeclare{Exchange: name, Passive: true}, amqp.MethodExchangeDeclareOk)
	} else {
		_, err = c.rpc(ch, &amqp.QueueDeclare{Queue: name, Passive: true}, amqp.MethodQueueDeclareOk)
	}
	var be *BrokerError
	switch {
	case err == nil:
		_, err = c.rpc(ch, &amqp.ChannelClose{ReplyCode: amqp.ReplySuccess}, amqp.MethodChannelCloseOk)
		return true, err
	case errors.As(err, &be) && be.Scope != "connection" && be.Err.Code == amqp.ReplyNotFound:
		return false, nil
	}
	return false, err
}

// sendClose sends connection.close once, preceded by what before appends
// (a final ack; it runs with the write lock held), and stops all further
// writes. The reader then sees close-ok.
func (c *conn) sendClose(before func([]byte) []byte) {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if c.closing {
		return
	}
	c.closing = true
	var b []byte
	if before != nil {
		b = before(b)
	}
	b = amqp.AppendMethodFrame(b, 0, &amqp.ConnectionClose{ReplyCode: amqp.ReplySuccess, ReplyText: "perf done"})
	_ = c.nc.SetWriteDeadline(time.Now().Add(closeTimeout))
	_, _ = c.nc.Write(b)
}

// finish waits (bounded) for the reader to see close-ok, then closes the socket.
func (c *conn) finish(readerDone <-chan struct{}) {
	if readerDone != nil {
		t := time.NewTimer(closeTimeout)
		select {
		case <-readerDone:
		case <-t.C:
		}
		t.Stop()
	}
	c.doneOnce.Do(func() { close(c.done) })
	c.nc.Close()
}

// isCloseOk reports whether a method frame is connection.close-ok.
func isCloseOk(cid, mid uint16) bool {
	return cid == amqp.ClassConnection && mid == amqp.MethodConnectionCloseOk
}

// appendAck appends basic.ack(tag, multiple) on the perf channel, by hand
// (the Method interface would allocate).
func appendAck(dst []byte, tag uint64, multiple bool) []byte {
	dst = append(dst, amqp.FrameMethod, 0, perfChannel, 0, 0, 0, 13)
	dst = binary.BigEndian.AppendUint16(dst, amqp.ClassBasic)
	dst = binary.BigEndian.AppendUint16(dst, amqp.MethodBasicAck)
	dst = binary.BigEndian.AppendUint64(dst, tag)
	var bits byte
	if multiple {
		bits = 1
	}
	return append(dst, bits, amqp.FrameEnd)
}

// appendNack appends basic.nack(tag, multiple, requeue) on the perf
// channel, by hand as appendAck.
func appendNack(dst []byte, tag uint64, multiple, requeue bool) []byte {
	dst = append(dst, amqp.FrameMethod, 0, perfChannel, 0, 0, 0, 13)
	dst = binary.BigEndian.AppendUint16(dst, amqp.ClassBasic)
	dst = binary.BigEndian.AppendUint16(dst, amqp.MethodBasicNack)
	dst = binary.BigEndian.AppendUint64(dst, tag)
	var bits byte
	if multiple {
		bits |= 1
	}
	if requeue {
		bits |= 2
	}
	return append(dst, bits, amqp.FrameEnd)
}
