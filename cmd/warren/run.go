package main

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	_ "net/http/pprof" // only served when WARREN_PPROF_ADDR is set
	"os"
	"path/filepath"
	"runtime/pprof"
	"sync/atomic"
	"time"

	"github.com/warrenmq/warren/internal/amqpserver"
	"github.com/warrenmq/warren/internal/auth"
	"github.com/warrenmq/warren/internal/broker"
	"github.com/warrenmq/warren/internal/config"
	"github.com/warrenmq/warren/internal/definitions"
	"github.com/warrenmq/warren/internal/resource"
	"github.com/warrenmq/warren/internal/store/metalog"
	"github.com/warrenmq/warren/internal/store/segment"
)

// runServer runs the broker node described by cfg until ctx is cancelled
// (SIGINT or SIGTERM), then shuts down cleanly and returns. A non-nil
// error makes `warren server` exit with status 1.
//
// Log line contract (the test harness internal/warrentest depends on it):
// as soon as a listener is bound, log at INFO with the message exactly
//
//	<name> listening on <host:port>
//
// e.g. `msg="amqp listening on 127.0.0.1:41234"`, where name is one of
// amqp, amqps, http, metrics, cluster and host:port is the bound address,
// with the real port when the configured one was 0. A listener whose
// feature is not built yet is not started, and the log says so.
func runServer(ctx context.Context, cfg *config.Config, log *slog.Logger) error {
	if err := os.MkdirAll(cfg.DataDir, 0o755); err != nil {
		return fmt.Errorf("data dir: %w", err)
	}
	// WARREN_PPROF_ADDR=host:port serves net/http/pprof, for profiling.
	if addr := os.Getenv("WARREN_PPROF_ADDR"); addr != "" {
		go func() { log.Warn("pprof server ended", "err", http.ListenAndServe(addr, nil)) }()
	}
	// WARREN_CPUPROFILE=FILE profiles the whole run, for `go tool pprof`.
	if path := os.Getenv("WARREN_CPUPROFILE"); path != "" {
		f, err := os.Create(path)
		if err != nil {
			return err
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer func() { pprof.StopCPUProfile(); f.Close() }()
	}
	meta, err := metalog.Open(filepath.Join(cfg.DataDir, "meta"))
	if err != nil {
		return fmt.Errorf("open metadata: %w", err)
	}
	defer meta.Close()
	// The message store confirms through the AMQP server, which needs the
	// broker, which needs the store: break the cycle with a pointer set below.
	var amqpSrv atomic.Pointer[amqpserver.Server]
	opened := time.Now()
	st, rec, err := segment.Open(filepath.Join(cfg.DataDir, "msgs"), segment.Options{
		Log:         log,
		SegmentSize: cfg.SegmentSize,
		OnSync: func(lsn uint64) {
			if s := amqpSrv.Load(); s != nil {
				s.Synced(lsn)
			}
		},
	})
	if err != nil {
		return fmt.Errorf("open message store: %w", err)
	}
	defer st.Close()
	recovered := 0
	for _, es := range rec.Queues {
		recovered += len(es)
	}
	log.Info("message store open", "messages", recovered, "queues", len(rec.Queues), "checkpoint", rec.Checkpoint,
		"replayed_bytes", rec.Replayed, "truncated_bytes", rec.Truncated, "took", time.Since(opened).Round(time.Millisecond))
	bcfg := broker.Config{Log: log, Meta: meta, Store: st, Recovered: rec.Queues,
		QueueMemory: cfg.QueueMemory, TotalMemory: cfg.TotalQueueMemory}
	if cfg.LoadDefinitions == "" {
		// As RabbitMQ: the default vhost and user are seeded on first
		// start, unless definitions are configured to be loaded.
		bcfg.DefaultVhost = cfg.DefaultVhost
		bcfg.DefaultUser = broker.DefaultUser{Name: cfg.DefaultUser, PasswordHash: auth.HashPassword(cfg.DefaultPass)}
	}
	b, err := broker.New(bcfg)
	if err != nil {
		return err
	}
	if cfg.LoadDefinitions != "" {
		data, err := os.ReadFile(cfg.LoadDefinitions)
		if err != nil {
			return fmt.Errorf("load_definitions: %w", err)
		}
		if err := definitions.Import(b, data); err != nil {
			return fmt.Errorf("load_definitions %s: %w", cfg.LoadDefinitions, err)
		}
		log.Info("definitions imported", "file", cfg.LoadDefinitions)
	}
	loopback := cfg.LoopbackUsers
	if loopback == nil {
		loopback = []string{} // loopback_users = none
	}

	srv := amqpserver.New(amqpserver.Config{
		Log:              log,
		Broker:           b,
		LoopbackUsers:    loopback,
		ConnectionMax:    cfg.ConnectionMax,
		SSLCertLoginFrom: cfg.SSLCertLoginFrom,
		Heartbeat:        cfg.Heartbeat,
		FrameMax:         cfg.FrameMax,
		ChannelMax:       cfg.ChannelMax,
		MaxMessageSize:   int(cfg.MaxMessageSize),
		HandshakeTimeout: cfg.HandshakeTimeout,
		ConsumerTimeout:  cfg.ConsumerTimeout,
		Version:          Version(),
		ClusterName:      cfg.NodeName,
	})
	amqpSrv.Store(srv)
	limits := resource.Limits{DiskFreeLimit: cfg.DiskFreeLimit, MemoryHighWatermark: cfg.MemoryHighWatermark, MemoryLimit: cfg.MemoryLimit}
	mon := resource.New(cfg.DataDir, limits, log, func(s resource.Status) { srv.SetAlarm(s.Resources()) })
	go mon.Run(ctx)
	errc := make(chan error, 4)
	m := newMgmt(ctx, cfg, log, b, srv, mon.Status) // management API, UI and metrics (mgmt.go)
	for _, l := range cfg.Listeners() {
		switch l.Name {
		case "amqp":
			ln, err := amqpserver.Listen(l.Addr)
			if err != nil {
				srv.Close()
				return fmt.Errorf("amqp listener: %w", err)
			}
			log.Info("amqp listening on " + ln.Addr().String())
			m.bound("amqp", ln.Addr().String())
			go func() { errc <- srv.Serve(ln) }()
		case "amqps":
			tcfg, err := amqpserver.TLSConfig(amqpserver.TLSOptions{CertFile: cfg.TLSCert, KeyFile: cfg.TLSKey,
				CAFile: cfg.TLSCA, Verify: cfg.TLSVerify, FailIfNoPeerCert: cfg.TLSFailIfNoPeerCert})
			if err != nil {
				srv.Close()
				return err
			}
			ln, err := amqpserver.Listen(l.Addr)
			if err != nil {
				srv.Close()
				return fmt.Errorf("amqps listener: %w", err)
			}
			log.Info("amqps listening on " + ln.Addr().String())
			go func() { errc <- srv.ServeTLS(ln, tcfg) }()
		case "http", "metrics":
			if err := m.listen(l.Name, l.Addr, errc); err != nil {
				srv.Close()
				return err
			}
		default:
			log.Info(l.Name+" listener not started: not built yet", "addr", l.Addr)
		}
	}
	log.Info("server started", "node", cfg.NodeName, "data_dir", cfg.DataDir, "version", Version())
	select {
	case <-ctx.Done():
	case err = <-errc:
		log.Error("listener failed", "err", err)
	}
	log.Info("shutting down")
	srv.Close()
	return err
}
