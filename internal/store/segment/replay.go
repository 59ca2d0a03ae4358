package segment

import (
	"errors"
	"io"
	"log/slog"
	"os"
	"slices"
	"sort"
)

// Replay state: what recovery (and the checkpointer, which is recovery run
// in the background against a previous checkpoint) rebuilds from the log.
// Unlike the running store it holds one rentry per live message; it lives
// only while a checkpoint is built or Open runs.

const (
	eDead        = 1 << 0
	eRedelivered = 1 << 1
)

type rentry struct {
	seq     uint64
	ref     Ref
	expires int64 // unix ms, 0 = never
	size    uint32
	eseg    uint32 // segment holding the (latest copy of the) enqueue record
	flags   uint8
	prio    uint8
}

type rowner struct {
	id      uint32
	name    string
	lastSeq uint64
	hasSeq  bool
	deleted bool
	ents    []rentry // sorted by seq; dead ones flagged until compacted
	dead    int
}

type rseg struct {
	bodies, bodyBytes int64
	deps              []uint32
}

type rstate struct {
	pos       uint64 // log position covered: everything before it is applied
	nextID    uint32
	maxSeg    uint32
	owners    map[uint32]*rowner
	segs      map[uint32]*rseg
	tombs     map[uint32][]uint32
	condemned map[uint32]bool
}

func newRState() *rstate {
	return &rstate{
		nextID:    1,
		owners:    make(map[uint32]*rowner),
		segs:      make(map[uint32]*rseg),
		tombs:     make(map[uint32][]uint32),
		condemned: make(map[uint32]bool),
	}
}

func (st *rstate) seg(id uint32) *rseg {
	g := st.segs[id]
	if g == nil {
		g = &rseg{}
		st.segs[id] = g
	}
	st.maxSeg = max(st.maxSeg, id)
	return g
}

func (g *rseg) addDep(self, d uint32) {
	if d == self || d == 0 {
		return
	}
	if i, found := slices.BinarySearch(g.deps, d); !found {
		g.deps = slices.Insert(g.deps, i, d)
	}
}

func (st *rstate) owner(id uint32) *rowner {
	o := st.owners[id]
	if o == nil {
		o = &rowner{id: id}
		st.owners[id] = o
	}
	if id >= st.nextID {
		st.nextID = id + 1
	}
	return o
}

func (o *rowner) noteSeq(seq uint64) {
	if !o.hasSeq || seq > o.lastSeq {
		o.lastSeq, o.hasSeq = seq, true
	}
}

func (o *rowner) search(seq uint64) (int, bool) {
	n := len(o.ents)
	if n > 0 && o.ents[n-1].seq == seq {
		return n - 1, true
	}
	i := sort.Search(n, func(i int) bool { return o.ents[i].seq >= seq })
	return i, i < n && o.ents[i].seq == seq
}

func (o *rowner) enqueue(e rentry) {
	o.noteSeq(e.seq)
	n := len(o.ents)
	if n == 0 || o.ents[n-1].seq < e.seq {
		o.ents = append(o.ents, e)
		return
	}
	i, found := o.search(e.seq)
	if found {
		x := &o.ents[i]
		if x.flags&eDead != 0 {
			return // (owner, seq) never comes back once acked
		}
		x.ref, x.size, x.eseg, x.expires, x.prio = e.ref, e.size, e.eseg, e.expires, e.prio
		x.flags |= e.flags
		return
	}
	o.ents = slices.Insert(o.ents, i, e)
}

func (o *rowner) ack(seq uint64) {
	o.noteSeq(seq)
	i, found := o.search(seq)
	if !found || o.ents[i].flags&eDead != 0 {
		return
	}
	o.ents[i].flags |= eDead
	o.dead++
	if o.dead > 1024 && o.dead > len(o.ents)/2 {
		o.compact()
	}
}

func (o *rowner) compact() {
	o.ents = slices.DeleteFunc(o.ents, func(e rentry) bool { return e.flags&eDead != 0 })
	o.dead = 0
}

