package mgmt_test

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"testing"
	"time"

	amqp091 "github.com/rabbitmq/amqp091-go"

	"github.com/warrenmq/warren/internal/broker"
	"github.com/warrenmq/warren/internal/warrentest"
)

const benchQueues = 10000

func declareQueues(t testing.TB, n *node, count int) {
	t.Helper()
	for i := 0; i < count; i++ {
		if _, err := n.b.Apply(&broker.Command{Op: broker.OpDeclareQueue, Vhost: "/",
			Name: fmt.Sprintf("bench-%05d", i), Durable: i%2 == 0}); err != nil {
			t.Fatal(err)
		}
	}
}

// fetch GETs url as guest and returns the body size.
func fetch(t testing.TB, url string) int {
	t.Helper()
	n, err := tryFetch(url)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func tryFetch(url string) (int, error) {
	req, _ := http.NewRequest("GET", url, nil)
	req.SetBasicAuth("guest", "guest")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	defer res.Body.Close()
	n, _ := io.Copy(io.Discard, res.Body)
	if res.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("GET %s: %d", url, res.StatusCode)
	}
	return int(n), nil
}

// BenchmarkListQueues10k lists /api/queues with 10,000 queues: the whole
// list (what rabbitmqadmin list queues and scripts fetch) and one page of
// 100 sorted by name (what the UI fetches).
func BenchmarkListQueues10k(b *testing.B) {
	n := startNode(b, 5*time.Second)
	declareQueues(b, n, benchQueues)
	for _, c := range []struct{ name, path string }{
		{"all", "/api/queues"},
		{"page", "/api/queues?page=50&page_size=100&sort=name"},
		{"vhost-columns", "/api/queues/%2F?columns=name,messages"},
	} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			var size int
			for b.Loop() {
				size = fetch(b, n.url+c.path)
			}
			b.SetBytes(int64(size))
		})
	}
}

// TestListQueues10kVersusRabbitMQ times GET /api/queues with 10,000
// queues on Warren and on RabbitMQ 3.10.8 in one run. Opt-in: it starts
// RabbitMQ (WARREN_TEST_RABBITMQ=1).
func TestListQueues10kVersusRabbitMQ(t *testing.T) {
	if os.Getenv("WARREN_TEST_RABBITMQ") == "" {
		t.Skip("set WARREN_TEST_RABBITMQ=1 to compare with RabbitMQ")
	}
	n := startNode(t, 5*time.Second)
	declareQueues(t, n, benchQueues)
	rmq := warrentest.StartRabbitMQ(t)
	conn, err := amqp091.Dial(rmq.AMQPURL)
	if err != nil {
		t.Fatal(err)
	}
	ch, err := conn.Channel()
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < benchQueues; i++ {
		if _, err := ch.QueueDeclare(fmt.Sprintf("bench-%05d", i), i%2 == 0, false, false, false, nil); err != nil {
			t.Fatal(err)
		}
	}
	conn.Close()
	// RabbitMQ's stats db catches up asynchronously.
	deadline := time.Now().Add(60 * time.Second)
	for {
		req, _ := http.NewRequest("GET", rmq.MgmtURL+"/api/overview", nil)
		req.SetBasicAuth("guest", "guest")
		res, err := http.DefaultClient.Do(req)
		if err == nil {
			var o struct {
				ObjectTotals struct{ Queues int } `json:"object_totals"`
			}
			_ = jsonDecode(res.Body, &o)
			res.Body.Close()
			if o.ObjectTotals.Queues >= benchQueues {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatal("RabbitMQ did not list all queues in time")
		}
		time.Sleep(500 * time.Millisecond)
	}
	measure := func(name, base, path string) {
		_, _ = tryFetch(base + path) // warm up
		const runs = 5
		best := time.Duration(1 << 62)
		var total time.Duration
		var size int
		for i := 0; i < runs; i++ {
			start := time.Now()
			n, err := tryFetch(base + path)
			if err != nil {
				t.Errorf("%s: %v", name, err) // RabbitMQ answers 500 when its stats db times out under load
				continue
			}
			d := time.Since(start)
			size = n
			total += d
			best = min(best, d)
		}
		t.Logf("%-8s GET %-45s %5.1f MB  best %8v  mean %8v", name, path, float64(size)/1e6,
			best.Round(time.Millisecond), (total / runs).Round(time.Millisecond))
	}
	for _, path := range []string{"/api/queues", "/api/queues?page=50&page_size=100&sort=name"} {
		measure("warren", n.url, path)
		measure("rabbitmq", rmq.MgmtURL, path)
	}
}
