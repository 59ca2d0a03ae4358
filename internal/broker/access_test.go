package broker_test

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/warrenmq/warren/internal/broker"
	"github.com/warrenmq/warren/internal/store/metalog"
)

func newAccessBroker(t *testing.T, dir string) (*broker.Broker, func()) {
	t.Helper()
	meta, err := metalog.Open(filepath.Join(dir, "meta"))
	if err != nil {
		t.Fatal(err)
	}
	b, err := broker.New(broker.Config{Meta: meta, DefaultVhost: "/",
		DefaultUser: broker.DefaultUser{Name: "guest", PasswordHash: "c2FsdGhhc2hoYXNo"}})
	if err != nil {
		t.Fatal(err)
	}
	return b, func() { meta.Close() }
}

func mustApply(t *testing.T, b *broker.Broker, cmds ...*broker.Command) {
	t.Helper()
	for _, c := range cmds {
		if _, err := b.Apply(c); err != nil {
			t.Fatalf("%s: %v", c.Op, err)
		}
	}
}

func TestAccessDefaultsOnFirstStartOnly(t *testing.T) {
	dir := t.TempDir()
	b, closeMeta := newAccessBroker(t, dir)
	if u := b.User("guest"); u == nil || !u.HasTag("administrator") {
		t.Fatalf("guest = %+v, want an administrator", u)
	}
	if err := b.CheckVhostAccess("guest", "/"); err != nil {
		t.Fatal(err)
	}
	if err := b.CheckResourceAccess("guest", "/", broker.DestQueue, "anything", broker.PermConfigure); err != nil {
		t.Fatal(err)
	}
	mustApply(t, b, &broker.Command{Op: broker.OpDeleteUser, User: "guest"})
	closeMeta()

	b, closeMeta = newAccessBroker(t, dir)
	defer closeMeta()
	if u := b.User("guest"); u != nil {
		t.Fatalf("guest re-created after being deleted: %+v", u)
	}
	if b.Vhost("/") == nil {
		t.Fatal("vhost / lost")
	}
}

func TestAccessSurvivesRestartAndSnapshot(t *testing.T) {
	dir := t.TempDir()
	b, closeMeta := newAccessBroker(t, dir)
	mustApply(t, b,
		&broker.Command{Op: broker.OpAddVhost, Vhost: "v1", Description: "first", Tags: []string{"prod"}},
		&broker.Command{Op: broker.OpAddUser, User: "u", PasswordHash: "c2FsdGhhc2hoYXNo", Tags: []string{"monitoring"},
			Limits: map[string]int64{"max-connections": 3}},
		&broker.Command{Op: broker.OpSetPermissions, User: "u", Vhost: "v1", Configure: "^c", Write: "^w", Read: ""},
		&broker.Command{Op: broker.OpSetTopicPermissions, User: "u", Vhost: "v1", Exchange: "amq.topic", Write: "^{username}\\.", Read: ".*"},
		&broker.Command{Op: broker.OpSetVhostLimits, Vhost: "v1", Limits: map[string]int64{"max-queues": 2}},
		&broker.Command{Op: broker.OpSetParameter, Vhost: "v1", Component: "shovel", Name: "s1", Value: []byte(`{"src-uri":"amqp://"}`)},
		&broker.Command{Op: broker.OpSetGlobalParameter, Name: "cluster_name", Value: []byte(`"c1"`)},
		&broker.Command{Op: broker.OpSetPolicy, Vhost: "v1", Name: "p1", Pattern: "^q", ApplyTo: "queues", Priority: 3,
			Value: []byte(`{"max-length":10}`)},
	)
	closeMeta()
	for round := 0; round < 2; round++ { // the second open replays the snapshot written by the first
		b, closeMeta = newAccessBroker(t, dir)
		u := b.User("u")
		if u == nil || !u.HasTag("monitoring") || u.Limits["max-connections"] != 3 {
			t.Fatalf("round %d: user u = %+v", round, u)
		}
		p := b.Permission("u", "v1")
		if p == nil || p.Configure != "^c" || p.Write != "^w" || p.Read != "" {
			t.Fatalf("round %d: permission = %+v", round, p)
		}
		if err := b.CheckTopicAccess("u", "v1", "amq.topic", "u.x", broker.PermWrite); err != nil {
			t.Errorf("round %d: %v", round, err)
		}
		if err := b.CheckTopicAccess("u", "v1", "amq.topic", "v.x", broker.PermWrite); err == nil {
			t.Errorf("round %d: topic write on v.x allowed", round)
		}
		vi := b.VhostInfo("v1")
		if vi.Description != "first" || len(vi.Tags) != 1 || vi.Limits["max-queues"] != 2 {
			t.Errorf("round %d: vhost info = %+v", round, vi)
		}
		if len(b.Parameters("v1")) != 1 || len(b.GlobalParameters()) != 1 || len(b.Policies("")) != 1 {
			t.Errorf("round %d: parameters/policies lost", round)
		}
		closeMeta()
	}
}

