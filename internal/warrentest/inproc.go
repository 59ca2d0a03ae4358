package warrentest

import (
	"crypto/tls"
	"log/slog"
	"net"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/warrenmq/warren/internal/amqpserver"
	"github.com/warrenmq/warren/internal/auth"
	"github.com/warrenmq/warren/internal/broker"
	"github.com/warrenmq/warren/internal/store/metalog"
	"github.com/warrenmq/warren/internal/store/segment"
)

// InProc is a broker and AMQP listener running inside the test process on
// a loopback port: real TCP, real clients, and direct access to the
// server for hooks such as alarms. Use Start for the real binary.
type InProc struct {
	Addr    string // host:port of the AMQP listener
	TLSAddr string // host:port of the AMQPS listener, when InProcConfig.TLS is set
	Broker  *broker.Broker
	Server  *amqpserver.Server
	Dir     string
}

// InProcConfig tunes StartInProc; zero values are RabbitMQ's defaults.
type InProcConfig struct {
	Heartbeat        time.Duration
	FrameMax         uint32
	ChannelMax       uint16
	MaxMessageSize   int
	HandshakeTimeout time.Duration
	ConsumerTimeout  time.Duration // consumer_timeout; 0 disables (the binary defaults to 30 min)
	Dir              string        // data dir; a fresh temp dir when empty
	// QueueMemory and TotalMemory bound message bodies kept in memory
	// (broker.Config); 0 takes the defaults.
	QueueMemory int64
	TotalMemory int64

	// LoopbackUsers may connect only from loopback: nil means ["guest"],
	// as RabbitMQ; an empty slice means nobody.
	LoopbackUsers []string
	ConnectionMax int         // connection_max; 0 is no limit
	TLS           *tls.Config // when set, an AMQPS listener too (see amqpserver.TLSConfig)
	// SSLCertLoginFrom: common_name (default) or distinguished_name.
	SSLCertLoginFrom string
	// ListenHost is the AMQP (and AMQPS) listener's host; 127.0.0.1 when
	// empty.
	ListenHost string
}

// StartInProc starts an in-process node; it is closed when the test ends.
func StartInProc(t testing.TB, cfg InProcConfig) *InProc {
	t.Helper()
	dir := cfg.Dir
	if dir == "" {
		dir = t.TempDir()
	}
	log := slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
	meta, err := metalog.Open(filepath.Join(dir, "meta"))
	if err != nil {
		t.Fatal(err)
	}
	var srvp atomic.Pointer[amqpserver.Server]
	st, rec, err := segment.Open(filepath.Join(dir, "msgs"), segment.Options{Log: log, SegmentSize: 4 << 20, OnSync: func(lsn uint64) {
		if s := srvp.Load(); s != nil {
			s.Synced(lsn)
		}
	}})
	if err != nil {
		t.Fatal(err)
	}
	b, err := broker.New(broker.Config{Log: log, Meta: meta, DefaultVhost: "/",
		DefaultUser: broker.DefaultUser{Name: "guest", PasswordHash: auth.HashPassword("guest")},
		Store:       st, Recovered: rec.Queues, QueueMemory: cfg.QueueMemory, TotalMemory: cfg.TotalMemory})
	if err != nil {
		t.Fatal(err)
	}
	srv := amqpserver.New(amqpserver.Config{
		Log: log, Broker: b,
		Heartbeat: cfg.Heartbeat, FrameMax: cfg.FrameMax, ChannelMax: cfg.ChannelMax,
		MaxMessageSize: cfg.MaxMessageSize, HandshakeTimeout: cfg.HandshakeTimeout, ConsumerTimeout: cfg.ConsumerTimeout,
		LoopbackUsers: cfg.LoopbackUsers, ConnectionMax: cfg.ConnectionMax, SSLCertLoginFrom: cfg.SSLCertLoginFrom,
	})
	host := cfg.ListenHost
	if host == "" {
		host = "127.0.0.1"
	}
	ln, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
	if err != nil {
		t.Fatal(err)
	}
	srvp.Store(srv)
	go srv.Serve(ln)
	p := &InProc{Addr: ln.Addr().String(), Broker: b, Server: srv, Dir: dir}
	if cfg.TLS != nil {
		tln, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
		if err != nil {
			t.Fatal(err)
		}
		go srv.ServeTLS(tln, cfg.TLS)
		p.TLSAddr = tln.Addr().String()
	}
	t.Cleanup(func() {
		srv.Close()
		st.Close()
		meta.Close()
	})
	return p
}

// URL is the amqp:// URL for guest on the default vhost.
func (p *InProc) URL() string { return "amqp://guest:guest@" + p.Addr + "/" }

// testWriter sends server logs to the test log, so they show on failure.
type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	defer func() { _ = recover() }() // logging after the test ended must not panic
	w.t.Logf("%s", p)
	return len(p), nil
}
