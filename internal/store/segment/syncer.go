package segment

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"time"
)

// syncLoop is the one goroutine that writes the log: it takes everything
// appended since the last round, writes it (one write call per buffer
// chunk of each segment), fdatasyncs the touched files, then publishes the
// new durable LSN and calls OnSync. Everything that arrived while it was
// busy is covered by its next round: that is the group commit.
func (s *Store) syncLoop() {
	defer s.syncWG.Done()
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	for {
		s.mu.Lock()
		wait, exit := s.nextRoundLocked(time.Now())
		if exit {
			s.syncerDone = true
			s.space.Broadcast()
			close(s.commitCh)
			s.commitCh = make(chan struct{})
			s.mu.Unlock()
			return
		}
		if wait != 0 {
			s.mu.Unlock()
			if wait > 0 {
				timer.Reset(wait)
			}
			select {
			case <-s.wake:
			case <-timer.C:
			}
			timer.Stop()
			continue
		}
		if s.force && !s.closing && s.pendingBytes < chunkSize && time.Since(s.lastCommit) < 200*time.Microsecond {
			// Writers woken by the last commit are still appending: give
			// them a moment so one fsync covers them all.
			s.mu.Unlock()
			runtime.Gosched()
			s.mu.Lock()
		}
		s.commitLocked() // unlocks
	}
}

// nextRoundLocked decides whether to commit now (0), wait (positive: at
// most that long; negative: until woken) or exit. Lock should be held.
func (s *Store) nextRoundLocked(now time.Time) (time.Duration, bool) {
	work := len(s.pending) > 0 || s.retainedBytes > 0
	if s.closing {
		// Close: one final commit (one more try if failing), then exit.
		if !work || (s.err != nil && s.closeTried) {
			return 0, true
		}
		if s.err != nil {
			s.closeTried = true
		}
		return 0, false
	}
	if s.err != nil {
		if !work {
			return -1, false
		}
		if now.Before(s.retryAt) {
			return s.retryAt.Sub(now), false
		}
		return 0, false
	}
	if !work {
		s.flushReq = false
		return -1, false
	}
	if s.force || s.flushReq || s.closed || s.pendingBytes >= chunkSize || s.retainedBytes >= retainLimit {
		return 0, false
	}
	if s.lazy {
		if d := s.opt.LazySync - now.Sub(s.lazySince); d > 0 {
			return d, false
		}
		return 0, false
	}
	return -1, false
}

// commitLocked runs one round. Called with the lock held; returns with it
// released.
func (s *Store) commitLocked() {
	batch := s.pending
	batchBytes := s.pendingBytes
	s.pending = nil
	s.pendingBytes = 0
	s.inflight = batch
	s.inflightBytes = batchBytes
	needSync := s.force || s.lazy || s.flushReq || s.closing || s.err != nil ||
		s.retainedBytes+batchBytes >= retainLimit
	s.force, s.lazy, s.flushReq = false, false, false
	target := s.appendLSN
	s.attempt++
	attempt := s.attempt
	retained := s.retained
	var cut []*segment
	if s.truncate {
		for _, c := range batch {
			if !slices.Contains(cut, c.seg) {
				cut = append(cut, c.seg)
			}
		}
	}
	s.mu.Unlock()

	var err error
	for _, g := range cut {
		if g.f != nil {
			if err = g.f.Truncate(g.durable); err != nil {
				break
			}
		}
	}
	var wrote, writes uint64
	if err == nil {
		for _, c := range batch {
			if c.seg.f == nil {
				if err = s.createSegment(c.seg); err != nil {
					break
				}
			}
			if _, err = c.seg.f.WriteAt(c.buf, c.off); err != nil {
				break
			}
			wrote += uint64(len(c.buf))
			writes++
		}
	}
	var syncs uint64
	if err == nil && needSync {
		var touched []*segment
		for _, list := range [2][]*chunk{retained, batch} {
			for _, c := range list {
				if !slices.Contains(touched, c.seg) {
					touched = append(touched, c.seg)
				}
			}
		}
		for _, g := range touched {
			if err = fdatasync(g.f); err != nil {
				break
			}
			syncs++
		}
		if err == nil && s.dirDirty {
			if err = syncDir(s.dir); err == nil {
				s.dirDirty = false
			}
		}
	}

	s.mu.Lock()
	s.fsyncs += syncs
	s.writes += writes
	s.bytesWritten += wrote
	s.inflight = nil
	s.inflightBytes = 0
	if err != nil {
		s.failLocked(err, attempt, batch, batchBytes)
		s.mu.Unlock()
		return
	}
	for _, c := range batch {
		c.seg.written = c.off + int64(len(c.buf))
	}
	if s.truncate {
		s.truncate = false
	}
	if !needSync {
		s.retained = append(s.retained, batch...)
		s.retainedBytes += batchBytes
		s.err = nil
		s.notifyLocked()
		s.mu.Unlock()
		return
	}
	for _, list := range [2][]*chunk{retained, batch} {
		for _, c := range list {
			c.seg.durable = max(c.seg.durable, c.off+int64(len(c.buf)))
		}
	}
	s.recycle(s.retained)
	s.recycle(batch)
	s.retained = nil
	s.retainedBytes = 0
	if s.err != nil {
		s.log.Info("segment: log writes recovered", "after", s.backoff)
	}
	s.err = nil
	s.backoff = 0
	s.synced.Store(target)
	s.notifyLocked()
	s.lastCommit = time.Now()
	ckp := s.opt.CheckpointEvery > 0 && s.sinceCkp >= s.opt.CheckpointEvery
	hint := s.reclaimHint
	trim := s.trimHint
	s.mu.Unlock()

	if s.opt.OnSync != nil {
		s.opt.OnSync(target)
	}
	if hint {
		s.reclaim()
	}
	if trim {
		s.trimSealed()
	}
	if ckp {
		s.mu.Lock()
		s.kickMaintLocked()
		s.mu.Unlock()
	}
}

