package definitions

import (
	"bytes"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/warrenmq/warren/internal/amqp"
	"github.com/warrenmq/warren/internal/auth"
	"github.com/warrenmq/warren/internal/broker"
	"github.com/warrenmq/warren/internal/store/metalog"
)

// rabbitExport is shaped like GET /api/definitions of RabbitMQ 3.10.8
// (the bob/test12 hash is from RabbitMQ's passwords guide).
const rabbitExport = `{
  "rabbit_version": "3.10.8",
  "rabbitmq_version": "3.10.8",
  "product_name": "RabbitMQ",
  "product_version": "3.10.8",
  "users": [
    {"name": "bob", "password_hash": "kI3GCqW5JLMJa4iX1lo7X4D6XbYqlLgxIs30+P6tENUV2POR",
     "hashing_algorithm": "rabbit_password_hashing_sha256", "tags": ["management"], "limits": {}},
    {"name": "old", "password_hash": "ytUIm8s3AnKsXQjptplKFytfVxI=",
     "hashing_algorithm": "rabbit_password_hashing_md5", "tags": "monitoring,policymaker", "limits": {"max-connections": 5}}
  ],
  "vhosts": [{"name": "/"}, {"name": "apps", "limits": [], "metadata": {"description": "Apps", "tags": ["prod"]}}],
  "permissions": [
    {"user": "bob", "vhost": "apps", "configure": "^bob-.*", "write": ".*", "read": ".*"},
    {"user": "old", "vhost": "/", "configure": "", "write": "", "read": ".*"}
  ],
  "topic_permissions": [{"user": "bob", "vhost": "apps", "exchange": "events", "write": "^{username}\\.", "read": ".*"}],
  "parameters": [
    {"value": {"max-connections": 100, "max-queues": 10}, "vhost": "apps", "component": "vhost-limits", "name": "limits"},
    {"value": {"src-uri": "amqp://", "src-queue": "a", "dest-uri": "amqp://", "dest-queue": "b"}, "vhost": "apps", "component": "shovel", "name": "s1"}
  ],
  "global_parameters": [{"name": "cluster_name", "value": "rabbit@host"}],
  "policies": [{"vhost": "apps", "name": "ttl", "pattern": "^bob-", "apply-to": "queues",
                "definition": {"message-ttl": 60000}, "priority": 1}],
  "queues": [
    {"name": "bob-work", "vhost": "apps", "durable": true, "auto_delete": false,
     "arguments": {"x-message-ttl": 60000, "x-queue-type": "classic", "x-dead-letter-exchange": "dlx"}},
    {"name": "amq.gen-skipped", "vhost": "apps", "durable": false, "auto_delete": true, "arguments": {}},
    {"name": "plain", "vhost": "/", "durable": false, "auto_delete": false, "arguments": {}}
  ],
  "exchanges": [
    {"name": "events", "vhost": "apps", "type": "topic", "durable": true, "auto_delete": false, "internal": false, "arguments": {}},
    {"name": "dlx", "vhost": "apps", "type": "fanout", "durable": true, "auto_delete": false, "internal": false,
     "arguments": {"alternate-exchange": "events"}},
    {"name": "amq.weird", "vhost": "apps", "type": "x-unknown", "durable": true, "auto_delete": false, "internal": false, "arguments": {}}
  ],
  "bindings": [
    {"source": "events", "vhost": "apps", "destination": "bob-work", "destination_type": "queue", "routing_key": "bob.#", "arguments": {}},
    {"source": "events", "vhost": "apps", "destination": "dlx", "destination_type": "exchange", "routing_key": "x", "arguments": {"n": 1.5}},
    {"source": "amq.direct", "vhost": "/", "destination": "plain", "destination_type": "queue", "routing_key": "plain", "arguments": {}}
  ]
}`

