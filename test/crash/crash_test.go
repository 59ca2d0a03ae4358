// Package crash is Warren's crash harness: a publisher with confirms writes
// numbered persistent messages while the broker is killed with SIGKILL at
// random moments; after every restart a consumer checks that every
// confirmed number is there, in order per queue.
//
//	go test ./test/crash -run Crash -crash.kills 200 -timeout 60m   # the long version
package crash

import (
	"context"
	"flag"
	"math/rand/v2"
	"strconv"
	"sync"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
	"github.com/warrenmq/warren/internal/warrentest"
)

var kills = flag.Int("crash.kills", 20, "how many times the broker is killed")

// The exchange fans out to two durable queues, so every message is also a
// check of the store's write-once, referenced-twice path.
var queues = []string{"crash-a", "crash-b"}

const exchange = "crash-x"

func TestCrashConfirmedMessagesSurviveKill9(t *testing.T) {
	node := warrentest.Start(t)
	setup(t, node.AMQPURL())

	var (
		next      = 1                         // next number to publish
		confirmed = map[int]bool{}            // confirmed by the broker, not yet read back
		acked     = map[string]map[int]bool{} // read back and acked, per queue
		dups      int
	)
	for _, q := range queues {
		acked[q] = map[int]bool{}
	}
	for round := 0; round < *kills; round++ {
		if round > 0 {
			dups += verify(t, node.AMQPURL(), confirmed, acked)
		}
		got := publishUntilKilled(t, node, &next)
		for _, n := range got {
			confirmed[n] = true
		}
		node.Restart(t)
	}
	dups += verify(t, node.AMQPURL(), confirmed, acked)
	t.Logf("%d kills, %d messages published, %d read back per queue, 0 confirmed messages lost, %d redelivered duplicates",
		*kills, next-1, len(acked[queues[0]]), dups)
}

func setup(t *testing.T, url string) {
	c, err := amqp.Dial(url)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ch, err := c.Channel()
	if err != nil {
		t.Fatal(err)
	}
	if err := ch.ExchangeDeclare(exchange, "fanout", true, false, false, false, nil); err != nil {
		t.Fatal(err)
	}
	for _, q := range queues {
		if _, err := ch.QueueDeclare(q, true, false, false, false, nil); err != nil {
			t.Fatal(err)
		}
		if err := ch.QueueBind(q, "", exchange, false, nil); err != nil {
			t.Fatal(err)
		}
	}
}

// publishUntilKilled publishes numbered persistent messages with confirms
// and kills the broker at a random moment after the first confirm (a
// confirm implies a group commit, which also covers the acks of the last
// verification). It returns the numbers the broker confirmed.
func publishUntilKilled(t *testing.T, node *warrentest.Node, next *int) []int {
	c, err := amqp.Dial(node.AMQPURL())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ch, err := c.Channel()
	if err != nil {
		t.Fatal(err)
	}
	if err := ch.Confirm(false); err != nil {
		t.Fatal(err)
	}
	confirms := ch.NotifyPublish(make(chan amqp.Confirmation, 1<<16))

	var mu sync.Mutex
	bySeq := map[uint64]int{}
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case <-stop:
				return
			default:
			}
			n := *next
			mu.Lock()
			bySeq[ch.GetNextPublishSeqNo()] = n
			mu.Unlock()
			err := ch.PublishWithContext(context.Background(), exchange, "", false, false,
				amqp.Publishing{DeliveryMode: amqp.Persistent, Body: []byte(strconv.Itoa(n))})
			if err != nil {
				return
			}
			*next = n + 1
		}
	}()

	var got []int
	first := true
	var deadline <-chan time.Time
	timeout := time.After(30 * time.Second)
	for {
		select {
		case cf, ok := <-confirms:
			if !ok {
				close(stop)
				<-done
				return got
			}
			if cf.Ack {
				mu.Lock()
				got = append(got, bySeq[cf.DeliveryTag])
				mu.Unlock()
			}
			if first {
				first = false
				deadline = time.After(time.Duration(rand.IntN(300)) * time.Millisecond)
			}
		case <-deadline:
			node.Kill()
			deadline = nil
		case <-timeout:
			t.Fatal("no confirms within 30s")
		}
	}
}

// verify reads every message of every queue, checks that each confirmed
// number is present and that numbers come in publish order, acks them, and
// returns how many were duplicates of messages acked before a crash (only
// allowed when flagged redelivered).
func verify(t *testing.T, url string, confirmed map[int]bool, acked map[string]map[int]bool) int {
	t.Helper()
	c, err := amqp.Dial(url)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ch, err := c.Channel()
	if err != nil {
		t.Fatal(err)
	}
	if err := ch.Qos(2000, 0, false); err != nil {
		t.Fatal(err)
	}
	dups := 0
	for _, q := range queues {
		st, err := ch.QueueDeclarePassive(q, true, false, false, false, nil)
		if err != nil {
			t.Fatal(err)
		}
		msgs, err := ch.Consume(q, "verify", false, false, false, false, nil)
		if err != nil {
			t.Fatal(err)
		}
		last := 0
		for i := 0; i < st.Messages; i++ {
			var d amqp.Delivery
			select {
			case d = <-msgs:
			case <-time.After(10 * time.Second):
				t.Fatalf("queue %s: got %d of %d messages", q, i, st.Messages)
			}
			n, err := strconv.Atoi(string(d.Body))
			if err != nil {
				t.Fatalf("queue %s: bad body %q", q, d.Body)
			}
			if acked[q][n] {
				if !d.Redelivered {
					t.Fatalf("queue %s: message %d was acked before the crash and came back without redelivered", q, n)
				}
				dups++
			} else if n <= last && !d.Redelivered {
				t.Fatalf("queue %s: message %d after %d: out of order", q, n, last)
			}
			last = max(last, n)
			acked[q][n] = true
			if i%500 == 499 || i == st.Messages-1 {
				if err := d.Ack(true); err != nil {
					t.Fatal(err)
				}
			}
		}
		if err := ch.Cancel("verify", false); err != nil {
			t.Fatal(err)
		}
		for n := range confirmed {
			if !acked[q][n] {
				t.Fatalf("queue %s: confirmed message %d lost", q, n)
			}
		}
	}
	for n := range confirmed {
		delete(confirmed, n)
	}
	return dups
}
