package durability

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
	"github.com/warrenmq/warren/internal/resource"
	"github.com/warrenmq/warren/internal/warrentest"
)

// smallDisk mounts a tmpfs of the given size for the test (the suite runs
// as root; see the README).
func smallDisk(t *testing.T, size string) string {
	dir := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size="+size, "tmpfs", dir).CombinedOutput(); err != nil {
		t.Fatalf("mount a tmpfs for the disk alarm (needs root): %v: %s", err, out)
	}
	t.Cleanup(func() { exec.Command("umount", "-l", dir).Run() })
	return dir
}

// TestDiskAlarmBlocksPublishersAndLosesNothing fills the data directory's
// file system past disk_free_limit while a publisher runs: the publisher
// gets connection.blocked and stalls, a consumer keeps draining, and once
// space is freed the publisher is unblocked and every message arrives.
func TestDiskAlarmBlocksPublishersAndLosesNothing(t *testing.T) {
	disk := smallDisk(t, "128m")
	data := filepath.Join(disk, "data")
	const limit = 48 << 20
	node := warrentest.Start(t, warrentest.WithDataDir(data),
		warrentest.WithEnv("WARREN_DISK_FREE_LIMIT="+strconv.Itoa(limit)))
	if free, _ := resource.DiskFree(disk); free < limit+32<<20 {
		t.Fatalf("only %d MiB free on the test disk after start", free>>20)
	}

	pubConn, err := amqp.Dial(node.AMQPURL())
	if err != nil {
		t.Fatal(err)
	}
	defer pubConn.Close()
	blocked := pubConn.NotifyBlocked(make(chan amqp.Blocking, 4))
	pub, err := pubConn.Channel()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := pub.QueueDeclare("alarmed", true, false, false, false, nil); err != nil {
		t.Fatal(err)
	}
	if err := pub.Confirm(false); err != nil {
		t.Fatal(err)
	}
	confirms := pub.NotifyPublish(make(chan amqp.Confirmation, 10000))
	publish := func(n int) {
		if err := pub.PublishWithContext(context.Background(), "", "alarmed", false, false,
			amqp.Publishing{DeliveryMode: amqp.Persistent, Body: []byte(strconv.Itoa(n))}); err != nil {
			t.Fatal(err)
		}
	}
	for i := 0; i < 100; i++ {
		publish(i)
	}
	for i := 0; i < 100; i++ {
		if c := <-confirms; !c.Ack {
			t.Fatalf("publish %d nacked", c.DeliveryTag)
		}
	}

	// Fill the disk: the alarm goes up. As in RabbitMQ, the publisher is
	// told (connection.blocked) when it next publishes, and from then on
	// the broker stops reading it, so nothing more is confirmed.
	filler := filepath.Join(disk, "filler")
	if err := os.WriteFile(filler, make([]byte, 100<<20), 0o644); err != nil {
		t.Fatal(err)
	}
	warrentest.Eventually(t, 10*time.Second, func() bool {
		return strings.Contains(node.Log(), "resource alarm raised")
	})
	for i := 100; i < 200; i++ {
		publish(i)
	}
	select {
	case b := <-blocked:
		if !b.Active || b.Reason != "low on disk" {
			t.Fatalf("got %+v, want blocked with reason \"low on disk\"", b)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("publisher not blocked after the disk filled up")
	}
	select {
	case c := <-confirms:
		t.Fatalf("publish %d confirmed while the disk alarm is on", c.DeliveryTag)
	case <-time.After(1500 * time.Millisecond):
	}
	// ...while a consumer on another connection keeps draining.
	conConn, err := amqp.Dial(node.AMQPURL())
	if err != nil {
		t.Fatal(err)
	}
	defer conConn.Close()
	con, err := conConn.Channel()
	if err != nil {
		t.Fatal(err)
	}
	msgs, err := con.Consume("alarmed", "", true, false, false, false, nil)
	if err != nil {
		t.Fatal(err)
	}
	next := 0
	receive := func(upto int) {
		for next < upto {
			select {
			case d := <-msgs:
				if string(d.Body) != strconv.Itoa(next) {
					t.Fatalf("got message %q, want %d", d.Body, next)
				}
				next++
			case <-time.After(10 * time.Second):
				t.Fatalf("consumer stuck at message %d", next)
			}
		}
	}
	receive(100)

	// Free the space: unblocked, and the held publishes go through.
	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	select {
	case b := <-blocked:
		if b.Active {
			t.Fatalf("got %+v, want unblocked", b)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("publisher not unblocked after space was freed")
	}
	for i := 100; i < 200; i++ {
		select {
		case c := <-confirms:
			if !c.Ack {
				t.Fatalf("publish %d nacked", c.DeliveryTag)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("publish %d not confirmed after the alarm cleared", i+1)
		}
	}
	receive(200)
}
