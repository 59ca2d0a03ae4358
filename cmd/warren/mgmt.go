package main

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/warrenmq/warren/internal/amqpserver"
	"github.com/warrenmq/warren/internal/broker"
	"github.com/warrenmq/warren/internal/config"
	"github.com/warrenmq/warren/internal/mgmt"
	"github.com/warrenmq/warren/internal/mgmt/ui"
	"github.com/warrenmq/warren/internal/resource"
)

// mgmtListeners runs the management API and UI (the http listener) and
// the Prometheus metrics (the metrics listener), and remembers every bound
// listener address for the API's listeners and health checks.
type mgmtListeners struct {
	ctx context.Context
	log *slog.Logger
	api *mgmt.Server

	mu    sync.Mutex
	addrs map[string]string
}

func newMgmt(ctx context.Context, cfg *config.Config, log *slog.Logger, b *broker.Broker, srv *amqpserver.Server,
	resources func() resource.Status) *mgmtListeners {
	m := &mgmtListeners{ctx: ctx, log: log, addrs: map[string]string{}}
	loopback := cfg.LoopbackUsers
	if loopback == nil {
		loopback = []string{} // loopback_users = none
	}
	m.api = mgmt.New(mgmt.Config{
		Log: log, Broker: b, AMQP: srv, Resources: resources, Limits: resource.Defaults,
		NodeName: cfg.NodeName, Version: Version(), DataDir: cfg.DataDir,
		Listeners: m.listeners, UI: ui.Handler(), LoopbackUsers: loopback,
	})
	go m.api.Run(ctx)
	return m
}

// bound records a listener's address.
func (m *mgmtListeners) bound(name, addr string) {
	m.mu.Lock()
	m.addrs[name] = addr
	m.mu.Unlock()
}

func (m *mgmtListeners) listeners() map[string]string {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make(map[string]string, len(m.addrs))
	for k, v := range m.addrs {
		out[k] = v
	}
	return out
}

// listen starts the http or metrics listener on addr.
func (m *mgmtListeners) listen(name, addr string, errc chan<- error) error {
	var h http.Handler
	switch name {
	case "http":
		h = m.api.Handler()
	case "metrics":
		var err error
		if h, err = m.api.MetricsHandler(prometheus.NewRegistry()); err != nil {
			return fmt.Errorf("metrics: %w", err)
		}
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("%s listener: %w", name, err)
	}
	m.bound(name, ln.Addr().String())
	m.log.Info(name + " listening on " + ln.Addr().String())
	go func() { errc <- mgmt.ServeHandler(m.ctx, ln, h, m.log) }()
	return nil
}
