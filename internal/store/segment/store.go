package segment

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/warrenmq/warren/internal/store"
)

// Shared types, so callers need not import package store as well.
type (
	Ref     = store.Ref
	Message = store.Message
	Entry   = store.Entry
	// EntryMeta is an entry's expiry and priority.
	EntryMeta = store.EntryMeta
)

var _ store.MessageLog = (*Store)(nil)

// Defaults for Options.
const (
	DefaultSegmentSize     = 16 << 20 // RabbitMQ's msg_store_file_size_limit default
	DefaultMaxBuffer       = 64 << 20
	DefaultCheckpointEvery = 4 << 30 // bounds crash replay to ~4 GiB; a background checkpoint briefly needs ~100 B per live message, so keep them rare
	DefaultLazySync        = 100 * time.Millisecond
	DefaultCompactBelow    = 0.10

	chunkSize      = 1 << 20 // write-buffer chunk; also the unsynced write threshold
	retainLimit    = 16 << 20
	maxSegmentSize = 1 << 30
	maxNameLen     = 1024
)

// Options configure a Store. The zero value is usable.
type Options struct {
	// SegmentSize is the size at which the head segment is sealed and a new
	// one started (default 16 MiB, at most 1 GiB). A record never spans
	// segments; one bigger than SegmentSize gets a segment of its own.
	SegmentSize int64
	// MaxBuffer bounds the bytes written but not yet on disk (default
	// 64 MiB). Writers block in WriteMessage, Publish and durable Enqueue
	// while it is exceeded: that is the store's backpressure. Acks,
	// deliveries and queue deletions never block.
	MaxBuffer int64
	// CheckpointEvery is how many bytes of log may be written between
	// checkpoints (default 4 GiB; negative: only at Close). Recovery
	// replays at most about this much log after a crash.
	CheckpointEvery int64
	// LazySync bounds how long acks, deliveries and queue deletions wait
	// for a sync when no durable write forces one (default 100 ms).
	LazySync time.Duration
	// CompactBelow is the live fraction under which automatic compaction
	// rewrites a sealed segment (default 0.10).
	CompactBelow float64
	// NoAutoCompact turns off background compaction; Compact still works.
	NoAutoCompact bool
	// OnSync is called from the syncer goroutine after each fsync that made
	// every record with LSN <= lsn durable. Calls are sequential and lsn
	// grows. It must return quickly and must not call methods that may block
	// (WriteMessage, Publish, Enqueue, Flush, Wait, Compact, Close).
	OnSync func(lsn uint64)
	// Log receives recovery and I/O error reports (default: discard).
	Log *slog.Logger
}

