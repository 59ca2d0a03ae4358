package segment

import (
	"context"
	"errors"
	"os"
	"slices"

	"github.com/warrenmq/warren/internal/store"
)

// Compaction: a sealed segment that is mostly dead but still pinned (by a
// few long-lived messages, or by acks whose enqueue records live on in an
// older segment) has its still-needed records copied to the head, after
// which it is "condemned" by a marker record and deleted once the copies
// are durable. Callers' Refs into it keep working through a forwarding
// table for as long as any entry that may use them is live; after a restart
// Recovery hands out the new Refs.

// Compact rewrites the live records of every sealed segment whose live
// fraction is below Options.CompactBelow (and of dead segments kept only by
// their acks' dependencies) to the head, waits for the copies to be
// durable and deletes the old files. It returns the first I/O error.
func (s *Store) Compact(ctx context.Context) error {
	if _, err := s.compact(ctx.Done(), true); err != nil {
		return err
	}
	if err := s.Flush(ctx); err != nil {
		return err
	}
	s.reclaim()
	return nil
}

// compact compacts candidates oldest first until none is left or stop is
// closed, and returns how many it did.
func (s *Store) compact(stop <-chan struct{}, wait bool) (int, error) {
	s.compactMu.Lock()
	defer s.compactMu.Unlock()
	done := 0
	var tried []uint32
	for {
		select {
		case <-stop:
			return done, nil
		default:
		}
		s.mu.Lock()
		if s.closing || s.syncerDone {
			s.mu.Unlock()
			return done, nil
		}
		g := s.pickLocked(tried)
		s.mu.Unlock()
		if g == nil {
			break
		}
		tried = append(tried, g.id)
		ok, err := s.compactOne(g)
		if err != nil {
			return done, err
		}
		if ok {
			done++
		}
	}
	if done > 0 && !wait {
		// let the syncer commit the copies; reclaim follows the commit
		s.mu.Lock()
		s.forceLocked()
		s.mu.Unlock()
	}
	return done, nil
}

// pickLocked returns the oldest segment worth compacting. Lock should be
// held.
func (s *Store) pickLocked(skip []uint32) *segment {
	var best *segment
	for _, g := range s.segs {
		if g == s.head || g.condemned || g.durable < g.size || g.f == nil || !g.movable() ||
			(g.loose && g.id+1 >= s.head.id) || slices.Contains(skip, g.id) {
			continue
		}
		if best != nil && g.id > best.id {
			continue
		}
		if g.live() {
			if float64(g.liveBytes()) >= s.opt.CompactBelow*float64(g.size) {
				continue
			}
		} else {
			blocked := false
			for _, d := range g.deps {
				if s.segs[d] != nil {
					blocked = true
					break
				}
			}
			if !blocked {
				continue // reclaim deletes it
			}
		}
		best = g
	}
	return best
}

type cEnq struct {
	owner uint32
	seq   uint64
	ref   Ref
	size  uint32
	meta  store.EntryMeta // read back from the record: the index does not keep it
}

type cCtl struct {
	h    recHeader
	eseg uint32
}

