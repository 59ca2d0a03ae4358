package segment

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Benchmarks run on the real disk (t.TempDir), since fsync cost is the
// point. Compare runs with benchstat, never single numbers.

func benchPublish(b *testing.B, writers, window int, split bool) {
	dir := b.TempDir()
	s, _ := mustOpen(b, dir, Options{})
	defer s.Close()
	m := &Message{Exchange: "bench", RoutingKey: "k", Props: make([]byte, 20), Body: make([]byte, 1024)}
	b.SetBytes(int64(len(m.Body)))
	b.ReportAllocs()
	var next atomic.Int64
	ctx := context.Background()
	st0 := s.Stats()
	b.ResetTimer()
	start := time.Now()
	var wg sync.WaitGroup
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			q := fmt.Sprintf("q%d", w)
			var seq uint64
			var lsn uint64
			for n := 0; next.Add(1) <= int64(b.N); n++ {
				seq++
				var err error
				if split {
					var ref Ref
					ref, _, err = s.WriteMessage(m, true)
					if err == nil {
						lsn, err = s.Enqueue(q, seq, ref, true, EntryMeta{})
					}
				} else {
					_, lsn, err = s.Publish(m, []Target{{Queue: q, Seq: seq, Durable: true}})
				}
				if err != nil {
					b.Error(err)
					return
				}
				if (n+1)%window == 0 {
					if err := s.Wait(ctx, lsn); err != nil {
						b.Error(err)
						return
					}
				}
			}
			if lsn != 0 {
				s.Wait(ctx, lsn)
			}
		}()
	}
	wg.Wait()
	el := time.Since(start).Seconds()
	b.StopTimer()
	st := s.Stats()
	b.ReportMetric(float64(b.N)/el, "msg/s")
	b.ReportMetric(float64(st.Fsyncs-st0.Fsyncs)/el, "fsyncs/s")
	if st.Fsyncs > st0.Fsyncs {
		b.ReportMetric(float64(b.N)/float64(st.Fsyncs-st0.Fsyncs), "msg/fsync")
	}
}

// BenchmarkPublishDurable: 1 KiB persistent messages, each writer waiting
// for its message to be durable before sending the next (window 1), or
// keeping a window of 64 unconfirmed messages, like publisher confirms.
func BenchmarkPublishDurable(b *testing.B) {
	for _, c := range []struct{ writers, window int }{{1, 1}, {16, 1}, {16, 64}} {
		b.Run(fmt.Sprintf("writers=%d/window=%d", c.writers, c.window), func(b *testing.B) {
			benchPublish(b, c.writers, c.window, false)
		})
	}
}

// BenchmarkWriteEnqueueDurable is the same with WriteMessage + Enqueue as
// two calls.
func BenchmarkWriteEnqueueDurable(b *testing.B) {
	for _, c := range []struct{ writers, window int }{{16, 1}, {16, 64}} {
		b.Run(fmt.Sprintf("writers=%d/window=%d", c.writers, c.window), func(b *testing.B) {
			benchPublish(b, c.writers, c.window, true)
		})
	}
}

