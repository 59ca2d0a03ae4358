// Package amqpserver is Warren's AMQP 0-9-1 front end: the listener, and
// per connection one reader goroutine (which runs the connection and
// channel state machines) and one writer goroutine (which coalesces
// outgoing frames into few syscalls).
package amqpserver

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/warrenmq/warren/internal/broker"
)

// Config of the AMQP front end. Zero values take RabbitMQ's defaults.
type Config struct {
	Log    *slog.Logger
	Broker *broker.Broker // also the source of users and permissions
	// LoopbackUsers may connect only from loopback addresses
	// (loopback_users); nil means ["guest"], as RabbitMQ, empty means none.
	LoopbackUsers []string
	// ConnectionMax caps open connections over all listeners
	// (connection_max); 0 is no limit.
	ConnectionMax int
	// SSLCertLoginFrom is where EXTERNAL takes the user name from:
	// common_name (default) or distinguished_name.
	SSLCertLoginFrom string
	Heartbeat        time.Duration // proposed in connection.tune; 0 disables
	FrameMax         uint32
	ChannelMax       uint16
	MaxMessageSize   int
	HandshakeTimeout time.Duration
	// ConsumerTimeout closes a channel (406) whose oldest unacknowledged
	// delivery is older than this (consumer_timeout); 0 disables.
	ConsumerTimeout time.Duration
	Version         string
	ClusterName     string
}

func (c *Config) defaults() {
	if c.Log == nil {
		c.Log = slog.Default()
	}
	if c.FrameMax == 0 {
		c.FrameMax = 131072
	}
	if c.ChannelMax == 0 {
		c.ChannelMax = 2047
	}
	if c.MaxMessageSize == 0 {
		c.MaxMessageSize = 128 << 20
	}
	if c.HandshakeTimeout == 0 {
		c.HandshakeTimeout = 10 * time.Second
	}
	if c.Version == "" {
		c.Version = "dev"
	}
}

// Server accepts AMQP connections.
type Server struct {
	cfg    Config
	log    *slog.Logger
	nextID atomic.Uint64

	mu      sync.Mutex
	conns   map[*conn]struct{}
	lns     []net.Listener
	closed  bool
	wg      sync.WaitGroup
	ctx     context.Context
	cancel  context.CancelFunc
	started time.Time

	alarm atomic.Pointer[alarm] // non-nil while a resource alarm blocks publishers

	track tracker       // connections per vhost and user (authz.go)
	slots chan struct{} // connection_max; nil when unlimited
	unsub func()        // from the broker's deletion events

	introspect serverIntro // management views and counters (introspect.go)

	replies replyRegistry // direct reply-to consumers (replyto.go)

	syncMu      sync.Mutex
	syncWaiters map[*channel]struct{} // channels with confirms waiting for the store
}

// waitSync registers a channel whose confirms wait for a store sync.
func (s *Server) waitSync(ch *channel) {
	s.syncMu.Lock()
	if s.syncWaiters == nil {
		s.syncWaiters = map[*channel]struct{}{}
	}
	s.syncWaiters[ch] = struct{}{}
	s.syncMu.Unlock()
}

// Synced is called by the message store after each group commit: confirms
// waiting for it go out now, from the store's goroutine. syncMu is held
// throughout, so a channel registering meanwhile is not dropped.
func (s *Server) Synced(lsn uint64) {
	s.syncMu.Lock()
	defer s.syncMu.Unlock()
	for ch := range s.syncWaiters {
		ch.cf.flush(lsn)
		if !ch.cf.pendingDurable() {
			delete(s.syncWaiters, ch)
		}
	}
}

// alarm is one raised resource alarm; cleared is closed when it ends.
type alarm struct {
	reason  string
	cleared chan struct{}
}

// New makes a server; call Serve with a listener.
func New(cfg Config) *Server {
	cfg.defaults()
	ctx, cancel := context.WithCancel(context.Background())
	s := &Server{cfg: cfg, log: cfg.Log, conns: map[*conn]struct{}{}, ctx: ctx, cancel: cancel, started: time.Now()}
	s.track.init()
	if cfg.ConnectionMax > 0 {
		s.slots = make(chan struct{}, cfg.ConnectionMax)
	}
	s.unsub = cfg.Broker.Subscribe(s.onBrokerEvent)
	if cfg.ConsumerTimeout > 0 {
		go s.watchConsumerTimeouts()
	}
	return s
}

// Listen opens a TCP listener for AMQP. TCP keepalive is off, as in
// RabbitMQ's default tcp_listen_options: AMQP heartbeats find dead peers,
// and the keepalive socket options were four extra syscalls per accepted
// connection.
func Listen(addr string) (net.Listener, error) {
	lc := net.ListenConfig{KeepAlive: -1}
	return lc.Listen(context.Background(), "tcp", addr)
}

// Serve accepts connections on ln until Close.
func (s *Server) Serve(ln net.Listener) error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return net.ErrClosed
	}
	s.lns = append(s.lns, ln)
	s.mu.Unlock()
	var delay time.Duration
	for {
		if !s.acquireSlot() {
			return nil
		}
		nc, err := ln.Accept()
		if err != nil {
			s.releaseSlot()
			if errors.Is(err, net.ErrClosed) {
				return nil
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				delay = min(max(2*delay, 5*time.Millisecond), time.Second)
				time.Sleep(delay)
				continue
			}
			return err
		}
		delay = 0
		// No SetNoDelay: Go's TCP connections have TCP_NODELAY from the start.
		c := newConn(s, nc)
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			nc.Close()
			s.releaseSlot()
			continue
		}
		s.conns[c] = struct{}{}
		s.wg.Add(1)
		s.mu.Unlock()
		go func() {
			defer s.wg.Done()
			c.serve()
			s.mu.Lock()
			delete(s.conns, c)
			s.mu.Unlock()
			s.releaseSlot()
		}()
	}
}

// Close stops accepting, closes every connection with 320
// CONNECTION_FORCED as RabbitMQ does on shutdown, and waits for them.
func (s *Server) Close() {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	s.closed = true
	s.unsub()
	for _, ln := range s.lns {
		ln.Close()
	}
	cs := s.connList()
	s.mu.Unlock()
	for _, c := range cs {
		c.forceClose("broker forced connection closure with reason 'shutdown'")
	}
	done := make(chan struct{})
	go func() { s.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		for _, c := range cs {
			c.nc.Close()
		}
		<-done
	}
	s.cancel()
}

func (s *Server) connList() []*conn {
	cs := make([]*conn, 0, len(s.conns))
	for c := range s.conns {
		cs = append(cs, c)
	}
	return cs
}

// ConnectionCount is the number of open connections.
func (s *Server) ConnectionCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.conns)
}

// SetAlarm raises (reason non-empty: the resource, "memory" or "disk") or
// clears a resource alarm. While it is raised, a connection that publishes
// is sent connection.blocked ("low on memory") and is not read from any
// more; consumers keep draining. Clearing it sends
// connection.unblocked to the blocked connections and resumes reading.
func (s *Server) SetAlarm(reason string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	old := s.alarm.Load()
	switch {
	case reason == "" && old != nil:
		s.alarm.Store(nil)
		close(old.cleared)
	case reason != "" && old == nil:
		s.alarm.Store(&alarm{reason: reason, cleared: make(chan struct{})})
	}
}