func (o *Options) fill() {
	if o.SegmentSize <= 0 {
		o.SegmentSize = DefaultSegmentSize
	}
	o.SegmentSize = max(min(o.SegmentSize, maxSegmentSize), 4096)
	if o.MaxBuffer <= 0 {
		o.MaxBuffer = DefaultMaxBuffer
	}
	if o.CheckpointEvery == 0 {
		o.CheckpointEvery = DefaultCheckpointEvery
	}
	if o.LazySync <= 0 {
		o.LazySync = DefaultLazySync
	}
	if o.CompactBelow <= 0 {
		o.CompactBelow = DefaultCompactBelow
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
}

// Target is one queue a published message goes to.
type Target struct {
	Queue   string
	Seq     uint64
	Durable bool            // write an enqueue record (recovered after restart)
	Meta    store.EntryMeta // expiry and priority, recorded for durable targets
}

// Stats is a snapshot of the store's counters.
type Stats struct {
	Segments        int     // segment files
	DiskBytes       int64   // bytes in segment files (including buffered)
	LiveEntries     int64   // queue entries held (durable and not)
	DurableEntries  int64   // of which backed by enqueue records
	TransientHolds  int64   // transient bodies awaiting Release
	Queues          int     // queues (owners) known
	Synced          uint64  // highest LSN known durable
	Appended        uint64  // LSN after the last appended record
	Buffered        int64   // bytes appended but not yet fsynced
	Fsyncs          uint64  // fdatasync calls on segment files
	Writes          uint64  // write calls on segment files
	BytesWritten    uint64  // bytes written to segment files
	SegmentsDeleted uint64  // segment files removed
	Compactions     uint64  // segments compacted
	CompactedBytes  uint64  // bytes copied by compaction
	Checkpoints     uint64  // checkpoints written
	LiveFraction    float64 // estimated live bytes / bytes on disk
	Err             error   // the store's current I/O error, if failing
}

// chunk is a piece of the write buffer: bytes for one segment at off.
type chunk struct {
	seg *segment
	off int64
	buf []byte
}

// Store is the segment log. All methods are safe for concurrent use.
type Store struct {
	dir  string
	opt  Options
	log  *slog.Logger
	lock *os.File // flock on LOCK

	ckpMu     sync.Mutex // serializes checkpoints; taken before mu
	compactMu sync.Mutex // serializes compactions; taken before mu and ckpMu
	reclaimMu sync.Mutex // serializes segment deletion passes; taken before mu

	mu    sync.Mutex
	space *sync.Cond // writers waiting for buffer space; on mu

	segs   map[uint32]*segment
	head   *segment
	owners map[string]*owner
	byID   map[uint32]*owner
	nextID uint32              // next owner id
	tombs  map[uint32][]uint32 // deleted owner -> segments its delete record cancels entries in
	fwd    map[uint32]*fwdTable

	pending       []*chunk // appended, not yet handed to the syncer
	pendingBytes  int64
	inflight      []*chunk // being written by the syncer
	inflightBytes int64
	retained      []*chunk // written but not fsynced (kept to rewrite after a failed fsync)
	retainedBytes int64
	free          [][]byte

	appendLSN uint64
	synced    atomic.Uint64
	force     bool // pending holds records that want a sync now
	lazy      bool // pending holds records that want a sync within LazySync
	lazySince time.Time
	flushReq  bool

	attempt       uint64 // commits started
	failedAttempt uint64 // last commit that failed
	err           error  // sticky I/O error until a commit succeeds
	retryAt       time.Time
	backoff       time.Duration
	truncate      bool // segments must be cut back to their durable size before writing
	commitCh      chan struct{}
	lastCommit    time.Time // end of the last successful commit

	closed      bool // no new writes
	closing     bool // the syncer should make its final commit and exit
	closeTried  bool
	syncerDone  bool
	dirDirty    bool // a segment file was created since the last directory sync (syncer only)
	reclaimHint bool
	sinceCkp    int64

	spare     *os.File // preallocated (zero-filled, synced) file for the next segment
	spareSize int64
	spareCh   chan struct{}
	trimHint  bool // a sealed preallocated segment may need trimming
	spareAsk  bool // the preallocator was asked for a spare for the next rollover

	ckpPath string // newest checkpoint written or loaded
	ckpPos  uint64

	wake    chan struct{}
	maint   chan struct{}
	quit    chan struct{}
	syncWG  sync.WaitGroup
	maintWG sync.WaitGroup // maintenance and preallocation goroutines

	// counters (under mu)
	fsyncs, writes, bytesWritten, deleted, compactions, compactedBytes, checkpoints uint64
}

func (s *Store) segPath(id uint32) string { return filepath.Join(s.dir, segName(id)) }

func segName(id uint32) string { return fmt.Sprintf("%010d.seg", id) }

// ---- write path ----

// buffered is the number of bytes not yet known durable. Lock held.
func (s *Store) buffered() int64 { return s.pendingBytes + s.inflightBytes + s.retainedBytes }

// admitLocked waits for buffer space for n bytes. Lock should be held.
func (s *Store) admitLocked(n int64) error {
	for {
		if s.closed {
			return store.ErrClosed
		}
		if s.err != nil {
			return fmt.Errorf("segment: log write failing: %w", s.err)
		}
		b := s.buffered()
		if b == 0 || b+n <= s.opt.MaxBuffer {
			return nil
		}
		s.kickLocked()
		s.space.Wait()
	}
}

// kickLocked wakes the syncer. Lock should be held.
func (s *Store) kickLocked() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

func (s *Store) forceLocked() {
	if !s.force {
		s.force = true
		s.kickLocked()
	}
}

func (s *Store) lazyLocked() {
	if !s.lazy {
		s.lazy = true
		s.lazySince = time.Now()
		s.kickLocked()
	}
}

// roomLocked makes sure the head can take n more bytes, rolling over to a
// new segment if it would grow past SegmentSize. Lock should be held.
func (s *Store) roomLocked(n int) {
	g := s.head
	if g.size+int64(n) > s.opt.SegmentSize && g.size > segHeaderSize {
		s.rolloverLocked()
	}
}

// rolloverLocked seals the head and starts the next segment. The file is
// created by the syncer when it first writes to it. Lock should be held.
func (s *Store) rolloverLocked() {
	id := s.head.id + 1
	g := &segment{id: id, size: segHeaderSize}
	s.segs[id] = g
	s.head = g
	c := s.newChunk(g, 0, segHeaderSize)
	c.buf = appendSegHeader(c.buf, id)
	s.pending = append(s.pending, c)
	s.pendingBytes += segHeaderSize
	s.appendLSN = mkLSN(id, segHeaderSize)
	s.reclaimHint = true
	s.trimHint = true
	s.spareAsk = false
	s.kickMaintLocked()
}

func (s *Store) newChunk(g *segment, off int64, n int) *chunk {
	var buf []byte
	if n <= chunkSize && len(s.free) > 0 {
		buf = s.free[len(s.free)-1][:0]
		s.free = s.free[:len(s.free)-1]
	} else {
		buf = make([]byte, 0, max(n, chunkSize))
	}
	return &chunk{seg: g, off: off, buf: buf}
}

func (s *Store) recycle(cs []*chunk) {
	for _, c := range cs {
		if cap(c.buf) == chunkSize && len(s.free) < 16 {
			s.free = append(s.free, c.buf[:0])
		}
		c.buf = nil
	}
}

// chunkLocked returns the buffer chunk the next n bytes of the head go
// into; roomLocked must have been called for them. Lock should be held.
func (s *Store) chunkLocked(n int) *chunk {
	g := s.head
	if k := len(s.pending); k > 0 {
		c := s.pending[k-1]
		if c.seg == g && len(c.buf)+n <= cap(c.buf) {
			return c
		}
	}
	c := s.newChunk(g, g.size, n)
	s.pending = append(s.pending, c)
	return c
}

// advanceLocked accounts for n bytes just appended to the head and returns
// their LSN. Lock should be held.
func (s *Store) advanceLocked(n int) uint64 {
	g := s.head
	g.size += int64(n)
	s.pendingBytes += int64(n)
	s.sinceCkp += int64(n)
	s.appendLSN = mkLSN(g.id, g.size)
	if s.pendingBytes >= chunkSize {
		s.kickLocked()
	}
	if !s.spareAsk && g.size > s.opt.SegmentSize/2 {
		// half full: have the next segment's file ready before it is needed
		s.spareAsk = true
		select {
		case s.spareCh <- struct{}{}:
		default:
		}
	}
	return s.appendLSN
}

// ownerLocked returns the live owner named queue, creating it. Lock should
// be held.
func (s *Store) ownerLocked(queue string) (*owner, error) {
	if o := s.owners[queue]; o != nil {
		return o, nil
	}
	if len(queue) == 0 || len(queue) > maxNameLen {
		return nil, fmt.Errorf("segment: queue name of %d bytes", len(queue))
	}
	o := &owner{id: s.nextID, name: queue}
	s.nextID++
	s.owners[queue] = o
	s.byID[o.id] = o
	return o, nil
}

func ownerRecSize(o *owner) int { return recHeaderSize + len(o.name) }

// defNeed is the size of the owner record the head still needs for o.
func (s *Store) defNeed(o *owner) int {
	if o.defSeg == s.head.id {
		return 0
	}
	return ownerRecSize(o)
}

// defLocked writes o's owner record into the head if it has none yet, so
// every segment names the owners whose entries it holds. Lock should be held.
func (s *Store) defLocked(o *owner) {
	if o.defSeg == s.head.id {
		return
	}
	n := ownerRecSize(o)
	c := s.chunkLocked(n)
	c.buf = appendOwner(c.buf, o.id, o.lastSeq, o.name)
	s.advanceLocked(n)
	o.defSeg = s.head.id
	o.onDisk = true
}

// WriteMessage appends a message body and returns where it lives. The body
// is written once however many queues it goes to; Enqueue then records each
// queue's reference. A durable body is covered by the next group commit
// (wait for lsn through OnSync, Wait or Flush); a transient one (durable
// false, for paging out) forces no sync, is never recovered, and stays
// readable until Release(ref). It may block while the write buffer is full.
// Publish does WriteMessage and Enqueue in one call and is the better choice
// for new messages.
func (s *Store) WriteMessage(m *Message, durable bool) (Ref, uint64, error) {
	if err := checkMessage(m); err != nil {
		return Ref{}, 0, err
	}
	n := recHeaderSize + messagePayloadSize(m)
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.admitLocked(int64(n)); err != nil {
		return Ref{}, 0, err
	}
	s.roomLocked(n)
	g := s.head
	ref := Ref{Segment: g.id, Offset: uint32(g.size)}
	var flags uint8
	if durable {
		flags = flagDurable
	}
	c := s.chunkLocked(n)
	c.buf = appendMessage(c.buf, m, flags)
	lsn := s.advanceLocked(n)
	g.bodies++
	g.bodyBytes += int64(n)
	if durable {
		g.loose = true
		s.forceLocked()
	} else {
		g.holds++
	}
	return ref, lsn, nil
}

// Publish appends a message body and one enqueue record per durable target,
// atomically: no other record comes between them and they share a segment.
// Non-durable targets get an in-memory reference only. The returned lsn
// covers everything written; wait for it before confirming. Seqs must be
// above each queue's last one. At least one target is required.
func (s *Store) Publish(m *Message, targets []Target) (Ref, uint64, error) {
	if err := checkMessage(m); err != nil {
		return Ref{}, 0, err
	}
	if len(targets) == 0 {
		return Ref{}, 0, errors.New("segment: publish without targets")
	}
	bn := recHeaderSize + messagePayloadSize(m)
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.admitLocked(int64(bn + len(targets)*enqueueExpSize)); err != nil {
		return Ref{}, 0, err
	}
	durable := false
	for i, t := range targets {
		if len(t.Queue) == 0 || len(t.Queue) > maxNameLen {
			return Ref{}, 0, fmt.Errorf("segment: queue name of %d bytes", len(t.Queue))
		}
		if o := s.owners[t.Queue]; o != nil && o.hasSeq && t.Seq <= o.lastSeq {
			return Ref{}, 0, fmt.Errorf("%w: queue %q seq %d <= %d", store.ErrSeqOrder, t.Queue, t.Seq, o.lastSeq)
		}
		for _, u := range targets[:i] {
			if u.Queue == t.Queue && t.Seq <= u.Seq {
				return Ref{}, 0, fmt.Errorf("%w: queue %q twice, seq %d after %d", store.ErrSeqOrder, t.Queue, t.Seq, u.Seq)
			}
		}
		durable = durable || t.Durable
	}
	need := bn
	for _, t := range targets {
		if t.Durable {
			need += enqueueSize(t.Meta)
			if o := s.owners[t.Queue]; o != nil {
				need += s.defNeed(o)
			} else {
				need += recHeaderSize + len(t.Queue)
			}
		}
	}
	s.roomLocked(need)
	g := s.head
	ref := Ref{Segment: g.id, Offset: uint32(g.size)}
	var flags uint8
	if durable {
		flags = flagDurable
	}
	c := s.chunkLocked(bn)
	c.buf = appendMessage(c.buf, m, flags)
	lsn := s.advanceLocked(bn)
	g.bodies++
	g.bodyBytes += int64(bn)
	size := uint32(len(m.Body))
	for _, t := range targets {
		o, _ := s.ownerLocked(t.Queue)
		if t.Durable {
			s.defLocked(o)
			n := enqueueSize(t.Meta)
			c := s.chunkLocked(n)
			c.buf = appendEnqueue(c.buf, o.id, t.Seq, ref, size, 0, t.Meta)
			lsn = s.advanceLocked(n)
			s.indexLocked(o, t.Seq, g.id, g.id, 0, true)
		} else {
			s.indexLocked(o, t.Seq, 0, g.id, 0, false)
		}
	}
	if durable {
		s.forceLocked()
	}
	return ref, lsn, nil
}

// indexLocked records that o holds seq, with its enqueue record in eseg (0
// if none), its body in bseg, and callers' Refs forwarded from fwd (0 if
// not). Lock should be held.
func (s *Store) indexLocked(o *owner, seq uint64, eseg, bseg, fwd uint32, durable bool) {
	r := o.tail(eseg, bseg, fwd, durable, seq)
	if r == nil {
		r = &run{first: seq, last: seq, eseg: eseg, bseg: bseg, fwd: fwd, durable: durable}
		o.runs = append(o.runs, r)
	}
	r.add(seq, false)
	o.lastSeq, o.hasSeq = seq, true
	if durable {
		s.segs[eseg].enq++
	}
	b := s.segs[bseg]
	b.refs++
	if eseg != bseg {
		b.fixed++
	}
	if fwd != 0 {
		s.fwd[fwd].live++
	}
}

// unrefLocked drops n live entries of r from the segment counters. Lock
// should be held.
func (s *Store) unrefLocked(r *run, n int64) {
	if r.durable {
		if g := s.segs[r.eseg]; g != nil {
			g.enq -= n
		}
	}
	if g := s.segs[r.bseg]; g != nil {
		g.refs -= n
		if r.eseg != r.bseg {
			g.fixed -= n
		}
	}
	if r.fwd != 0 {
		if t := s.fwd[r.fwd]; t != nil {
			t.live -= n
			if t.live <= 0 {
				delete(s.fwd, r.fwd)
			}
		}
	}
	s.reclaimHint = true
}

// locateLocked returns where the body ref names is now, and the segment
// whose forwarding table was used (0 if none). Lock should be held.
func (s *Store) locateLocked(ref Ref) (Ref, uint32, error) {
	if t := s.fwd[ref.Segment]; t != nil {
		if cur, ok := t.m[ref.Offset]; ok {
			return cur, ref.Segment, nil
		}
	}
	if g := s.segs[ref.Segment]; g != nil && !g.condemned && int64(ref.Offset) >= segHeaderSize &&
		int64(ref.Offset)+recHeaderSize <= g.size {
		return ref, 0, nil
	}
	return Ref{}, 0, fmt.Errorf("%w: %d/%d", store.ErrReclaimed, ref.Segment, ref.Offset)
}

// Enqueue records that queue holds the body ref at position seq. seq must
// be above every seq the queue has had (see NextSeq). A durable enqueue
// writes a record covered by the next group commit and is recovered after
// a restart until acked; a non-durable one only keeps the body alive (no
// record, nothing recovered). meta (expiry, priority) is written in the
// durable record and comes back in Recovery; the running index does not keep
// it. A durable enqueue may block while the write buffer is full.
func (s *Store) Enqueue(queue string, seq uint64, ref Ref, durable bool, meta store.EntryMeta) (uint64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := enqueueSize(meta)
	if durable {
		if err := s.admitLocked(int64(n)); err != nil {
			return 0, err
		}
	} else if s.closed {
		return 0, store.ErrClosed
	}
	o, err := s.ownerLocked(queue)
	if err != nil {
		return 0, err
	}
	if o.hasSeq && seq <= o.lastSeq {
		return 0, fmt.Errorf("%w: queue %q seq %d <= %d", store.ErrSeqOrder, queue, seq, o.lastSeq)
	}
	cur, fwd, err := s.locateLocked(ref)
	if err != nil {
		return 0, err
	}
	if !durable {
		s.indexLocked(o, seq, 0, cur.Segment, fwd, false)
		return 0, nil
	}
	size, err := s.bodySizeLocked(cur)
	if err != nil {
		return 0, err
	}
	s.roomLocked(n + s.defNeed(o))
	s.defLocked(o)
	c := s.chunkLocked(n)
	c.buf = appendEnqueue(c.buf, o.id, seq, cur, size, 0, meta)
	lsn := s.advanceLocked(n)
	s.indexLocked(o, seq, s.head.id, cur.Segment, fwd, true)
	s.forceLocked()
	return lsn, nil
}

// Ack records that queue no longer holds seq and returns the LSN of the
// ack record (0 if nothing was written: unknown seq, or not durable). Acks
// force no sync: they ride along with the next commit, at most LazySync
// later. Callers need not wait for them; a lost ack means a redelivery,
// never a lost message. Ack never blocks.
func (s *Store) Ack(queue string, seq uint64) uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	o := s.owners[queue]
	if o == nil || s.syncerDone {
		return 0
	}
	i, r := o.find(seq)
	if r == nil || !r.has(seq) {
		return 0
	}
	r.clear(seq)
	s.unrefLocked(r, 1)
	var lsn uint64
	if r.durable {
		s.roomLocked(ackRecSize)
		c := s.chunkLocked(ackRecSize)
		c.buf = appendTargeted(c.buf, recAck, o.id, seq, r.eseg)
		lsn = s.advanceLocked(ackRecSize)
		s.head.addDep(r.eseg)
		s.lazyLocked()
	}
	if r.live == 0 {
		o.dropRun(i)
	}
	return lsn
}