// apply applies one record found at off in segment seg.
func (st *rstate) apply(seg uint32, h recHeader, p []byte) {
	switch h.typ {
	case recMessage:
		g := st.seg(seg)
		g.bodies++
		g.bodyBytes += int64(h.size())
	case recOwner:
		o := st.owner(h.owner)
		if !o.deleted {
			o.name = string(p)
			if h.seq > 0 {
				o.noteSeq(h.seq)
			}
		}
	case recEnqueue:
		st.seg(seg)
		o := st.owner(h.owner)
		if o.deleted {
			return
		}
		ref, size, meta := decodeEnqueue(h, p)
		var fl uint8
		if h.flags&flagRedelivered != 0 {
			fl = eRedelivered
		}
		o.enqueue(rentry{seq: h.seq, ref: ref, size: size, eseg: seg, flags: fl, expires: meta.Expires, prio: meta.Priority})
	case recAck, recDelivered:
		eseg := leU32(p)
		st.seg(seg).addDep(seg, eseg)
		o := st.owners[h.owner]
		if o == nil || o.deleted {
			return
		}
		if h.typ == recAck {
			o.ack(h.seq)
		} else if i, found := o.search(h.seq); found {
			o.ents[i].flags |= eRedelivered
		}
	case recDeleteOwner:
		o := st.owner(h.owner)
		g := st.seg(seg)
		t := st.tombs[h.owner]
		for _, e := range o.ents {
			if e.flags&eDead == 0 && !slices.Contains(t, e.eseg) {
				t = append(t, e.eseg)
			}
		}
		for _, d := range t {
			g.addDep(seg, d)
		}
		if len(t) > 0 {
			st.tombs[h.owner] = t
		}
		o.deleted = true
		o.ents = nil
	case recCompacted:
		id := uint32(h.seq)
		st.seg(seg).addDep(seg, id)
		st.condemned[id] = true
	}
}

func leU32(p []byte) uint32 {
	return uint32(p[0]) | uint32(p[1])<<8 | uint32(p[2])<<16 | uint32(p[3])<<24
}

// finalize drops what the segments on disk no longer back: entries whose
// enqueue record or body is in a segment that is gone or was compacted
// away (such an entry was acked or moved before the segment went), deleted
// owners, and dependencies on missing segments.
func (st *rstate) finalize(exists func(uint32) bool, log *slog.Logger) {
	var lastID uint32
	var lastGone bool
	gone := func(id uint32) bool {
		if id != lastID || id == 0 {
			lastID, lastGone = id, !exists(id) || st.condemned[id]
		}
		return lastGone
	}
	byName := make(map[string]*rowner)
	for id, o := range st.owners {
		if o.deleted {
			delete(st.owners, id)
			continue
		}
		lost := 0
		o.ents = slices.DeleteFunc(o.ents, func(e rentry) bool {
			if e.flags&eDead != 0 || gone(e.eseg) {
				return true
			}
			if gone(e.ref.Segment) {
				lost++
				return true
			}
			return false
		})
		o.dead = 0
		if lost > 0 {
			log.Error("segment: recovery: message bodies missing", "queue", o.name, "entries", lost)
		}
		if o.name == "" {
			if len(o.ents) > 0 {
				log.Error("segment: recovery: entries of an unnamed owner dropped", "owner", id, "entries", len(o.ents))
			}
			delete(st.owners, id)
			continue
		}
		if prev := byName[o.name]; prev != nil {
			// an older incarnation whose delete record is gone; keep the newest
			old, keep := prev, o
			if old.id > keep.id {
				old, keep = keep, old
			}
			if len(old.ents) > 0 {
				log.Error("segment: recovery: entries of an older queue incarnation dropped", "queue", o.name, "entries", len(old.ents))
			}
			delete(st.owners, old.id)
			byName[o.name] = keep
			continue
		}
		byName[o.name] = o
	}
	for id, g := range st.segs {
		if !exists(id) {
			delete(st.segs, id)
			continue
		}
		g.deps = slices.DeleteFunc(g.deps, func(d uint32) bool { return !exists(d) })
	}
	for id, t := range st.tombs {
		t = slices.DeleteFunc(t, func(d uint32) bool { return !exists(d) })
		if len(t) == 0 {
			delete(st.tombs, id)
		} else {
			st.tombs[id] = t
		}
	}
	for id := range st.condemned {
		if !exists(id) {
			delete(st.condemned, id)
		}
	}
}

// scanner reads a segment file sequentially through a large buffer.
type scanner struct {
	f    *os.File
	buf  []byte
	r, w int
	off  int64 // file offset of buf[r]
	eof  bool
}

func newScanner(f *os.File, start int64) *scanner {
	n := 4 << 20
	if fi, err := f.Stat(); err == nil && fi.Size()-start < int64(n) {
		n = max(int(fi.Size()-start), 0) + recHeaderSize
	}
	return &scanner{f: f, buf: make([]byte, n), off: start}
}

