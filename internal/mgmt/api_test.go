package mgmt_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	amqp091 "github.com/rabbitmq/amqp091-go"
)

func TestAuthentication(t *testing.T) {
	n := startNode(t)
	n.addUser(t, "plain", "", "/")
	n.addUser(t, "mgmt", "management", "/")

	r := must(t, n.do(t, "GET", "/api/overview", "", "", nil), http.StatusUnauthorized)
	if got := r.header.Get("WWW-Authenticate"); got != `Basic realm="RabbitMQ Management"` {
		t.Errorf("WWW-Authenticate = %q", got)
	}
	r = must(t, n.do(t, "GET", "/api/overview", "guest", "wrong", nil), http.StatusUnauthorized)
	if e := r.obj(t); e["error"] != "not_authorized" || e["reason"] != "Login failed" {
		t.Errorf("wrong password: %v", e)
	}
	if r.header.Get("WWW-Authenticate") == "" {
		t.Error("wrong password: no WWW-Authenticate")
	}
	must(t, n.do(t, "GET", "/api/overview", "nobody", "x", nil), http.StatusUnauthorized)
	r = must(t, n.do(t, "GET", "/api/overview", "plain", "plain", nil), http.StatusUnauthorized)
	if e := r.obj(t); e["error"] != "not_authorised" || e["reason"] != "Not management user" {
		t.Errorf("no management tag: %v", e)
	}
	must(t, n.do(t, "GET", "/api/overview", "mgmt", "mgmt", nil), http.StatusOK)
	r = must(t, n.guest(t, "GET", "/api/whoami", nil), http.StatusOK)
	if w := r.obj(t); w["name"] != "guest" || fmt.Sprint(w["tags"]) != "[administrator]" {
		t.Errorf("whoami = %v", w)
	}
	// Unknown paths: RabbitMQ's 404 body.
	r = must(t, n.guest(t, "GET", "/api/no-such-thing", nil), http.StatusNotFound)
	if e := r.obj(t); e["error"] != "Object Not Found" || e["reason"] != "Not Found" {
		t.Errorf("404 body = %v", e)
	}
}

// TestTagRules checks each endpoint's authorisation for each tag, as
// RabbitMQ's rabbit_mgmt_wm_* modules decide it: 401 where RabbitMQ
// refuses (it answers 401 not_authorised, not 403).
func TestTagRules(t *testing.T) {
	n := startNode(t)
	must(t, n.guest(t, "PUT", "/api/vhosts/other", nil), http.StatusCreated)
	must(t, n.guest(t, "PUT", "/api/queues/other/q-other", map[string]any{}), http.StatusCreated)
	must(t, n.guest(t, "PUT", "/api/queues/%2F/q-root", map[string]any{}), http.StatusCreated)
	n.addUser(t, "mgmt", "management", "/")
	n.addUser(t, "pm", "policymaker", "/")
	n.addUser(t, "mon", "monitoring", "/")
	n.addUser(t, "admin", "administrator", "/")

	const ok, no = http.StatusOK, http.StatusUnauthorized
	cases := []struct {
		path                 string
		mgmt, pm, mon, admin int
	}{
		{"/api/overview", ok, ok, ok, ok},
		{"/api/whoami", ok, ok, ok, ok},
		{"/api/nodes", no, no, ok, ok},
		{"/api/nodes/warren@test", no, no, ok, ok},
		{"/api/vhosts", ok, ok, ok, ok},
		{"/api/vhosts/%2F", no, no, no, ok},
		{"/api/users", no, no, no, ok},
		{"/api/users/guest", no, no, no, ok},
		{"/api/permissions", no, no, no, ok},
		{"/api/topic-permissions", no, no, no, ok},
		{"/api/definitions", no, no, no, ok},
		{"/api/queues", ok, ok, ok, ok},
		{"/api/queues/%2F", ok, ok, ok, ok},
		{"/api/queues/other", no, no, no, ok},
		{"/api/queues/other/q-other", no, no, no, ok},
		{"/api/exchanges/other", no, no, no, ok},
		{"/api/bindings/other", no, no, no, ok},
		{"/api/exchanges", ok, ok, ok, ok},
		{"/api/bindings", ok, ok, ok, ok},
		{"/api/connections", ok, ok, ok, ok},
		{"/api/channels", ok, ok, ok, ok},
		{"/api/consumers", ok, ok, ok, ok},
		{"/api/policies", ok, ok, ok, ok},
		{"/api/parameters", no, ok, no, ok},
		{"/api/global-parameters", no, ok, no, ok},
		{"/api/vhost-limits", ok, ok, ok, ok},
		{"/api/vhost-limits/other", no, no, ok, ok},
		{"/api/aliveness-test/%2F", ok, ok, ok, ok},
		{"/api/aliveness-test/other", no, no, no, ok},
		{"/api/health/checks/alarms", ok, ok, ok, ok},
		{"/api/health/checks/virtual-hosts", ok, ok, ok, ok},
	}
	for _, c := range cases {
		for _, u := range []struct {
			name string
			want int
		}{{"mgmt", c.mgmt}, {"pm", c.pm}, {"mon", c.mon}, {"admin", c.admin}} {
			r := n.do(t, "GET", c.path, u.name, u.name, nil)
			if r.code != u.want {
				t.Errorf("%s as %s: %d, want %d (%s)", c.path, u.name, r.code, u.want, r.body)
			}
		}
	}

	// Lists show a management user only its vhosts' objects; monitors all.
	names := func(user string) string {
		var qs []string
		for _, q := range must(t, n.do(t, "GET", "/api/queues", user, user, nil), ok).list(t) {
			if q["name"] != "aliveness-test" {
				qs = append(qs, q["name"].(string))
			}
		}
		return strings.Join(qs, ",")
	}
	if got := names("mgmt"); got != "q-root" {
		t.Errorf("management user sees queues %q", got)
	}
	if got := names("mon"); got != "q-root,q-other" {
		t.Errorf("monitoring user sees queues %q", got)
	}
	// Writes: management users may declare in their vhosts, not others;
	// policies need policymaker; users and vhosts need administrator.
	must(t, n.do(t, "PUT", "/api/queues/%2F/by-mgmt", "mgmt", "mgmt", map[string]any{}), http.StatusCreated)
	must(t, n.do(t, "PUT", "/api/queues/other/by-mgmt", "mgmt", "mgmt", map[string]any{}), no)
	pol := map[string]any{"pattern": "^x", "definition": map[string]any{"max-length": 5}}
	must(t, n.do(t, "PUT", "/api/policies/%2F/p1", "mgmt", "mgmt", pol), no)
	must(t, n.do(t, "PUT", "/api/policies/%2F/p1", "pm", "pm", pol), http.StatusCreated)
	must(t, n.do(t, "PUT", "/api/policies/other/p1", "pm", "pm", pol), no)
	must(t, n.do(t, "PUT", "/api/users/x", "mon", "mon", map[string]any{"password": "x", "tags": ""}), no)
	must(t, n.do(t, "PUT", "/api/vhosts/v2", "pm", "pm", nil), no)
	must(t, n.do(t, "PUT", "/api/vhosts/v2", "admin", "admin", nil), http.StatusCreated)

	// Connections: a management user sees only its own; monitoring all;
	// only administrators close others'.
	c1, err := amqp091.Dial(n.amqpURL("mgmt", "mgmt", "/"))
	if err != nil {
		t.Fatal(err)
	}
	defer c1.Close()
	c2, err := amqp091.Dial(n.amqpURL("mon", "mon", "/"))
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	conns := func(user string) int {
		return len(must(t, n.do(t, "GET", "/api/connections", user, user, nil), ok).list(t))
	}
	eventually(t, 2*time.Second, func() bool { return conns("mon") == 2 })
	if got := conns("mgmt"); got != 1 {
		t.Errorf("management user sees %d connections, want 1", got)
	}
	var monConn string
	for _, c := range must(t, n.do(t, "GET", "/api/connections", "mon", "mon", nil), ok).list(t) {
		if c["user"] == "mon" {
			monConn = c["name"].(string)
		}
	}
	must(t, n.do(t, "GET", "/api/connections/"+esc(monConn), "mgmt", "mgmt", nil), no)
	must(t, n.do(t, "DELETE", "/api/connections/"+esc(monConn), "mgmt", "mgmt", nil), no)
	must(t, n.do(t, "GET", "/api/connections/"+esc(monConn), "mon", "mon", nil), ok)
}