// Delivered records that the message at seq was handed to a consumer, so
// that after a restart it is recovered with Redelivered set. Forces no
// sync; never blocks.
func (s *Store) Delivered(queue string, seq uint64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	o := s.owners[queue]
	if o == nil || s.syncerDone {
		return
	}
	_, r := o.find(seq)
	if r == nil || !r.durable || !r.has(seq) || r.delivered(seq) {
		return
	}
	r.setDelivered(seq)
	s.roomLocked(deliveredRecSize)
	c := s.chunkLocked(deliveredRecSize)
	c.buf = appendTargeted(c.buf, recDelivered, o.id, seq, r.eseg)
	s.advanceLocked(deliveredRecSize)
	s.head.addDep(r.eseg)
	s.lazyLocked()
}

// DeleteQueue drops every entry of queue; a later queue of the same name
// starts empty, with any seq. Returns the LSN of the delete record (0 if
// none was needed). Forces no sync; wait for the LSN if the deletion must
// be durable before something else. Never blocks.
func (s *Store) DeleteQueue(queue string) uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	o := s.owners[queue]
	if o == nil || s.syncerDone {
		return 0
	}
	delete(s.owners, queue)
	delete(s.byID, o.id)
	var segs []uint32
	for _, r := range o.runs {
		if r.live > 0 {
			s.unrefLocked(r, r.live)
			if r.durable && !containsU32(segs, r.eseg) {
				segs = append(segs, r.eseg)
			}
		}
	}
	o.runs = nil
	if !o.onDisk {
		return 0
	}
	s.roomLocked(deleteRecSize)
	c := s.chunkLocked(deleteRecSize)
	c.buf = appendBare(c.buf, recDeleteOwner, o.id, 0)
	lsn := s.advanceLocked(deleteRecSize)
	for _, d := range segs {
		s.head.addDep(d)
	}
	if len(segs) > 0 {
		s.tombs[o.id] = segs
	}
	s.lazyLocked()
	return lsn
}

