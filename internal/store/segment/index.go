package segment

import (
	"math/bits"
	"os"
	"slices"
	"sort"
)

// segment is the in-memory state of one segment file. Guarded by Store.mu,
// except f, which the syncer sets under mu and then uses without it.
type segment struct {
	id uint32
	f  *os.File // nil until the syncer creates the file

	size    int64 // bytes appended, buffered or not: the next record's offset
	written int64 // bytes handed to the file
	durable int64 // bytes known to be on disk (fsynced)

	// What keeps the segment: while any of these is non-zero, or any
	// segment in deps still exists, the file must stay.
	enq   int64 // live enqueue records in this segment
	refs  int64 // live queue references to bodies in this segment
	fixed int64 // of refs, those compaction cannot move: non-durable enqueues
	// (no record says where they point) and enqueue records in other segments
	holds int64 // transient bodies awaiting Release
	loose bool  // WriteMessage wrote a durable body here that Enqueue may still claim

	// deps lists segments holding records that records in this segment
	// cancel or annotate (acks, deliveries, queue deletions, compaction
	// markers). Sorted. An ack may never outlive the enqueue it cancels.
	deps []uint32

	bodies    int64 // message records ever written here
	bodyBytes int64 // and their total size

	prealloc bool // the file was zero-filled to SegmentSize beforehand (trimmed once sealed)

	condemned  bool   // compacted: everything needed was copied out
	condemnLSN uint64 // ... once this LSN is durable
}

func (g *segment) live() bool { return g.enq > 0 || g.refs > 0 || g.holds > 0 }

// movable reports whether compaction could relocate everything g keeps.
func (g *segment) movable() bool { return g.fixed == 0 && g.holds == 0 }

// addDep records that g holds a record depending on segment d.
func (g *segment) addDep(d uint32) {
	if d == g.id || d == 0 {
		return
	}
	i, found := slices.BinarySearch(g.deps, d)
	if !found {
		g.deps = slices.Insert(g.deps, i, d)
	}
}

// liveBytes estimates how many bytes of g are still needed.
func (g *segment) liveBytes() int64 {
	n := g.enq * enqueueRecSize
	if g.bodies > 0 {
		live := min(g.refs, g.bodies)
		n += live * (g.bodyBytes / g.bodies)
	}
	return n
}

// owner is one queue incarnation: a name bound to an id that the log's
// records carry. A deleted queue's id is never reused.
type owner struct {
	id      uint32
	name    string
	lastSeq uint64 // highest seq ever enqueued (seqs must grow)
	hasSeq  bool
	defSeg  uint32 // last segment that got an owner record for id
	onDisk  bool   // some record of id may be in the log
	runs    []*run // sorted by first, disjoint
}

// run is a compact index of consecutive enqueues of one owner: the seq range
// [first, last], which of those seqs are still held (bits) and delivered
// (dlv), and the one segment that holds their enqueue records and bodies.
// It replaces per-message bookkeeping: a live entry costs one or two bits.
// A run never spans segments: a new one starts when the head rolls over.
type run struct {
	first, last uint64
	eseg        uint32 // segment with the enqueue records (0: non-durable, none written)
	bseg        uint32 // segment with the bodies (usually eseg)
	fwd         uint32 // segment the callers' Refs point into, if compaction moved the bodies
	live        int64
	durable     bool
	bits        []uint64
	dlv         []uint64
}

// runGap is the largest seq gap kept inside one run; a bigger gap starts a
// new run so bitmaps stay dense.
const runGap = 256

func (r *run) has(seq uint64) bool {
	if seq < r.first || seq > r.last {
		return false
	}
	i := seq - r.first
	return r.bits[i>>6]&(1<<(i&63)) != 0
}

func (r *run) delivered(seq uint64) bool {
	i := seq - r.first
	w := int(i >> 6)
	return w < len(r.dlv) && r.dlv[w]&(1<<(i&63)) != 0
}

func (r *run) setDelivered(seq uint64) {
	i := seq - r.first
	w := int(i >> 6)
	for len(r.dlv) <= w {
		r.dlv = append(r.dlv, 0)
	}
	r.dlv[w] |= 1 << (i & 63)
}

func (r *run) add(seq uint64, redelivered bool) {
	i := seq - r.first
	w := int(i >> 6)
	for len(r.bits) <= w {
		r.bits = append(r.bits, 0)
	}
	r.bits[w] |= 1 << (i & 63)
	r.last = seq
	r.live++
	if redelivered {
		r.setDelivered(seq)
	}
}

func (r *run) clear(seq uint64) {
	i := seq - r.first
	r.bits[i>>6] &^= 1 << (i & 63)
	r.live--
}

// each calls fn for every live seq of r, in order.
func (r *run) each(fn func(seq uint64)) {
	for w, word := range r.bits {
		for word != 0 {
			b := uint64(bits.TrailingZeros64(word))
			fn(r.first + uint64(w)*64 + b)
			word &^= 1 << b
		}
	}
}

// find returns the run that covers seq, or nil.
func (o *owner) find(seq uint64) (int, *run) {
	n := len(o.runs)
	if n > 0 && seq >= o.runs[n-1].first {
		if seq <= o.runs[n-1].last {
			return n - 1, o.runs[n-1]
		}
		return -1, nil
	}
	i := sort.Search(n, func(i int) bool { return o.runs[i].last >= seq })
	if i < n && o.runs[i].first <= seq {
		return i, o.runs[i]
	}
	return -1, nil
}

// dropRun removes runs[i] (which holds nothing any more).
func (o *owner) dropRun(i int) {
	if i == 0 {
		o.runs[0] = nil
		o.runs = o.runs[1:]
		if len(o.runs) == 0 {
			o.runs = nil
		}
		return
	}
	o.runs = slices.Delete(o.runs, i, i+1)
}

// tail returns the run new seqs may be appended to, if it matches.
func (o *owner) tail(eseg, bseg, fwd uint32, durable bool, seq uint64) *run {
	n := len(o.runs)
	if n == 0 {
		return nil
	}
	r := o.runs[n-1]
	if r.eseg != eseg || r.bseg != bseg || r.fwd != fwd || r.durable != durable || seq-r.last > runGap {
		return nil
	}
	return r
}

// fwdTable maps the offsets of bodies that moved out of a segment to where
// they are now, for callers still holding the old Refs. live counts the
// queue entries that may still use it.
type fwdTable struct {
	m    map[uint32]Ref
	live int64
}