func TestOverviewAndNodes(t *testing.T) {
	n := startNode(t)
	o := must(t, n.guest(t, "GET", "/api/overview", nil), http.StatusOK).obj(t)
	for _, k := range []string{"management_version", "rabbitmq_version", "cluster_name", "node", "object_totals",
		"queue_totals", "message_stats", "listeners", "exchange_types", "churn_rates", "erlang_version"} {
		if _, ok := o[k]; !ok {
			t.Errorf("overview has no %s", k)
		}
	}
	if o["node"] != "warren@test" || o["rabbitmq_version"] != "3.10.8" {
		t.Errorf("overview = %v", o)
	}
	if ot := o["object_totals"].(map[string]any); ot["exchanges"] != 6.0 || ot["queues"] != 0.0 {
		t.Errorf("object_totals = %v", ot)
	}
	ls := o["listeners"].([]any)
	protos := map[string]bool{}
	for _, l := range ls {
		protos[l.(map[string]any)["protocol"].(string)] = true
	}
	if !protos["amqp"] || !protos["http"] || !protos["http/prometheus"] {
		t.Errorf("listeners = %v", ls)
	}

	nodes := must(t, n.guest(t, "GET", "/api/nodes", nil), http.StatusOK).list(t)
	if len(nodes) != 1 {
		t.Fatalf("nodes = %v", nodes)
	}
	nd := must(t, n.guest(t, "GET", "/api/nodes/warren@test", nil), http.StatusOK).obj(t)
	if nd["name"] != "warren@test" || nd["type"] != "disc" || nd["running"] != true {
		t.Errorf("node = %v", nd)
	}
	for _, k := range []string{"mem_used", "fd_used", "sockets_used", "proc_used", "uptime", "disk_free", "fd_total"} {
		if v, _ := nd[k].(float64); v <= 0 && k != "sockets_used" {
			t.Errorf("node %s = %v", k, nd[k])
		}
	}
	if p, ok := nd["partitions"].([]any); !ok || len(p) != 0 {
		t.Errorf("partitions = %v", nd["partitions"])
	}
	must(t, n.guest(t, "GET", "/api/nodes/rabbit@elsewhere", nil), http.StatusNotFound)
	must(t, n.guest(t, "PUT", "/api/cluster-name", map[string]any{"name": "blue"}), http.StatusNoContent)
	if cn := must(t, n.guest(t, "GET", "/api/cluster-name", nil), http.StatusOK).obj(t); cn["name"] != "blue" {
		t.Errorf("cluster-name = %v", cn)
	}
	must(t, n.guest(t, "GET", "/api/extensions", nil), http.StatusOK)
}