func containsU32(xs []uint32, x uint32) bool {
	for _, y := range xs {
		if y == x {
			return true
		}
	}
	return false
}

// Release drops the hold a transient WriteMessage(m, false) put on its
// body. Call it exactly once per transient write; it is a no-op for other
// refs' segments that no longer exist.
func (s *Store) Release(ref Ref) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if g := s.segs[ref.Segment]; g != nil && g.holds > 0 {
		g.holds--
		if g.holds == 0 {
			s.reclaimHint = true
		}
	}
}

// NextSeq returns the lowest seq Enqueue accepts for queue now.
func (s *Store) NextSeq(queue string) uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	if o := s.owners[queue]; o != nil && o.hasSeq {
		return o.lastSeq + 1
	}
	return 0
}

// ---- read path ----

// bufferedLocked returns the bytes from ref to the end of the buffered
// chunk holding it, or nil if ref is only in the file. Lock should be held.
func (s *Store) bufferedLocked(ref Ref) []byte {
	off := int64(ref.Offset)
	for _, list := range [3][]*chunk{s.pending, s.inflight, s.retained} {
		for i := len(list) - 1; i >= 0; i-- {
			c := list[i]
			if c.seg.id == ref.Segment && off >= c.off && off < c.off+int64(len(c.buf)) {
				return c.buf[off-c.off:]
			}
		}
	}
	return nil
}

