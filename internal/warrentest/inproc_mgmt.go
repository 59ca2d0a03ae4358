package warrentest

import (
	"context"
	"log/slog"
	"net"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/warrenmq/warren/internal/mgmt"
	"github.com/warrenmq/warren/internal/mgmt/ui"
)

// Mgmt is the management side of an in-process node: the HTTP API with
// the web UI, and the Prometheus metrics.
type Mgmt struct {
	URL        string // http://127.0.0.1:PORT (API under /api, UI at /)
	MetricsURL string // http://127.0.0.1:PORT/metrics
	API        *mgmt.Server
}

// MgmtConfig tunes StartMgmt.
type MgmtConfig struct {
	// SampleInterval is how often rates are sampled; 1s when zero, so
	// tests see rates move quickly.
	SampleInterval time.Duration
	NodeName       string // warren@test when empty
}

// StartMgmt serves p's management API, UI and metrics on loopback ports
// until the test ends.
func (p *InProc) StartMgmt(t testing.TB, cfg MgmtConfig) *Mgmt {
	t.Helper()
	if cfg.SampleInterval == 0 {
		cfg.SampleInterval = time.Second
	}
	if cfg.NodeName == "" {
		cfg.NodeName = "warren@test"
	}
	log := slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
	hln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	mln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addrs := map[string]string{"amqp": p.Addr, "http": hln.Addr().String(), "metrics": mln.Addr().String()}
	if p.TLSAddr != "" {
		addrs["amqps"] = p.TLSAddr
	}
	api := mgmt.New(mgmt.Config{Log: log, Broker: p.Broker, AMQP: p.Server, NodeName: cfg.NodeName, DataDir: p.Dir,
		Listeners: func() map[string]string { return addrs }, UI: ui.Handler(), SampleInterval: cfg.SampleInterval})
	mh, err := api.MetricsHandler(prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	go api.Run(ctx)
	go api.Serve(ctx, hln)
	go mgmt.ServeHandler(ctx, mln, mh, log)
	t.Cleanup(cancel)
	return &Mgmt{URL: "http://" + hln.Addr().String(), MetricsURL: "http://" + mln.Addr().String() + "/metrics", API: api}
}
