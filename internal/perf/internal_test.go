package perf

import (
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

func TestHistogramBuckets(t *testing.T) {
	vals := []uint64{0, 1, 63, 64, 127, 128, 129, 255, 256, 1000, 1 << 20, 123456789, 1<<62 + 12345, 1<<63 - 1}
	for range 1000 {
		vals = append(vals, rand.Uint64N(1<<40))
	}
	for _, v := range vals {
		i := bucketOf(v)
		if i < 0 || i >= nBuckets {
			t.Fatalf("bucketOf(%d) = %d out of range", v, i)
		}
		lo, hi := bucketRange(i)
		if v < lo || v > hi {
			t.Errorf("%d in bucket %d [%d, %d]", v, i, lo, hi)
		}
		if v >= 128 && float64(hi-lo) > float64(v)/64 {
			t.Errorf("bucket %d [%d, %d] wider than 1/64 of %d", i, lo, hi, v)
		}
	}
	for i := 1; i < nBuckets; i++ {
		_, prevHi := bucketRange(i - 1)
		lo, _ := bucketRange(i)
		if lo != prevHi+1 {
			t.Fatalf("bucket %d starts at %d, previous ends at %d", i, lo, prevHi)
		}
	}
}

func TestHistogramQuantiles(t *testing.T) {
	var h Histogram
	// 1..100000 µs, uniformly.
	for v := int64(1); v <= 100000; v++ {
		h.Record(v * 1000)
	}
	var s, prev HistSnapshot
	s.AddDelta(&h, &prev)
	if s.Count() != 100000 {
		t.Fatalf("count %d", s.Count())
	}
	for _, q := range []float64{0.5, 0.75, 0.95, 0.99} {
		got := float64(s.Quantile(q)) / 1000
		want := q * 100000
		if got < want*0.98 || got > want*1.02 {
			t.Errorf("q%.2f = %.0f µs, want %.0f ± 2%%", q, got, want)
		}
	}
	if m := s.Quantile(0); m < 990 || m > 1010 {
		t.Errorf("min = %d ns, want ~1000", m)
	}
	// A second delta sees only what was recorded since.
	h.Record(5)
	var s2 HistSnapshot
	s2.AddDelta(&h, &prev)
	if s2.Count() != 1 || s2.Quantile(0.5) != 5 {
		t.Errorf("delta: count %d, median %d", s2.Count(), s2.Quantile(0.5))
	}
	var empty HistSnapshot
	if empty.Quantile(0.5) != 0 {
		t.Error("empty snapshot quantile not 0")
	}
	if allocs := testing.AllocsPerRun(100, func() { h.Record(12345) }); allocs != 0 {
		t.Errorf("Record allocates %v", allocs)
	}
}

func TestConfirmTracker(t *testing.T) {
	var tr confirmTracker
	tr.init(8)
	steps := []struct {
		tag      uint64
		multiple bool
		want     int64
	}{
		{3, false, 1}, // out of order
		{1, false, 1},
		{1, false, 0}, // duplicate
		{5, true, 3},  // 2, 4, 5 (3 was single-acked)
		{7, false, 1},
		{6, false, 1}, // 6 then 7 already: low moves to 8
		{9, true, 2},  // 8, 9
		{4, true, 0},  // stale
	}
	for i, s := range steps {
		if got := tr.confirm(s.tag, s.multiple); got != s.want {
			t.Errorf("step %d confirm(%d, %v) = %d, want %d", i, s.tag, s.multiple, got, s.want)
		}
	}
	if tr.low != 10 {
		t.Errorf("low = %d, want 10", tr.low)
	}
}

func TestLimiter(t *testing.T) {
	l := newLimiter(2000)
	stop := make(chan struct{})
	start := time.Now()
	n := 0
	for time.Since(start) < 300*time.Millisecond {
		n += l.take(1000, stop)
	}
	if n < 450 || n > 700 {
		t.Errorf("2000/s for 300ms gave %d tokens", n)
	}
	close(stop)
	l2 := newLimiter(0.001)
	l2.take(1, stop) // the first token is there at once
	if got := l2.take(1, stop); got != 0 {
		t.Errorf("take after stop = %d", got)
	}
	if got := newLimiter(0).take(7, stop); got != 7 {
		t.Errorf("unlimited take = %d", got)
	}
}

func TestMessageTemplate(t *testing.T) {
	cfg, err := ParseArgs([]string{"-s", "100", "-f", "persistent", "-M", "4096"})
	if err != nil {
		t.Fatal(err)
	}
	p := newProducer(0, &conn{frameMax: 4096}, cfg, "x", "rk")
	if p.tmpl*p.maxN != len(p.batch) || p.maxN < 2 {
		t.Fatalf("batch of %d x %d bytes, len %d", p.maxN, p.tmpl, len(p.batch))
	}
	// The timestamp offset is the start of the first body frame's payload.
	msg := p.batch[:p.tmpl]
	if msg[p.tsOff-7] != 3 || !slices.Equal(msg[p.tsOff:p.tsOff+8], make([]byte, 8)) {
		t.Errorf("tsOff %d does not point into a body frame: % x", p.tsOff, msg)
	}
	big, _ := ParseArgs([]string{"-s", "10000", "-M", "4096"})
	pb := newProducer(0, &conn{frameMax: 4096}, big, "", "q")
	// 10000 bytes at frame_max 4096 is 3 body frames.
	if pb.tmpl < 10000+3*8 || pb.maxN < 1 {
		t.Errorf("large message template %d bytes, batch %d", pb.tmpl, pb.maxN)
	}
}