// bodySizeLocked returns the body size of the message record at ref.
// Lock should be held.
func (s *Store) bodySizeLocked(ref Ref) (uint32, error) {
	var b []byte
	if buf := s.bufferedLocked(ref); buf != nil {
		b = buf
	} else {
		g := s.segs[ref.Segment]
		if g == nil || g.f == nil {
			return 0, fmt.Errorf("%w: %d/%d", store.ErrNotFound, ref.Segment, ref.Offset)
		}
		var tmp [recHeaderSize + 1 + 255 + 1 + 255 + 4]byte
		n, err := g.f.ReadAt(tmp[:], int64(ref.Offset))
		if n < recHeaderSize && err != nil {
			return 0, fmt.Errorf("segment: read %d/%d: %w", ref.Segment, ref.Offset, err)
		}
		b = tmp[:n]
	}
	h, err := decodeHeader(b)
	if err != nil || h.typ != recMessage {
		return 0, fmt.Errorf("%w: no message at %d/%d", store.ErrNotFound, ref.Segment, ref.Offset)
	}
	p := b[recHeaderSize:min(len(b), recHeaderSize+int(h.length))]
	// exchange, routing key and properties lengths precede the body
	if len(p) < 1 {
		return 0, errCorrupt
	}
	hdr := 1 + int(p[0])
	if len(p) < hdr+1 {
		return 0, errCorrupt
	}
	hdr += 1 + int(p[hdr])
	if len(p) < hdr+4 {
		return 0, errCorrupt
	}
	hdr += 4 + int(binary.LittleEndian.Uint32(p[hdr:]))
	if hdr > int(h.length) {
		return 0, errCorrupt
	}
	return h.length - uint32(hdr), nil
}