func TestAccessChecks(t *testing.T) {
	b, closeMeta := newAccessBroker(t, t.TempDir())
	defer closeMeta()
	mustApply(t, b,
		&broker.Command{Op: broker.OpAddUser, User: "u"},
		&broker.Command{Op: broker.OpSetPermissions, User: "u", Vhost: "/", Configure: "^amq\\.gen", Write: "x", Read: ""},
	)
	for _, tc := range []struct {
		kind, name string
		perm       broker.Perm
		ok         bool
	}{
		{broker.DestQueue, "amq.gen-abc", broker.PermConfigure, true},
		{broker.DestQueue, "q", broker.PermConfigure, false},
		{broker.DestExchange, "box", broker.PermWrite, true}, // unanchored, as Erlang's re:run
		{broker.DestExchange, "", broker.PermWrite, false},   // checked as amq.default
		{broker.DestQueue, "", broker.PermRead, true},        // "" is ^$
		{broker.DestQueue, "q", broker.PermRead, false},
	} {
		err := b.CheckResourceAccess("u", "/", tc.kind, tc.name, tc.perm)
		if (err == nil) != tc.ok {
			t.Errorf("%s %q %s: err = %v, want ok=%v", tc.kind, tc.name, tc.perm, err, tc.ok)
		}
	}
	err := b.CheckResourceAccess("u", "/", broker.DestExchange, "", broker.PermRead)
	if want := "access to exchange 'amq.default' in vhost '/' refused for user 'u'"; err == nil || err.Error() != want {
		t.Errorf("err = %v, want %q", err, want)
	}
	if err := b.CheckVhostAccess("u", "nope"); !errors.Is(err, broker.ErrNotAllowed) {
		t.Errorf("vhost access to a missing vhost: %v", err)
	}
}

func TestAccessCommandErrors(t *testing.T) {
	b, closeMeta := newAccessBroker(t, t.TempDir())
	defer closeMeta()
	for _, tc := range []struct {
		cmd  *broker.Command
		want string
	}{
		{&broker.Command{Op: broker.OpAddUser, User: "guest"}, "already exists"},
		{&broker.Command{Op: broker.OpAddUser, User: ""}, "must not be empty"},
		{&broker.Command{Op: broker.OpAddUser, User: "x", PasswordHash: "!!"}, "invalid password hash"},
		{&broker.Command{Op: broker.OpDeleteUser, User: "nobody"}, "no user"},
		{&broker.Command{Op: broker.OpSetPermissions, User: "guest", Vhost: "nope", Configure: ".*"}, "no vhost"},
		{&broker.Command{Op: broker.OpSetPermissions, User: "nobody", Vhost: "/"}, "no user"},
		{&broker.Command{Op: broker.OpSetPermissions, User: "guest", Vhost: "/", Configure: "("}, "is invalid"},
		{&broker.Command{Op: broker.OpSetVhostLimits, Vhost: "/", Limits: map[string]int64{"max-bananas": 1}}, "Unrecognised"},
		{&broker.Command{Op: broker.OpSetUserLimits, User: "guest", Limits: map[string]int64{"max-queues": 1}}, "Unrecognised"},
		{&broker.Command{Op: broker.OpSetPolicy, Vhost: "/", Name: "p", Pattern: ".*", ApplyTo: "nothing", Value: []byte(`{}`)}, "apply-to"},
		{&broker.Command{Op: broker.OpSetParameter, Vhost: "/", Component: "c", Name: "n", Value: []byte(`{`)}, "not JSON"},
	} {
		_, err := b.Apply(tc.cmd)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err = %v, want %q", tc.cmd.Op, err, tc.want)
		}
	}
}

