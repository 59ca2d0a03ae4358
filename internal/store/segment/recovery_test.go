package segment

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"testing"
)

type published struct {
	seq uint64
	ref Ref
	m   *Message
	end uint64 // LSN (end offset) of its enqueue record
}

// tornBase writes n messages to a fresh store and returns a crash image of
// it (no checkpoint) and what was written.
func tornBase(t *testing.T, n int) (string, []published) {
	dir := testDir(t)
	s, _ := mustOpen(t, dir, Options{})
	var pubs []published
	for i := 1; i <= n; i++ {
		m := msg(i, 20+i*3)
		ref, lsn, err := s.Publish(m, []Target{{Queue: "q", Seq: uint64(i), Durable: true}})
		if err != nil {
			t.Fatal(err)
		}
		pubs = append(pubs, published{uint64(i), ref, m, lsn})
	}
	if err := s.Flush(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	base := snapshot(t, s)
	mustClose(t, s)
	return base, pubs
}

// checkPrefix opens dir and checks that it recovers exactly the publishes
// whose enqueue record ends at or before cut, that their bodies read back,
// and that the store takes new writes afterwards.
func checkPrefix(t *testing.T, dir string, pubs []published, cut int64, appendToo bool) {
	t.Helper()
	var want []uint64
	for _, p := range pubs {
		if lsnOff(p.end) <= cut {
			want = append(want, p.seq)
		}
	}
	s, rec, err := Open(dir, Options{})
	if err != nil {
		t.Fatalf("cut %d: Open: %v", cut, err)
	}
	got := rec.Queues["q"]
	if !slices.Equal(seqs(got), want) {
		s.Close()
		t.Fatalf("cut %d: recovered %v, want %v", cut, seqs(got), want)
	}
	for i, e := range got {
		mustRead(t, s, e.Ref, pubs[i].m)
	}
	if !appendToo {
		s.Close()
		return
	}
	next := uint64(len(want) + 1)
	if ns := rec.NextSeq["q"]; ns > next {
		next = ns
	}
	m := msg(1000, 33)
	if _, _, err := s.Publish(m, []Target{{Queue: "q", Seq: next, Durable: true}}); err != nil {
		t.Fatalf("cut %d: publish after recovery: %v", cut, err)
	}
	mustClose(t, s)
	s, rec = mustOpen(t, dir, Options{})
	defer mustClose(t, s)
	got = rec.Queues["q"]
	if !slices.Equal(seqs(got), append(slices.Clone(want), next)) {
		t.Fatalf("cut %d: after append and reopen %v, want %v + %d", cut, seqs(got), want, next)
	}
	mustRead(t, s, got[len(got)-1].Ref, m)
}

func cloneDir(t *testing.T, src string) string { return copyDir(t, src) }

func TestTornTail(t *testing.T) {
	base, pubs := tornBase(t, 6)
	seg := filepath.Join(base, segName(1))
	fi, err := os.Stat(seg)
	if err != nil {
		t.Fatal(err)
	}
	from := int64(pubs[len(pubs)-3].ref.Offset) // the last three records' bytes
	for cut := from; cut <= fi.Size(); cut++ {
		dir := cloneDir(t, base)
		if err := os.Truncate(filepath.Join(dir, segName(1)), cut); err != nil {
			t.Fatal(err)
		}
		checkPrefix(t, dir, pubs, cut, cut%5 == 0 || cut == fi.Size())
		os.RemoveAll(dir)
	}
}

func TestScribbledTail(t *testing.T) {
	base, pubs := tornBase(t, 6)
	seg := filepath.Join(base, segName(1))
	orig, err := os.ReadFile(seg)
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	from := int64(pubs[len(pubs)-3].ref.Offset)
	for off := from; off < int64(len(orig)); off++ {
		b := slices.Clone(orig)
		n := 1 + rng.IntN(8)
		for i := int64(0); i < int64(n) && off+i < int64(len(b)); i++ {
			b[off+i] ^= byte(1 + rng.IntN(255)) // always changes the byte
		}
		dir := cloneDir(t, base)
		if err := os.WriteFile(filepath.Join(dir, segName(1)), b, 0o644); err != nil {
			t.Fatal(err)
		}
		checkPrefix(t, dir, pubs, off, off%7 == 0)
		os.RemoveAll(dir)
	}
	// garbage appended after the last record, as a crash during a write
	// of unsynced data may leave
	for _, junk := range [][]byte{{0}, make([]byte, 100), {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26}} {
		dir := cloneDir(t, base)
		if err := os.WriteFile(filepath.Join(dir, segName(1)), append(slices.Clone(orig), junk...), 0o644); err != nil {
			t.Fatal(err)
		}
		checkPrefix(t, dir, pubs, int64(len(orig)), true)
	}
}

func TestTornNewSegment(t *testing.T) {
	// a crash right after a rollover can leave the new file empty or with a
	// partial header
	base, pubs := tornBase(t, 3)
	for _, n := range []int{0, 5, segHeaderSize - 1} {
		dir := cloneDir(t, base)
		if err := os.WriteFile(filepath.Join(dir, segName(2)), make([]byte, n), 0o644); err != nil {
			t.Fatal(err)
		}
		checkPrefix(t, dir, pubs, 1<<30, true)
	}
}

func TestCorruptMiddleSegment(t *testing.T) {
	dir := t.TempDir()
	opt := Options{SegmentSize: 8 << 10, NoAutoCompact: true}
	s, _ := mustOpen(t, dir, opt)
	var pubs []published
	for i := 1; i <= 80; i++ {
		m := msg(i, 400)
		ref, lsn, err := s.Publish(m, []Target{{Queue: "q", Seq: uint64(i), Durable: true}})
		if err != nil {
			t.Fatal(err)
		}
		pubs = append(pubs, published{uint64(i), ref, m, lsn})
	}
	if err := s.Flush(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	crashed := snapshot(t, s)
	mustClose(t, s)
	files := segFiles(t, crashed)
	if len(files) < 4 {
		t.Fatalf("want several segments, have %v", files)
	}
	mid := files[len(files)/2]
	// damage the third message of the middle segment
	var victim published
	k := 0
	for _, p := range pubs {
		if p.ref.Segment == mid {
			if k++; k == 3 {
				victim = p
			}
		}
	}
	path := filepath.Join(crashed, segName(mid))
	b, _ := os.ReadFile(path)
	b[victim.ref.Offset+recHeaderSize+10] ^= 0xff
	os.WriteFile(path, b, 0o644)

	s, rec := mustOpen(t, crashed, opt)
	defer mustClose(t, s)
	if !slices.Equal(rec.Corrupt, []uint32{mid}) {
		t.Fatalf("Corrupt = %v, want [%d]", rec.Corrupt, mid)
	}
	var want []uint64
	for _, p := range pubs {
		if p.ref.Segment != mid || p.ref.Offset < victim.ref.Offset {
			want = append(want, p.seq)
		}
	}
	got := rec.Queues["q"]
	if !slices.Equal(seqs(got), want) {
		t.Fatalf("recovered %v\nwant %v", seqs(got), want)
	}
	for _, e := range got {
		mustRead(t, s, e.Ref, pubs[e.Seq-1].m)
	}
	if _, err := s.Read(victim.ref); err == nil {
		t.Fatal("served a record that fails its CRC")
	}
	// the store keeps working
	if _, _, err := s.Publish(msg(1, 1), []Target{{Queue: "q", Seq: rec.NextSeq["q"], Durable: true}}); err != nil {
		t.Fatal(err)
	}
}

// TestCheckpointEqualsReplay runs a random workload, then recovers a crash
// image twice: from its checkpoint plus the log after it, and from the
// whole log; both must equal the model.
func TestCheckpointEqualsReplay(t *testing.T) {
	dir := testDir(t)
	opt := Options{SegmentSize: 32 << 10, NoAutoCompact: true, CheckpointEvery: -1}
	s, _ := mustOpen(t, dir, opt)
	m := newModel()
	rng := rand.New(rand.NewPCG(7, 7))
	for i := range 3000 {
		m.step(t, s, rng)
		if i == 1500 {
			if err := s.Flush(ctxT(t)); err != nil {
				t.Fatal(err)
			}
			if err := s.checkpoint(); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := s.Flush(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	s.reclaim() // let deletions settle so both copies see the same files
	withCkp := snapshot(t, s)
	noCkp := snapshot(t, s)
	mustClose(t, s)
	ckps := 0
	ents, _ := os.ReadDir(noCkp)
	for _, e := range ents {
		if _, ok := parseCkpName(e.Name()); ok {
			os.Remove(filepath.Join(noCkp, e.Name()))
			ckps++
		}
	}
	if ckps == 0 {
		t.Fatal("no checkpoint was written")
	}
	var recs []*Recovery
	for _, d := range []string{withCkp, noCkp, dir} {
		s, rec := mustOpen(t, d, opt)
		m.check(t, s, rec)
		mustClose(t, s)
		recs = append(recs, rec)
	}
	if !recs[0].Checkpoint || recs[1].Checkpoint || recs[0].Replayed > recs[1].Replayed {
		t.Errorf("checkpoint use: %v/%v, replayed %d vs %d", recs[0].Checkpoint, recs[1].Checkpoint, recs[0].Replayed, recs[1].Replayed)
	}
	if !reflect.DeepEqual(recs[0].Queues, recs[1].Queues) || !reflect.DeepEqual(recs[0].NextSeq, recs[1].NextSeq) {
		t.Fatal("checkpoint+tail recovery differs from full replay")
	}
}

// TestRandomWorkload drives random operations with restarts, crashes,
// compactions and checkpoints against a model.
func TestRandomWorkload(t *testing.T) {
	for _, seed := range []uint64{1, 2, 3} {
		t.Run("", func(t *testing.T) {
			dir := testDir(t)
			opt := Options{SegmentSize: 16 << 10, CheckpointEvery: 64 << 10}
			s, _ := mustOpen(t, dir, opt)
			m := newModel()
			rng := rand.New(rand.NewPCG(seed, 99))
			for i := range 4000 {
				m.step(t, s, rng)
				switch r := rng.IntN(400); {
				case r == 0: // clean restart
					m.why = fmt.Sprintf("restart at step %d", i)
					mustClose(t, s)
					var rec *Recovery
					s, rec = mustOpen(t, dir, opt)
					m.check(t, s, rec)
				case r == 1: // crash: everything flushed survives
					m.why = fmt.Sprintf("crash at step %d", i)
					if err := s.Flush(ctxT(t)); err != nil {
						t.Fatal(err)
					}
					crashed := snapshot(t, s)
					mustClose(t, s)
					dir = crashed
					var rec *Recovery
					s, rec = mustOpen(t, dir, opt)
					m.check(t, s, rec)
				case r < 6:
					if err := s.Compact(ctxT(t)); err != nil {
						t.Fatal(err)
					}
				case r < 8:
					m.readAll(t, s)
				}
				_ = i
			}
			m.readAll(t, s)
			if err := s.Flush(ctxT(t)); err != nil {
				t.Fatal(err)
			}
			mustClose(t, s)
			s, rec := mustOpen(t, dir, opt)
			m.check(t, s, rec)
			mustClose(t, s)
		})
	}
}

// model mirrors what the store should hold.
type model struct {
	why    string
	queues map[string]*mqueue
	names  []string
	bodies int
}

type mqueue struct {
	next    uint64
	ents    map[uint64]*ment
	durable bool
}

type ment struct {
	ref       Ref
	m         *Message
	meta      EntryMeta
	durable   bool
	delivered bool
}

// randMeta returns no meta, a priority, an expiry (some far past, some
// negative: the store keeps whatever it is given) or both.
func randMeta(rng *rand.Rand) EntryMeta {
	var em EntryMeta
	if rng.IntN(3) == 0 {
		em.Priority = uint8(rng.IntN(256))
	}
	switch rng.IntN(4) {
	case 0:
		em.Expires = 1_700_000_000_000 + rng.Int64N(1<<40)
	case 1:
		em.Expires = -rng.Int64N(1 << 62)
	}
	return em
}

func newModel() *model {
	m := &model{queues: make(map[string]*mqueue)}
	for _, q := range []string{"a", "b", "c", "d", "t1"} {
		m.names = append(m.names, q)
	}
	return m
}

func (m *model) q(name string) *mqueue {
	q := m.queues[name]
	if q == nil {
		q = &mqueue{next: 1, ents: make(map[uint64]*ment), durable: name != "t1"}
		m.queues[name] = q
	}
	return q
}

func (m *model) step(t *testing.T, s *Store, rng *rand.Rand) {
	t.Helper()
	switch r := rng.IntN(100); {
	case r < 40: // publish to 1..3 queues
		m.bodies++
		msg := msg(m.bodies, rng.IntN(2000))
		var targets []Target
		for _, i := range rng.Perm(len(m.names))[:1+rng.IntN(3)] {
			name := m.names[i]
			q := m.q(name)
			targets = append(targets, Target{Queue: name, Seq: q.next, Durable: q.durable, Meta: randMeta(rng)})
		}
		ref, _, err := s.Publish(msg, targets)
		if err != nil {
			t.Fatal(err)
		}
		for _, tg := range targets {
			q := m.q(tg.Queue)
			q.ents[tg.Seq] = &ment{ref: ref, m: msg, durable: tg.Durable, meta: tg.Meta}
			q.next = tg.Seq + 1
		}
	case r < 48: // write, then enqueue separately
		m.bodies++
		msg := msg(m.bodies, rng.IntN(300))
		ref, _, err := s.WriteMessage(msg, true)
		if err != nil {
			t.Fatal(err)
		}
		for _, name := range []string{"a", "b"}[:1+rng.IntN(2)] {
			q := m.q(name)
			em := randMeta(rng)
			if _, err := s.Enqueue(name, q.next, ref, true, em); err != nil {
				t.Fatal(err)
			}
			q.ents[q.next] = &ment{ref: ref, m: msg, durable: true, meta: em}
			q.next++
		}
	case r < 85: // ack
		name := m.names[rng.IntN(len(m.names))]
		q := m.q(name)
		for seq := range q.ents {
			s.Ack(name, seq)
			delete(q.ents, seq)
			break
		}
	case r < 95: // deliver
		name := m.names[rng.IntN(len(m.names))]
		q := m.q(name)
		for seq, e := range q.ents {
			s.Delivered(name, seq)
			e.delivered = true
			break
		}
	case r < 96: // delete a queue
		name := m.names[rng.IntN(len(m.names))]
		s.DeleteQueue(name)
		delete(m.queues, name)
	default: // transient page-out and release
		ref, _, err := s.WriteMessage(msg(0, 100), false)
		if err != nil {
			t.Fatal(err)
		}
		s.Release(ref)
	}
}

func (m *model) readAll(t *testing.T, s *Store) {
	t.Helper()
	for _, q := range m.queues {
		for _, e := range q.ents {
			mustRead(t, s, e.ref, e.m)
		}
	}
}

// check compares a recovery with the model (everything was flushed) and
// adopts the recovered Refs and seqs.
func (m *model) check(t *testing.T, s *Store, rec *Recovery) {
	t.Helper()
	for name, q := range m.queues {
		var want []uint64
		for seq, e := range q.ents {
			if e.durable {
				want = append(want, seq)
			} else {
				delete(q.ents, seq) // transient entries are gone after a restart
			}
		}
		slices.Sort(want)
		got := rec.Queues[name]
		if !slices.Equal(seqs(got), want) {
			var missing, extra []string
			for _, w := range want {
				if !slices.Contains(seqs(got), w) {
					missing = append(missing, fmt.Sprintf("%d@%v", w, q.ents[w].ref))
				}
			}
			for _, g := range got {
				if !slices.Contains(want, g.Seq) {
					extra = append(extra, fmt.Sprintf("%d@%v", g.Seq, g.Ref))
				}
			}
			t.Errorf("queue %s (%s): missing %v, extra %v; checkpoint %v replayed %d", name, m.why, missing, extra, rec.Checkpoint, rec.Replayed)
			// post-mortem: the same directory without checkpoints
			cp := snapshot(t, s)
			ents, _ := os.ReadDir(cp)
			for _, e := range ents {
				if _, ok := parseCkpName(e.Name()); ok {
					os.Remove(filepath.Join(cp, e.Name()))
				}
			}
			if s2, rec2, err := Open(cp, Options{}); err == nil {
				t.Logf("full replay: %v", seqs(rec2.Queues[name]))
				s2.Close()
			}
			for _, id := range segFiles(t, s.dir) {
				f, _ := os.Open(filepath.Join(s.dir, segName(id)))
				scanSegment(f, segHeaderSize, -1, func(off int64, h recHeader, p []byte) {
					switch h.typ {
					case recOwner:
						t.Logf("seg %d owner %d = %s", id, h.owner, p)
					case recDeleteOwner, recCompacted:
						t.Logf("seg %d %s owner %d seq %d", id, h.typ, h.owner, h.seq)
					}
				})
				f.Close()
			}
			t.FailNow()
		}
		for _, g := range got {
			e := q.ents[g.Seq]
			if g.Redelivered != e.delivered {
				t.Fatalf("queue %s seq %d: redelivered %v, delivered %v", name, g.Seq, g.Redelivered, e.delivered)
			}
			if g.Meta() != e.meta {
				t.Fatalf("queue %s seq %d (%s): meta %+v, want %+v; checkpoint %v", name, g.Seq, m.why, g.Meta(), e.meta, rec.Checkpoint)
			}
			if g.Size != uint32(len(e.m.Body)) {
				t.Fatalf("queue %s seq %d: size %d, want %d", name, g.Seq, g.Size, len(e.m.Body))
			}
			if _, err := s.Read(g.Ref); err != nil {
				fi, _ := os.Stat(s.segPath(g.Ref.Segment))
				b, _ := os.ReadFile(s.segPath(g.Ref.Segment))
				var sz int64
				if fi != nil {
					sz = fi.Size()
				}
				t.Logf("queue %s seq %d ref %v (%s): file size %d, model ref %v, ckp %v replayed %d trunc %d corrupt %v", name, g.Seq, g.Ref, m.why, sz, e.ref, rec.Checkpoint, rec.Replayed, rec.Truncated, rec.Corrupt)
				if int(g.Ref.Offset)+64 <= len(b) {
					t.Logf("bytes %x", b[g.Ref.Offset:g.Ref.Offset+64])
				}
				dumpRecords(t, s.dir, g.Seq)
			}
			mustRead(t, s, g.Ref, e.m)
			e.ref = g.Ref
		}
		if q.durable && rec.NextSeq[name] != q.next && !(len(q.ents) == 0 && rec.NextSeq[name] == 0) {
			if rec.NextSeq[name] > q.next {
				t.Fatalf("queue %s: NextSeq %d > model %d", name, rec.NextSeq[name], q.next)
			}
		}
		if n := rec.NextSeq[name]; n > q.next {
			q.next = n
		}
	}
	for name, es := range rec.Queues {
		if m.queues[name] == nil && len(es) > 0 {
			t.Fatalf("queue %s recovered with %d entries, model has none", name, len(es))
		}
	}
}