var readPool = sync.Pool{New: func() any { b := make([]byte, 4096); return &b }}

// Read returns the message whose body is at ref (following the forwarding
// of compaction), checking its CRC. It does not block on writers: at most a
// pread or a copy from the write buffer. The returned message owns its
// memory.
func (s *Store) Read(ref Ref) (*Message, error) {
	for try := 0; ; try++ {
		s.mu.Lock()
		cur, _, err := s.locateLocked(ref)
		if err != nil {
			// a condemned segment's bytes are still valid until deleted
			if g := s.segs[ref.Segment]; g != nil && g.condemned {
				cur, err = ref, nil
			}
		}
		if err != nil {
			s.mu.Unlock()
			return nil, fmt.Errorf("%w: %d/%d", store.ErrNotFound, ref.Segment, ref.Offset)
		}
		if b := s.bufferedLocked(cur); b != nil {
			h, err := decodeHeader(b)
			if err != nil || h.size() > len(b) {
				s.mu.Unlock()
				return nil, fmt.Errorf("%w: at %d/%d", store.ErrNotFound, cur.Segment, cur.Offset)
			}
			rec := make([]byte, h.size())
			copy(rec, b)
			s.mu.Unlock()
			return decodeMessageRecord(rec, cur)
		}
		g := s.segs[cur.Segment]
		f := g.f
		s.mu.Unlock()
		if f == nil {
			return nil, fmt.Errorf("%w: %d/%d", store.ErrNotFound, cur.Segment, cur.Offset)
		}
		m, err := readMessageAt(f, cur)
		if err != nil && errors.Is(err, os.ErrClosed) && try < 3 {
			continue // deleted under us; it may have been forwarded
		}
		return m, err
	}
}

