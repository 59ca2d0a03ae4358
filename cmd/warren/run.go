package main

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"

	"github.com/warrenmq/warren/internal/amqpserver"
	"github.com/warrenmq/warren/internal/auth"
	"github.com/warrenmq/warren/internal/broker"
	"github.com/warrenmq/warren/internal/config"
	"github.com/warrenmq/warren/internal/store/metalog"
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
	meta, err := metalog.Open(filepath.Join(cfg.DataDir, "meta"))
	if err != nil {
		return fmt.Errorf("open metadata: %w", err)
	}
	defer meta.Close()
	b, err := broker.New(broker.Config{Log: log, Meta: meta, DefaultVhost: cfg.DefaultVhost})
	if err != nil {
		return err
	}
	users := auth.NewStore(cfg.DefaultUser, cfg.DefaultPass, cfg.LoopbackUsers)

	srv := amqpserver.New(amqpserver.Config{
		Log:              log,
		Broker:           b,
		Users:            users,
		Heartbeat:        cfg.Heartbeat,
		FrameMax:         cfg.FrameMax,
		ChannelMax:       cfg.ChannelMax,
		MaxMessageSize:   int(cfg.MaxMessageSize),
		HandshakeTimeout: cfg.HandshakeTimeout,
		Version:          Version(),
		ClusterName:      cfg.NodeName,
	})
	errc := make(chan error, 4)
	for _, l := range cfg.Listeners() {
		switch l.Name {
		case "amqp":
			ln, err := net.Listen("tcp", l.Addr)
			if err != nil {
				srv.Close()
				return fmt.Errorf("amqp listener: %w", err)
			}
			log.Info("amqp listening on " + ln.Addr().String())
			go func() { errc <- srv.Serve(ln) }()
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
