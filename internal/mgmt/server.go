// Package mgmt is Warren's management HTTP API, in RabbitMQ's shape (the
// same paths, methods, status codes and JSON field names, so rabbitmqadmin,
// monitoring plugins and scripts work unchanged), the health checks, and
// the Prometheus metrics. It serves the embedded web UI at /.
//
// Reads go straight to the broker's objects and their atomic counters;
// rates (the *_details objects) come from a sampler that reads those
// counters every few seconds, so no request walks messages. Writes go
// through broker.Apply like every other metadata change.
package mgmt

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/warrenmq/warren/internal/amqpserver"
	"github.com/warrenmq/warren/internal/broker"
	"github.com/warrenmq/warren/internal/mgmt/apitypes"
	"github.com/warrenmq/warren/internal/resource"
)

// Config wires the management server.
type Config struct {
	Log    *slog.Logger
	Broker *broker.Broker
	AMQP   *amqpserver.Server
	// Resources reports memory, disk and alarms; nil reads them directly
	// with no alarm thresholds.
	Resources func() resource.Status
	// Limits are the alarm thresholds shown on the node (mem_limit,
	// disk_free_limit).
	Limits      resource.Limits
	NodeName    string // e.g. warren@host
	ClusterName string
	Version     string
	DataDir     string
	// Listeners reports the bound listeners (amqp, http, metrics, ...) by
	// name → host:port; called per request, so late binds show.
	Listeners func() map[string]string
	// UI is served at / (and /static/...); nil serves no UI.
	UI http.Handler
	// SampleInterval is how often rates are sampled; default 5s.
	SampleInterval time.Duration
	// LoopbackUsers may log in from loopback addresses only
	// (loopback_users); nil means ["guest"], as RabbitMQ, empty means none.
	LoopbackUsers []string
}

// Server is the management API.
type Server struct {
	cfg     Config
	log     *slog.Logger
	mux     *http.ServeMux
	rates   *rates
	started time.Time
	loop    map[string]bool
	lt      *loadTests
}

// New makes a server; call Run to sample rates and Handler to serve.
func New(cfg Config) *Server {
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	if cfg.SampleInterval <= 0 {
		cfg.SampleInterval = 5 * time.Second
	}
	if cfg.NodeName == "" {
		h, _ := os.Hostname()
		cfg.NodeName = "warren@" + h
	}
	if cfg.ClusterName == "" {
		cfg.ClusterName = cfg.NodeName
	}
	if cfg.Version == "" {
		cfg.Version = "dev"
	}
	s := &Server{cfg: cfg, log: cfg.Log, mux: http.NewServeMux(), rates: newRates(), started: time.Now(),
		loop: map[string]bool{}}
	if cfg.LoopbackUsers == nil {
		cfg.LoopbackUsers = []string{"guest"}
	}
	for _, u := range cfg.LoopbackUsers {
		s.loop[u] = true
	}
	s.lt = newLoadTests(s)
	s.routes()
	return s
}

// Run samples rates until ctx ends.
func (s *Server) Run(ctx context.Context) {
	t := time.NewTicker(s.cfg.SampleInterval)
	defer t.Stop()
	s.sample(time.Now())
	for {
		select {
		case <-ctx.Done():
			s.lt.close() // load tests end with the server
			return
		case now := <-t.C:
			s.sample(now)
		}
	}
}

// Serve serves the API (and the UI) on ln until ctx ends.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	return ServeHandler(ctx, ln, s.Handler(), s.log)
}

// slashMark stands for an escaped slash (%2F) inside a path segment while
// the request goes through http.ServeMux, which would otherwise take a
// segment "%2F" (the default vhost) for a trailing slash. pathValue turns
// it back.
const slashMark = "\uE000"

// Handler is the whole HTTP surface: /api/..., and the UI at /.
func (s *Server) Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if ep := r.URL.EscapedPath(); strings.Contains(ep, "%2F") || strings.Contains(ep, "%2f") {
			ep = strings.ReplaceAll(strings.ReplaceAll(ep, "%2F", "%EE%80%80"), "%2f", "%EE%80%80")
			if p, err := url.PathUnescape(ep); err == nil {
				r2 := r.Clone(r.Context())
				r2.URL.Path, r2.URL.RawPath = p, ep
				r = r2
			}
		}
		s.mux.ServeHTTP(w, r)
	})
}

