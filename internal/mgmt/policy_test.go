package mgmt_test

import (
	"net/http"
	"testing"

	amqp091 "github.com/rabbitmq/amqp091-go"
)

// Policies and operator policies through the API apply to queues at once,
// and queues report which apply and what results.
func TestPoliciesApplied(t *testing.T) {
	n := startNode(t)
	must(t, n.guest(t, "PUT", "/api/queues/%2F/pq", map[string]any{"arguments": map[string]any{"x-single-active-consumer": true}}), http.StatusCreated)
	for i := 0; i < 6; i++ {
		must(t, n.guest(t, "POST", "/api/exchanges/%2F/amq.default/publish",
			map[string]any{"routing_key": "pq", "payload": "m", "payload_encoding": "string", "properties": map[string]any{}}), http.StatusOK)
	}
	must(t, n.guest(t, "PUT", "/api/policies/%2F/cap",
		map[string]any{"pattern": "^pq$", "apply-to": "queues", "definition": map[string]any{"max-length": 4, "ha-mode": "all"}}), http.StatusCreated)
	must(t, n.guest(t, "PUT", "/api/operator-policies/%2F/opcap",
		map[string]any{"pattern": "^p", "apply-to": "queues", "definition": map[string]any{"max-length": 2}}), http.StatusCreated)
	// An operator policy may not set what is not a limit.
	must(t, n.guest(t, "PUT", "/api/operator-policies/%2F/bad",
		map[string]any{"pattern": "^p", "definition": map[string]any{"dead-letter-exchange": "x"}}), http.StatusBadRequest)
	ops := must(t, n.guest(t, "GET", "/api/operator-policies/%2F", nil), http.StatusOK).list(t)
	if len(ops) != 1 || ops[0]["name"] != "opcap" {
		t.Fatalf("operator policies = %v", ops)
	}

	q := must(t, n.guest(t, "GET", "/api/queues/%2F/pq", nil), http.StatusOK).obj(t)
	if q["policy"] != "cap" || q["operator_policy"] != "opcap" || q["messages_ready"] != float64(2) {
		t.Fatalf("queue: policy %v operator_policy %v messages_ready %v", q["policy"], q["operator_policy"], q["messages_ready"])
	}
	eff, _ := q["effective_policy_definition"].(map[string]any)
	if eff["max-length"] != float64(2) || eff["ha-mode"] != "all" {
		t.Fatalf("effective_policy_definition = %v", eff)
	}

	// Single active consumer: one consumer is active, the other waits.
	conn, err := amqp091.Dial(n.amqpURL("guest", "guest", "/"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ch, err := conn.Channel()
	if err != nil {
		t.Fatal(err)
	}
	for _, tag := range []string{"first", "second"} {
		if _, err := ch.Consume("pq", tag, false, false, false, false, nil); err != nil {
			t.Fatal(err)
		}
	}
	q = must(t, n.guest(t, "GET", "/api/queues/%2F/pq", nil), http.StatusOK).obj(t)
	if q["single_active_consumer_tag"] != "first" {
		t.Fatalf("single_active_consumer_tag = %v", q["single_active_consumer_tag"])
	}
	status := map[string]any{}
	for _, c := range must(t, n.guest(t, "GET", "/api/consumers/%2F", nil), http.StatusOK).list(t) {
		status[c["consumer_tag"].(string)] = c["activity_status"]
	}
	if status["first"] != "single_active" || status["second"] != "waiting" {
		t.Fatalf("activity_status = %v", status)
	}

	// Clearing both: new messages are no longer trimmed.
	must(t, n.guest(t, "DELETE", "/api/operator-policies/%2F/opcap", nil), http.StatusNoContent)
	must(t, n.guest(t, "DELETE", "/api/policies/%2F/cap", nil), http.StatusNoContent)
	q = must(t, n.guest(t, "GET", "/api/queues/%2F/pq", nil), http.StatusOK).obj(t)
	if q["policy"] != nil || q["operator_policy"] != nil {
		t.Fatalf("after clearing: policy %v operator_policy %v", q["policy"], q["operator_policy"])
	}
}
