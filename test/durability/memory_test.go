// Package durability tests the message store through the real binary:
// paging under memory budgets, disk alarms, recovery of damaged segments.
package durability

import (
	"context"
	"encoding/binary"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
	"github.com/warrenmq/warren/internal/warrentest"
)

// rss reads a process's resident memory from /proc.
func rss(t *testing.T, pid int) int64 {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmRSS:" {
			kb, _ := strconv.ParseInt(f[1], 10, 64)
			return kb << 10
		}
	}
	t.Fatal("no VmRSS")
	return 0
}

// TestQueuePastMemoryBudgetStaysBounded publishes far more transient data
// than the memory budgets allow into a queue nobody consumes, watching the
// broker's RSS, then drains it and checks every message comes back in order.
func TestQueuePastMemoryBudgetStaysBounded(t *testing.T) {
	const (
		n       = 100_000
		size    = 1024
		rssMax  = 160 << 20 // budgets total 16 MiB; the rest is runtime, buffers and ~40 B/message of index
		payload = n * size  // 150 MiB, ten times the budget
	)
	node := warrentest.Start(t, warrentest.WithEnv("WARREN_QUEUE_MEMORY=4MiB", "WARREN_TOTAL_QUEUE_MEMORY=16MiB"))
	c, err := amqp.Dial(node.AMQPURL())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ch, err := c.Channel()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ch.QueueDeclare("backlog", false, false, false, false, nil); err != nil {
		t.Fatal(err)
	}

	var peak atomic.Int64
	stop := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		for {
			if r := rss(t, node.PID()); r > peak.Load() {
				peak.Store(r)
			}
			select {
			case <-stop:
				return
			case <-time.After(50 * time.Millisecond):
			}
		}
	}()

	body := make([]byte, size)
	for i := 0; i < n; i++ {
		binary.BigEndian.PutUint64(body, uint64(i))
		if err := ch.PublishWithContext(context.Background(), "", "backlog", false, false, amqp.Publishing{Body: body}); err != nil {
			t.Fatal(err)
		}
	}
	warrentest.Eventually(t, 60*time.Second, func() bool {
		q, err := ch.QueueDeclarePassive("backlog", false, false, false, false, nil)
		return err == nil && q.Messages == n
	})
	afterPublish := peak.Load()

	if err := ch.Qos(1000, 0, false); err != nil {
		t.Fatal(err)
	}
	msgs, err := ch.Consume("backlog", "", false, false, false, false, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < n; i++ {
		var d amqp.Delivery
		select {
		case d = <-msgs:
		case <-time.After(30 * time.Second):
			t.Fatalf("got %d of %d messages", i, n)
		}
		if got := binary.BigEndian.Uint64(d.Body); got != uint64(i) || len(d.Body) != size {
			t.Fatalf("message %d: got number %d, %d bytes", i, got, len(d.Body))
		}
		if i%500 == 499 {
			if err := d.Ack(true); err != nil {
				t.Fatal(err)
			}
		}
	}
	close(stop)
	<-sampled
	t.Logf("%d MiB published; broker peak RSS %d MiB while publishing, %d MiB overall (limit %d MiB)",
		payload>>20, afterPublish>>20, peak.Load()>>20, rssMax>>20)
	if peak.Load() > rssMax {
		t.Fatalf("peak RSS %d MiB exceeds %d MiB", peak.Load()>>20, rssMax>>20)
	}
}
