// Package semantics is the executable specification of the queue features
// people build on (TTL, dead-lettering, length limits, priorities,
// consumer features, alternate exchanges, CC/BCC, policies): each scenario
// runs with the real amqp091-go client against a private RabbitMQ 3.10.8
// node and against a real `warren server`, asserts the expected results
// and then checks that both brokers showed the same thing (headers field
// by field with their types, order, counts, error codes and texts).
//
// A scenario is a func(t, *target) returning what it observed; crossCheck
// runs it as the subtests rabbitmq (first: it validates the expectation)
// and warren, then compares the two observations. Deliberate differences
// are asserted per target with tg.isWarren() and a comment.
//
// One RabbitMQ node serves the whole package (started on first use, stopped
// by TestMain); each test starts its own Warren.
package semantics

import (
	"fmt"
	"os"
	"sync"
	"testing"

	"github.com/warrenmq/warren/internal/warrentest"
)

var rmq struct {
	once sync.Once
	dir  string
	node *warrentest.RabbitMQ
	err  error
}

func TestMain(m *testing.M) {
	code := m.Run()
	if rmq.node != nil {
		if err := rmq.node.Stop(); err != nil {
			fmt.Fprintln(os.Stderr, err)
		}
	}
	if rmq.dir != "" {
		os.RemoveAll(rmq.dir)
	}
	os.Exit(code)
}

// rabbitNode starts the package's RabbitMQ node on first use. A missing
// RabbitMQ fails the test: the cross-check is the point of this package.
func rabbitNode(t *testing.T) *warrentest.RabbitMQ {
	t.Helper()
	rmq.once.Do(func() {
		rmq.dir, rmq.err = os.MkdirTemp("", "semantics-rabbitmq-")
		if rmq.err != nil {
			return
		}
		rmq.node, rmq.err = warrentest.StartRabbitMQIn(rmq.dir)
		if rmq.err != nil {
			return
		}
		// Channels check the consumer timeout on their tick, every 60 s by
		// default; a short tick lets the consumer-timeout scenario finish
		// in seconds. It changes nothing else that the scenarios observe.
		_, rmq.err = rmq.node.Ctl("eval", "application:set_env(rabbit, channel_tick_interval, 100).")
	})
	if rmq.err != nil {
		t.Fatalf("rabbitmq: %v (scripts/test-deps.sh installs rabbitmq-server)", rmq.err)
	}
	return rmq.node
}
