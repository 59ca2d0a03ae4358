package warrentest

import (
	"log/slog"
	"net"
	"path/filepath"
	"testing"
	"time"

	"github.com/warrenmq/warren/internal/amqpserver"
	"github.com/warrenmq/warren/internal/auth"
	"github.com/warrenmq/warren/internal/broker"
	"github.com/warrenmq/warren/internal/store/metalog"
)

// InProc is a broker and AMQP listener running inside the test process on
// a loopback port: real TCP, real clients, and direct access to the
// server for hooks such as alarms. Use Start for the real binary.
type InProc struct {
	Addr   string // host:port of the AMQP listener
	Broker *broker.Broker
	Server *amqpserver.Server
	Users  *auth.Store
	Dir    string
}

// InProcConfig tunes StartInProc; zero values are RabbitMQ's defaults.
type InProcConfig struct {
	Heartbeat        time.Duration
	FrameMax         uint32
	ChannelMax       uint16
	MaxMessageSize   int
	HandshakeTimeout time.Duration
	Dir              string // data dir; a fresh temp dir when empty
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
	b, err := broker.New(broker.Config{Log: log, Meta: meta, DefaultVhost: "/"})
	if err != nil {
		t.Fatal(err)
	}
	users := auth.NewStore("guest", "guest", []string{"guest"})
	srv := amqpserver.New(amqpserver.Config{
		Log: log, Broker: b, Users: users,
		Heartbeat: cfg.Heartbeat, FrameMax: cfg.FrameMax, ChannelMax: cfg.ChannelMax,
		MaxMessageSize: cfg.MaxMessageSize, HandshakeTimeout: cfg.HandshakeTimeout,
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	p := &InProc{Addr: ln.Addr().String(), Broker: b, Server: srv, Users: users, Dir: dir}
	t.Cleanup(func() {
		srv.Close()
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
