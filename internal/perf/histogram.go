package perf

import (
	"math/bits"
	"sync/atomic"
)

// The latency histogram is HDR-style: values below 128 ns have a bucket
// each; above that, every power of two is split into 64 buckets, so a
// bucket is at most 1/64 (1.6 %) of its value wide. Recording is one atomic
// add, with no allocation, so a consumer records every message while the
// reporter reads concurrently.
const (
	subBits    = 6
	subBuckets = 1 << subBits // 64
	// nBuckets covers every uint64: the largest shift is 64-1-subBits,
	// and bucket (shift+1)*64 + 63 is the last.
	nBuckets = (64 - subBits + 1) * subBuckets
)

// bucketOf returns the bucket index of v (nanoseconds, >= 0).
func bucketOf(v uint64) int {
	s := bits.Len64(v) - subBits - 1
	if s <= 0 {
		return int(v) // v < 128: exact
	}
	return (s+1)*subBuckets + int(v>>uint(s)) - subBuckets
}

// bucketRange returns the smallest and largest value of bucket i.
func bucketRange(i int) (lo, hi uint64) {
	if i < 2*subBuckets {
		return uint64(i), uint64(i)
	}
	s := uint(i/subBuckets - 1)
	m := uint64(i%subBuckets + subBuckets)
	return m << s, (m+1)<<s - 1
}

// Histogram counts latencies in nanoseconds. The zero value is ready to
// use; it is safe for one writer and any number of concurrent readers.
type Histogram struct {
	counts [nBuckets]atomic.Uint64
}

// Record adds one value (negative values count as 0).
func (h *Histogram) Record(ns int64) {
	if ns < 0 {
		ns = 0
	}
	h.counts[bucketOf(uint64(ns))].Add(1)
}

// HistSnapshot is a plain (non-atomic) copy of histogram counts, used to
// compute percentiles of an interval or a whole run.
type HistSnapshot struct {
	counts [nBuckets]uint64
	total  uint64
}

// Reset empties the snapshot.
func (s *HistSnapshot) Reset() { *s = HistSnapshot{} }

// Count is the number of recorded values.
func (s *HistSnapshot) Count() uint64 { return s.total }

// Record adds one value directly to the snapshot.
func (s *HistSnapshot) Record(ns int64) {
	if ns < 0 {
		ns = 0
	}
	s.counts[bucketOf(uint64(ns))]++
	s.total++
}

// AddDelta adds to s what h recorded since prev was taken, and updates
// prev to h's current counts. With a fresh prev it adds all of h.
func (s *HistSnapshot) AddDelta(h *Histogram, prev *HistSnapshot) {
	for i := range h.counts {
		c := h.counts[i].Load()
		if d := c - prev.counts[i]; d != 0 {
			s.counts[i] += d
			s.total += d
			prev.total += d
			prev.counts[i] = c
		}
	}
}

// Merge adds o's counts to s.
func (s *HistSnapshot) Merge(o *HistSnapshot) {
	for i, c := range o.counts {
		s.counts[i] += c
	}
	s.total += o.total
}

// Quantile returns the value at quantile q (0..1) in nanoseconds: the
// middle of the bucket holding it (the exact value below 128 ns). It is 0
// for an empty snapshot. Quantile(0) is the minimum, Quantile(1) the
// maximum, both to bucket precision.
func (s *HistSnapshot) Quantile(q float64) int64 {
	if s.total == 0 {
		return 0
	}
	// rank is 1-based: the smallest value v with at least rank values <= v.
	rank := uint64(q*float64(s.total) + 0.5)
	if rank < 1 {
		rank = 1
	}
	if rank > s.total {
		rank = s.total
	}
	var seen uint64
	for i, c := range s.counts {
		seen += c
		if seen >= rank {
			lo, hi := bucketRange(i)
			if q <= 0 {
				return int64(lo)
			}
			return int64(lo + (hi-lo)/2)
		}
	}
	return 0 // unreachable
}
