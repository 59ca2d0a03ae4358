package broker

import (
	"container/heap"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"testing"
	"time"

	"github.com/warrenmq/warren/internal/amqp"
	"github.com/warrenmq/warren/internal/store/segment"
)

func TestDelayOf(t *testing.T) {
	for _, c := range []struct {
		v    any
		want int64
		ok   bool
	}{
		{int8(-3), -3, true},
		{uint8(200), 200, true},
		{int16(-300), -300, true},
		{uint16(60000), 60000, true},
		{int32(5000), 5000, true},
		{uint32(1<<32 - 1), 1<<32 - 1, true},
		{int64(1 << 40), 1 << 40, true},
		{float32(12.9), 12, true},
		{float64(-7.5), -7, true},
		{amqp.Decimal{Scale: 2, Value: 12345}, 123, true},
		{"2500", 2500, true},
		{"-10", -10, true},
		{"soon", 0, false},
		{[]byte("100"), 0, false}, // a byte array is not one of the plugin's string types
		{true, 0, false},
		{nil, 0, false},
	} {
		got, ok := delayOf(amqp.Table{"x-delay": c.v})
		if got != c.want || ok != c.ok {
			t.Errorf("delayOf(%T %v) = %d, %v; want %d, %v", c.v, c.v, got, ok, c.want, c.ok)
		}
	}
	if _, ok := delayOf(amqp.Table{}); ok {
		t.Error("delayOf without x-delay reports a delay")
	}
}

func TestValidateDelayedArgs(t *testing.T) {
	for _, c := range []struct {
		args amqp.Table
		kind Kind
		text string
	}{
		{nil, KindPreconditionFailed, "Invalid argument, 'x-delayed-type' must be an existing exchange type"},
		{amqp.Table{"x-delayed-type": int32(1)}, KindPreconditionFailed, "Invalid argument, 'x-delayed-type' must be an existing exchange type"},
		{amqp.Table{"x-delayed-type": KindDelayed}, KindPreconditionFailed, "Invalid argument, 'x-delayed-message' can't be used for 'x-delayed-type'"},
		{amqp.Table{"x-delayed-type": "Direct"}, KindCommandInvalid, "unknown exchange type 'Direct'"},
	} {
		err := validateExchangeArgs(KindDelayed, c.args)
		var e *Error
		if !errors.As(err, &e) || e.Kind != c.kind || e.Text != c.text {
			t.Errorf("args %v: %v, want %v %q", c.args, err, c.kind, c.text)
		}
	}
	for _, k := range []string{KindDirect, KindFanout, KindTopic, KindHeaders} {
		if err := validateExchangeArgs(KindDelayed, amqp.Table{"x-delayed-type": k}); err != nil {
			t.Errorf("x-delayed-type %s: %v", k, err)
		}
	}
	if err := validateExchangeArgs(KindDirect, nil); err != nil {
		t.Errorf("direct: %v", err)
	}
	if !ValidExchangeType(KindDelayed) || ValidExchangeType("x-delayed") {
		t.Error("ValidExchangeType does not know x-delayed-message")
	}
}

