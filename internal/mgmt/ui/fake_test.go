package ui_test

// TEST FIXTURE: a fake management API. It answers the endpoints the UI
// calls with canned, RabbitMQ-shaped JSON (the field names of RabbitMQ
// 3.10's HTTP API) and keeps just enough state (queues, messages,
// bindings, users, permissions, policies, limits) for the UI's forms to
// round-trip. It lets the UI tests run without a broker and draw every
// page with realistic data; the tests against a real node are in
// warren_test.go.

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"github.com/warrenmq/warren/internal/mgmt/ui"
	"math"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"
)

type fakeMsg struct {
	Exchange, RoutingKey string
	Payload              string
	Props                map[string]any
	Redelivered          bool
}

type fakeQueue struct {
	Name, Vhost         string
	Durable, AutoDelete bool
	Args                map[string]any
	Msgs                []fakeMsg
	Unacked             int
	Consumers           int
}

type fakeBinding struct {
	Vhost, Source, Dest, DestType, Key string
	Args                               map[string]any
}

type fakeUser struct {
	Name, Password string
	Tags           []string
}

type fakeAPI struct {
	mu          sync.Mutex
	start       time.Time
	vhosts      []string
	users       map[string]*fakeUser
	perms       map[[2]string][3]string // {vhost,user} -> configure, write, read
	queues      map[[2]string]*fakeQueue
	queueOrder  []string
	exchanges   map[[2]string]map[string]any
	bindings    []fakeBinding
	policies    map[[2]string]map[string]any
	opPolicies  map[[2]string]map[string]any // operator policies
	vhostLimits map[string]map[string]any
	published   int
}

func newFakeAPI() *fakeAPI {
	f := &fakeAPI{
		start:       time.Now(),
		vhosts:      []string{"/", "staging"},
		users:       map[string]*fakeUser{},
		perms:       map[[2]string][3]string{},
		queues:      map[[2]string]*fakeQueue{},
		exchanges:   map[[2]string]map[string]any{},
		policies:    map[[2]string]map[string]any{},
		opPolicies:  map[[2]string]map[string]any{},
		vhostLimits: map[string]map[string]any{"staging": {"max-connections": 100}},
	}
	f.users["guest"] = &fakeUser{"guest", "guest", []string{"administrator"}}
	f.users["monitor"] = &fakeUser{"monitor", "monitor", []string{"monitoring"}}
	f.perms[[2]string{"/", "guest"}] = [3]string{".*", ".*", ".*"}
	f.perms[[2]string{"staging", "guest"}] = [3]string{".*", ".*", ".*"}
	for _, v := range f.vhosts {
		for _, e := range [][2]string{{"", "direct"}, {"amq.direct", "direct"}, {"amq.fanout", "fanout"}, {"amq.headers", "headers"}, {"amq.match", "headers"}, {"amq.topic", "topic"}, {"amq.rabbitmq.trace", "topic"}} {
			f.exchanges[[2]string{v, e[0]}] = map[string]any{"name": e[0], "vhost": v, "type": e[1], "durable": true, "auto_delete": false, "internal": e[0] == "amq.rabbitmq.trace", "arguments": map[string]any{}}
		}
	}
	f.exchanges[[2]string{"/", "orders"}] = map[string]any{"name": "orders", "vhost": "/", "type": "topic", "durable": true, "auto_delete": false, "internal": false, "arguments": map[string]any{"alternate-exchange": "unrouted"}}
	for i, n := range []string{"orders.created", "orders.paid", "orders.shipped", "billing.invoices", "email.outbox", "audit.log"} {
		q := f.addQueue("/", n, true, map[string]any{"x-queue-type": "classic"})
		for j := 0; j < (i*37)%120; j++ {
			q.Msgs = append(q.Msgs, fakeMsg{Exchange: "orders", RoutingKey: n, Payload: fmt.Sprintf(`{"order":%d}`, j)})
		}
		q.Unacked = i * 3
		q.Consumers = i % 3
		f.bindings = append(f.bindings, fakeBinding{"/", "orders", n, "queue", n, map[string]any{}})
	}
	f.addQueue("/", "dead.letters", true, map[string]any{"x-queue-type": "quorum", "x-max-length": 10000.0})
	f.addQueue("staging", "test.queue", false, map[string]any{})
	f.policies[[2]string{"/", "ttl"}] = map[string]any{"vhost": "/", "name": "ttl", "pattern": "^orders\\.", "apply-to": "queues", "definition": map[string]any{"message-ttl": 3600000.0, "max-length": 50000.0}, "priority": 0}
	f.opPolicies[[2]string{"/", "cap"}] = map[string]any{"vhost": "/", "name": "cap", "pattern": ".*", "apply-to": "queues", "definition": map[string]any{"max-length": 100000.0}, "priority": 0}
	return f
}

