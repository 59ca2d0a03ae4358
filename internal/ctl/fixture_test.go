package ctl

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
)

// fixtureAPI is a TEST-ONLY stand-in for a node's management API in
// RabbitMQ 3.10.8's shape. It is not Warren (the end-to-end test runs
// warren ctl against a real Warren node): the monitoring lists answer the
// JSON captured from a real RabbitMQ node (testdata/rabbitmq-3.10.8, see
// its README), and users, vhosts, permissions, policies, queue deletes and
// definitions are kept in memory, answering with RabbitMQ's status codes
// and error bodies, so the write verbs and their error paths can be
// checked without a broker.
type fixtureAPI struct {
	t   testing.TB
	srv *httptest.Server

	mu       sync.Mutex
	users    map[string]map[string]any // name → GET /api/users/{name} object
	vhosts   []string
	vhostObj map[string]*object
	perms    map[[2]string]map[string]string // {vhost, user} → configure/write/read
	policies map[[2]string]map[string]any    // {vhost, name} → policy object
	queues   []*object                       // vhost / (queues.json), deletable
	imported []json.RawMessage               // bodies POSTed to /api/definitions
	log      []string                        // "METHOD /escaped/path?query body"

	// intercept, when set, may answer a request itself (error injection).
	intercept func(w http.ResponseWriter, r *http.Request) bool
}

const fixtureDir = "testdata/rabbitmq-3.10.8"

func fixtureFile(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(fixtureDir, name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func fixtureList(t testing.TB, name string) []*object {
	t.Helper()
	l, err := decodeList(fixtureFile(t, name))
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return l
}

// newFixtureAPI starts the fixture; it is closed when the test ends.
func newFixtureAPI(t testing.TB) *fixtureAPI {
	f := &fixtureAPI{t: t, users: map[string]map[string]any{}, vhostObj: map[string]*object{},
		perms: map[[2]string]map[string]string{}, policies: map[[2]string]map[string]any{}}
	for _, u := range fixtureList(t, "users.json") {
		f.users[u.get("name").(string)] = plain(u)
	}
	for _, v := range fixtureList(t, "vhosts.json") {
		name := v.get("name").(string)
		f.vhosts = append(f.vhosts, name)
		f.vhostObj[name] = v
	}
	var defs struct {
		Permissions []map[string]string `json:"permissions"`
	}
	if err := json.Unmarshal(fixtureFile(t, "definitions.json"), &defs); err != nil {
		t.Fatal(err)
	}
	for _, p := range defs.Permissions {
		f.perms[[2]string{p["vhost"], p["user"]}] = map[string]string{"configure": p["configure"], "write": p["write"], "read": p["read"]}
	}
	for _, p := range fixtureList(t, "policies.json") {
		f.policies[[2]string{"/", p.get("name").(string)}] = plain(p)
	}
	f.queues = fixtureList(t, "queues.json")
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	return f
}

// plain converts an ordered object to a map for re-encoding.
func plain(o *object) map[string]any {
	var m map[string]any
	b, _ := marshal(o)
	_ = json.Unmarshal(b, &m)
	return m
}

func (f *fixtureAPI) URL() string { return f.srv.URL }

// setIntercept installs (or with nil removes) a function that may answer
// requests first. It runs without f.mu held.
func (f *fixtureAPI) setIntercept(fn func(w http.ResponseWriter, r *http.Request) bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.intercept = fn
}

// requests returns the requests seen so far, as "METHOD path?query body".
func (f *fixtureAPI) requests() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.log)
}

func (f *fixtureAPI) writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	switch b := v.(type) {
	case []byte:
		w.Write(b)
	default:
		enc := json.NewEncoder(w)
		enc.SetEscapeHTML(false)
		enc.Encode(v)
	}
}

func (f *fixtureAPI) notFound(w http.ResponseWriter) {
	f.writeJSON(w, http.StatusNotFound, map[string]string{"error": "Object Not Found", "reason": "Not Found"})
}

func (f *fixtureAPI) badRequest(w http.ResponseWriter, reason string) {
	f.writeJSON(w, http.StatusBadRequest, map[string]string{"error": "bad_request", "reason": reason})
}

func (f *fixtureAPI) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	entry := r.Method + " " + r.URL.EscapedPath()
	if r.URL.RawQuery != "" {
		entry += "?" + r.URL.RawQuery
	}
	if len(body) > 0 {
		entry += " " + string(body)
	}
	f.mu.Lock()
	f.log = append(f.log, entry)
	intercept := f.intercept
	f.mu.Unlock()
	if intercept != nil && intercept(w, r) {
		return
	}
	if u, p, ok := r.BasicAuth(); !ok || u != "guest" || p != "guest" {
		w.Header().Set("WWW-Authenticate", `Basic realm="RabbitMQ Management"`)
		f.writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "not_authorized", "reason": "Login failed"})
		return
	}
	var seg []string
	for _, s := range strings.Split(strings.TrimPrefix(r.URL.EscapedPath(), "/api/"), "/") {
		u, err := url.PathUnescape(s)
		if err != nil {
			f.notFound(w)
			return
		}
		seg = append(seg, u)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.route(w, r, seg, body)
}

