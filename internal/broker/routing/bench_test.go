package routing

import (
	"fmt"
	"runtime"
	"strings"
	"testing"

	"github.com/warrenmq/warren/internal/amqp"
)

type benchQueue struct{ name string }

func benchQueues(n int) []*benchQueue {
	qs := make([]*benchQueue, n)
	for i := range qs {
		qs[i] = &benchQueue{name: fmt.Sprint("q", i)}
	}
	return qs
}

type benchBinding struct {
	d   *benchQueue
	key string
}

// topicBindings100k is 100,000 bindings of realistic shapes over 5,000
// queues.
func topicBindings100k() []benchBinding {
	qs := benchQueues(5000)
	bs := make([]benchBinding, 0, 100_000)
	add := func(i int, key string) { bs = append(bs, benchBinding{qs[i%len(qs)], key}) }
	for i := 0; i < 50_000; i++ { // 100 regions × 500 services
		add(i, fmt.Sprintf("region.r%d.service.s%d.#", i%100, i/100))
	}
	for i := 0; i < 30_000; i++ {
		add(i, fmt.Sprintf("*.entity%d.created", i))
	}
	for i := 0; i < 10_000; i++ {
		add(i, fmt.Sprintf("tenant%d.*.events.#", i))
	}
	for i := 0; i < 10_000; i++ {
		add(i, fmt.Sprintf("orders.o%d.updated", i))
	}
	return bs
}

func BenchmarkTopicRoute100k(b *testing.B) {
	bs := topicBindings100k()
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	m := NewTopic[*benchQueue]()
	for _, bb := range bs {
		m.Bind(bb.d, bb.key, nil)
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	heapPerBinding := float64(after.HeapAlloc-before.HeapAlloc) / float64(len(bs))
	cases := []struct {
		name string
		keys func(i int) string
		want int
	}{
		{"region-service-hash", func(i int) string {
			return fmt.Sprintf("region.r%d.service.s%d.orders.created", i%100, i%500)
		}, 1},
		{"star-entity-created", func(i int) string { return fmt.Sprintf("eu.entity%d.created", i*7%30_000) }, 1},
		{"tenant-events", func(i int) string { return fmt.Sprintf("tenant%d.x.events.a.b.c", i%10_000) }, 1},
		{"exact", func(i int) string { return fmt.Sprintf("orders.o%d.updated", i%10_000) }, 1},
		{"miss", func(i int) string { return fmt.Sprintf("nothing.here.%d", i) }, 0},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			keys := make([]string, 1024)
			for i := range keys {
				keys[i] = c.keys(i)
			}
			out := make([]*benchQueue, 0, 64)
			if got := len(m.Route(keys[0], nil, out)); got != c.want {
				b.Fatalf("Route(%q) = %d destinations, want %d", keys[0], got, c.want)
			}
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				out = m.Route(keys[i&1023], nil, out[:0])
			}
			b.ReportMetric(heapPerBinding, "heapB/binding")
		})
	}
}

func BenchmarkTopicBind(b *testing.B) {
	bs := topicBindings100k()
	b.ReportAllocs()
	m := NewTopic[*benchQueue]()
	for i := 0; b.Loop(); i++ {
		j := i % len(bs)
		if j == 0 && i > 0 {
			b.StopTimer()
			m = NewTopic[*benchQueue]()
			b.StartTimer()
		}
		m.Bind(bs[j].d, bs[j].key, nil)
	}
}

// BenchmarkTopicBindUnbind is churn on a full trie: each op binds a new
// key and unbinds it again.
func BenchmarkTopicBindUnbind(b *testing.B) {
	m := NewTopic[*benchQueue]()
	for _, bb := range topicBindings100k() {
		m.Bind(bb.d, bb.key, nil)
	}
	q := &benchQueue{}
	keys := make([]string, 1024)
	for i := range keys {
		keys[i] = fmt.Sprintf("region.r%d.service.new%d.#", i%100, i)
	}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		k := keys[i&1023]
		m.Bind(q, k, nil)
		m.Unbind(q, k, nil)
	}
}

func BenchmarkDirectRoute(b *testing.B) {
	qs := benchQueues(5000)
	m := NewDirect[*benchQueue]()
	keys := make([]string, 100_000)
	for i := range keys {
		keys[i] = fmt.Sprintf("orders.o%d", i)
		m.Bind(qs[i%len(qs)], keys[i], nil)
	}
	out := make([]*benchQueue, 0, 16)
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		out = m.Route(keys[(i*7919)%len(keys)], nil, out[:0])
	}
}

func BenchmarkFanoutRoute(b *testing.B) {
	qs := benchQueues(100)
	m := NewFanout[*benchQueue]()
	for _, q := range qs {
		m.Bind(q, "", nil)
	}
	out := make([]*benchQueue, 0, 128)
	b.ReportAllocs()
	for b.Loop() {
		out = m.Route("", nil, out[:0])
	}
}

// BenchmarkHeadersRoute routes a 5-header message through 1,000 bindings of
// two or three arguments, half all and half any.
func BenchmarkHeadersRoute(b *testing.B) {
	qs := benchQueues(1000)
	m := NewHeaders[*benchQueue]()
	for i, q := range qs {
		args := amqp.Table{"format": []string{"pdf", "zip", "txt"}[i%3], "region": fmt.Sprint("r", i%50)}
		if i%2 == 0 {
			args["x-match"] = "any"
			args["priority"] = int32(i % 10)
		}
		m.Bind(q, "", args)
	}
	h := amqp.Table{
		"format":   "pdf",
		"region":   "r7",
		"priority": int64(3),
		"user":     "alice",
		"size":     int32(4096),
	}
	out := make([]*benchQueue, 0, 1024)
	b.ReportAllocs()
	for b.Loop() {
		out = m.Route("", h, out[:0])
	}
}

// BenchmarkTopicRouteManyHashes routes a 120-word key through binding keys
// with many "#": without remembering visited states this is exponential.
func BenchmarkTopicRouteManyHashes(b *testing.B) {
	m := NewTopic[int]()
	for i, p := range []string{
		"#.#.#.#.#.#.#.#.#.#.#.#",
		"#.a.#.a.#.a.#.a.#.a.#.a.#.a.#.b",
		"#.*.#.*.#.*.#.*.#.*.#.*.#",
		"*.#.a.#.a.#.a.#.a.#.a.#.a.#.a.#.a.#",
	} {
		m.Bind(i, p, nil)
	}
	key := strings.TrimSuffix(strings.Repeat("a.", 120), ".")
	out := make([]int, 0, 8)
	b.ReportAllocs()
	for b.Loop() {
		out = m.Route(key, nil, out[:0])
	}
}