func newBroker(t testing.TB) *broker.Broker {
	t.Helper()
	b, err := broker.New(broker.Config{DefaultVhost: "/",
		DefaultUser: broker.DefaultUser{Name: "guest", PasswordHash: auth.HashPassword("guest")}})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func export(t testing.TB, b *broker.Broker, vhost string) []byte {
	t.Helper()
	out, err := Export(b, vhost)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestImportRabbitMQExport(t *testing.T) {
	b := newBroker(t)
	if err := Import(b, []byte(rabbitExport)); err != nil {
		t.Fatal(err)
	}
	bob := b.User("bob")
	if bob == nil || !auth.VerifyPassword(bob.HashingAlgorithm, bob.PasswordHash, "test12") || !bob.HasTag("management") {
		t.Fatalf("bob = %+v", bob)
	}
	old := b.User("old")
	if old == nil || !auth.VerifyPassword(old.HashingAlgorithm, old.PasswordHash, "simon") ||
		!old.HasTag("policymaker") || old.Limits["max-connections"] != 5 {
		t.Fatalf("old = %+v", old)
	}
	if err := b.CheckResourceAccess("bob", "apps", broker.DestQueue, "bob-x", broker.PermConfigure); err != nil {
		t.Error(err)
	}
	if err := b.CheckResourceAccess("bob", "apps", broker.DestQueue, "eve-x", broker.PermConfigure); err == nil {
		t.Error("bob may configure eve-x")
	}
	if err := b.CheckTopicAccess("bob", "apps", "events", "bob.a", broker.PermWrite); err != nil {
		t.Error(err)
	}
	vi := b.VhostInfo("apps")
	if vi.Description != "Apps" || vi.Limits["max-queues"] != 10 || vi.Limits["max-connections"] != 100 {
		t.Errorf("apps = %+v", vi)
	}
	v := b.Vhost("apps")
	q := v.Queue("bob-work")
	if q == nil || !q.Durable || q.Args["x-message-ttl"] != int64(60000) || q.Args["x-dead-letter-exchange"] != "dlx" {
		t.Fatalf("bob-work = %+v", q)
	}
	if v.Queue("amq.gen-skipped") != nil || v.Exchange("amq.weird") != nil {
		t.Error("amq.* entities were imported")
	}
	if x := v.Exchange("dlx"); x == nil || x.Args["alternate-exchange"] != "events" {
		t.Errorf("dlx = %+v", x)
	}
	bs := v.Exchange("events").Bindings()
	if len(bs) != 2 {
		t.Fatalf("events has %d bindings", len(bs))
	}
	if len(b.Vhost("/").Exchange("amq.direct").Bindings()) != 1 {
		t.Error("binding from amq.direct lost")
	}
	if len(b.Parameters("apps")) != 1 || len(b.Policies("apps")) != 1 || len(b.GlobalParameters()) != 1 {
		t.Error("parameters or policies lost")
	}
	// Importing the same file again changes nothing.
	before := export(t, b, "")
	if err := Import(b, []byte(rabbitExport)); err != nil {
		t.Fatal(err)
	}
	if after := export(t, b, ""); !bytes.Equal(before, after) {
		t.Errorf("re-import changed the broker:\n%s\n---\n%s", before, after)
	}
}

// Warren's export imports into an empty broker and exports identically.
func TestExportImportRoundTrip(t *testing.T) {
	src := newBroker(t)
	if err := Import(src, []byte(rabbitExport)); err != nil {
		t.Fatal(err)
	}
	mustApply(t, src,
		&broker.Command{Op: broker.OpDeclareQueue, Vhost: "/", Name: "excl", Exclusive: true, Owner: 7},
		&broker.Command{Op: broker.OpBind, Vhost: "/", Source: "amq.fanout", Destination: "excl", DestType: broker.DestQueue, Owner: 7},
		&broker.Command{Op: broker.OpDeclareExchange, Vhost: "/", Name: "hx", Type: "headers",
			Args: amqp.Table{"nested": amqp.Table{"a": []any{int64(1), "two", true}}}},
		&broker.Command{Op: broker.OpDeclareQueue, Vhost: "/", Name: "hq", Durable: true},
		&broker.Command{Op: broker.OpBind, Vhost: "/", Source: "hx", Destination: "hq", DestType: broker.DestQueue,
			Args: amqp.Table{"x-match": "any", "k": "v"}},
	)
	out := export(t, src, "")
	if strings.Contains(string(out), `"excl"`) {
		t.Error("an exclusive queue was exported")
	}
	dst, err := broker.New(broker.Config{})
	if err != nil {
		t.Fatal(err)
	}
	if err := Import(dst, out); err != nil {
		t.Fatal(err)
	}
	if again := export(t, dst, ""); !bytes.Equal(out, again) {
		t.Errorf("round trip differs:\n%s\n---\n%s", out, again)
	}
	// And a vhost's own export into another vhost.
	vout := export(t, src, "apps")
	var vdoc map[string]json.RawMessage
	if err := json.Unmarshal(vout, &vdoc); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"users", "vhosts", "permissions"} {
		if _, ok := vdoc[k]; ok {
			t.Errorf("vhost export has %s", k)
		}
	}
	if strings.Contains(string(vout), `"vhost"`) {
		t.Error("vhost export names vhosts")
	}
	mustApply(t, dst, &broker.Command{Op: broker.OpAddVhost, Vhost: "copy"})
	if err := ImportVhost(dst, "copy", vout); err != nil {
		t.Fatal(err)
	}
	if got := export(t, dst, "copy"); !bytes.Equal(got, vout) {
		t.Errorf("vhost round trip differs:\n%s\n---\n%s", vout, got)
	}
	if _, err := Export(dst, "nope"); err != ErrNoVhost {
		t.Errorf("export of a missing vhost: %v", err)
	}
	if err := ImportVhost(dst, "nope", vout); err != ErrNoVhost {
		t.Errorf("import into a missing vhost: %v", err)
	}
}

func mustApply(t testing.TB, b *broker.Broker, cmds ...*broker.Command) {
	t.Helper()
	for _, c := range cmds {
		if _, err := b.Apply(c); err != nil {
			t.Fatalf("%s: %v", c.Op, err)
		}
	}
}

// A bad item anywhere means nothing is applied.
func TestImportAllOrNothing(t *testing.T) {
	for _, tc := range []struct{ name, doc, want string }{
		{"not JSON", `{"users": [`, "failed to parse"},
		{"not an object", `[1,2]`, "failed to parse"},
		{"users not a list", `{"users": {"name": "x"}}`, "users: want a list"},
		{"user without name", `{"users": [{"password_hash": ""}]}`, "name: missing"},
		{"bad hash", `{"users": [{"name": "x", "password_hash": "***"}]}`, "password_hash"},
		{"unknown algorithm", `{"users": [{"name": "x", "password_hash": "", "hashing_algorithm": "rabbit_password_hashing_rot13"}]}`, "unsupported"},
		{"password and hash", `{"users": [{"name": "x", "password": "a", "password_hash": ""}]}`, "both_password_and_password_hash"},
		{"bad tags", `{"users": [{"name": "x", "tags": 7}]}`, "tags"},
		{"bad user limit", `{"users": [{"name": "x", "limits": {"max-queues": 1}}]}`, "Unrecognised"},
		{"permission for nobody", `{"permissions": [{"user": "nobody", "vhost": "/", "configure": ".*", "write": ".*", "read": ".*"}]}`, "no_such_user"},
		{"permission in no vhost", `{"permissions": [{"user": "guest", "vhost": "nope", "configure": ".*", "write": ".*", "read": ".*"}]}`, "no_such_vhost"},
		{"permission missing read", `{"permissions": [{"user": "guest", "vhost": "/", "configure": ".*", "write": ".*"}]}`, "read: missing"},
		{"bad regexp", `{"permissions": [{"user": "guest", "vhost": "/", "configure": "(", "write": ".*", "read": ".*"}]}`, "is invalid"},
		{"bad exchange type", `{"exchanges": [{"name": "x", "vhost": "/", "type": "nope"}]}`, "unknown exchange type"},
		{"durable not a bool", `{"queues": [{"name": "q", "vhost": "/", "durable": 3}]}`, "durable"},
		{"bad arguments", `{"queues": [{"name": "q", "vhost": "/", "arguments": "x"}]}`, "arguments"},
		{"binding to a missing queue", `{"bindings": [{"source": "amq.direct", "vhost": "/", "destination": "nope", "destination_type": "queue", "routing_key": ""}]}`, "no queue 'nope'"},
		{"binding from a missing exchange", `{"bindings": [{"source": "nope", "vhost": "/", "destination": "amq.fanout", "destination_type": "exchange"}]}`, "no exchange 'nope'"},
		{"bad destination type", `{"bindings": [{"source": "amq.direct", "vhost": "/", "destination": "q", "destination_type": "topic"}]}`, "destination_type"},
		{"bad x-match", `{"bindings": [{"source": "amq.headers", "vhost": "/", "destination": "amq.fanout", "destination_type": "exchange", "arguments": {"x-match": "some"}}]}`, "x-match"},
		{"policy without definition", `{"policies": [{"vhost": "/", "name": "p", "pattern": ".*"}]}`, "definition"},
		{"policy bad apply-to", `{"policies": [{"vhost": "/", "name": "p", "pattern": ".*", "apply-to": "users", "definition": {}}]}`, "apply-to"},
		{"bad vhost limits", `{"parameters": [{"vhost": "/", "component": "vhost-limits", "name": "limits", "value": {"max-bananas": 1}}]}`, "Unrecognised"},
		{"queue limit", `{"vhosts": [{"name": "lim", "limits": {"max-queues": 1}}],
			"queues": [{"name": "a", "vhost": "lim"}, {"name": "b", "vhost": "lim"}]}`, "would exceed the limit of 1 queue(s)"},
		{"deep arguments", `{"queues": [{"name": "q", "vhost": "/", "arguments": {"a":` + strings.Repeat(`{"a":`, 40) + `1` + strings.Repeat(`}`, 40) + `}}]}`, "nested too deeply"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := newBroker(t)
			// Valid items before the bad one must not be applied either.
			doc := tc.doc
			if strings.HasPrefix(doc, "{") && json.Valid([]byte(doc)) && !strings.Contains(doc, `"users"`) {
				doc = `{"users": [{"name": "early", "password": "x", "tags": []}], "vhosts": [{"name": "early"}],` + doc[1:]
			}
			before := export(t, b, "")
			err := Import(b, []byte(doc))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want %q", err, tc.want)
			}
			if after := export(t, b, ""); !bytes.Equal(before, after) {
				t.Fatalf("a failed import changed the broker:\n%s", after)
			}
		})
	}
}