// notifyLocked wakes Flush/Wait callers and blocked writers. Lock should be
// held.
func (s *Store) notifyLocked() {
	close(s.commitCh)
	s.commitCh = make(chan struct{})
	s.space.Broadcast()
}

// failLocked handles a failed round: nothing of it counts as durable, the
// bytes since the last good fsync go back to the front of the buffer, and
// the files are cut back to their durable size before the retry (so a
// partial write never stays). Lock should be held.
func (s *Store) failLocked(err error, attempt uint64, batch []*chunk, batchBytes int64) {
	if s.err == nil {
		s.log.Error("segment: log write failed; retrying", "err", err)
	}
	s.err = err
	s.failedAttempt = attempt
	all := make([]*chunk, 0, len(s.retained)+len(batch)+len(s.pending))
	all = append(all, s.retained...)
	all = append(all, batch...)
	all = append(all, s.pending...)
	s.pending = all
	s.pendingBytes += s.retainedBytes + batchBytes
	s.retained = nil
	s.retainedBytes = 0
	for _, c := range all {
		c.seg.written = min(c.seg.written, c.seg.durable)
	}
	s.truncate = true
	s.force = true
	switch {
	case s.backoff == 0:
		s.backoff = 10 * time.Millisecond
	case s.backoff < time.Second:
		s.backoff *= 2
	}
	s.retryAt = time.Now().Add(s.backoff)
	s.notifyLocked()
}

// reclaim deletes segment files nothing needs any more: no live entry or
// body, no transient hold, and every segment its acks and markers point at
// already gone (so recovery can never see an enqueue without its ack).
// Compacted segments go once their copies are durable. The directory is
// synced after each pass before segments depending on the deleted ones are
// considered.
func (s *Store) reclaim() {
	s.reclaimMu.Lock()
	defer s.reclaimMu.Unlock()
	for {
		s.mu.Lock()
		if !s.reclaimHint || s.head == nil {
			s.mu.Unlock()
			return
		}
		s.reclaimHint = false
		synced := s.synced.Load()
		var victims []*segment
		later := false // a segment may become deletable without a new hint
		for _, g := range s.segs {
			if g == s.head {
				continue
			}
			if g.durable < g.size || g.f == nil {
				later = true
				continue
			}
			if g.condemned {
				if synced >= g.condemnLSN {
					victims = append(victims, g)
				} else {
					later = true
				}
				continue
			}
			if g.live() {
				continue
			}
			if g.loose && g.id+1 >= s.head.id {
				continue // the next rollover sets the hint
			}
			ok := true
			for _, d := range g.deps {
				if s.segs[d] != nil {
					ok = false
					break
				}
			}
			if ok {
				victims = append(victims, g)
			}
		}
		if later {
			s.reclaimHint = true
		}
		if len(victims) == 0 {
			s.mu.Unlock()
			return
		}
		for _, g := range victims {
			delete(s.segs, g.id)
		}
		for id, segs := range s.tombs {
			segs = slices.DeleteFunc(segs, func(d uint32) bool { return s.segs[d] == nil })
			if len(segs) == 0 {
				delete(s.tombs, id)
			} else {
				s.tombs[id] = segs
			}
		}
		s.mu.Unlock()

		for _, g := range victims {
			g.f.Close()
			if err := os.Remove(s.segPath(g.id)); err != nil && !os.IsNotExist(err) {
				s.log.Warn("segment: remove", "segment", g.id, "err", err)
			}
		}
		if err := syncDir(s.dir); err != nil {
			s.log.Warn("segment: sync dir", "err", err)
		}
		s.mu.Lock()
		s.deleted += uint64(len(victims))
		s.reclaimHint = true // segments depending on these may go now
		s.mu.Unlock()
	}
}