func BenchmarkRead(b *testing.B) {
	dir := b.TempDir()
	s, _ := mustOpen(b, dir, Options{})
	defer s.Close()
	m := &Message{Exchange: "bench", RoutingKey: "k", Props: make([]byte, 20), Body: make([]byte, 1024)}
	refs := make([]Ref, 10000)
	for i := range refs {
		ref, _, err := s.Publish(m, []Target{{Queue: "q", Seq: uint64(i + 1), Durable: true}})
		if err != nil {
			b.Fatal(err)
		}
		refs[i] = ref
	}
	if err := s.Flush(context.Background()); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(m.Body)))
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		rng := rand.New(rand.NewPCG(rand.Uint64(), 1))
		for pb.Next() {
			if _, err := s.Read(refs[rng.IntN(len(refs))]); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

var (
	bigOnce sync.Once
	bigDir  string
	bigErr  error
)

const bigN = 1_000_000

// bigStore builds, once per test binary run, a store with bigN live 1 KiB
// messages in 10 queues, closed with a checkpoint. About 1.1 GiB on disk.
func bigStore(b *testing.B) string {
	bigOnce.Do(func() {
		bigDir, bigErr = os.MkdirTemp("", "segment-bench-1m-")
		if bigErr != nil {
			return
		}
		s, _, err := Open(bigDir, Options{NoAutoCompact: true})
		if err != nil {
			bigErr = err
			return
		}
		m := &Message{Exchange: "bench", RoutingKey: "k", Body: make([]byte, 1024)}
		for i := range bigN {
			q := fmt.Sprintf("q%d", i%10)
			if _, _, err := s.Publish(m, []Target{{Queue: q, Seq: uint64(i/10 + 1), Durable: true}}); err != nil {
				bigErr = err
				return
			}
		}
		bigErr = s.Close()
	})
	if bigErr != nil {
		b.Fatal(bigErr)
	}
	return bigDir
}

func cleanupBig() {
	if bigDir != "" {
		os.RemoveAll(bigDir)
	}
}

// BenchmarkOpen1M measures Open of a store holding 1,000,000 live 1 KiB
// messages: from its checkpoint (after Close), and by replaying the whole
// log (after a crash with no checkpoint). It reports the heap per live
// message: with the Recovery (what the broker receives) and without it
// (what the store itself keeps).
func BenchmarkOpen1M(b *testing.B) {
	dir := bigStore(b)
	b.Run("checkpoint", func(b *testing.B) { benchOpen(b, dir) })
	b.Run("replay", func(b *testing.B) {
		// a copy of the store without its checkpoint: hard links, so only
		// the segment files' names are copied
		crash := b.TempDir()
		ents, _ := os.ReadDir(dir)
		for _, e := range ents {
			if _, ok := parseSegName(e.Name()); ok || e.Name() == versionFile {
				if err := os.Link(filepath.Join(dir, e.Name()), filepath.Join(crash, e.Name())); err != nil {
					b.Fatal(err)
				}
			}
		}
		b.ResetTimer()
		for range b.N {
			b.StopTimer()
			for _, e := range mustReadDir(b, crash) {
				if _, ok := parseCkpName(e.Name()); ok {
					os.Remove(filepath.Join(crash, e.Name()))
				}
			}
			b.StartTimer()
			s, rec, err := Open(crash, Options{NoAutoCompact: true, CheckpointEvery: -1})
			if err != nil {
				b.Fatal(err)
			}
			b.StopTimer()
			if n := countEntries(rec); n != bigN {
				b.Fatalf("recovered %d", n)
			}
			s.Close()
			b.StartTimer()
		}
	})
}

func mustReadDir(b *testing.B, dir string) []os.DirEntry {
	ents, err := os.ReadDir(dir)
	if err != nil {
		b.Fatal(err)
	}
	return ents
}

func countEntries(rec *Recovery) int {
	n := 0
	for _, es := range rec.Queues {
		n += len(es)
	}
	return n
}

var benchLog = slog.New(slog.DiscardHandler)

func init() {
	if os.Getenv("SEGMENT_BENCH_LOG") != "" {
		benchLog = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
}

func benchOpen(b *testing.B, dir string) {
	var withRec, storeOnly float64
	b.ReportAllocs()
	for range b.N {
		b.StopTimer()
		runtime.GC()
		var m0 runtime.MemStats
		runtime.ReadMemStats(&m0)
		b.StartTimer()
		s, rec, err := Open(dir, Options{NoAutoCompact: true, Log: benchLog})
		if err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		if n := countEntries(rec); n != bigN || rec.Replayed > 0 {
			b.Fatalf("recovered %d entries, replayed %d bytes", n, rec.Replayed)
		}
		var m1, m2 runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&m1)
		runtime.KeepAlive(rec)
		rec = nil
		runtime.GC()
		runtime.ReadMemStats(&m2)
		withRec = float64(int64(m1.HeapAlloc)-int64(m0.HeapAlloc)) / bigN
		storeOnly = float64(int64(m2.HeapAlloc)-int64(m0.HeapAlloc)) / bigN
		s.Close()
		b.StartTimer()
	}
	b.ReportMetric(withRec, "heapB/msg")
	b.ReportMetric(storeOnly, "storeB/msg")
}