func pathValue(r *http.Request, name string) string {
	return strings.ReplaceAll(r.PathValue(name), slashMark, "/")
}

// --- responses ---

// apiError is an error with its HTTP status and RabbitMQ's error/reason.
type apiError struct {
	status int
	kind   string // "error" field
	reason string
}

func (e *apiError) Error() string { return e.reason }

var errNotFound = &apiError{http.StatusNotFound, "Object Not Found", "Not Found"}

func badRequest(format string, args ...any) *apiError {
	return &apiError{http.StatusBadRequest, "bad_request", sprintf(format, args...)}
}

func notAuthorised(reason string) *apiError {
	return &apiError{http.StatusUnauthorized, "not_authorised", reason}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-cache")
	w.Header().Set("Vary", "accept, accept-encoding, origin")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
}

// writeJSONList writes a list item by item through a buffer, so a long
// list (10,000 queues) is never held whole in memory as JSON.
func writeJSONList[T any](w http.ResponseWriter, items []T) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-cache")
	w.Header().Set("Vary", "accept, accept-encoding, origin")
	w.WriteHeader(http.StatusOK)
	bw := bufio.NewWriterSize(w, 64<<10)
	enc := json.NewEncoder(bw)
	enc.SetEscapeHTML(false)
	bw.WriteByte('[')
	for i := range items {
		if i > 0 {
			bw.WriteByte(',')
		}
		if err := enc.Encode(&items[i]); err != nil {
			return
		}
	}
	bw.WriteString("]\n")
	_ = bw.Flush()
}

func writeError(w http.ResponseWriter, err error) {
	var ae *apiError
	if !errors.As(err, &ae) {
		if be := broker.AsError(err); be != nil {
			ae = brokerError(be)
		} else {
			ae = &apiError{http.StatusInternalServerError, "internal_server_error", err.Error()}
		}
	}
	if ae.status == http.StatusUnauthorized && ae.kind == "not_authorized" {
		w.Header().Set("WWW-Authenticate", `Basic realm="RabbitMQ Management"`)
	}
	writeJSON(w, ae.status, apitypes.Error{Error: ae.kind, Reason: ae.reason})
}

// brokerError maps a broker error as RabbitMQ's management plugin does
// for the AMQP errors its operations raise.
func brokerError(be *broker.Error) *apiError {
	switch be.Kind {
	case broker.KindNotFound:
		return &apiError{http.StatusNotFound, "not_found", be.Text}
	case broker.KindAccessRefused, broker.KindResourceLocked:
		return notAuthorised("Access refused.")
	}
	return &apiError{http.StatusBadRequest, "bad_request", codeName(be.Kind) + " - " + be.Text}
}

func codeName(k broker.Kind) string {
	switch k {
	case broker.KindPreconditionFailed:
		return "PRECONDITION_FAILED"
	case broker.KindNotAllowed:
		return "NOT_ALLOWED"
	case broker.KindCommandInvalid:
		return "COMMAND_INVALID"
	case broker.KindNotImplemented:
		return "NOT_IMPLEMENTED"
	case broker.KindResourceError:
		return "RESOURCE_ERROR"
	}
	return "INTERNAL_ERROR"
}

// decode reads a JSON body into v; an empty body leaves v as it is.
func decode(r *http.Request, v any) error {
	body := http.MaxBytesReader(nil, r.Body, 256<<20)
	dec := json.NewDecoder(body)
	dec.UseNumber()
	if err := dec.Decode(v); err != nil {
		if errors.Is(err, errEOF) {
			return nil
		}
		return badRequest("%v", err)
	}
	return nil
}

// ServeHandler serves h on ln until ctx ends (for the metrics listener,
// which has its own handler).
func ServeHandler(ctx context.Context, ln net.Listener, h http.Handler, log *slog.Logger) error {
	hs := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second,
		ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelDebug)}
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = hs.Shutdown(sctx)
	}()
	err := hs.Serve(ln)
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}