func readMessageAt(f *os.File, ref Ref) (*Message, error) {
	bp := readPool.Get().(*[]byte)
	defer readPool.Put(bp)
	scratch := *bp
	n, err := f.ReadAt(scratch, int64(ref.Offset))
	if n < recHeaderSize {
		if err == nil || err == io.EOF {
			err = errShort
		}
		return nil, fmt.Errorf("segment: read %d/%d: %w", ref.Segment, ref.Offset, err)
	}
	h, err := decodeHeader(scratch[:n])
	if err != nil {
		return nil, fmt.Errorf("segment: read %d/%d: %w", ref.Segment, ref.Offset, err)
	}
	rec := make([]byte, h.size())
	if h.size() <= n {
		copy(rec, scratch[:h.size()])
	} else {
		copy(rec, scratch[:n])
		if _, err := f.ReadAt(rec[n:], int64(ref.Offset)+int64(n)); err != nil {
			return nil, fmt.Errorf("segment: read %d/%d: %w", ref.Segment, ref.Offset, err)
		}
	}
	return decodeMessageRecord(rec, ref)
}

func decodeMessageRecord(rec []byte, ref Ref) (*Message, error) {
	h, p, err := decodeRecord(rec)
	if err != nil {
		return nil, fmt.Errorf("segment: record at %d/%d: %w", ref.Segment, ref.Offset, errCorrupt)
	}
	if h.typ != recMessage {
		return nil, fmt.Errorf("%w: %s record at %d/%d", store.ErrNotFound, h.typ, ref.Segment, ref.Offset)
	}
	return decodeMessage(p)
}