func (f *fakeAPI) addQueue(vhost, name string, durable bool, args map[string]any) *fakeQueue {
	q := &fakeQueue{Name: name, Vhost: vhost, Durable: durable, Args: args}
	k := [2]string{vhost, name}
	if _, ok := f.queues[k]; !ok {
		f.queueOrder = append(f.queueOrder, vhost+"\x00"+name)
	}
	f.queues[k] = q
	return q
}

func (f *fakeAPI) server(t testing.TB) *httptest.Server {
	mux := http.NewServeMux()
	mux.HandleFunc("/api/", f.serveAPI)
	mux.Handle("/", ui.Handler())
	ts := httptest.NewServer(mux)
	t.Cleanup(ts.Close)
	return ts
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-cache")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(v)
}

func apiError(w http.ResponseWriter, code int, err, reason string) {
	writeJSON(w, code, map[string]string{"error": err, "reason": reason})
}

// segments splits the escaped path after /api/ into unescaped segments.
func segments(r *http.Request) []string {
	p := strings.TrimPrefix(r.URL.EscapedPath(), "/api/")
	p = strings.TrimSuffix(p, "/")
	if p == "" {
		return nil
	}
	parts := strings.Split(p, "/")
	for i, s := range parts {
		if u, err := url.PathUnescape(s); err == nil {
			parts[i] = u
		}
	}
	return parts
}