func TestVhostsUsersPermissions(t *testing.T) {
	n := startNode(t)
	must(t, n.guest(t, "PUT", "/api/vhosts/v1", map[string]any{"description": "first", "tags": "a,b"}), http.StatusCreated)
	must(t, n.guest(t, "PUT", "/api/vhosts/v1", map[string]any{"description": "again"}), http.StatusNoContent)
	v := must(t, n.guest(t, "GET", "/api/vhosts/v1", nil), http.StatusOK).obj(t)
	if v["name"] != "v1" || v["description"] != "again" {
		t.Errorf("vhost = %v", v)
	}
	if vs := must(t, n.guest(t, "GET", "/api/vhosts", nil), http.StatusOK).list(t); len(vs) != 2 {
		t.Errorf("vhosts = %v", vs)
	}
	must(t, n.guest(t, "GET", "/api/vhosts/nope", nil), http.StatusNotFound)

	must(t, n.guest(t, "PUT", "/api/users/alice", map[string]any{"password": "pw", "tags": "management"}), http.StatusCreated)
	must(t, n.guest(t, "PUT", "/api/users/alice", map[string]any{"password": "pw2", "tags": []string{"monitoring"}}), http.StatusNoContent)
	u := must(t, n.guest(t, "GET", "/api/users/alice", nil), http.StatusOK).obj(t)
	if u["name"] != "alice" || fmt.Sprint(u["tags"]) != "[monitoring]" || u["hashing_algorithm"] != "rabbit_password_hashing_sha256" || u["password_hash"] == "" {
		t.Errorf("user = %v", u)
	}
	must(t, n.do(t, "GET", "/api/overview", "alice", "pw2", nil), http.StatusOK)
	must(t, n.do(t, "GET", "/api/overview", "alice", "pw", nil), http.StatusUnauthorized)
	if us := must(t, n.guest(t, "GET", "/api/users/without-permissions", nil), http.StatusOK).list(t); len(us) != 1 || us[0]["name"] != "alice" {
		t.Errorf("without-permissions = %v", us)
	}

	perm := map[string]any{"configure": "^c", "write": "^w", "read": ".*"}
	must(t, n.guest(t, "PUT", "/api/permissions/v1/alice", perm), http.StatusCreated)
	must(t, n.guest(t, "PUT", "/api/permissions/v1/alice", perm), http.StatusNoContent)
	p := must(t, n.guest(t, "GET", "/api/permissions/v1/alice", nil), http.StatusOK).obj(t)
	if p["user"] != "alice" || p["vhost"] != "v1" || p["configure"] != "^c" || p["write"] != "^w" || p["read"] != ".*" {
		t.Errorf("permission = %v", p)
	}
	if ps := must(t, n.guest(t, "GET", "/api/vhosts/v1/permissions", nil), http.StatusOK).list(t); len(ps) != 1 {
		t.Errorf("vhost permissions = %v", ps)
	}
	if ps := must(t, n.guest(t, "GET", "/api/users/alice/permissions", nil), http.StatusOK).list(t); len(ps) != 1 {
		t.Errorf("user permissions = %v", ps)
	}
	if ps := must(t, n.guest(t, "GET", "/api/permissions", nil), http.StatusOK).list(t); len(ps) != 2 {
		t.Errorf("permissions = %v", ps)
	}
	must(t, n.guest(t, "PUT", "/api/permissions/nope/alice", perm), http.StatusNotFound)

	tp := map[string]any{"exchange": "amq.topic", "write": "^a", "read": "^b"}
	must(t, n.guest(t, "PUT", "/api/topic-permissions/v1/alice", tp), http.StatusCreated)
	tps := must(t, n.guest(t, "GET", "/api/topic-permissions/v1/alice", nil), http.StatusOK).list(t)
	if len(tps) != 1 || tps[0]["exchange"] != "amq.topic" || tps[0]["write"] != "^a" {
		t.Errorf("topic permissions = %v", tps)
	}
	must(t, n.guest(t, "DELETE", "/api/topic-permissions/v1/alice", nil), http.StatusNoContent)
	if tps := must(t, n.guest(t, "GET", "/api/topic-permissions", nil), http.StatusOK).list(t); len(tps) != 0 {
		t.Errorf("topic permissions after delete = %v", tps)
	}

	must(t, n.guest(t, "DELETE", "/api/permissions/v1/alice", nil), http.StatusNoContent)
	must(t, n.guest(t, "GET", "/api/permissions/v1/alice", nil), http.StatusNotFound)
	must(t, n.guest(t, "DELETE", "/api/users/alice", nil), http.StatusNoContent)
	must(t, n.guest(t, "GET", "/api/users/alice", nil), http.StatusNotFound)
	must(t, n.guest(t, "PUT", "/api/users/bob", map[string]any{"password": "b", "tags": ""}), http.StatusCreated)
	must(t, n.guest(t, "POST", "/api/users/bulk-delete", map[string]any{"users": []string{"bob"}}), http.StatusNoContent)
	must(t, n.guest(t, "GET", "/api/users/bob", nil), http.StatusNotFound)
	must(t, n.guest(t, "DELETE", "/api/vhosts/v1", nil), http.StatusNoContent)
	must(t, n.guest(t, "GET", "/api/vhosts/v1", nil), http.StatusNotFound)
}