func TestAccessDeleteVhostCascades(t *testing.T) {
	b, closeMeta := newAccessBroker(t, t.TempDir())
	defer closeMeta()
	var events []broker.Event
	cancel := b.Subscribe(func(ev broker.Event) { events = append(events, ev) })
	defer cancel()
	mustApply(t, b,
		&broker.Command{Op: broker.OpAddVhost, Vhost: "v"},
		&broker.Command{Op: broker.OpSetPermissions, User: "guest", Vhost: "v", Configure: ".*", Write: ".*", Read: ".*"},
		&broker.Command{Op: broker.OpSetTopicPermissions, User: "guest", Vhost: "v", Exchange: "amq.topic", Write: ".*", Read: ".*"},
		&broker.Command{Op: broker.OpSetPolicy, Vhost: "v", Name: "p", Pattern: ".*", ApplyTo: "all", Value: []byte(`{"max-length":1}`)},
		&broker.Command{Op: broker.OpSetVhostLimits, Vhost: "v", Limits: map[string]int64{"max-queues": 1}},
	)
	gen := b.AccessGen()
	mustApply(t, b, &broker.Command{Op: broker.OpDeleteVhost, Vhost: "v"})
	if b.AccessGen() == gen {
		t.Error("access generation unchanged by a vhost deletion")
	}
	if b.Permission("guest", "v") != nil || len(b.TopicPermissions()) != 0 || len(b.Policies("v")) != 0 {
		t.Error("permissions or policies of the deleted vhost survive")
	}
	mustApply(t, b, &broker.Command{Op: broker.OpAddVhost, Vhost: "v"})
	if vi := b.VhostInfo("v"); len(vi.Limits) != 0 {
		t.Errorf("re-created vhost inherits limits %v", vi.Limits)
	}
	if len(events) != 1 || events[0] != (broker.Event{Kind: "vhost", Name: "v"}) {
		t.Errorf("events = %v", events)
	}
}

func TestAccessQueueLimit(t *testing.T) {
	b, closeMeta := newAccessBroker(t, t.TempDir())
	defer closeMeta()
	mustApply(t, b, &broker.Command{Op: broker.OpSetVhostLimits, Vhost: "/", Limits: map[string]int64{"max-queues": 1}},
		&broker.Command{Op: broker.OpDeclareQueue, Vhost: "/", Name: "q1"})
	_, err := b.Apply(&broker.Command{Op: broker.OpDeclareQueue, Vhost: "/", Name: "q2"})
	if want := "cannot declare queue 'q2': queue limit in vhost '/' (1) is reached"; err == nil || err.Error() != want {
		t.Fatalf("err = %v, want %q", err, want)
	}
	// Redeclaring an existing queue is not a new queue.
	mustApply(t, b, &broker.Command{Op: broker.OpDeclareQueue, Vhost: "/", Name: "q1"})
	mustApply(t, b, &broker.Command{Op: broker.OpClearVhostLimits, Vhost: "/", Name: "max-queues"},
		&broker.Command{Op: broker.OpDeclareQueue, Vhost: "/", Name: "q2"})
}

func TestApplyBatchIsOneRecord(t *testing.T) {
	dir := t.TempDir()
	b, closeMeta := newAccessBroker(t, dir)
	err := b.ApplyBatch(func() ([]*broker.Command, error) {
		return []*broker.Command{
			{Op: broker.OpAddVhost, Vhost: "b1"},
			{Op: broker.OpDeclareExchange, Vhost: "b1", Name: "x", Type: "topic", Durable: true},
			{Op: broker.OpDeclareQueue, Vhost: "b1", Name: "q", Durable: true},
			{Op: broker.OpDeclareQueue, Vhost: "b1", Name: "transient"},
			{Op: broker.OpBind, Vhost: "b1", Source: "x", Destination: "q", DestType: broker.DestQueue, Key: "a.#"},
		}, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	closeMeta()
	b, closeMeta = newAccessBroker(t, dir)
	defer closeMeta()
	v := b.Vhost("b1")
	if v == nil || v.Queue("q") == nil || v.Exchange("x") == nil || len(v.Exchange("x").Bindings()) != 1 {
		t.Fatal("batch not recovered")
	}
	if v.Queue("transient") != nil {
		t.Error("a non-durable queue of a batch was recovered")
	}
}