func (f *fixtureAPI) hasVhost(v string) bool { return slices.Contains(f.vhosts, v) }

// route answers as RabbitMQ 3.10.8 does; f.mu is held.
func (f *fixtureAPI) route(w http.ResponseWriter, r *http.Request, seg []string, body []byte) {
	m, n := r.Method, len(seg)
	get := m == http.MethodGet
	canned := func(file string) { f.writeJSON(w, http.StatusOK, fixtureFile(f.t, file)) }
	// perVhost serves a canned list for /, [] for another vhost, 404 for none.
	perVhost := func(file string) {
		switch {
		case seg[1] == "/":
			canned(file)
		case f.hasVhost(seg[1]):
			f.writeJSON(w, http.StatusOK, []any{})
		default:
			f.notFound(w)
		}
	}
	switch {
	case get && n == 1 && seg[0] == "overview":
		canned("overview.json")
	case get && n == 1 && seg[0] == "nodes":
		canned("nodes.json")
	case get && n == 2 && seg[0] == "nodes":
		for _, o := range fixtureList(f.t, "nodes.json") {
			if o.get("name") == seg[1] {
				f.writeJSON(w, http.StatusOK, o)
				return
			}
		}
		f.notFound(w)
	case get && n == 1 && seg[0] == "feature-flags":
		f.writeJSON(w, http.StatusOK, []any{})
	case get && n == 1 && (seg[0] == "connections" || seg[0] == "channels"):
		canned(seg[0] + ".json")
	case get && n == 2 && (seg[0] == "exchanges" || seg[0] == "bindings" || seg[0] == "consumers"):
		perVhost(seg[0] + ".json")
	case get && n == 2 && seg[0] == "queues":
		if seg[1] == "/" {
			f.writeJSON(w, http.StatusOK, f.queues)
			return
		}
		perVhost("")

	case seg[0] == "queues" && n >= 3:
		i := slices.IndexFunc(f.queues, func(o *object) bool { return o.get("name") == seg[2] })
		if seg[1] != "/" || i < 0 {
			f.notFound(w)
			return
		}
		qo := f.queues[i]
		switch {
		case get && n == 3:
			f.writeJSON(w, http.StatusOK, qo)
		case m == http.MethodDelete && n == 4 && seg[3] == "contents":
			w.WriteHeader(http.StatusNoContent)
		case m == http.MethodDelete && n == 3:
			if r.URL.Query().Get("if-unused") == "true" && qo.get("consumers") != json.Number("0") {
				f.badRequest(w, fmt.Sprintf("queue '%s' in vhost '/' in use", seg[2]))
				return
			}
			if r.URL.Query().Get("if-empty") == "true" && qo.get("messages") != json.Number("0") {
				f.badRequest(w, fmt.Sprintf("queue '%s' in vhost '/' not empty", seg[2]))
				return
			}
			f.queues = slices.Delete(f.queues, i, i+1)
			w.WriteHeader(http.StatusNoContent)
		default:
			f.notFound(w)
		}

	case seg[0] == "users" && n == 1 && get:
		var names []string
		for u := range f.users {
			names = append(names, u)
		}
		slices.Sort(names)
		l := []any{}
		for _, u := range names {
			l = append(l, f.users[u])
		}
		f.writeJSON(w, http.StatusOK, l)
	case seg[0] == "users" && n == 2:
		u, ok := f.users[seg[1]]
		switch m {
		case http.MethodGet:
			if !ok {
				f.notFound(w)
				return
			}
			f.writeJSON(w, http.StatusOK, u)
		case http.MethodDelete:
			if !ok {
				f.notFound(w)
				return
			}
			delete(f.users, seg[1])
			w.WriteHeader(http.StatusNoContent)
		case http.MethodPut:
			var b struct {
				Password     *string `json:"password"`
				PasswordHash *string `json:"password_hash"`
				Tags         any     `json:"tags"`
			}
			if json.Unmarshal(body, &b) != nil {
				f.badRequest(w, "not_json")
				return
			}
			hash := "hash-of-random"
			switch {
			case b.Password != nil:
				hash = "hash-of-" + *b.Password
			case b.PasswordHash != nil:
				hash = *b.PasswordHash
			}
			tags := []any{}
			switch t := b.Tags.(type) {
			case string:
				for _, s := range strings.Split(t, ",") {
					if s != "" {
						tags = append(tags, s)
					}
				}
			case []any:
				tags = t
			}
			f.users[seg[1]] = map[string]any{"name": seg[1], "password_hash": hash,
				"hashing_algorithm": "rabbit_password_hashing_sha256", "tags": tags, "limits": map[string]any{}}
			if ok {
				w.WriteHeader(http.StatusNoContent)
			} else {
				w.WriteHeader(http.StatusCreated)
			}
		default:
			f.notFound(w)
		}

	case seg[0] == "vhosts" && n == 1 && get:
		l := []any{}
		for _, v := range f.vhosts {
			l = append(l, f.vhostObj[v])
		}
		f.writeJSON(w, http.StatusOK, l)
	case seg[0] == "vhosts" && n == 2:
		v := seg[1]
		switch m {
		case http.MethodGet:
			if !f.hasVhost(v) {
				f.notFound(w)
				return
			}
			f.writeJSON(w, http.StatusOK, f.vhostObj[v])
		case http.MethodPut:
			if f.hasVhost(v) {
				w.WriteHeader(http.StatusNoContent)
				return
			}
			var b struct {
				Description      string `json:"description"`
				Tags             any    `json:"tags"`
				DefaultQueueType string `json:"default_queue_type"`
			}
			if len(body) > 0 && json.Unmarshal(body, &b) != nil {
				f.badRequest(w, "not_json")
				return
			}
			tags := b.Tags
			if tags == nil {
				tags = []any{}
			}
			dqt := b.DefaultQueueType
			if dqt == "" {
				dqt = "undefined"
			}
			o, _ := decodeValue(mustJSON(map[string]any{"cluster_state": map[string]string{"rabbit-cap@localhost": "running"},
				"default_queue_type": dqt, "description": b.Description,
				"metadata": map[string]any{"description": b.Description, "tags": tags}, "name": v, "tags": tags, "tracing": false}))
			f.vhosts = append(f.vhosts, v)
			f.vhostObj[v] = o.(*object)
			w.WriteHeader(http.StatusCreated)
		case http.MethodDelete:
			if !f.hasVhost(v) {
				f.notFound(w)
				return
			}
			f.vhosts = slices.DeleteFunc(f.vhosts, func(x string) bool { return x == v })
			w.WriteHeader(http.StatusNoContent)
		default:
			f.notFound(w)
		}
	case seg[0] == "vhosts" && n == 3 && seg[2] == "permissions" && get:
		if !f.hasVhost(seg[1]) {
			f.notFound(w)
			return
		}
		var users []string
		for k := range f.perms {
			if k[0] == seg[1] {
				users = append(users, k[1])
			}
		}
		slices.Sort(users)
		l := []any{}
		for _, u := range users {
			p := f.perms[[2]string{seg[1], u}]
			l = append(l, map[string]string{"vhost": seg[1], "user": u, "configure": p["configure"], "write": p["write"], "read": p["read"]})
		}
		f.writeJSON(w, http.StatusOK, l)
	case seg[0] == "permissions" && n == 3 && m == http.MethodPut:
		if _, ok := f.users[seg[2]]; !ok || !f.hasVhost(seg[1]) {
			f.badRequest(w, "vhost_or_user_not_found")
			return
		}
		var p map[string]string
		if json.Unmarshal(body, &p) != nil {
			f.badRequest(w, "not_json")
			return
		}
		f.perms[[2]string{seg[1], seg[2]}] = p
		w.WriteHeader(http.StatusCreated)

	case seg[0] == "policies" && n == 2 && get:
		if !f.hasVhost(seg[1]) {
			f.notFound(w)
			return
		}
		var names []string
		for k := range f.policies {
			if k[0] == seg[1] {
				names = append(names, k[1])
			}
		}
		slices.Sort(names)
		l := []any{}
		for _, p := range names {
			l = append(l, f.policies[[2]string{seg[1], p}])
		}
		f.writeJSON(w, http.StatusOK, l)
	case seg[0] == "policies" && n == 3:
		k := [2]string{seg[1], seg[2]}
		switch m {
		case http.MethodPut:
			if !f.hasVhost(seg[1]) {
				f.writeJSON(w, http.StatusNotFound, map[string]string{"error": "not_found", "reason": "vhost_not_found"})
				return
			}
			var p map[string]any
			if json.Unmarshal(body, &p) != nil {
				f.badRequest(w, "not_json")
				return
			}
			if a, _ := p["apply-to"].(string); a != "" && a != "all" && a != "queues" && a != "exchanges" {
				f.badRequest(w, fmt.Sprintf("Validation failed\n\napply-to '%s' unrecognised; should be 'queues', 'exchanges' or 'all'\n", a))
				return
			}
			p["vhost"], p["name"] = seg[1], seg[2]
			f.policies[k] = p
			w.WriteHeader(http.StatusCreated)
		case http.MethodDelete:
			if _, ok := f.policies[k]; !ok {
				f.notFound(w)
				return
			}
			delete(f.policies, k)
			w.WriteHeader(http.StatusNoContent)
		default:
			f.notFound(w)
		}

	case seg[0] == "definitions" && n == 1 && get:
		canned("definitions.json")
	case seg[0] == "definitions" && n == 1 && m == http.MethodPost:
		if !json.Valid(body) {
			f.badRequest(w, "failed_to_parse_json")
			return
		}
		f.imported = append(f.imported, json.RawMessage(body))
		w.WriteHeader(http.StatusNoContent)
	default:
		f.notFound(w)
	}
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}