func TestExchangesQueuesBindings(t *testing.T) {
	n := startNode(t)
	must(t, n.guest(t, "PUT", "/api/exchanges/%2F/ex1", map[string]any{"type": "topic", "durable": true,
		"arguments": map[string]any{"alternate-exchange": "amq.fanout"}}), http.StatusCreated)
	must(t, n.guest(t, "PUT", "/api/exchanges/%2F/ex1", map[string]any{"type": "topic", "durable": true,
		"arguments": map[string]any{"alternate-exchange": "amq.fanout"}}), http.StatusNoContent)
	r := must(t, n.guest(t, "PUT", "/api/exchanges/%2F/ex1", map[string]any{"type": "direct"}), http.StatusBadRequest)
	if e := r.obj(t); !strings.Contains(e["reason"].(string), "PRECONDITION_FAILED") {
		t.Errorf("inequivalent redeclare: %v", e)
	}
	x := must(t, n.guest(t, "GET", "/api/exchanges/%2F/ex1", nil), http.StatusOK).obj(t)
	if x["name"] != "ex1" || x["type"] != "topic" || x["durable"] != true || x["vhost"] != "/" ||
		x["arguments"].(map[string]any)["alternate-exchange"] != "amq.fanout" {
		t.Errorf("exchange = %v", x)
	}
	must(t, n.guest(t, "GET", "/api/exchanges/%2F/amq.default", nil), http.StatusOK)
	must(t, n.guest(t, "GET", "/api/exchanges/%2F/nope", nil), http.StatusNotFound)
	if xs := must(t, n.guest(t, "GET", "/api/exchanges/%2F", nil), http.StatusOK).list(t); len(xs) != 7 {
		t.Errorf("%d exchanges", len(xs))
	}

	must(t, n.guest(t, "PUT", "/api/queues/%2F/q1", map[string]any{"durable": true,
		"arguments": map[string]any{"x-max-length": 10}}), http.StatusCreated)
	must(t, n.guest(t, "PUT", "/api/queues/%2F/q2", map[string]any{"durable": false, "auto_delete": true}), http.StatusCreated)
	q := must(t, n.guest(t, "GET", "/api/queues/%2F/q1", nil), http.StatusOK).obj(t)
	if q["name"] != "q1" || q["durable"] != true || q["messages"] != 0.0 || q["consumers"] != 0.0 ||
		q["state"] != "running" || q["node"] != "warren@test" || q["arguments"].(map[string]any)["x-max-length"] != 10.0 {
		t.Errorf("queue = %v", q)
	}
	must(t, n.guest(t, "GET", "/api/queues/%2F/nope", nil), http.StatusNotFound)
	must(t, n.guest(t, "GET", "/api/queues/nope", nil), http.StatusNotFound)

	// Bindings, with properties_key.
	r = must(t, n.guest(t, "POST", "/api/bindings/%2F/e/ex1/q/q1", map[string]any{"routing_key": "a.#"}), http.StatusCreated)
	if loc := r.header.Get("Location"); loc != "q/q1/a.%23" {
		t.Errorf("Location = %q", loc)
	}
	must(t, n.guest(t, "POST", "/api/bindings/%2F/e/ex1/q/q1", map[string]any{"routing_key": "b",
		"arguments": map[string]any{"x": 1}}), http.StatusCreated)
	must(t, n.guest(t, "POST", "/api/bindings/%2F/e/ex1/e/amq.direct", map[string]any{"routing_key": ""}), http.StatusCreated)
	must(t, n.guest(t, "POST", "/api/bindings/%2F/e/nope/q/q1", map[string]any{}), http.StatusNotFound)
	bs := must(t, n.guest(t, "GET", "/api/bindings/%2F/e/ex1/q/q1", nil), http.StatusOK).list(t)
	if len(bs) != 2 {
		t.Fatalf("bindings ex1→q1 = %v", bs)
	}
	var withArgs string
	for _, b := range bs {
		if b["source"] != "ex1" || b["destination"] != "q1" || b["destination_type"] != "queue" {
			t.Errorf("binding = %v", b)
		}
		if b["routing_key"] == "b" {
			withArgs = b["properties_key"].(string)
		} else if b["properties_key"] != "a.%23" {
			t.Errorf("properties_key = %v", b["properties_key"])
		}
	}
	if !strings.HasPrefix(withArgs, "b~") {
		t.Errorf("properties_key with arguments = %q", withArgs)
	}
	must(t, n.guest(t, "GET", "/api/bindings/%2F/e/ex1/q/q1/"+esc(withArgs), nil), http.StatusOK)
	must(t, n.guest(t, "GET", "/api/bindings/%2F/e/ex1/e/amq.direct/~", nil), http.StatusOK)
	if bs := must(t, n.guest(t, "GET", "/api/exchanges/%2F/ex1/bindings/source", nil), http.StatusOK).list(t); len(bs) != 3 {
		t.Errorf("source bindings = %v", bs)
	}
	if bs := must(t, n.guest(t, "GET", "/api/exchanges/%2F/amq.direct/bindings/destination", nil), http.StatusOK).list(t); len(bs) != 1 {
		t.Errorf("destination bindings = %v", bs)
	}
	qb := must(t, n.guest(t, "GET", "/api/queues/%2F/q1/bindings", nil), http.StatusOK).list(t)
	if len(qb) != 3 || qb[0]["source"] != "" { // the default exchange's binding first
		t.Errorf("queue bindings = %v", qb)
	}
	if bs := must(t, n.guest(t, "GET", "/api/bindings", nil), http.StatusOK).list(t); len(bs) != 5 {
		t.Errorf("all bindings: %d", len(bs))
	}
	must(t, n.guest(t, "DELETE", "/api/bindings/%2F/e/ex1/q/q1/"+esc(withArgs), nil), http.StatusNoContent)
	must(t, n.guest(t, "DELETE", "/api/bindings/%2F/e/ex1/q/q1/"+esc(withArgs), nil), http.StatusNotFound)

	// Publish, get, purge.
	r = must(t, n.guest(t, "POST", "/api/exchanges/%2F/ex1/publish", map[string]any{"routing_key": "a.x",
		"payload": "hello", "payload_encoding": "string",
		"properties": map[string]any{"delivery_mode": 2, "headers": map[string]any{"h": "v"}, "content_type": "text/plain"}}), http.StatusOK)
	if r.obj(t)["routed"] != true {
		t.Errorf("publish: %s", r.body)
	}
	r = must(t, n.guest(t, "POST", "/api/exchanges/%2F/ex1/publish", map[string]any{"routing_key": "zzz",
		"payload": "aGk=", "payload_encoding": "base64", "properties": map[string]any{}}), http.StatusOK)
	if r.obj(t)["routed"] != false {
		t.Errorf("unroutable publish: %s", r.body)
	}
	must(t, n.guest(t, "POST", "/api/exchanges/%2F/amq.default/publish", map[string]any{"routing_key": "q1",
		"payload": "//4=", "payload_encoding": "base64", "properties": map[string]any{}}), http.StatusOK)
	must(t, n.guest(t, "POST", "/api/exchanges/%2F/amq.default/publish", map[string]any{"routing_key": "q1",
		"payload": "third", "payload_encoding": "string", "properties": map[string]any{}}), http.StatusOK)

	get := func(body map[string]any) []map[string]any {
		return must(t, n.guest(t, "POST", "/api/queues/%2F/q1/get", body), http.StatusOK).list(t)
	}
	ms := get(map[string]any{"count": 2, "ackmode": "ack_requeue_true", "encoding": "auto", "truncate": 3})
	if len(ms) != 2 || ms[0]["payload"] != "hel" || ms[0]["payload_bytes"] != 5.0 || ms[0]["payload_encoding"] != "string" ||
		ms[0]["routing_key"] != "a.x" || ms[0]["exchange"] != "ex1" || ms[0]["message_count"] != 2.0 {
		t.Fatalf("get = %v", ms)
	}
	props := ms[0]["properties"].(map[string]any)
	if props["delivery_mode"] != 2.0 || props["content_type"] != "text/plain" || props["headers"].(map[string]any)["h"] != "v" {
		t.Errorf("properties = %v", props)
	}
	if ms[1]["payload_encoding"] != "base64" {
		t.Errorf("binary payload = %v", ms[1])
	}
	ms = get(map[string]any{"count": 5, "ackmode": "reject_requeue_true", "encoding": "base64"})
	if len(ms) != 3 || ms[0]["redelivered"] != true || ms[0]["payload"] != "aGVsbG8=" {
		t.Fatalf("get again = %v", ms)
	}
	ms = get(map[string]any{"count": 1, "ackmode": "ack_requeue_false", "encoding": "auto"})
	if len(ms) != 1 || ms[0]["payload"] != "hello" {
		t.Fatalf("get ack = %v", ms)
	}
	eventually(t, 2*time.Second, func() bool {
		q := must(t, n.guest(t, "GET", "/api/queues/%2F/q1", nil), http.StatusOK).obj(t)
		st, _ := q["message_stats"].(map[string]any)
		return q["messages"] == 2.0 && st != nil && st["publish"] == 3.0 && st["publish_details"] != nil
	})
	must(t, n.guest(t, "POST", "/api/queues/%2F/q1/get", map[string]any{"count": 1, "ackmode": "bogus", "encoding": "auto"}), http.StatusBadRequest)
	must(t, n.guest(t, "DELETE", "/api/queues/%2F/q1/contents", nil), http.StatusNoContent)
	if q := must(t, n.guest(t, "GET", "/api/queues/%2F/q1", nil), http.StatusOK).obj(t); q["messages"] != 0.0 {
		t.Errorf("after purge: %v messages", q["messages"])
	}
	x = must(t, n.guest(t, "GET", "/api/exchanges/%2F/ex1", nil), http.StatusOK).obj(t)
	if st, _ := x["message_stats"].(map[string]any); st == nil || st["publish_in"] != 2.0 || st["publish_out"] != 1.0 {
		t.Errorf("exchange message_stats = %v", x["message_stats"])
	}

	must(t, n.guest(t, "POST", "/api/queues/%2F/q1/actions", map[string]any{"action": "sync"}), http.StatusNoContent)
	must(t, n.guest(t, "DELETE", "/api/queues/%2F/q1", nil), http.StatusNoContent)
	must(t, n.guest(t, "DELETE", "/api/queues/%2F/q1", nil), http.StatusNotFound)
	must(t, n.guest(t, "DELETE", "/api/exchanges/%2F/ex1", nil), http.StatusNoContent)
	must(t, n.guest(t, "DELETE", "/api/exchanges/%2F/amq.direct", nil), http.StatusUnauthorized)
}