// need makes at least n bytes available unless the file ends first.
func (sc *scanner) need(n int) error {
	for sc.w-sc.r < n && !sc.eof {
		if sc.r > 0 {
			copy(sc.buf, sc.buf[sc.r:sc.w])
			sc.w -= sc.r
			sc.r = 0
		}
		if n > len(sc.buf) {
			nb := make([]byte, n)
			copy(nb, sc.buf[:sc.w])
			sc.buf = nb
		}
		m, err := sc.f.ReadAt(sc.buf[sc.w:], sc.off+int64(sc.w))
		sc.w += m
		if err == io.EOF {
			sc.eof = true
		} else if err != nil {
			return err
		}
	}
	return nil
}

// scanSegment reads the records of f from start until limit (a record
// boundary; negative for the end of the file), calling fn for each intact
// record. It returns the offset after the last intact record and why it
// stopped early: errShort (the file ends inside a record: a torn tail),
// errCorrupt (a bad header or CRC) or an I/O error; nil at a clean end.
func scanSegment(f *os.File, start, limit int64, fn func(off int64, h recHeader, p []byte)) (int64, error) {
	sc := newScanner(f, start)
	for {
		if limit >= 0 && sc.off >= limit {
			return sc.off, nil
		}
		if err := sc.need(recHeaderSize); err != nil {
			return sc.off, err
		}
		avail := sc.w - sc.r
		if avail == 0 {
			return sc.off, nil
		}
		if avail < recHeaderSize {
			if allZero(sc.buf[sc.r:sc.w]) {
				return sc.off, nil
			}
			return sc.off, errShort
		}
		if allZero(sc.buf[sc.r : sc.r+recHeaderSize]) {
			// the zero-filled rest of a preallocated file: the end
			return sc.off, nil
		}
		h, err := decodeHeader(sc.buf[sc.r:sc.w])
		if err != nil {
			return sc.off, err
		}
		n := h.size()
		if limit >= 0 && sc.off+int64(n) > limit {
			return sc.off, errCorrupt
		}
		if err := sc.need(n); err != nil {
			return sc.off, err
		}
		if sc.w-sc.r < n {
			return sc.off, errShort
		}
		h, p, err := decodeRecord(sc.buf[sc.r : sc.r+n])
		if err != nil {
			return sc.off, err
		}
		fn(sc.off, h, p)
		sc.r += n
		sc.off += int64(n)
	}
}

func allZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}

// readSegHeader checks the header of segment id in f. A missing or
// all-zero header (a file created or preallocated but never written) is
// errShort.
func readSegHeader(f *os.File, id uint32) error {
	var b [segHeaderSize]byte
	n, err := f.ReadAt(b[:], 0)
	if n < segHeaderSize {
		if err == nil || errors.Is(err, io.EOF) {
			return errShort
		}
		return err
	}
	if allZero(b[:]) {
		return errShort
	}
	return checkSegHeader(b[:], id)
}

// replaySegments applies the log from st.pos up to limit (an LSN; 0 for
// everything) to st. ids are the segment files, ascending. open returns the
// file of a segment (nil if it is gone). onEnd is told, for every segment
// read, where its intact records end and, if reading stopped early, why
// (nil at a clean end). It returns how many bytes were replayed and the
// position reached.
func replaySegments(st *rstate, ids []uint32, limit uint64, open func(uint32) *os.File,
	onEnd func(id uint32, end int64, err error)) (int64, uint64) {
	var replayed int64
	pos := st.pos
	for _, id := range ids {
		if id < lsnSeg(st.pos) || (limit > 0 && id > lsnSeg(limit)) {
			continue
		}
		f := open(id)
		if f == nil {
			continue
		}
		start := int64(segHeaderSize)
		if id == lsnSeg(st.pos) && lsnOff(st.pos) > start {
			start = lsnOff(st.pos)
		}
		if err := readSegHeader(f, id); err != nil {
			onEnd(id, 0, err)
			continue
		}
		end := int64(-1)
		if limit > 0 && id == lsnSeg(limit) {
			end = lsnOff(limit)
		}
		st.seg(id)
		stop, err := scanSegment(f, start, end, func(_ int64, h recHeader, p []byte) {
			st.apply(id, h, p)
		})
		replayed += stop - start
		pos = mkLSN(id, stop)
		onEnd(id, stop, err)
	}
	return replayed, pos
}
