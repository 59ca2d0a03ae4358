package definitions_test

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/warrenmq/warren/internal/auth"
	"github.com/warrenmq/warren/internal/broker"
	"github.com/warrenmq/warren/internal/definitions"
	"github.com/warrenmq/warren/internal/warrentest"
)

// TestRabbitMQRoundTrip moves definitions between a real RabbitMQ 3.10.8
// and Warren both ways: what RabbitMQ exports imports into Warren and its
// users log in with their passwords; what Warren exports (with a user
// whose hash Warren made) imports into RabbitMQ and that user logs in
// there.
func TestRabbitMQRoundTrip(t *testing.T) {
	if testing.Short() {
		t.Skip("starts RabbitMQ")
	}
	r := warrentest.StartRabbitMQ(t)
	api := func(method, path, body string) []byte {
		t.Helper()
		req, err := http.NewRequest(method, r.MgmtURL+"/api/"+path, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.SetBasicAuth("guest", "guest")
		req.Header.Set("Content-Type", "application/json")
		resp, err := (&http.Client{Timeout: 60 * time.Second}).Do(req)
		if err != nil {
			t.Fatalf("%s %s: %v", method, path, err)
		}
		defer resp.Body.Close()
		out, _ := io.ReadAll(resp.Body)
		if resp.StatusCode >= 300 {
			t.Fatalf("%s %s: %s\n%s", method, path, resp.Status, out)
		}
		return out
	}
	for _, c := range []struct{ method, path, body string }{
		{"PUT", "vhosts/rt", `{"description": "round trip", "tags": "alpha,beta"}`},
		{"PUT", "users/alice", `{"password": "alice-pw", "tags": "management"}`},
		{"PUT", "users/bob", `{"password": "bob-pw", "tags": ""}`},
		{"PUT", "permissions/rt/alice", `{"configure": ".*", "write": ".*", "read": ".*"}`},
		{"PUT", "permissions/rt/bob", `{"configure": "^bob-", "write": "^(amq\\.topic|bob-.*)$", "read": "^bob-"}`},
		{"PUT", "topic-permissions/rt/bob", `{"exchange": "amq.topic", "write": "^{username}\\.", "read": ".*"}`},
		{"PUT", "exchanges/rt/ex1", `{"type": "topic", "durable": true}`},
		{"PUT", "exchanges/rt/ex2", `{"type": "fanout", "durable": true, "arguments": {"alternate-exchange": "ex1"}}`},
		{"PUT", "queues/rt/bob-q", `{"durable": true, "arguments": {"x-message-ttl": 60000, "x-max-length": 10}}`},
		{"POST", "bindings/rt/e/ex1/q/bob-q", `{"routing_key": "bob.#"}`},
		{"POST", "bindings/rt/e/ex1/e/ex2", `{"routing_key": "all.*"}`},
		{"PUT", "policies/rt/pol", `{"pattern": "^bob-", "definition": {"max-length": 100}, "apply-to": "queues", "priority": 2}`},
		{"PUT", "vhost-limits/rt/max-connections", `{"value": 50}`},
	} {
		api(c.method, c.path, c.body)
	}
	fromRabbit := api("GET", "definitions", "")
	t.Logf("RabbitMQ's export: %d bytes", len(fromRabbit))

	// RabbitMQ → Warren.
	p := warrentest.StartInProc(t, warrentest.InProcConfig{})
	if err := definitions.Import(p.Broker, fromRabbit); err != nil {
		t.Fatalf("import of RabbitMQ's definitions: %v\n%s", err, fromRabbit)
	}
	warrenURL := func(user, pass string) string {
		return fmt.Sprintf("amqp://%s:%s@%s/rt", user, pass, p.Addr)
	}
	alice, err := amqp.Dial(warrenURL("alice", "alice-pw"))
	if err != nil {
		t.Fatalf("alice into Warren: %v", err)
	}
	defer alice.Close()
	bob, err := amqp.Dial(warrenURL("bob", "bob-pw"))
	if err != nil {
		t.Fatalf("bob into Warren: %v", err)
	}
	defer bob.Close()
	if c, err := amqp.Dial(warrenURL("bob", "alice-pw")); err == nil {
		c.Close()
		t.Fatal("bob logged in with alice's password")
	}
	ch, err := bob.Channel()
	if err != nil {
		t.Fatal(err)
	}
	q, err := ch.QueueDeclarePassive("bob-q", true, false, false, false, amqp.Table{"x-message-ttl": int64(60000), "x-max-length": int64(10)})
	if err != nil {
		t.Fatalf("bob-q in Warren: %v", err)
	}
	if err := ch.Publish("amq.topic", "bob.hello", false, false, amqp.Publishing{Body: []byte("hi")}); err != nil {
		t.Fatal(err)
	}
	if _, err := ch.QueueDeclare("bob-new", false, true, false, false, nil); err != nil {
		t.Fatalf("bob may declare bob-new: %v", err)
	}
	if _, err := ch.QueueDeclare("eve", false, true, false, false, nil); err == nil {
		t.Fatal("bob declared eve")
	} else if e, ok := err.(*amqp.Error); !ok || e.Code != amqp.AccessRefused {
		t.Fatalf("bob declaring eve: %v, want 403", err)
	}
	_ = q
	// bob may not write to ex1: the refusal closes the channel.
	ch2, err := bob.Channel()
	if err != nil {
		t.Fatal(err)
	}
	closed := ch2.NotifyClose(make(chan *amqp.Error, 1))
	_ = ch2.Publish("ex1", "bob.hello", false, false, amqp.Publishing{Body: []byte("hi")})
	select {
	case e := <-closed:
		if e == nil || e.Code != amqp.AccessRefused || e.Reason != "ACCESS_REFUSED - access to exchange 'ex1' in vhost 'rt' refused for user 'bob'" {
			t.Fatalf("publish to ex1: %v", e)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("bob's publish to ex1 was not refused")
	}
	// RabbitMQ's HTTP export lists vhosts by name only (no description),
	// and its limits as a vhost-limits parameter.
	if vi := p.Broker.VhostInfo("rt"); vi.Limits["max-connections"] != 50 {
		t.Errorf("vhost rt in Warren: %+v", vi)
	}
	if len(p.Broker.Policies("rt")) != 1 || len(p.Broker.TopicPermissions()) != 1 {
		t.Error("policy or topic permission lost")
	}

	// Warren → RabbitMQ, with a user and a queue made in Warren.
	if _, err := p.Broker.Apply(&broker.Command{Op: broker.OpAddUser, User: "carol",
		PasswordHash: auth.HashPassword("carol-pw"), Tags: []string{"monitoring"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Broker.Apply(&broker.Command{Op: broker.OpSetPermissions, User: "carol", Vhost: "rt",
		Configure: "^carol-", Write: ".*", Read: ".*"}); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Broker.Apply(&broker.Command{Op: broker.OpDeclareQueue, Vhost: "rt", Name: "carol-q", Durable: true}); err != nil {
		t.Fatal(err)
	}
	fromWarren, err := definitions.Export(p.Broker, "")
	if err != nil {
		t.Fatal(err)
	}
	api("POST", "definitions", string(fromWarren))
	rabbitURL := func(user, pass string) string {
		return fmt.Sprintf("amqp://%s:%s@%s/rt", url.PathEscape(user), url.PathEscape(pass), r.AMQPAddr)
	}
	carol, err := amqp.Dial(rabbitURL("carol", "carol-pw"))
	if err != nil {
		t.Fatalf("carol into RabbitMQ: %v\nWarren's export:\n%s", err, fromWarren)
	}
	defer carol.Close()
	cch, err := carol.Channel()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cch.QueueDeclarePassive("carol-q", true, false, false, false, nil); err != nil {
		t.Fatalf("carol-q in RabbitMQ: %v", err)
	}
	if c, err := amqp.Dial(rabbitURL("alice", "alice-pw")); err != nil {
		t.Fatalf("alice into RabbitMQ after the import: %v", err)
	} else {
		c.Close()
	}
	// RabbitMQ's export now holds what Warren exported.
	again := api("GET", "definitions", "")
	for _, want := range []string{`"carol"`, `"carol-q"`, `"bob-q"`} {
		if !bytes.Contains(again, []byte(want)) {
			t.Errorf("RabbitMQ's export lacks %s", want)
		}
	}
}