// compactOne compacts g. It returns false if g turned out not to need it
// (or vanished meanwhile).
func (s *Store) compactOne(g *segment) (bool, error) {
	s.mu.Lock()
	f, size := g.f, g.size
	s.mu.Unlock()

	// pass 1: find enqueue and control records and message sizes
	var enqs []cEnq
	var ctls []cCtl
	msgs := make(map[uint32]int)
	_, err := scanSegment(f, segHeaderSize, size, func(off int64, h recHeader, p []byte) {
		switch h.typ {
		case recMessage:
			msgs[uint32(off)] = h.size()
		case recEnqueue:
			ref, sz, meta := decodeEnqueue(h, p)
			enqs = append(enqs, cEnq{owner: h.owner, seq: h.seq, ref: ref, size: sz, meta: meta})
		case recAck, recDelivered:
			ctls = append(ctls, cCtl{h: h, eseg: leU32(p)})
		case recDeleteOwner, recCompacted:
			ctls = append(ctls, cCtl{h: h})
		}
	})
	if err != nil {
		if errors.Is(err, os.ErrClosed) {
			return false, nil // deleted meanwhile
		}
		s.log.Warn("segment: compaction: segment unreadable; skipping it", "segment", g.id, "err", err)
		return false, nil
	}

	// keep the enqueues still live in g, and the bodies they need
	s.mu.Lock()
	enqs = slices.DeleteFunc(enqs, func(e cEnq) bool { return !s.liveInLocked(e.owner, e.seq, g.id) })
	s.mu.Unlock()
	bodies := make(map[uint32][]byte)
	for _, e := range enqs {
		if e.ref.Segment != g.id {
			continue
		}
		if _, ok := bodies[e.ref.Offset]; ok {
			continue
		}
		n, ok := msgs[e.ref.Offset]
		if !ok {
			s.log.Error("segment: compaction: enqueue without its body; skipping segment", "segment", g.id, "offset", e.ref.Offset)
			return false, nil
		}
		rec := make([]byte, n)
		if _, err := f.ReadAt(rec, int64(e.ref.Offset)); err != nil {
			if errors.Is(err, os.ErrClosed) {
				return false, nil
			}
			return false, err
		}
		if _, _, err := decodeRecord(rec); err != nil {
			s.log.Error("segment: compaction: damaged body; skipping segment", "segment", g.id, "offset", e.ref.Offset)
			return false, nil
		}
		bodies[e.ref.Offset] = rec
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	if g.condemned || s.segs[g.id] != g || !g.movable() || s.closing || s.syncerDone || g == s.head {
		return false, nil
	}
	enqs = slices.DeleteFunc(enqs, func(e cEnq) bool { return !s.liveInLocked(e.owner, e.seq, g.id) })
	exists := func(id uint32) bool { return id != g.id && s.segs[id] != nil }
	need := compactedRecSize
	owners := make(map[uint32]bool)
	used := make(map[uint32]bool)
	for _, e := range enqs {
		need += enqueueSize(e.meta)
		if !owners[e.owner] {
			owners[e.owner] = true
			need += ownerRecSize(s.byID[e.owner])
		}
		if e.ref.Segment == g.id && !used[e.ref.Offset] {
			used[e.ref.Offset] = true
			need += len(bodies[e.ref.Offset])
		}
	}
	var keep []cCtl
	for _, c := range ctls {
		switch c.h.typ {
		case recAck:
			if !exists(c.eseg) {
				continue
			}
		case recDelivered:
			if !exists(c.eseg) || !s.liveInLocked(c.h.owner, c.h.seq, c.eseg) {
				continue
			}
		case recDeleteOwner:
			if !slices.ContainsFunc(s.tombs[c.h.owner], exists) {
				continue
			}
		case recCompacted:
			if !exists(uint32(c.h.seq)) {
				continue
			}
		}
		keep = append(keep, c)
		need += c.h.size()
	}

	s.roomLocked(need)
	h := s.head
	start := h.size
	moved := make(map[uint32]Ref)
	runs := make(map[*run]bool)
	for _, e := range enqs {
		o := s.byID[e.owner]
		_, r := o.find(e.seq)
		ref := e.ref
		if e.ref.Segment == g.id {
			nr, ok := moved[e.ref.Offset]
			if !ok {
				raw := bodies[e.ref.Offset]
				nr = Ref{Segment: h.id, Offset: uint32(h.size)}
				c := s.chunkLocked(len(raw))
				c.buf = append(c.buf, raw...)
				s.advanceLocked(len(raw))
				h.bodies++
				h.bodyBytes += int64(len(raw))
				moved[e.ref.Offset] = nr
			}
			ref = nr
		}
		s.defLocked(o)
		flags := uint8(flagCopy)
		if r.delivered(e.seq) {
			flags |= flagRedelivered
		}
		n := enqueueSize(e.meta)
		c := s.chunkLocked(n)
		c.buf = appendEnqueue(c.buf, o.id, e.seq, ref, e.size, flags, e.meta)
		s.advanceLocked(n)
		runs[r] = true
	}
	for _, c := range keep {
		n := c.h.size()
		ch := s.chunkLocked(n)
		switch c.h.typ {
		case recAck, recDelivered:
			ch.buf = appendTargeted(ch.buf, c.h.typ, c.h.owner, c.h.seq, c.eseg)
			h.addDep(c.eseg)
		case recDeleteOwner:
			ch.buf = appendBare(ch.buf, recDeleteOwner, c.h.owner, 0)
			for _, d := range s.tombs[c.h.owner] {
				if exists(d) {
					h.addDep(d)
				}
			}
		case recCompacted:
			ch.buf = appendBare(ch.buf, recCompacted, 0, c.h.seq)
			h.addDep(uint32(c.h.seq))
		}
		s.advanceLocked(n)
	}

	// move the index: runs whose records were in g now point at the head
	var tbl *fwdTable
	for r := range runs {
		g.enq -= r.live
		h.enq += r.live
		r.eseg = h.id
		if r.bseg != g.id {
			// body in an older segment, which counted the run as fixed
			// (eseg != bseg) before and still does
			continue
		}
		g.refs -= r.live
		h.refs += r.live
		r.bseg = h.id
		if r.fwd == 0 {
			if tbl == nil {
				tbl = s.fwd[g.id]
				if tbl == nil {
					tbl = &fwdTable{m: make(map[uint32]Ref, len(moved))}
					s.fwd[g.id] = tbl
				}
			}
			r.fwd = g.id
			tbl.live += r.live
		}
	}
	if tbl != nil {
		for off, nr := range moved {
			tbl.m[off] = nr
		}
	}
	for id, t := range s.fwd {
		if id == g.id {
			continue
		}
		for off, cur := range t.m {
			if cur.Segment == g.id {
				if nr, ok := moved[cur.Offset]; ok {
					t.m[off] = nr
				}
			}
		}
	}
	if g.enq != 0 || g.refs != 0 {
		// should not happen: some live entry's record was not found in g
		s.log.Error("segment: compaction: live entries left behind; segment kept", "segment", g.id, "enq", g.enq, "refs", g.refs)
		s.forceLocked()
		return false, nil
	}
	c := s.chunkLocked(compactedRecSize)
	c.buf = appendBare(c.buf, recCompacted, 0, uint64(g.id))
	g.condemnLSN = s.advanceLocked(compactedRecSize)
	h.addDep(g.id)
	g.condemned = true
	g.deps = nil
	s.reclaimHint = true
	s.compactions++
	s.compactedBytes += uint64(h.size - start)
	s.forceLocked()
	return true, nil
}

// liveInLocked reports whether owner holds seq with its enqueue record in
// segment eseg. Lock should be held.
func (s *Store) liveInLocked(ownerID uint32, seq uint64, eseg uint32) bool {
	o := s.byID[ownerID]
	if o == nil {
		return false
	}
	_, r := o.find(seq)
	return r != nil && r.durable && r.eseg == eseg && r.has(seq)
}