func (s *Store) kickMaintLocked() {
	select {
	case s.maint <- struct{}{}:
	default:
	}
}

// maintLoop runs checkpoints and automatic compaction in the background.
func (s *Store) maintLoop() {
	defer s.maintWG.Done()
	for {
		select {
		case <-s.quit:
			return
		case <-s.maint:
		}
		s.mu.Lock()
		ckp := s.opt.CheckpointEvery > 0 && s.sinceCkp >= s.opt.CheckpointEvery
		s.mu.Unlock()
		if ckp {
			if err := s.checkpoint(); err != nil {
				s.log.Warn("segment: checkpoint failed", "err", err)
			}
		}
		if !s.opt.NoAutoCompact {
			if _, err := s.compact(s.quit, false); err != nil {
				s.log.Warn("segment: compaction failed", "err", err)
			}
		}
	}
}

// createSegment creates g's file, from the preallocated spare when there is
// one (so that fdatasyncs overwrite allocated blocks instead of growing the
// file, which costs a journal commit each on most file systems). Called by
// the syncer; the directory is synced before anything in g counts as
// durable.
func (s *Store) createSegment(g *segment) error {
	s.mu.Lock()
	spare, size := s.spare, s.spareSize
	s.spare = nil
	s.mu.Unlock()
	var f *os.File
	prealloc := false
	if spare != nil {
		if err := os.Rename(spare.Name(), s.segPath(g.id)); err == nil {
			f, prealloc = spare, size >= s.opt.SegmentSize
		} else {
			spare.Close()
			os.Remove(spare.Name())
		}
	}
	if f == nil {
		var err error
		if f, err = os.OpenFile(s.segPath(g.id), os.O_RDWR|os.O_CREATE, 0o644); err != nil {
			return err
		}
	}
	s.mu.Lock()
	g.f = f
	g.prealloc = prealloc
	s.mu.Unlock()
	s.dirDirty = true
	return nil
}

// preallocLoop keeps one zero-filled, synced spare segment file ready.
func (s *Store) preallocLoop() {
	defer s.maintWG.Done()
	zeros := make([]byte, 1<<20)
	for n := 0; ; n++ {
		select {
		case <-s.quit:
			return
		case <-s.spareCh:
		}
		s.mu.Lock()
		have := s.spare != nil || s.closing
		s.mu.Unlock()
		if have {
			continue
		}
		// a new name each time: the previous spare may be being renamed
		path := filepath.Join(s.dir, fmt.Sprintf("prealloc-%d.tmp", n))
		f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o644)
		if err != nil {
			continue
		}
		size := s.opt.SegmentSize
		for off := int64(0); off < size && err == nil; off += int64(len(zeros)) {
			n := min(int64(len(zeros)), size-off)
			_, err = f.WriteAt(zeros[:n], off)
			select {
			case <-s.quit:
				err = errClosing
			default:
			}
		}
		if err == nil {
			err = fdatasync(f)
		}
		if err != nil {
			f.Close()
			os.Remove(path)
			continue
		}
		s.mu.Lock()
		if s.closing || s.syncerDone {
			s.mu.Unlock()
			f.Close()
			os.Remove(path)
			continue
		}
		s.spare, s.spareSize = f, size
		s.mu.Unlock()
	}
}

var errClosing = errors.New("closing")

// trimSealed cuts the unused preallocated tail of sealed segments.
func (s *Store) trimSealed() {
	s.mu.Lock()
	s.trimHint = false
	var cut []*segment
	for _, g := range s.segs {
		if g.prealloc && g != s.head && g.durable == g.size && g.f != nil {
			cut = append(cut, g)
			g.prealloc = false
		} else if g.prealloc && g != s.head {
			s.trimHint = true
		}
	}
	s.mu.Unlock()
	for _, g := range cut {
		if err := g.f.Truncate(g.size); err != nil && !errors.Is(err, os.ErrClosed) {
			s.log.Warn("segment: trim sealed segment", "segment", g.id, "err", err)
		}
	}
}