func TestListParameters(t *testing.T) {
	n := startNode(t)
	for i := 0; i < 25; i++ {
		must(t, n.guest(t, "PUT", fmt.Sprintf("/api/queues/%%2F/q%02d", i), map[string]any{"durable": i%2 == 0}), http.StatusCreated)
	}
	var page struct {
		Items         []map[string]any `json:"items"`
		FilteredCount int              `json:"filtered_count"`
		ItemCount     int              `json:"item_count"`
		Page          int              `json:"page"`
		PageCount     int              `json:"page_count"`
		PageSize      int              `json:"page_size"`
		TotalCount    int              `json:"total_count"`
	}
	must(t, n.guest(t, "GET", "/api/queues?page=2&page_size=10", nil), http.StatusOK).json(t, &page)
	if page.Page != 2 || page.PageSize != 10 || page.PageCount != 3 || page.ItemCount != 10 || page.TotalCount != 25 ||
		page.FilteredCount != 25 || page.Items[0]["name"] != "q10" {
		t.Errorf("page = %+v", page)
	}
	must(t, n.guest(t, "GET", "/api/queues?page=1&page_size=5&name=q1&sort=name&sort_reverse=true", nil), http.StatusOK).json(t, &page)
	if page.FilteredCount != 10 || page.TotalCount != 25 || page.Items[0]["name"] != "q19" || len(page.Items) != 5 {
		t.Errorf("filtered page = %+v", page)
	}
	must(t, n.guest(t, "GET", "/api/queues?page=1&name=%5Eq2%5B0-2%5D%24&use_regex=true", nil), http.StatusOK).json(t, &page)
	if page.FilteredCount != 3 {
		t.Errorf("regex filter = %+v", page)
	}
	must(t, n.guest(t, "GET", "/api/queues?page=9&page_size=10", nil), http.StatusBadRequest)
	must(t, n.guest(t, "GET", "/api/queues?page=1&page_size=501", nil), http.StatusBadRequest)
	must(t, n.guest(t, "GET", "/api/queues?page=x", nil), http.StatusBadRequest)

	l := must(t, n.guest(t, "GET", "/api/queues?columns=name,durable&sort=durable", nil), http.StatusOK).list(t)
	if len(l) != 25 || len(l[0]) != 2 || l[0]["durable"] != false || l[24]["durable"] != true {
		t.Errorf("columns+sort = %v", l[0])
	}
}

