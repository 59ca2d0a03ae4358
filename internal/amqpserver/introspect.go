package amqpserver

import (
	"net"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/warrenmq/warren/internal/amqp"
	"github.com/warrenmq/warren/internal/broker"
)

// Read-only views of connections, channels and consumers for the
// management API and metrics, plus closing a connection by name. The
// counters are atomics bumped on the connection's own goroutines; the
// views read them from any goroutine. Protocol state owned by the reader
// goroutine (c.channels, c.user, ...) is never read here: a connection is
// listed once connection.open succeeded (intro.open), after which its
// user, vhost, client properties and tuning no longer change, and channels
// are tracked in intro.chans under its own lock.

// connIntro is the introspection state of one connection.
type connIntro struct {
	open        atomic.Bool
	connectedAt time.Time
	mechanism   string // set before open

	recvOct, recvCnt atomic.Uint64
	sendOct, sendCnt atomic.Uint64

	mu    sync.Mutex
	chans map[uint16]*channel
}

// chanIntro holds a channel's counters, named after RabbitMQ's
// channel_exchange_metrics and channel_queue_metrics.
type chanIntro struct {
	confirm, tx atomic.Bool

	published, returned, dropped          atomic.Uint64
	getAck, getNoAck, getEmpty            atomic.Uint64
	deliverAck, deliverNoAck, redelivered atomic.Uint64
	acked                                 atomic.Uint64

	noAckConsumers atomic.Int32
	noAckTags      sync.Map // consumer tag → struct{}, only for no-ack consumers
}

// ChannelCounters are a channel's message counters (also the totals over
// every channel the server has had).
type ChannelCounters struct {
	Published, Confirmed, ReturnUnroutable, DropUnroutable uint64
	GetAck, GetNoAck, GetEmpty                             uint64
	DeliverAck, DeliverNoAck, Redelivered                  uint64
	Acked                                                  uint64
}

func (a *ChannelCounters) add(b ChannelCounters) {
	a.Published += b.Published
	a.Confirmed += b.Confirmed
	a.ReturnUnroutable += b.ReturnUnroutable
	a.DropUnroutable += b.DropUnroutable
	a.GetAck += b.GetAck
	a.GetNoAck += b.GetNoAck
	a.GetEmpty += b.GetEmpty
	a.DeliverAck += b.DeliverAck
	a.DeliverNoAck += b.DeliverNoAck
	a.Redelivered += b.Redelivered
	a.Acked += b.Acked
}

// counters reads the channel's counters; confirmed ones come from the
// confirm tracker.
func (ch *channel) counters() ChannelCounters {
	ch.cf.mu.Lock()
	confirmed := ch.cf.acked
	ch.cf.mu.Unlock()
	ci := &ch.intro
	return ChannelCounters{
		Published: ci.published.Load(), Confirmed: confirmed,
		ReturnUnroutable: ci.returned.Load(), DropUnroutable: ci.dropped.Load(),
		GetAck: ci.getAck.Load(), GetNoAck: ci.getNoAck.Load(), GetEmpty: ci.getEmpty.Load(),
		DeliverAck: ci.deliverAck.Load(), DeliverNoAck: ci.deliverNoAck.Load(),
		Redelivered: ci.redelivered.Load(), Acked: ci.acked.Load(),
	}
}

// serverIntro is the server-wide part: totals of closed channels and
// connections, so counters never go backwards, and churn counts.
type serverIntro struct {
	mu             sync.Mutex
	retired        ChannelCounters
	retiredRecvOct uint64
	retiredSendOct uint64
	connsOpened    atomic.Uint64
	connsClosed    atomic.Uint64
	chansOpened    atomic.Uint64
	chansClosed    atomic.Uint64
}

func (s *Server) intro() *serverIntro { return &s.introspect }

// --- hooks, called from the connection and channel code ---

// opened marks the connection listable; called by the reader goroutine
// right after connection.open-ok.
func (ci *connIntro) opened(c *conn, mechanism string) {
	ci.mechanism = mechanism
	ci.connectedAt = time.Now()
	c.srv.intro().connsOpened.Add(1)
	ci.open.Store(true)
}

func (ci *connIntro) addChannel(ch *channel) {
	ci.mu.Lock()
	if ci.chans == nil {
		ci.chans = map[uint16]*channel{}
	}
	ci.chans[ch.id] = ch
	ci.mu.Unlock()
	ch.c.srv.intro().chansOpened.Add(1)
}

func (ci *connIntro) removeChannel(ch *channel) {
	ci.mu.Lock()
	_, ok := ci.chans[ch.id]
	if ok && ci.chans[ch.id] == ch {
		delete(ci.chans, ch.id)
	} else {
		ok = false
	}
	ci.mu.Unlock()
	if !ok {
		return
	}
	si := ch.c.srv.intro()
	si.chansClosed.Add(1)
	si.mu.Lock()
	si.retired.add(ch.counters())
	si.mu.Unlock()
}