func propsWith(t *testing.T, h amqp.Table) []byte {
	t.Helper()
	b, err := amqp.AppendProperties(nil, &amqp.Properties{Headers: h, DeliveryMode: 2, MessageID: "m1"})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestNegatedDelay(t *testing.T) {
	for _, c := range []struct {
		in   any
		want any
	}{
		{int32(1500), int32(-1500)},
		{"250", int32(-250)},
		{float64(99.9), int32(-99)},
		{int64(1<<32 - 1), int64(-(1<<32 - 1))}, // does not fit a signed 32-bit integer
	} {
		m := &Message{Exchange: "x", RoutingKey: "k", Body: []byte("b"), Persistent: true,
			Props: propsWith(t, amqp.Table{"x-delay": c.in, "other": "kept"})}
		nm := withNegatedDelay(m)
		var p amqp.Properties
		if _, err := p.Decode(nm.Props); err != nil {
			t.Fatal(err)
		}
		if p.Headers["x-delay"] != c.want || p.Headers["other"] != "kept" || p.MessageID != "m1" || p.DeliveryMode != 2 {
			t.Errorf("x-delay %T %v: got headers %v, props %+v", c.in, c.in, p.Headers, p)
		}
		if !nm.Persistent || nm.RoutingKey != "k" || string(nm.Body) != "b" {
			t.Errorf("message fields lost: %+v", nm)
		}
		var op amqp.Properties
		if _, err := op.Decode(m.Props); err != nil || op.Headers["x-delay"] != c.in {
			t.Errorf("the original message changed: %v %v", op.Headers, err)
		}
	}
}

// A broker without a message store keeps held messages in memory; they
// are routed in due order (FIFO for equal due times), and deleting the
// exchange drops them.
func TestDelayedInMemory(t *testing.T) {
	b, err := New(Config{DefaultVhost: "/"})
	if err != nil {
		t.Fatal(err)
	}
	apply := func(c *Command) {
		t.Helper()
		if _, err := b.Apply(c); err != nil {
			t.Fatalf("%s %s: %v", c.Op, c.Name, err)
		}
	}
	args := amqp.Table{"x-delayed-type": KindFanout}
	apply(&Command{Op: OpDeclareExchange, Vhost: "/", Name: "dx", Type: KindDelayed, Args: args})
	apply(&Command{Op: OpDeclareExchange, Vhost: "/", Name: "gone", Type: KindDelayed, Args: args})
	apply(&Command{Op: OpDeclareQueue, Vhost: "/", Name: "q"})
	apply(&Command{Op: OpDeclareQueue, Vhost: "/", Name: "g"})
	apply(&Command{Op: OpBind, Vhost: "/", Source: "dx", Destination: "q", DestType: DestQueue})
	apply(&Command{Op: OpBind, Vhost: "/", Source: "gone", Destination: "g", DestType: DestQueue})
	v := b.Vhost("/")
	dx, gone := v.Exchange("dx"), v.Exchange("gone")
	var sc Scratch
	pub := func(x *Exchange, delay any) PublishResult {
		t.Helper()
		m := &Message{Exchange: x.Name, Props: propsWith(t, amqp.Table{"x-delay": delay}), Body: []byte("b")}
		res, err := v.Publish(x, m, &sc)
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	for range 3 {
		if res := pub(dx, int32(1200)); res.Routed != 0 || res.LSN != 0 || res.Refused {
			t.Fatalf("held message: %+v, want nothing routed", res)
		}
	}
	if res := pub(dx, int32(0)); res.Routed != 1 {
		t.Fatalf("x-delay 0: %+v, want routed at once", res)
	}
	// due well before dx's: had it not been dropped, it would be in g by
	// the time dx's messages are in q
	pub(gone, int32(800))
	pub(gone, int32(60_000))
	if n, ok := dx.MessagesDelayed(); !ok || n != 3 {
		t.Fatalf("messages_delayed = %d, %v; want 3", n, ok)
	}
	if _, ok := v.Exchange("amq.direct").MessagesDelayed(); ok {
		t.Fatal("a direct exchange reports messages_delayed")
	}
	apply(&Command{Op: OpDeleteExchange, Vhost: "/", Name: "gone"})
	if n, _ := gone.MessagesDelayed(); n != 0 {
		t.Fatalf("deleted exchange still holds %d", n)
	}
	q := v.Queue("q")
	deadline := time.Now().Add(5 * time.Second)
	for {
		if ready, _, _ := q.Counts(); ready == 4 {
			break
		}
		if time.Now().After(deadline) {
			ready, _, _ := q.Counts()
			t.Fatalf("queue holds %d messages, want 4", ready)
		}
		time.Sleep(5 * time.Millisecond)
	}
	if n, _ := dx.MessagesDelayed(); n != 0 {
		t.Fatalf("messages_delayed = %d after routing", n)
	}
	if ready, _, _ := v.Queue("g").Counts(); ready != 0 {
		t.Fatalf("a deleted exchange's held message was routed: %d", ready)
	}
}

// Equal due times leave in arrival order, whatever order pushes came in.
func TestPendingHeapOrder(t *testing.T) {
	var h pendingHeap
	for i, due := range []int64{30, 10, 20, 10, 30, 10} {
		heap.Push(&h, pending{due: due, ord: uint64(i + 1), seq: uint64(i)})
	}
	var got []uint64
	for h.Len() > 0 {
		got = append(got, heap.Pop(&h).(pending).seq)
	}
	if want := []uint64{1, 3, 5, 2, 0, 4}; !slices.Equal(got, want) {
		t.Fatalf("order %v, want %v", got, want)
	}
}

// BenchmarkDelayedHold holds messages (100-byte bodies, an hour's delay)
// in a durable delayed exchange backed by a real message store, and
// reports the heap each held message costs once the bodies are on disk.
func BenchmarkDelayedHold(b *testing.B) {
	for _, persistent := range []bool{false, true} {
		b.Run(fmt.Sprintf("persistent=%v", persistent), func(b *testing.B) {
			st, rec, err := segment.Open(b.TempDir(), segment.Options{})
			if err != nil {
				b.Fatal(err)
			}
			defer st.Close()
			br, err := New(Config{DefaultVhost: "/", Store: st, Recovered: rec.Queues})
			if err != nil {
				b.Fatal(err)
			}
			if _, err := br.Apply(&Command{Op: OpDeclareExchange, Vhost: "/", Name: "d", Type: KindDelayed,
				Durable: true, Args: amqp.Table{"x-delayed-type": KindDirect}}); err != nil {
				b.Fatal(err)
			}
			v := br.Vhost("/")
			x := v.Exchange("d")
			mode := uint8(1)
			if persistent {
				mode = 2
			}
			props, err := amqp.AppendProperties(nil, &amqp.Properties{DeliveryMode: mode,
				Headers: amqp.Table{"x-delay": int32(3_600_000)}})
			if err != nil {
				b.Fatal(err)
			}
			body := make([]byte, 100)
			var sc Scratch
			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			b.ResetTimer()
			for range b.N {
				m := &Message{Exchange: "d", RoutingKey: "k", Props: props, Body: body, Persistent: persistent}
				if res, err := v.Publish(x, m, &sc); err != nil || res.Refused {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			if err := st.Flush(b.Context()); err != nil {
				b.Fatal(err)
			}
			runtime.GC()
			runtime.ReadMemStats(&after)
			if n, _ := x.MessagesDelayed(); n != b.N {
				b.Fatalf("holds %d of %d", n, b.N)
			}
			b.ReportMetric(float64(int64(after.HeapAlloc)-int64(before.HeapAlloc))/float64(b.N), "heapB/held")
			x.dropDelayed()
		})
	}
}