// ---- durability ----

// Synced returns the highest LSN known durable.
func (s *Store) Synced() uint64 { return s.synced.Load() }

// Err returns the I/O error the store is failing with, or nil. While it is
// set, WriteMessage, Publish and durable Enqueue fail fast and Synced does
// not advance; the syncer retries with backoff and clears it once a write
// and fsync succeed again (for example when disk space is back).
func (s *Store) Err() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.err
}

// Flush forces a commit of everything appended so far and waits until it is
// durable. It returns the I/O error if a commit attempt made for it failed.
func (s *Store) Flush(ctx context.Context) error {
	s.mu.Lock()
	target := s.appendLSN
	if s.synced.Load() >= target {
		s.mu.Unlock()
		return nil
	}
	if s.syncerDone {
		s.mu.Unlock()
		return store.ErrClosed
	}
	s.flushReq = true
	s.kickLocked()
	start := s.attempt
	s.mu.Unlock()
	return s.waitFrom(ctx, target, start)
}

// Wait waits until lsn is durable without forcing a commit (durable writes
// force one themselves; acks within LazySync). It returns the I/O error if
// a commit attempt started after the call failed.
func (s *Store) Wait(ctx context.Context, lsn uint64) error {
	if s.synced.Load() >= lsn {
		return nil
	}
	s.mu.Lock()
	start := s.attempt
	s.mu.Unlock()
	return s.waitFrom(ctx, lsn, start)
}

func (s *Store) waitFrom(ctx context.Context, target, start uint64) error {
	for {
		s.mu.Lock()
		if s.synced.Load() >= target {
			s.mu.Unlock()
			return nil
		}
		if s.failedAttempt > start {
			err := s.err
			s.mu.Unlock()
			if err == nil {
				continue
			}
			return err
		}
		if s.syncerDone {
			s.mu.Unlock()
			return store.ErrClosed
		}
		ch := s.commitCh
		s.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// Stats returns a snapshot of the store's counters.
func (s *Store) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := Stats{
		Segments:        len(s.segs),
		Queues:          len(s.owners),
		Synced:          s.synced.Load(),
		Appended:        s.appendLSN,
		Buffered:        s.buffered(),
		Fsyncs:          s.fsyncs,
		Writes:          s.writes,
		BytesWritten:    s.bytesWritten,
		SegmentsDeleted: s.deleted,
		Compactions:     s.compactions,
		CompactedBytes:  s.compactedBytes,
		Checkpoints:     s.checkpoints,
		Err:             s.err,
	}
	var live int64
	for _, g := range s.segs {
		st.DiskBytes += g.size
		st.LiveEntries += g.refs
		st.DurableEntries += g.enq
		st.TransientHolds += g.holds
		live += g.liveBytes()
	}
	if st.DiskBytes > 0 {
		st.LiveFraction = float64(live) / float64(st.DiskBytes)
	}
	return st
}

// Close commits everything, writes a checkpoint so the next Open is fast,
// and closes the files. Methods called afterwards fail with ErrClosed (or
// do nothing). It returns the I/O error if the final commit failed.
func (s *Store) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return store.ErrClosed
	}
	s.closed = true
	s.space.Broadcast()
	s.mu.Unlock()

	close(s.quit) // stop the maintenance goroutine first: it may need the syncer
	s.maintWG.Wait()
	s.mu.Lock()
	s.closing = true
	s.kickLocked()
	s.mu.Unlock()
	s.syncWG.Wait() // the syncer makes a final commit and exits

	s.mu.Lock()
	err := s.err
	s.mu.Unlock()
	if err == nil {
		s.reclaim()
		if cerr := s.checkpoint(); cerr != nil {
			s.log.Warn("segment: checkpoint at close failed", "err", cerr)
		}
	}
	s.mu.Lock()
	for _, g := range s.segs {
		if g.f != nil {
			g.f.Close()
		}
	}
	if s.spare != nil {
		s.spare.Close()
		os.Remove(s.spare.Name())
		s.spare = nil
	}
	s.mu.Unlock()
	unlockDir(s.lock)
	return err
}