// closed retires the connection's channels and byte counts.
func (ci *connIntro) closed(c *conn) {
	ci.mu.Lock()
	chs := make([]*channel, 0, len(ci.chans))
	for _, ch := range ci.chans {
		chs = append(chs, ch)
	}
	ci.mu.Unlock()
	for _, ch := range chs {
		ci.removeChannel(ch)
	}
	si := c.srv.intro()
	si.mu.Lock()
	si.retiredRecvOct += ci.recvOct.Load()
	si.retiredSendOct += ci.sendOct.Load()
	si.mu.Unlock()
	if ci.open.Load() {
		si.connsClosed.Add(1)
	}
}

func (ci *chanIntro) consumed(tag string, noAck bool) {
	if noAck {
		ci.noAckTags.Store(tag, struct{}{})
		ci.noAckConsumers.Add(1)
	}
}

// delivered counts one delivery to a consumer; runs under queue and
// session locks, so it only touches atomics.
func (ci *chanIntro) delivered(d *broker.Delivery) {
	noAck := false
	if ci.noAckConsumers.Load() > 0 {
		_, noAck = ci.noAckTags.Load(d.ConsumerTag)
	}
	if noAck {
		ci.deliverNoAck.Add(1)
	} else {
		ci.deliverAck.Add(1)
	}
	if d.Redelivered {
		ci.redelivered.Add(1)
	}
}

// --- views ---

// ConnInfo describes one open connection.
type ConnInfo struct {
	Name             string // "127.0.0.1:50000 -> 127.0.0.1:5672", as RabbitMQ
	User             string
	Vhost            string
	Protocol         string // "AMQP 0-9-1"
	AuthMechanism    string
	Host             string // our side
	Port             int
	PeerHost         string
	PeerPort         int
	State            string // running, blocked, closing
	ConnectedAt      time.Time
	Channels         int
	ChannelMax       int
	FrameMax         int
	Heartbeat        time.Duration
	ClientProperties amqp.Table
	RecvOct, RecvCnt uint64
	SendOct, SendCnt uint64
	SendPend         int // bytes waiting in the outbound buffer
}

// ChanInfo describes one open channel.
type ChanInfo struct {
	Name                   string // "<connection name> (<number>)"
	Number                 int
	Connection             string
	User                   string
	Vhost                  string
	PeerHost               string
	PeerPort               int
	Confirm, Transactional bool
	Consumers              int
	Unacked                int
	Unconfirmed            int
	Prefetch               int // per consumer (basic.qos global=false)
	GlobalPrefetch         int
	State                  string
	Counters               ChannelCounters
}

// ConsumerInfo describes one consumer.
type ConsumerInfo struct {
	Tag       string
	Channel   ChanInfo
	Queue     *broker.Queue
	NoAck     bool
	Exclusive bool
	Prefetch  int
	Args      map[string]any
}

func (s *Server) openConns() []*conn {
	s.mu.Lock()
	cs := make([]*conn, 0, len(s.conns))
	for c := range s.conns {
		if c.intro.open.Load() {
			cs = append(cs, c)
		}
	}
	s.mu.Unlock()
	return cs
}

func splitAddr(a net.Addr) (string, int) {
	if a == nil {
		return "", 0
	}
	h, p, err := net.SplitHostPort(a.String())
	if err != nil {
		return a.String(), 0
	}
	n, _ := strconv.Atoi(p)
	return h, n
}

func (c *conn) name() string { return c.nc.RemoteAddr().String() + " -> " + c.nc.LocalAddr().String() }

func (c *conn) info() ConnInfo {
	i := ConnInfo{
		Name: c.name(), User: c.user.Name, Vhost: c.vhost.Name, Protocol: "AMQP 0-9-1",
		AuthMechanism: c.intro.mechanism, ConnectedAt: c.intro.connectedAt,
		ChannelMax: int(c.channelMax), FrameMax: int(c.frameMax), Heartbeat: time.Duration(c.heartbeat.Load()),
		ClientProperties: c.clientProps,
		RecvOct:          c.intro.recvOct.Load(), RecvCnt: c.intro.recvCnt.Load(),
		SendOct: c.intro.sendOct.Load(), SendCnt: c.intro.sendCnt.Load(),
		State: "running",
	}
	i.Host, i.Port = splitAddr(c.nc.LocalAddr())
	i.PeerHost, i.PeerPort = splitAddr(c.nc.RemoteAddr())
	switch {
	case c.closeSent.Load():
		i.State = "closing"
	case c.blockedAt.Load() != 0:
		i.State = "blocked"
	}
	c.intro.mu.Lock()
	i.Channels = len(c.intro.chans)
	c.intro.mu.Unlock()
	c.outMu.Lock()
	i.SendPend = len(c.out)
	c.outMu.Unlock()
	return i
}

