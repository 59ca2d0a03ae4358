package mgmt_test

import (
	"encoding/json"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// rabbitmqadmin is the Python CLI of RabbitMQ's management plugin, as the
// Debian rabbitmq-server package installs it (scripts/test-deps.sh).
const rabbitmqadminPath = "/usr/bin/rabbitmqadmin"

// TestRabbitmqadmin drives Warren with the unmodified rabbitmqadmin:
// declare, list and delete every kind of object, publish and get, export
// and import definitions, asserting each step.
func TestRabbitmqadmin(t *testing.T) {
	if testing.Short() {
		t.Skip("runs rabbitmqadmin about 45 times (-short)")
	}
	if _, err := os.Stat(rabbitmqadminPath); err != nil {
		t.Skip("rabbitmqadmin not installed (scripts/test-deps.sh)")
	}
	python, err := exec.LookPath("python3")
	if err != nil {
		t.Skip("python3 not installed")
	}
	n := startNode(t)
	host, port, _ := net.SplitHostPort(strings.TrimPrefix(n.url, "http://"))
	admin := func(args ...string) (string, error) {
		t.Helper()
		full := append([]string{rabbitmqadminPath, "-H", host, "-P", port, "-u", "guest", "-p", "guest"}, args...)
		out, err := exec.Command(python, full...).CombinedOutput()
		return string(out), err
	}
	ok := func(args ...string) string {
		t.Helper()
		out, err := admin(args...)
		if err != nil {
			t.Fatalf("rabbitmqadmin %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return out
	}
	list := func(args ...string) []map[string]any {
		t.Helper()
		out := ok(append([]string{"-f", "raw_json"}, args...)...)
		var l []map[string]any
		if err := json.Unmarshal([]byte(out), &l); err != nil {
			t.Fatalf("rabbitmqadmin %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return l
	}
	has := func(l []map[string]any, key, want string) bool {
		for _, m := range l {
			if m[key] == want {
				return true
			}
		}
		return false
	}

	// vhosts
	ok("declare", "vhost", "name=adm")
	if !has(list("list", "vhosts"), "name", "adm") {
		t.Fatal("vhost adm not listed")
	}
	// users and permissions
	ok("declare", "user", "name=alice", "password=secret", "tags=management")
	if l := list("list", "users"); !has(l, "name", "alice") {
		t.Fatalf("users = %v", l)
	}
	ok("declare", "permission", "vhost=adm", "user=alice", "configure=.*", "write=.*", "read=.*")
	if l := list("list", "permissions"); !has(l, "user", "alice") {
		t.Fatalf("permissions = %v", l)
	}
	must(t, n.do(t, "GET", "/api/queues/adm", "alice", "secret", nil), 200)

	// exchanges, queues, bindings
	ok("-V", "adm", "declare", "exchange", "name=ax", "type=topic")
	ok("-V", "adm", "declare", "queue", "name=aq", "durable=true")
	ok("-V", "adm", "declare", "binding", "source=ax", "destination=aq", "routing_key=k.#")
	if l := list("-V", "adm", "list", "exchanges"); !has(l, "name", "ax") {
		t.Fatalf("exchanges = %v", l)
	}
	if l := list("-V", "adm", "list", "queues"); !has(l, "name", "aq") {
		t.Fatalf("queues = %v", l)
	}
	if l := list("-V", "adm", "list", "bindings"); !has(l, "routing_key", "k.#") {
		t.Fatalf("bindings = %v", l)
	}
	ok("list", "queues", "vhost", "name", "messages") // the table formatter

	// policies
	ok("-V", "adm", "declare", "policy", "name=pol", "pattern=^aq$", `definition={"max-length":10}`, "apply-to=queues")
	if l := list("-V", "adm", "list", "policies"); !has(l, "name", "pol") {
		t.Fatalf("policies = %v", l)
	}

	// publish and get
	out := ok("-V", "adm", "publish", "exchange=ax", "routing_key=k.1", "payload=hello admin")
	if !strings.Contains(out, "Message published") {
		t.Errorf("publish: %s", out)
	}
	out = ok("-V", "adm", "publish", "exchange=ax", "routing_key=nothing", "payload=x")
	if !strings.Contains(strings.ToLower(out), "not routed") {
		t.Errorf("unroutable publish: %s", out)
	}
	got := list("-V", "adm", "get", "queue=aq", "ackmode=ack_requeue_false")
	if len(got) != 1 || got[0]["payload"] != "hello admin" || got[0]["routing_key"] != "k.1" {
		t.Fatalf("get = %v", got)
	}
	if l := list("-V", "adm", "get", "queue=aq"); len(l) != 0 {
		t.Fatalf("queue not empty after ack: %v", l)
	}

	// export, then import into a fresh node
	file := filepath.Join(t.TempDir(), "defs.json")
	ok("export", file)
	raw, err := os.ReadFile(file)
	if err != nil || !strings.Contains(string(raw), `"aq"`) || !strings.Contains(string(raw), `"alice"`) {
		t.Fatalf("export: %v %s", err, raw)
	}
	m := startNode(t)
	mhost, mport, _ := net.SplitHostPort(strings.TrimPrefix(m.url, "http://"))
	imp, err := exec.Command(python, rabbitmqadminPath, "-H", mhost, "-P", mport, "-u", "guest", "-p", "guest",
		"import", file).CombinedOutput()
	if err != nil {
		t.Fatalf("import: %v\n%s", err, imp)
	}
	must(t, m.guest(t, "GET", "/api/queues/adm/aq", nil), 200)
	must(t, m.guest(t, "GET", "/api/policies/adm/pol", nil), 200)
	must(t, m.do(t, "GET", "/api/overview", "alice", "secret", nil), 200)

	// delete everything again
	ok("-V", "adm", "delete", "binding", "source=ax", "destination=aq", "destination_type=queue", "properties_key=k.%23")
	if l := list("-V", "adm", "list", "bindings"); has(l, "routing_key", "k.#") {
		t.Errorf("binding still listed: %v", l)
	}
	ok("-V", "adm", "delete", "policy", "name=pol")
	ok("-V", "adm", "purge", "queue", "name=aq")
	ok("-V", "adm", "delete", "queue", "name=aq")
	ok("-V", "adm", "delete", "exchange", "name=ax")
	if l := list("-V", "adm", "list", "queues"); has(l, "name", "aq") {
		t.Errorf("queue still listed: %v", l)
	}
	ok("delete", "permission", "vhost=adm", "user=alice")
	ok("delete", "user", "name=alice")
	if l := list("list", "users"); has(l, "name", "alice") {
		t.Errorf("user still listed: %v", l)
	}
	ok("delete", "vhost", "name=adm")
	if l := list("list", "vhosts"); has(l, "name", "adm") {
		t.Errorf("vhost still listed: %v", l)
	}
	// errors come back as rabbitmqadmin reports RabbitMQ's
	if out, err := admin("-V", "nope", "declare", "queue", "name=x"); err == nil {
		t.Errorf("declare in a missing vhost succeeded: %s", out)
	}
	for _, what := range []string{"nodes", "connections", "channels", "consumers", "exchanges", "queues", "users", "vhosts"} {
		ok("list", what)
	}
	ok("show", "overview")
}