func TestConnectionsChannelsConsumers(t *testing.T) {
	n := startNode(t)
	conn, err := amqp091.DialConfig(n.amqpURL("guest", "guest", "/"), amqp091.Config{
		Properties: amqp091.Table{"connection_name": "test-conn"}})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ch, err := conn.Channel()
	if err != nil {
		t.Fatal(err)
	}
	if err := ch.Confirm(false); err != nil {
		t.Fatal(err)
	}
	if err := ch.Qos(7, 0, false); err != nil {
		t.Fatal(err)
	}
	q, err := ch.QueueDeclare("cq", false, false, false, false, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ch.Consume(q.Name, "ctag-1", false, false, false, false, nil); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 3; i++ {
		if err := ch.Publish("", "cq", false, false, amqp091.Publishing{Body: []byte("x")}); err != nil {
			t.Fatal(err)
		}
	}
	var cname string
	eventually(t, 2*time.Second, func() bool {
		cs := must(t, n.guest(t, "GET", "/api/connections", nil), http.StatusOK).list(t)
		if len(cs) == 1 {
			cname = cs[0]["name"].(string)
		}
		return len(cs) == 1 && cs[0]["channels"] == 1.0
	})
	c := must(t, n.guest(t, "GET", "/api/connections/"+esc(cname), nil), http.StatusOK).obj(t)
	if c["user"] != "guest" || c["vhost"] != "/" || c["protocol"] != "AMQP 0-9-1" || c["state"] != "running" ||
		c["peer_host"] != "127.0.0.1" || c["client_properties"].(map[string]any)["connection_name"] != "test-conn" ||
		c["recv_oct"].(float64) <= 0 || c["send_oct"].(float64) <= 0 || c["connected_at"].(float64) <= 0 {
		t.Errorf("connection = %v", c)
	}
	if !strings.Contains(cname, " -> ") {
		t.Errorf("connection name %q", cname)
	}
	eventually(t, 2*time.Second, func() bool {
		chs := must(t, n.guest(t, "GET", "/api/channels", nil), http.StatusOK).list(t)
		if len(chs) != 1 {
			return false
		}
		st, _ := chs[0]["message_stats"].(map[string]any)
		return chs[0]["confirm"] == true && chs[0]["prefetch_count"] == 7.0 && chs[0]["consumer_count"] == 1.0 &&
			chs[0]["messages_unacknowledged"] == 3.0 && st["publish"] == 3.0 && st["deliver"] == 3.0 && st["confirm"] == 3.0
	})
	chName := cname + " (1)"
	chd := must(t, n.guest(t, "GET", "/api/channels/"+esc(chName), nil), http.StatusOK).obj(t)
	if chd["connection_details"].(map[string]any)["name"] != cname || len(chd["consumer_details"].([]any)) != 1 {
		t.Errorf("channel = %v", chd)
	}
	if chs := must(t, n.guest(t, "GET", "/api/connections/"+esc(cname)+"/channels", nil), http.StatusOK).list(t); len(chs) != 1 {
		t.Errorf("connection channels = %v", chs)
	}
	if chs := must(t, n.guest(t, "GET", "/api/vhosts/%2F/channels", nil), http.StatusOK).list(t); len(chs) != 1 {
		t.Errorf("vhost channels = %v", chs)
	}
	if cs := must(t, n.guest(t, "GET", "/api/vhosts/%2F/connections", nil), http.StatusOK).list(t); len(cs) != 1 {
		t.Errorf("vhost connections = %v", cs)
	}
	cons := must(t, n.guest(t, "GET", "/api/consumers", nil), http.StatusOK).list(t)
	if len(cons) != 1 || cons[0]["consumer_tag"] != "ctag-1" || cons[0]["ack_required"] != true ||
		cons[0]["queue"].(map[string]any)["name"] != "cq" || cons[0]["channel_details"].(map[string]any)["connection_name"] != cname {
		t.Errorf("consumers = %v", cons)
	}
	must(t, n.guest(t, "GET", "/api/consumers/%2F", nil), http.StatusOK)
	qd := must(t, n.guest(t, "GET", "/api/queues/%2F/cq", nil), http.StatusOK).obj(t)
	if qd["consumers"] != 1.0 || len(qd["consumer_details"].([]any)) != 1 || qd["messages_unacknowledged"] != 3.0 {
		t.Errorf("queue with consumer = %v", qd)
	}

	// DELETE with X-Reason closes with 320 and the reason.
	closed := conn.NotifyClose(make(chan *amqp091.Error, 1))
	must(t, n.guest(t, "DELETE", "/api/connections/"+esc(cname), nil, "X-Reason", "bye from test"), http.StatusNoContent)
	select {
	case e := <-closed:
		if e == nil || e.Code != 320 || !strings.Contains(e.Reason, "bye from test") {
			t.Errorf("close = %v", e)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("connection not closed")
	}
	must(t, n.guest(t, "GET", "/api/connections/nope", nil), http.StatusNotFound)
	eventually(t, 2*time.Second, func() bool {
		return len(must(t, n.guest(t, "GET", "/api/connections", nil), http.StatusOK).list(t)) == 0
	})
	o := must(t, n.guest(t, "GET", "/api/overview", nil), http.StatusOK).obj(t)
	if st := o["message_stats"].(map[string]any); st["publish"] != 3.0 {
		t.Errorf("overview message_stats after close = %v", st)
	}
}

func TestPoliciesParametersLimits(t *testing.T) {
	n := startNode(t)
	pol := map[string]any{"pattern": "^ha\\.", "definition": map[string]any{"max-length": 100}, "priority": 3, "apply-to": "queues"}
	must(t, n.guest(t, "PUT", "/api/policies/%2F/p1", pol), http.StatusCreated)
	must(t, n.guest(t, "PUT", "/api/policies/%2F/p1", pol), http.StatusNoContent)
	p := must(t, n.guest(t, "GET", "/api/policies/%2F/p1", nil), http.StatusOK).obj(t)
	if p["name"] != "p1" || p["vhost"] != "/" || p["pattern"] != "^ha\\." || p["apply-to"] != "queues" || p["priority"] != 3.0 ||
		p["definition"].(map[string]any)["max-length"] != 100.0 {
		t.Errorf("policy = %v", p)
	}
	if ps := must(t, n.guest(t, "GET", "/api/policies/%2F", nil), http.StatusOK).list(t); len(ps) != 1 {
		t.Errorf("policies = %v", ps)
	}
	must(t, n.guest(t, "PUT", "/api/policies/%2F/bad", map[string]any{"pattern": "x"}), http.StatusBadRequest)
	must(t, n.guest(t, "DELETE", "/api/policies/%2F/p1", nil), http.StatusNoContent)
	must(t, n.guest(t, "GET", "/api/policies/%2F/p1", nil), http.StatusNotFound)

	must(t, n.guest(t, "PUT", "/api/parameters/federation-upstream/%2F/up1", map[string]any{"value": map[string]any{"uri": "amqp://x"}}), http.StatusCreated)
	pr := must(t, n.guest(t, "GET", "/api/parameters/federation-upstream/%2F/up1", nil), http.StatusOK).obj(t)
	if pr["component"] != "federation-upstream" || pr["value"].(map[string]any)["uri"] != "amqp://x" {
		t.Errorf("parameter = %v", pr)
	}
	for _, path := range []string{"/api/parameters", "/api/parameters/federation-upstream", "/api/parameters/federation-upstream/%2F"} {
		if ps := must(t, n.guest(t, "GET", path, nil), http.StatusOK).list(t); len(ps) != 1 {
			t.Errorf("%s = %v", path, ps)
		}
	}
	must(t, n.guest(t, "DELETE", "/api/parameters/federation-upstream/%2F/up1", nil), http.StatusNoContent)
	must(t, n.guest(t, "GET", "/api/global-parameters", nil), http.StatusOK)

	must(t, n.guest(t, "PUT", "/api/vhost-limits/%2F/max-queues", map[string]any{"value": 2}), http.StatusNoContent)
	must(t, n.guest(t, "PUT", "/api/vhost-limits/%2F/max-connections", map[string]any{"value": 10}), http.StatusNoContent)
	ls := must(t, n.guest(t, "GET", "/api/vhost-limits", nil), http.StatusOK).list(t)
	if len(ls) != 1 || ls[0]["vhost"] != "/" || ls[0]["value"].(map[string]any)["max-queues"] != 2.0 {
		t.Errorf("vhost limits = %v", ls)
	}
	must(t, n.guest(t, "PUT", "/api/vhost-limits/%2F/bogus", map[string]any{"value": 2}), http.StatusBadRequest)
	must(t, n.guest(t, "DELETE", "/api/vhost-limits/%2F/max-queues", nil), http.StatusNoContent)
	if ls := must(t, n.guest(t, "GET", "/api/vhost-limits/%2F", nil), http.StatusOK).list(t); len(ls) != 1 ||
		ls[0]["value"].(map[string]any)["max-queues"] != nil {
		t.Errorf("vhost limits after clear = %v", ls)
	}
}

func TestDefinitions(t *testing.T) {
	n := startNode(t)
	must(t, n.guest(t, "PUT", "/api/vhosts/dv", nil), http.StatusCreated)
	must(t, n.guest(t, "PUT", "/api/exchanges/dv/dx", map[string]any{"type": "fanout"}), http.StatusCreated)
	must(t, n.guest(t, "PUT", "/api/queues/dv/dq", map[string]any{}), http.StatusCreated)
	must(t, n.guest(t, "POST", "/api/bindings/dv/e/dx/q/dq", map[string]any{"routing_key": "k"}), http.StatusCreated)
	d := must(t, n.guest(t, "GET", "/api/definitions", nil), http.StatusOK).obj(t)
	for _, k := range []string{"users", "vhosts", "permissions", "queues", "exchanges", "bindings", "policies", "parameters"} {
		if _, ok := d[k]; !ok {
			t.Errorf("definitions have no %s", k)
		}
	}
	dv := must(t, n.guest(t, "GET", "/api/definitions/dv", nil), http.StatusOK).obj(t)
	if len(dv["queues"].([]any)) != 1 || len(dv["exchanges"].([]any)) != 1 || len(dv["bindings"].([]any)) != 1 {
		t.Errorf("vhost definitions = %v", dv)
	}
	if _, ok := dv["users"]; ok {
		t.Error("vhost definitions include users")
	}

	// Import into a fresh node.
	m := startNode(t)
	must(t, m.guest(t, "POST", "/api/definitions", string(must(t, n.guest(t, "GET", "/api/definitions", nil), http.StatusOK).body)), http.StatusNoContent)
	must(t, m.guest(t, "GET", "/api/queues/dv/dq", nil), http.StatusOK)
	must(t, m.guest(t, "GET", "/api/bindings/dv/e/dx/q/dq/k", nil), http.StatusOK)
	must(t, m.guest(t, "PUT", "/api/vhosts/other", nil), http.StatusCreated)
	raw, _ := jsonMarshal(dv)
	must(t, m.guest(t, "POST", "/api/definitions/other", string(raw)), http.StatusNoContent)
	must(t, m.guest(t, "GET", "/api/queues/other/dq", nil), http.StatusOK)
	must(t, m.guest(t, "POST", "/api/definitions", "{not json"), http.StatusBadRequest)
}

func TestHealthChecks(t *testing.T) {
	n := startNode(t)
	r := must(t, n.guest(t, "GET", "/api/aliveness-test/%2F", nil), http.StatusOK)
	if r.obj(t)["status"] != "ok" {
		t.Errorf("aliveness = %s", r.body)
	}
	must(t, n.guest(t, "GET", "/api/queues/%2F/aliveness-test", nil), http.StatusOK)
	must(t, n.guest(t, "GET", "/api/aliveness-test/nope", nil), http.StatusNotFound)
	for _, p := range []string{"alarms", "local-alarms", "virtual-hosts", "node-is-quorum-critical", "node-is-mirror-sync-critical",
		"protocol-listener/amqp"} {
		if r := must(t, n.guest(t, "GET", "/api/health/checks/"+p, nil), http.StatusOK); r.obj(t)["status"] != "ok" {
			t.Errorf("%s: %s", p, r.body)
		}
	}
	port := n.amqp[strings.LastIndexByte(n.amqp, ':')+1:]
	must(t, n.guest(t, "GET", "/api/health/checks/port-listener/"+port, nil), http.StatusOK)
	r = must(t, n.guest(t, "GET", "/api/health/checks/port-listener/1", nil), http.StatusServiceUnavailable)
	if r.obj(t)["status"] != "failed" {
		t.Errorf("port-listener 1: %s", r.body)
	}

	n.srv.SetAlarm("memory")
	r = must(t, n.guest(t, "GET", "/api/health/checks/alarms", nil), http.StatusServiceUnavailable)
	if o := r.obj(t); o["status"] != "failed" || len(o["alarms"].([]any)) != 1 {
		t.Errorf("alarms during alarm = %s", r.body)
	}
	n.srv.SetAlarm("")
	must(t, n.guest(t, "GET", "/api/health/checks/local-alarms", nil), http.StatusOK)
}

func TestVhostSlashInNames(t *testing.T) {
	n := startNode(t)
	must(t, n.guest(t, "PUT", "/api/vhosts/a%2Fb", nil), http.StatusCreated)
	must(t, n.guest(t, "PUT", "/api/queues/a%2Fb/x%2Fy", map[string]any{}), http.StatusCreated)
	q := must(t, n.guest(t, "GET", "/api/queues/a%2Fb/x%2Fy", nil), http.StatusOK).obj(t)
	if q["vhost"] != "a/b" || q["name"] != "x/y" {
		t.Errorf("queue = %v", q)
	}
	if n.b.Vhost("a/b").Queue("x/y") == nil {
		t.Error("queue not in the broker")
	}
}