func (f *fakeAPI) auth(r *http.Request) *fakeUser {
	u, p, ok := r.BasicAuth()
	if !ok {
		return nil
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	usr := f.users[u]
	if usr == nil || usr.Password != p {
		return nil
	}
	return usr
}

func has(tags []string, t string) bool {
	for _, x := range tags {
		if x == t {
			return true
		}
	}
	return false
}

// visible reports whether u may see objects in vhost v.
func (f *fakeAPI) visible(u *fakeUser, v string) bool {
	if has(u.Tags, "administrator") || has(u.Tags, "monitoring") {
		return true
	}
	_, ok := f.perms[[2]string{v, u.Name}]
	return ok
}

func (f *fakeAPI) serveAPI(w http.ResponseWriter, r *http.Request) {
	u := f.auth(r)
	if u == nil {
		apiError(w, 401, "not_authorized", "Login failed")
		return
	}
	seg := segments(r)
	if len(seg) == 0 {
		http.NotFound(w, r)
		return
	}
	admin := has(u.Tags, "administrator")
	monitor := admin || has(u.Tags, "monitoring")
	f.mu.Lock()
	defer f.mu.Unlock()
	var body map[string]any
	if r.Method == "PUT" || r.Method == "POST" {
		json.NewDecoder(r.Body).Decode(&body)
	}
	m := r.Method
	switch {
	case seg[0] == "whoami":
		writeJSON(w, 200, map[string]any{"name": u.Name, "tags": u.Tags})
	case seg[0] == "overview":
		writeJSON(w, 200, f.overview(r, u))
	case seg[0] == "nodes":
		if !monitor {
			apiError(w, 401, "not_authorised", "Not monitor user")
			return
		}
		writeJSON(w, 200, []any{map[string]any{
			"name": "warren@fake", "type": "disc", "running": true, "uptime": time.Since(f.start).Milliseconds() + 3*86400e3,
			"mem_used": 187 << 20, "mem_limit": 9830 << 20, "mem_alarm": false,
			"disk_free": 41 << 30, "disk_free_limit": 50 << 20, "disk_free_alarm": false,
			"fd_used": 143, "fd_total": 1048576, "sockets_used": 12, "sockets_total": 943629, "proc_used": 530, "proc_total": 1048576,
		}})
	case seg[0] == "vhosts" && len(seg) == 1:
		var out []any
		for _, v := range f.vhosts {
			if f.visible(u, v) {
				out = append(out, f.vhostJSON(v))
			}
		}
		writeJSON(w, 200, out)
	case seg[0] == "vhosts" && len(seg) == 2:
		switch m {
		case "GET":
			writeJSON(w, 200, f.vhostJSON(seg[1]))
		case "PUT":
			if !admin {
				apiError(w, 401, "not_authorised", "Not administrator user")
				return
			}
			f.vhosts = append(f.vhosts, seg[1])
			w.WriteHeader(201)
		case "DELETE":
			w.WriteHeader(204)
		}
	case seg[0] == "vhosts" && len(seg) == 3 && seg[2] == "permissions":
		writeJSON(w, 200, f.permList(func(v, _ string) bool { return v == seg[1] }))
	case (seg[0] == "vhosts" && len(seg) == 3 && seg[2] == "connections") || (seg[0] == "connections" && len(seg) == 1):
		writeJSON(w, 200, paged(r, f.connections(u), "name"))
	case (seg[0] == "vhosts" && len(seg) == 3 && seg[2] == "channels") || (seg[0] == "channels" && len(seg) == 1):
		writeJSON(w, 200, paged(r, f.channels(u), "name"))
	case seg[0] == "connections" && len(seg) == 2 && m == "DELETE":
		w.WriteHeader(204)
	case seg[0] == "connections" && len(seg) == 2:
		for _, c := range f.connections(u) {
			if c["name"] == seg[1] {
				writeJSON(w, 200, c)
				return
			}
		}
		apiError(w, 404, "Object Not Found", "Not Found")
	case seg[0] == "connections" && len(seg) == 3:
		var out []map[string]any
		for _, c := range f.channels(u) {
			if c["connection_details"].(map[string]any)["name"] == seg[1] {
				out = append(out, c)
			}
		}
		writeJSON(w, 200, out)
	case seg[0] == "channels" && len(seg) == 2:
		for _, c := range f.channels(u) {
			if c["name"] == seg[1] {
				writeJSON(w, 200, c)
				return
			}
		}
		apiError(w, 404, "Object Not Found", "Not Found")
	case seg[0] == "queues":
		f.serveQueues(w, r, u, seg, body)
	case seg[0] == "exchanges":
		f.serveExchanges(w, r, u, seg, body)
	case seg[0] == "bindings" && len(seg) == 6 && m == "POST":
		f.bindings = append(f.bindings, fakeBinding{seg[1], seg[3], seg[5], map[string]string{"q": "queue", "e": "exchange"}[seg[4]], fmt.Sprint(body["routing_key"]), map[string]any{}})
		w.Header().Set("Location", "x")
		w.WriteHeader(201)
	case seg[0] == "bindings" && len(seg) == 7 && m == "DELETE":
		for i, b := range f.bindings {
			if b.Vhost == seg[1] && b.Source == seg[3] && b.Dest == seg[5] && propsKey(b) == seg[6] {
				f.bindings = append(f.bindings[:i], f.bindings[i+1:]...)
				break
			}
		}
		w.WriteHeader(204)
	case seg[0] == "users" && len(seg) == 1:
		if !admin {
			apiError(w, 401, "not_authorised", "Not administrator user")
			return
		}
		var out []any
		for _, n := range sortedKeys(f.users) {
			usr := f.users[n]
			out = append(out, map[string]any{"name": usr.Name, "tags": usr.Tags, "password_hash": "kI3GCqW5JLMJa4iX1lo7X4D6XbYqlLgxIs30+P6tENUV2POR", "hashing_algorithm": "rabbit_password_hashing_sha256", "limits": map[string]any{}})
		}
		writeJSON(w, 200, out)
	case seg[0] == "users" && len(seg) == 2:
		if !admin {
			apiError(w, 401, "not_authorised", "Not administrator user")
			return
		}
		switch m {
		case "GET":
			usr := f.users[seg[1]]
			if usr == nil {
				apiError(w, 404, "Object Not Found", "Not Found")
				return
			}
			writeJSON(w, 200, map[string]any{"name": usr.Name, "tags": usr.Tags, "password_hash": "x", "hashing_algorithm": "rabbit_password_hashing_sha256"})
		case "PUT":
			pw, _ := body["password"].(string)
			if old := f.users[seg[1]]; old != nil && pw == "" {
				pw = old.Password
			}
			var tags []string
			for _, t := range strings.Split(fmt.Sprint(body["tags"]), ",") {
				if t = strings.TrimSpace(t); t != "" {
					tags = append(tags, t)
				}
			}
			f.users[seg[1]] = &fakeUser{seg[1], pw, tags}
			w.WriteHeader(201)
		case "DELETE":
			delete(f.users, seg[1])
			w.WriteHeader(204)
		}
	case seg[0] == "users" && len(seg) == 3 && seg[2] == "permissions":
		writeJSON(w, 200, f.permList(func(_, usr string) bool { return usr == seg[1] }))
	case seg[0] == "users" && len(seg) == 3 && seg[2] == "topic-permissions":
		writeJSON(w, 200, []any{})
	case seg[0] == "permissions" && len(seg) == 1:
		if !admin {
			apiError(w, 401, "not_authorised", "Not administrator user")
			return
		}
		writeJSON(w, 200, f.permList(func(string, string) bool { return true }))
	case seg[0] == "permissions" && len(seg) == 3:
		k := [2]string{seg[1], seg[2]}
		if m == "PUT" {
			f.perms[k] = [3]string{fmt.Sprint(body["configure"]), fmt.Sprint(body["write"]), fmt.Sprint(body["read"])}
			w.WriteHeader(201)
		} else if m == "DELETE" {
			delete(f.perms, k)
			w.WriteHeader(204)
		}
	case seg[0] == "policies" || seg[0] == "operator-policies":
		table := f.policies
		if seg[0] == "operator-policies" {
			table = f.opPolicies
		}
		switch {
		case m == "GET":
			var out []any
			for _, k := range sortedKeys2(table) {
				if len(seg) < 2 || k[0] == seg[1] {
					out = append(out, table[k])
				}
			}
			writeJSON(w, 200, out)
		case m == "PUT" && len(seg) == 3:
			body["vhost"], body["name"] = seg[1], seg[2]
			table[[2]string{seg[1], seg[2]}] = body
			w.WriteHeader(201)
		case m == "DELETE" && len(seg) == 3:
			delete(table, [2]string{seg[1], seg[2]})
			w.WriteHeader(204)
		}
	case seg[0] == "vhost-limits":
		switch {
		case m == "GET":
			var out []any
			for _, v := range f.vhosts {
				if l := f.vhostLimits[v]; len(l) > 0 {
					out = append(out, map[string]any{"vhost": v, "value": l})
				}
			}
			writeJSON(w, 200, out)
		case m == "PUT" && len(seg) == 3:
			if f.vhostLimits[seg[1]] == nil {
				f.vhostLimits[seg[1]] = map[string]any{}
			}
			f.vhostLimits[seg[1]][seg[2]] = body["value"]
			w.WriteHeader(204)
		case m == "DELETE" && len(seg) == 3:
			delete(f.vhostLimits[seg[1]], seg[2])
			w.WriteHeader(204)
		}
	case seg[0] == "user-limits":
		writeJSON(w, 200, []any{map[string]any{"user": "monitor", "value": map[string]any{"max-connections": 10}}})
	case seg[0] == "definitions":
		if m == "POST" {
			w.WriteHeader(204)
			return
		}
		writeJSON(w, 200, map[string]any{"rabbit_version": "3.10.8", "users": []any{}, "vhosts": []any{map[string]any{"name": "/"}}, "permissions": []any{}, "policies": []any{}, "queues": []any{}, "exchanges": []any{}, "bindings": []any{}})
	default:
		apiError(w, 404, "Object Not Found", "Not Found")
	}
}

func propsKey(b fakeBinding) string {
	if b.Key == "" {
		return "~"
	}
	return strings.NewReplacer("%", "%25", "/", "%2F").Replace(b.Key)
}

func sortedKeys[V any](m map[string]V) []string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

func sortedKeys2[V any](m map[[2]string]V) [][2]string {
	var ks [][2]string
	for k := range m {
		ks = append(ks, k)
	}
	sort.Slice(ks, func(i, j int) bool { return ks[i][0]+"\x00"+ks[i][1] < ks[j][0]+"\x00"+ks[j][1] })
	return ks
}

func (f *fakeAPI) permList(keep func(v, u string) bool) []any {
	out := []any{}
	for _, k := range sortedKeys2(f.perms) {
		if keep(k[0], k[1]) {
			p := f.perms[k]
			out = append(out, map[string]any{"vhost": k[0], "user": k[1], "configure": p[0], "write": p[1], "read": p[2]})
		}
	}
	return out
}

func (f *fakeAPI) vhostJSON(v string) map[string]any {
	ready := 0
	for _, q := range f.queues {
		if q.Vhost == v {
			ready += len(q.Msgs)
		}
	}
	return map[string]any{"name": v, "description": map[string]string{"/": "Default virtual host"}[v], "tags": []string{}, "tracing": false,
		"messages": ready, "messages_ready": ready, "messages_unacknowledged": 0,
		"message_stats": map[string]any{"publish": f.published, "publish_details": map[string]any{"rate": 12.4}}}
}

// wave is a smooth, made-up rate so the charts have something to draw.
func wave(t time.Time, base, amp, period float64) float64 {
	s := float64(t.UnixMilli()) / 1000
	return math.Max(0, base+amp*math.Sin(s/period)+amp/3*math.Sin(s/(period/3.1)))
}

func (f *fakeAPI) overview(r *http.Request, u *fakeUser) map[string]any {
	now := time.Now()
	ready, unacked := 0, 0
	for _, q := range f.queues {
		if f.visible(u, q.Vhost) {
			ready += len(q.Msgs)
			unacked += q.Unacked
		}
	}
	det := func(rate float64, base, amp, period float64, gauge bool, cur float64) map[string]any {
		d := map[string]any{"rate": rate}
		if age, _ := strconv.Atoi(r.URL.Query().Get("msg_rates_age")); age > 0 {
			incr, _ := strconv.Atoi(r.URL.Query().Get("msg_rates_incr"))
			if incr <= 0 {
				incr = 5
			}
			var smp []any
			count := 100000.0
			for i := 0; i <= age/incr+1; i++ {
				ts := now.Add(-time.Duration(i*incr) * time.Second)
				if gauge {
					smp = append(smp, map[string]any{"sample": math.Round(cur + wave(ts, 0, amp, period)), "timestamp": ts.UnixMilli()})
				} else {
					smp = append(smp, map[string]any{"sample": count, "timestamp": ts.UnixMilli()})
					count -= wave(ts, base, amp, period) * float64(incr)
				}
			}
			d["samples"] = smp
		}
		return d
	}
	pub := wave(now, 180, 60, 40)
	return map[string]any{
		"management_version": "3.10.8", "rates_mode": "basic", "rabbitmq_version": "3.10.8", "product_name": "Warren", "product_version": "0.1.0-dev",
		"cluster_name": "warren@fake", "erlang_version": "go1.26", "erlang_full_version": "Go 1.26 linux/amd64", "node": "warren@fake",
		"message_stats": map[string]any{
			"publish": f.published + 123456, "publish_details": det(pub, 180, 60, 40, false, 0),
			"confirm": 120000, "confirm_details": det(pub*0.9, 160, 50, 40, false, 0),
			"deliver_get": 120000, "deliver_get_details": det(wave(now, 170, 55, 37), 170, 55, 37, false, 0),
			"ack": 120000, "ack_details": det(wave(now, 165, 50, 37), 165, 50, 37, false, 0),
			"redeliver": 12, "redeliver_details": det(wave(now, 3, 2, 11), 3, 2, 11, false, 0),
		},
		"queue_totals": map[string]any{
			"messages": ready + unacked, "messages_details": det(0, 0, 0, 1, true, float64(ready+unacked)),
			"messages_ready": ready, "messages_ready_details": det(0, 0, 40, 30, true, float64(ready)),
			"messages_unacknowledged": unacked, "messages_unacknowledged_details": det(0, 0, 6, 20, true, float64(unacked)),
		},
		"object_totals": map[string]any{"connections": 3, "channels": 5, "exchanges": len(f.exchanges), "queues": len(f.queues), "consumers": 4},
		"listeners": []any{
			map[string]any{"node": "warren@fake", "protocol": "amqp", "ip_address": "::", "port": 5672},
			map[string]any{"node": "warren@fake", "protocol": "clustering", "ip_address": "::", "port": 25672},
			map[string]any{"node": "warren@fake", "protocol": "http", "ip_address": "::", "port": 15672},
			map[string]any{"node": "warren@fake", "protocol": "http/prometheus", "ip_address": "::", "port": 15692},
		},
	}
}

func (f *fakeAPI) connections(u *fakeUser) []map[string]any {
	var out []map[string]any
	clients := []string{"RabbitMQ .NET client 6.4.0", "amqp091-go 1.16.0", "pika 1.3.2"}
	for i, c := range clients {
		parts := strings.SplitN(c, " ", 2)
		name := fmt.Sprintf("127.0.0.1:%d -> 127.0.0.1:5672", 52110+i)
		out = append(out, map[string]any{
			"name": name, "vhost": "/", "user": "guest", "state": "running", "protocol": "AMQP 0-9-1", "ssl": i == 0, "channels": i + 1,
			"peer_host": "127.0.0.1", "peer_port": 52110 + i, "host": "127.0.0.1", "port": 5672, "node": "warren@fake", "auth_mechanism": "PLAIN",
			"timeout": 60, "frame_max": 131072, "channel_max": 2047, "connected_at": time.Now().Add(-time.Duration(i+1) * time.Hour).UnixMilli(),
			"recv_oct": 1 << (20 + i), "recv_oct_details": map[string]any{"rate": 20480.0 * float64(i+1)}, "send_oct": 1 << (19 + i), "send_oct_details": map[string]any{"rate": 10240.0 * float64(i+1)},
			"client_properties": map[string]any{"product": parts[0], "version": parts[1], "platform": "Go", "capabilities": map[string]any{"publisher_confirms": true}},
		})
	}
	return out
}

func (f *fakeAPI) channels(u *fakeUser) []map[string]any {
	var out []map[string]any
	for i, c := range f.connections(u) {
		for j := 1; j <= c["channels"].(int); j++ {
			out = append(out, map[string]any{
				"name": fmt.Sprintf("%s (%d)", c["name"], j), "number": j, "vhost": "/", "user": "guest", "state": "running", "node": "warren@fake",
				"confirm": j == 1, "transactional": false, "consumer_count": (i + j) % 3, "prefetch_count": 50, "global_prefetch_count": 0,
				"messages_unacknowledged": i * j, "messages_unconfirmed": 0, "messages_uncommitted": 0, "acks_uncommitted": 0,
				"connection_details": map[string]any{"name": c["name"], "peer_host": "127.0.0.1", "peer_port": c["peer_port"]},
				"message_stats":      map[string]any{"publish_details": map[string]any{"rate": 40.0 * float64(j)}, "deliver_get_details": map[string]any{"rate": 38.5}, "ack_details": map[string]any{"rate": 38.0}},
				"consumer_details":   []any{},
			})
		}
	}
	return out
}

func (f *fakeAPI) queueJSON(q *fakeQueue) map[string]any {
	typ := "classic"
	if t, ok := q.Args["x-queue-type"].(string); ok {
		typ = t
	}
	n := len(q.Msgs)
	bytes := 0
	for _, m := range q.Msgs {
		bytes += len(m.Payload)
	}
	j := map[string]any{
		"name": q.Name, "vhost": q.Vhost, "durable": q.Durable, "auto_delete": q.AutoDelete, "exclusive": false, "arguments": q.Args,
		"type": typ, "state": "running", "node": "warren@fake", "consumers": q.Consumers, "policy": nil, "operator_policy": "cap",
		"messages_ready": n, "messages_unacknowledged": q.Unacked, "messages": n + q.Unacked, "message_bytes": bytes, "memory": 14000 + 120*n,
		"message_stats": map[string]any{
			"publish": 1000, "publish_details": map[string]any{"rate": float64(n%13) * 1.5},
			"deliver_get": 990, "deliver_get_details": map[string]any{"rate": float64(n%11) * 1.2},
			"ack": 980, "ack_details": map[string]any{"rate": float64(n%11) * 1.1},
		},
		"consumer_details": []any{},
	}
	if strings.HasPrefix(q.Name, "orders.") {
		j["policy"] = "ttl"
		j["effective_policy_definition"] = map[string]any{"message-ttl": 3600000, "max-length": 50000}
	} else {
		j["effective_policy_definition"] = map[string]any{"max-length": 100000} // operator policy "cap"
	}
	if q.Consumers > 0 {
		var cd []any
		for i := 0; i < q.Consumers; i++ {
			cd = append(cd, map[string]any{"consumer_tag": fmt.Sprintf("amq.ctag-%d-%s", i, strings.ReplaceAll(q.Name, ".", "")), "ack_required": true, "exclusive": false, "prefetch_count": 50, "active": true, "arguments": map[string]any{},
				"channel_details": map[string]any{"name": "127.0.0.1:52111 -> 127.0.0.1:5672 (1)"}, "queue": map[string]any{"name": q.Name, "vhost": q.Vhost}})
		}
		j["consumer_details"] = cd
		j["consumer_utilisation"] = 0.97
	}
	return j
}

// paged applies RabbitMQ's pagination parameters to a list, or returns
// it whole when there are none.
func paged(r *http.Request, items []map[string]any, defSort string) any {
	q := r.URL.Query()
	sortKey := q.Get("sort")
	if sortKey != "" {
		rev := q.Get("sort_reverse") == "true"
		get := func(m map[string]any) any {
			var v any = m
			for _, k := range strings.Split(sortKey, ".") {
				mm, ok := v.(map[string]any)
				if !ok {
					return nil
				}
				v = mm[k]
			}
			return v
		}
		sort.SliceStable(items, func(i, j int) bool {
			a, b := get(items[i]), get(items[j])
			less := false
			switch x := a.(type) {
			case int:
				y, _ := b.(int)
				less = x < y
			case float64:
				y, _ := b.(float64)
				less = x < y
			default:
				less = fmt.Sprint(a) < fmt.Sprint(b)
			}
			if rev {
				return !less && fmt.Sprint(a) != fmt.Sprint(b)
			}
			return less
		})
	}
	if q.Get("page") == "" {
		return items
	}
	total := len(items)
	if name := q.Get("name"); name != "" {
		var re *regexp.Regexp
		if q.Get("use_regex") == "true" {
			re, _ = regexp.Compile(name)
		}
		var out []map[string]any
		for _, it := range items {
			n := fmt.Sprint(it["name"])
			if (re != nil && re.MatchString(n)) || (re == nil && strings.Contains(n, name)) {
				out = append(out, it)
			}
		}
		items = out
	}
	page, _ := strconv.Atoi(q.Get("page"))
	size, _ := strconv.Atoi(q.Get("page_size"))
	if size <= 0 {
		size = 100
	}
	pages := max(1, (len(items)+size-1)/size)
	if page < 1 || page > pages {
		page = min(max(page, 1), pages)
	}
	lo, hi := (page-1)*size, min(page*size, len(items))
	return map[string]any{"filtered_count": len(items), "item_count": hi - lo, "items": items[lo:hi], "page": page, "page_count": pages, "page_size": size, "total_count": total}
}

func (f *fakeAPI) serveQueues(w http.ResponseWriter, r *http.Request, u *fakeUser, seg []string, body map[string]any) {
	m := r.Method
	if len(seg) <= 2 {
		var items []map[string]any
		for _, k := range f.queueOrder {
			vn := strings.SplitN(k, "\x00", 2)
			if (len(seg) == 2 && vn[0] != seg[1]) || !f.visible(u, vn[0]) {
				continue
			}
			if q := f.queues[[2]string{vn[0], vn[1]}]; q != nil {
				items = append(items, f.queueJSON(q))
			}
		}
		writeJSON(w, 200, paged(r, items, "name"))
		return
	}
	k := [2]string{seg[1], seg[2]}
	q := f.queues[k]
	if len(seg) == 3 {
		switch m {
		case "PUT":
			if !f.visible(u, seg[1]) {
				apiError(w, 401, "not_authorised", "access to vhost refused")
				return
			}
			args, _ := body["arguments"].(map[string]any)
			dur, _ := body["durable"].(bool)
			f.addQueue(seg[1], seg[2], dur, args)
			f.bindings = append(f.bindings, fakeBinding{seg[1], "", seg[2], "queue", seg[2], map[string]any{}})
			w.WriteHeader(201)
			return
		case "DELETE":
			delete(f.queues, k)
			w.WriteHeader(204)
			return
		}
	}
	if q == nil || !f.visible(u, seg[1]) {
		apiError(w, 404, "Object Not Found", "Not Found")
		return
	}
	switch {
	case len(seg) == 3:
		writeJSON(w, 200, f.queueJSON(q))
	case seg[3] == "contents" && m == "DELETE":
		q.Msgs = nil
		w.WriteHeader(204)
	case seg[3] == "bindings":
		var out []any
		out = append(out, map[string]any{"source": "", "vhost": q.Vhost, "destination": q.Name, "destination_type": "queue", "routing_key": q.Name, "arguments": map[string]any{}, "properties_key": q.Name})
		for _, b := range f.bindings {
			if b.Vhost == q.Vhost && b.Dest == q.Name && b.Source != "" {
				out = append(out, map[string]any{"source": b.Source, "vhost": b.Vhost, "destination": b.Dest, "destination_type": b.DestType, "routing_key": b.Key, "arguments": b.Args, "properties_key": propsKey(b)})
			}
		}
		writeJSON(w, 200, out)
	case seg[3] == "get" && m == "POST":
		count := 1
		if c, ok := body["count"].(float64); ok {
			count = int(c)
		}
		requeue := strings.HasSuffix(fmt.Sprint(body["ackmode"]), "true")
		var out []any
		for i := 0; i < count && i < len(q.Msgs); i++ {
			msg := q.Msgs[i]
			enc := "string"
			payload := msg.Payload
			if body["encoding"] == "base64" || !utf8.ValidString(payload) {
				enc, payload = "base64", base64.StdEncoding.EncodeToString([]byte(payload))
			}
			props := msg.Props
			if props == nil {
				props = map[string]any{}
			}
			out = append(out, map[string]any{"payload_bytes": len(msg.Payload), "redelivered": msg.Redelivered, "exchange": msg.Exchange, "routing_key": msg.RoutingKey,
				"message_count": len(q.Msgs) - i - 1, "properties": props, "payload": payload, "payload_encoding": enc})
			q.Msgs[i].Redelivered = true
		}
		if !requeue {
			q.Msgs = q.Msgs[min(count, len(q.Msgs)):]
		}
		if out == nil {
			out = []any{}
		}
		writeJSON(w, 200, out)
	default:
		apiError(w, 404, "Object Not Found", "Not Found")
	}
}

func (f *fakeAPI) serveExchanges(w http.ResponseWriter, r *http.Request, u *fakeUser, seg []string, body map[string]any) {
	m := r.Method
	if len(seg) >= 3 && seg[2] == "amq.default" {
		seg[2] = ""
	}
	if len(seg) <= 2 {
		var items []map[string]any
		for _, k := range sortedKeys2(f.exchanges) {
			if (len(seg) == 2 && k[0] != seg[1]) || !f.visible(u, k[0]) {
				continue
			}
			e := f.exchanges[k]
			e["message_stats"] = map[string]any{"publish_in_details": map[string]any{"rate": wave(time.Now(), 20, 8, 15)}, "publish_out_details": map[string]any{"rate": wave(time.Now(), 18, 7, 15)}}
			items = append(items, e)
		}
		writeJSON(w, 200, paged(r, items, "name"))
		return
	}
	k := [2]string{seg[1], seg[2]}
	if len(seg) == 3 && m == "PUT" {
		body["name"], body["vhost"] = seg[2], seg[1]
		f.exchanges[k] = body
		w.WriteHeader(201)
		return
	}
	e := f.exchanges[k]
	if e == nil || !f.visible(u, seg[1]) {
		apiError(w, 404, "Object Not Found", "Not Found")
		return
	}
	switch {
	case len(seg) == 3 && m == "DELETE":
		delete(f.exchanges, k)
		w.WriteHeader(204)
	case len(seg) == 3:
		e["message_stats"] = map[string]any{"publish_in": f.published, "publish_in_details": map[string]any{"rate": wave(time.Now(), 20, 8, 15)}, "publish_out_details": map[string]any{"rate": wave(time.Now(), 18, 7, 15)}}
		writeJSON(w, 200, e)
	case len(seg) == 5 && seg[3] == "bindings":
		out := []any{}
		for _, b := range f.bindings {
			if b.Vhost == seg[1] && ((seg[4] == "source" && b.Source == seg[2] && b.Source != "") || (seg[4] == "destination" && b.DestType == "exchange" && b.Dest == seg[2])) {
				out = append(out, map[string]any{"source": b.Source, "vhost": b.Vhost, "destination": b.Dest, "destination_type": b.DestType, "routing_key": b.Key, "arguments": b.Args, "properties_key": propsKey(b)})
			}
		}
		writeJSON(w, 200, out)
	case len(seg) == 4 && seg[3] == "publish" && m == "POST":
		rk := fmt.Sprint(body["routing_key"])
		payload := fmt.Sprint(body["payload"])
		if body["payload_encoding"] == "base64" {
			b, err := base64.StdEncoding.DecodeString(payload)
			if err != nil {
				apiError(w, 400, "bad_request", "payload is not base64")
				return
			}
			payload = string(b)
		}
		props, _ := body["properties"].(map[string]any)
		routed := false
		for _, b := range f.bindings {
			if b.Vhost == seg[1] && b.Source == seg[2] && b.Key == rk && b.DestType == "queue" {
				if q := f.queues[[2]string{seg[1], b.Dest}]; q != nil {
					q.Msgs = append(q.Msgs, fakeMsg{Exchange: seg[2], RoutingKey: rk, Payload: payload, Props: props})
					routed = true
				}
			}
		}
		if seg[2] == "" {
			if q := f.queues[[2]string{seg[1], rk}]; q != nil && !routed {
				q.Msgs = append(q.Msgs, fakeMsg{Exchange: "", RoutingKey: rk, Payload: payload, Props: props})
				routed = true
			}
		}
		f.published++
		writeJSON(w, 200, map[string]any{"routed": routed})
	default:
		apiError(w, 404, "Object Not Found", "Not Found")
	}
}