func TestImportEmptyAndMinimal(t *testing.T) {
	b := newBroker(t)
	for _, doc := range []string{"", "  ", "{}", `{"users": null, "queues": []}`, `{"rabbit_version": "3.10.8"}`} {
		if err := Import(b, []byte(doc)); err != nil {
			t.Errorf("%q: %v", doc, err)
		}
	}
	// A plain password is hashed; without hashing_algorithm a 3.5 file means MD5.
	doc := `{"rabbit_version": "3.5.7", "users": [
		{"name": "p", "password": "pw", "tags": ""},
		{"name": "m", "password_hash": "ytUIm8s3AnKsXQjptplKFytfVxI=", "tags": "administrator"},
		{"name": "a", "password_hash": "", "administrator": true}]}`
	if err := Import(b, []byte(doc)); err != nil {
		t.Fatal(err)
	}
	if u := b.User("p"); !auth.VerifyPassword(u.HashingAlgorithm, u.PasswordHash, "pw") {
		t.Error("plain password not hashed")
	}
	if u := b.User("m"); !auth.VerifyPassword(u.HashingAlgorithm, u.PasswordHash, "simon") || !u.HasTag("administrator") {
		t.Errorf("m = %+v", u)
	}
	if u := b.User("a"); !u.HasTag("administrator") || u.PasswordHash != "" {
		t.Errorf("a = %+v", u)
	}
}