// Connections lists the open connections, by name.
func (s *Server) Connections() []ConnInfo {
	cs := s.openConns()
	out := make([]ConnInfo, 0, len(cs))
	for _, c := range cs {
		out = append(out, c.info())
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Connection returns the named connection.
func (s *Server) Connection(name string) (ConnInfo, bool) {
	for _, c := range s.openConns() {
		if c.name() == name {
			return c.info(), true
		}
	}
	return ConnInfo{}, false
}

// CloseConnection closes the named connection with 320 CONNECTION_FORCED
// and reason as the reply text ("CONNECTION_FORCED - <reason>"). It
// reports whether the connection was found.
func (s *Server) CloseConnection(name, reason string) bool {
	for _, c := range s.openConns() {
		if c.name() == name {
			c.forceClose(reason)
			return true
		}
	}
	return false
}

func (c *conn) chanList() []*channel {
	c.intro.mu.Lock()
	chs := make([]*channel, 0, len(c.intro.chans))
	for _, ch := range c.intro.chans {
		chs = append(chs, ch)
	}
	c.intro.mu.Unlock()
	sort.Slice(chs, func(i, j int) bool { return chs[i].id < chs[j].id })
	return chs
}

func (ch *channel) info(cname string) ChanInfo {
	c := ch.c
	i := ChanInfo{
		Name: cname + " (" + strconv.Itoa(int(ch.id)) + ")", Number: int(ch.id), Connection: cname,
		User: c.user.Name, Vhost: c.vhost.Name,
		Confirm: ch.intro.confirm.Load(), Transactional: ch.intro.tx.Load(),
		Consumers: ch.sess.ConsumerCount(), Unacked: ch.sess.UnackedCount(),
		State: "running", Counters: ch.counters(),
	}
	i.PeerHost, i.PeerPort = splitAddr(c.nc.RemoteAddr())
	p, g := ch.sess.Prefetch()
	i.Prefetch, i.GlobalPrefetch = int(p), int(g)
	ch.cf.mu.Lock()
	i.Unconfirmed = int(ch.cf.seq - ch.cf.acked)
	ch.cf.mu.Unlock()
	if c.closeSent.Load() {
		i.State = "closing"
	}
	return i
}

// Channels lists every open channel, by connection then number.
func (s *Server) Channels() []ChanInfo {
	var out []ChanInfo
	for _, c := range s.openConns() {
		cname := c.name()
		for _, ch := range c.chanList() {
			out = append(out, ch.info(cname))
		}
	}
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].Connection != out[j].Connection {
			return out[i].Connection < out[j].Connection
		}
		return out[i].Number < out[j].Number
	})
	return out
}

// Consumers lists every consumer of every channel.
func (s *Server) Consumers() []ConsumerInfo {
	var out []ConsumerInfo
	for _, c := range s.openConns() {
		cname := c.name()
		for _, ch := range c.chanList() {
			cs := ch.sess.Consumers()
			if len(cs) == 0 {
				continue
			}
			ci := ch.info(cname)
			for _, k := range cs {
				out = append(out, ConsumerInfo{Tag: k.Tag, Channel: ci, Queue: k.Queue, NoAck: k.NoAck,
					Exclusive: k.Exclusive, Prefetch: int(k.Prefetch), Args: k.Args})
			}
		}
	}
	return out
}

// Totals are server-wide figures for metrics and the overview.
type Totals struct {
	Connections, Channels                int
	ConnectionsOpened, ConnectionsClosed uint64
	ChannelsOpened, ChannelsClosed       uint64
	RecvOct, SendOct                     uint64 // all connections, open and closed
	Counters                             ChannelCounters
}

// Totals adds up the counters of every channel the server has had.
func (s *Server) Totals() Totals {
	si := s.intro()
	var t Totals
	si.mu.Lock()
	t.Counters = si.retired
	t.RecvOct, t.SendOct = si.retiredRecvOct, si.retiredSendOct
	si.mu.Unlock()
	for _, c := range s.openConns() {
		t.Connections++
		t.RecvOct += c.intro.recvOct.Load()
		t.SendOct += c.intro.sendOct.Load()
		for _, ch := range c.chanList() {
			t.Channels++
			t.Counters.add(ch.counters())
		}
	}
	t.ConnectionsOpened, t.ConnectionsClosed = si.connsOpened.Load(), si.connsClosed.Load()
	t.ChannelsOpened, t.ChannelsClosed = si.chansOpened.Load(), si.chansClosed.Load()
	return t
}

// Alarm reports the resource alarm in force ("" when none).
func (s *Server) Alarm() string {
	if a := s.alarm.Load(); a != nil {
		return a.reason
	}
	return ""
}
