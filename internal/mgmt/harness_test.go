package mgmt_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/warrenmq/warren/internal/amqpserver"
	"github.com/warrenmq/warren/internal/auth"
	"github.com/warrenmq/warren/internal/broker"
	"github.com/warrenmq/warren/internal/mgmt"
)

// node is an in-process broker with its AMQP, HTTP API and metrics
// listeners on loopback ports.
type node struct {
	b       *broker.Broker
	srv     *amqpserver.Server
	api     *mgmt.Server
	amqp    string // host:port
	url     string // http://host:port
	metrics string // http://host:port/metrics
}

type testLog struct{ t testing.TB }

func (w testLog) Write(p []byte) (int, error) {
	defer func() { _ = recover() }()
	w.t.Logf("%s", p)
	return len(p), nil
}

// startNode starts a node; rates are sampled every 100ms, or every
// interval[0].
func startNode(t testing.TB, interval ...time.Duration) *node {
	t.Helper()
	sample := 100 * time.Millisecond
	if len(interval) > 0 {
		sample = interval[0]
	}
	log := slog.New(slog.NewTextHandler(testLog{t}, &slog.HandlerOptions{Level: slog.LevelError}))
	b, err := broker.New(broker.Config{Log: log, DefaultVhost: "/",
		DefaultUser: broker.DefaultUser{Name: "guest", PasswordHash: auth.HashPassword("guest")}})
	if err != nil {
		t.Fatal(err)
	}
	srv := amqpserver.New(amqpserver.Config{Log: log, Broker: b, LoopbackUsers: []string{"guest"}})
	aln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(aln)
	hln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	mln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addrs := map[string]string{"amqp": aln.Addr().String(), "http": hln.Addr().String(), "metrics": mln.Addr().String()}
	api := mgmt.New(mgmt.Config{Log: log, Broker: b, AMQP: srv, NodeName: "warren@test", DataDir: t.TempDir(),
		Listeners: func() map[string]string { return addrs }, SampleInterval: sample})
	ctx, cancel := context.WithCancel(context.Background())
	go api.Run(ctx)
	go api.Serve(ctx, hln)
	mh, err := api.MetricsHandler(prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	go mgmt.ServeHandler(ctx, mln, mh, log)
	t.Cleanup(func() {
		cancel()
		srv.Close()
	})
	return &node{b: b, srv: srv, api: api, amqp: aln.Addr().String(), url: "http://" + hln.Addr().String(),
		metrics: "http://" + mln.Addr().String() + "/metrics"}
}

func (n *node) amqpURL(user, pass, vhost string) string {
	return "amqp://" + user + ":" + pass + "@" + n.amqp + "/" + url.PathEscape(vhost)
}

// resp is an HTTP answer.
type resp struct {
	code   int
	body   []byte
	header http.Header
}

func (r resp) json(t testing.TB, v any) {
	t.Helper()
	if err := json.Unmarshal(r.body, v); err != nil {
		t.Fatalf("decode %s: %v", r.body, err)
	}
}

// obj decodes the body as one object.
func (r resp) obj(t testing.TB) map[string]any {
	t.Helper()
	var m map[string]any
	r.json(t, &m)
	return m
}

// list decodes the body as a list of objects.
func (r resp) list(t testing.TB) []map[string]any {
	t.Helper()
	var l []map[string]any
	r.json(t, &l)
	return l
}

// do sends a request as user:pass ("" user: no credentials).
func (n *node) do(t testing.TB, method, path, user, pass string, body any, hdr ...string) resp {
	t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	default:
		raw, _ := json.Marshal(b)
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequest(method, n.url+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if user != "" {
		req.SetBasicAuth(user, pass)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return resp{code: res.StatusCode, body: b, header: res.Header}
}

// guest sends a request as guest.
func (n *node) guest(t testing.TB, method, path string, body any, hdr ...string) resp {
	t.Helper()
	return n.do(t, method, path, "guest", "guest", body, hdr...)
}

// must asserts the status code.
func must(t testing.TB, r resp, code int) resp {
	t.Helper()
	if r.code != code {
		t.Fatalf("status %d, want %d: %s", r.code, code, r.body)
	}
	return r
}

// addUser creates a user with tags and, for each vhost given, full
// permissions there.
func (n *node) addUser(t testing.TB, name, tags string, vhosts ...string) {
	t.Helper()
	must(t, n.guest(t, "PUT", "/api/users/"+name, map[string]any{"password": name, "tags": tags}), http.StatusCreated)
	for _, v := range vhosts {
		must(t, n.guest(t, "PUT", "/api/permissions/"+url.PathEscape(v)+"/"+name,
			map[string]any{"configure": ".*", "write": ".*", "read": ".*"}), http.StatusCreated)
	}
}

func esc(s string) string { return url.PathEscape(s) }

func eventually(t testing.TB, d time.Duration, fn func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !fn() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met in time")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func jsonMarshal(v any) ([]byte, error) { return json.Marshal(v) }

func jsonDecode(r io.Reader, v any) error { return json.NewDecoder(r).Decode(v) }