// An import is durable and recovered as a whole.
func TestImportIsDurable(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "meta")
	open := func() (*broker.Broker, func()) {
		meta, err := metalog.Open(dir)
		if err != nil {
			t.Fatal(err)
		}
		b, err := broker.New(broker.Config{Meta: meta, DefaultVhost: "/",
			DefaultUser: broker.DefaultUser{Name: "guest", PasswordHash: auth.HashPassword("guest")}})
		if err != nil {
			t.Fatal(err)
		}
		return b, func() { meta.Close() }
	}
	b, closeB := open()
	if err := Import(b, []byte(rabbitExport)); err != nil {
		t.Fatal(err)
	}
	want := export(t, b, "")
	closeB()
	b, closeB = open()
	defer closeB()
	got := export(t, b, "")
	// Non-durable queues are not recovered, as anywhere else.
	var w, g map[string]json.RawMessage
	_ = json.Unmarshal(want, &w)
	_ = json.Unmarshal(got, &g)
	for _, k := range []string{"users", "vhosts", "permissions", "topic_permissions", "parameters", "policies", "exchanges"} {
		if !bytes.Equal(w[k], g[k]) {
			t.Errorf("%s after restart:\n%s\nwant\n%s", k, g[k], w[k])
		}
	}
	if b.Vhost("apps").Queue("bob-work") == nil || b.Vhost("/").Queue("plain") != nil {
		t.Error("durable queue lost or transient queue recovered")
	}
}
