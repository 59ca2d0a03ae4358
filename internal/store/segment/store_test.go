package segment

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/warrenmq/warren/internal/store"
)

func ctxT(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func mustOpen(t testing.TB, dir string, opt Options) (*Store, *Recovery) {
	t.Helper()
	s, rec, err := Open(dir, opt)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return s, rec
}

func mustClose(t testing.TB, s *Store) {
	t.Helper()
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
}

func msg(i int, n int) *Message {
	body := make([]byte, n)
	for j := range body {
		body[j] = byte(i*7 + j)
	}
	return &Message{Exchange: "ex", RoutingKey: fmt.Sprintf("rk.%d", i), Props: []byte{0x80, 0x00, byte(i)}, Body: body}
}

func sameMessage(a, b *Message) bool {
	return a.Exchange == b.Exchange && a.RoutingKey == b.RoutingKey && bytes.Equal(a.Props, b.Props) && bytes.Equal(a.Body, b.Body)
}

func mustRead(t testing.TB, s *Store, ref Ref, want *Message) {
	t.Helper()
	got, err := s.Read(ref)
	if err != nil {
		t.Fatalf("Read(%v): %v", ref, err)
	}
	if !sameMessage(got, want) {
		t.Fatalf("Read(%v) = %q/%q %d bytes, want %q/%q %d bytes", ref, got.Exchange, got.RoutingKey, len(got.Body), want.Exchange, want.RoutingKey, len(want.Body))
	}
}

func seqs(es []Entry) []uint64 {
	var out []uint64
	for _, e := range es {
		out = append(out, e.Seq)
	}
	return out
}

func segFiles(t testing.TB, dir string) []uint32 {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var ids []uint32
	for _, e := range ents {
		if id, ok := parseSegName(e.Name()); ok {
			ids = append(ids, id)
		}
	}
	return ids
}

// snapshot returns a crash image of the running store s after a Flush:
// background compaction, checkpoints and segment deletion are held off
// while the files are copied, so the copy is a state the disk could really
// be in at a crash (a plain copy racing with them is not).
func snapshot(t testing.TB, s *Store) string {
	t.Helper()
	if err := s.Flush(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	s.compactMu.Lock()
	s.ckpMu.Lock()
	s.reclaimMu.Lock()
	defer func() {
		s.reclaimMu.Unlock()
		s.ckpMu.Unlock()
		s.compactMu.Unlock()
	}()
	return copyDir(t, s.dir)
}

// testDir returns a new empty directory, in memory (/dev/shm) when the
// system has it: these tests are about logic, and fsyncs on a real disk
// would make them slow. Tests that are about the disk use t.TempDir.
func testDir(t testing.TB) string {
	t.Helper()
	if fi, err := os.Stat("/dev/shm"); err == nil && fi.IsDir() {
		if dir, err := os.MkdirTemp("/dev/shm", "segment-test-"); err == nil {
			t.Cleanup(func() { os.RemoveAll(dir) })
			return dir
		}
	}
	return t.TempDir()
}

// copyDir copies the store files of src into a new directory, as a crash
// would leave them (no Close, no checkpoint of the current state).
func copyDir(t testing.TB, src string) string {
	t.Helper()
	dst := testDir(t)
	ents, err := os.ReadDir(src)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		if e.Name() == "LOCK" {
			continue
		}
		b, err := os.ReadFile(filepath.Join(src, e.Name()))
		if errors.Is(err, os.ErrNotExist) {
			continue // deleted meanwhile: as if the crash came after
		}
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dst, e.Name()), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dst
}

func TestRoundTrip(t *testing.T) {
	dir := t.TempDir()
	s, rec := mustOpen(t, dir, Options{})
	if len(rec.Queues) != 0 {
		t.Fatalf("fresh store recovered %v", rec.Queues)
	}
	var refs []Ref
	for i := range 10 {
		m := msg(i, 100+i)
		var ref Ref
		var lsn uint64
		var err error
		if i%2 == 0 {
			ref, lsn, err = s.Publish(m, []Target{{Queue: "q", Seq: uint64(i + 1), Durable: true}})
		} else {
			ref, _, err = s.WriteMessage(m, true)
			if err == nil {
				lsn, err = s.Enqueue("q", uint64(i+1), ref, true, EntryMeta{})
			}
		}
		if err != nil {
			t.Fatal(err)
		}
		if lsn == 0 {
			t.Fatal("zero lsn")
		}
		mustRead(t, s, ref, m) // from the buffer or the file
		refs = append(refs, ref)
	}
	if err := s.Flush(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	if s.Synced() < s.Stats().Appended {
		t.Fatalf("Synced %x < appended %x after Flush", s.Synced(), s.Stats().Appended)
	}
	for i, ref := range refs {
		mustRead(t, s, ref, msg(i, 100+i))
	}
	mustClose(t, s)

	s, rec = mustOpen(t, dir, Options{})
	defer mustClose(t, s)
	if !rec.Checkpoint || rec.Replayed != 0 {
		t.Errorf("reopen after Close: checkpoint %v, replayed %d; want checkpoint, 0", rec.Checkpoint, rec.Replayed)
	}
	es := rec.Queues["q"]
	if len(es) != 10 {
		t.Fatalf("recovered %d entries, want 10", len(es))
	}
	for i, e := range es {
		if e.Seq != uint64(i+1) || e.Ref != refs[i] || e.Size != uint32(100+i) || e.Redelivered {
			t.Fatalf("entry %d = %+v, want seq %d ref %v size %d", i, e, i+1, refs[i], 100+i)
		}
		mustRead(t, s, e.Ref, msg(i, 100+i))
	}
	if got := rec.NextSeq["q"]; got != 11 {
		t.Errorf("NextSeq = %d, want 11", got)
	}
	if _, err := s.Enqueue("q", 10, refs[0], true, EntryMeta{}); !errors.Is(err, store.ErrSeqOrder) {
		t.Errorf("Enqueue of an old seq: %v, want ErrSeqOrder", err)
	}
}

func TestMultiQueueSingleWrite(t *testing.T) {
	dir := t.TempDir()
	s, _ := mustOpen(t, dir, Options{})
	m := msg(1, 1000)
	ref, _, err := s.Publish(m, []Target{{Queue: "a", Seq: 1, Durable: true}, {Queue: "b", Seq: 1, Durable: true}, {Queue: "c", Seq: 1, Durable: true}, {Queue: "t", Seq: 1, Durable: false}})
	if err != nil {
		t.Fatal(err)
	}
	st := s.Stats()
	if st.LiveEntries != 4 || st.DurableEntries != 3 {
		t.Fatalf("stats %+v: want 4 live entries, 3 durable", st)
	}
	// the body is in the log once
	if n := bytes.Count(readAll(t, s), m.Body); n != 1 {
		t.Fatalf("body written %d times, want 1", n)
	}
	// the same body enqueued later by ref, to another queue
	if _, err := s.Enqueue("d", 5, ref, true, EntryMeta{}); err != nil {
		t.Fatal(err)
	}
	s.Ack("a", 1)
	s.Ack("b", 1)
	mustClose(t, s)

	s, rec := mustOpen(t, dir, Options{})
	defer mustClose(t, s)
	if len(rec.Queues) != 2 || len(rec.Queues["c"]) != 1 || len(rec.Queues["d"]) != 1 {
		t.Fatalf("recovered %v, want c and d", rec.Queues)
	}
	if rec.Queues["c"][0].Ref != ref || rec.Queues["d"][0].Ref != ref {
		t.Fatalf("refs differ: %v", rec.Queues)
	}
	mustRead(t, s, ref, m)
	if rec.NextSeq["a"] != 2 || rec.NextSeq["d"] != 6 {
		t.Errorf("NextSeq %v", rec.NextSeq)
	}
}

// readAll returns the concatenated segment files of s (after a Flush).
func readAll(t testing.TB, s *Store) []byte {
	t.Helper()
	if err := s.Flush(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	var all []byte
	for _, id := range segFiles(t, s.dir) {
		b, err := os.ReadFile(s.segPath(id))
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, b...)
	}
	return all
}

func TestAckDeliveredDeleteRestart(t *testing.T) {
	dir := t.TempDir()
	s, _ := mustOpen(t, dir, Options{})
	for i := 1; i <= 6; i++ {
		if _, _, err := s.Publish(msg(i, 10), []Target{{Queue: "q", Seq: uint64(i), Durable: true}, {Queue: "gone", Seq: uint64(i), Durable: true}}); err != nil {
			t.Fatal(err)
		}
	}
	s.Ack("q", 2)
	s.Ack("q", 4)
	s.Ack("q", 4) // twice is harmless
	s.Ack("q", 99)
	s.Delivered("q", 3)
	s.Delivered("q", 5)
	s.Ack("q", 5) // delivered then acked: gone
	s.DeleteQueue("gone")
	if s.NextSeq("gone") != 0 {
		t.Fatal("deleted queue kept its seq")
	}
	// a new queue of the same name starts empty, with any seq
	if _, _, err := s.Publish(msg(7, 10), []Target{{Queue: "gone", Seq: 1, Durable: true}}); err != nil {
		t.Fatal(err)
	}
	if err := s.Flush(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	crashed := snapshot(t, s) // recovery by replay, no checkpoint
	mustClose(t, s)

	for _, d := range []string{dir, crashed} {
		s, rec := mustOpen(t, d, Options{})
		got := rec.Queues["q"]
		if !slices.Equal(seqs(got), []uint64{1, 3, 6}) {
			t.Fatalf("%s: q = %v, want 1 3 6", d, seqs(got))
		}
		if got[0].Redelivered || !got[1].Redelivered || got[2].Redelivered {
			t.Fatalf("redelivered flags %+v, want only seq 3", got)
		}
		if !slices.Equal(seqs(rec.Queues["gone"]), []uint64{1}) {
			t.Fatalf("recreated queue = %v, want [1]", seqs(rec.Queues["gone"]))
		}
		mustRead(t, s, rec.Queues["gone"][0].Ref, msg(7, 10))
		// delivered survives a second restart through the checkpoint
		s.Delivered("q", 1)
		mustClose(t, s)
		s, rec = mustOpen(t, d, Options{})
		if !rec.Queues["q"][0].Redelivered {
			t.Fatalf("delivered after restart not recovered")
		}
		mustClose(t, s)
	}
}

func TestTransientNotRecovered(t *testing.T) {
	dir := t.TempDir()
	s, _ := mustOpen(t, dir, Options{})
	ref, _, err := s.WriteMessage(msg(1, 50), false)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Enqueue("q", 1, ref, false, EntryMeta{}); err != nil {
		t.Fatal(err)
	}
	ref2, _, err := s.Publish(msg(2, 50), []Target{{Queue: "q", Seq: 2, Durable: false}})
	if err != nil {
		t.Fatal(err)
	}
	mustRead(t, s, ref, msg(1, 50))
	mustRead(t, s, ref2, msg(2, 50))
	if st := s.Stats(); st.TransientHolds != 1 || st.DurableEntries != 0 || st.LiveEntries != 2 {
		t.Fatalf("stats %+v", st)
	}
	s.Release(ref)
	s.Ack("q", 1)
	mustClose(t, s)
	s, rec := mustOpen(t, dir, Options{})
	defer mustClose(t, s)
	if len(rec.Queues) != 0 {
		t.Fatalf("transient entries recovered: %v", rec.Queues)
	}
}

func TestRolloverAndDeletion(t *testing.T) {
	dir := t.TempDir()
	s, _ := mustOpen(t, dir, Options{SegmentSize: 8 << 10, NoAutoCompact: true})
	defer mustClose(t, s)
	const n = 200
	for i := 1; i <= n; i++ {
		if _, _, err := s.Publish(msg(i, 500), []Target{{Queue: "q", Seq: uint64(i), Durable: true}}); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Flush(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	before := segFiles(t, dir)
	if len(before) < 10 {
		t.Fatalf("%d segment files after %d KiB, want many", len(before), n/2)
	}
	for i := 1; i <= n; i++ {
		s.Ack("q", uint64(i))
	}
	// more writes so that the acks' segment is sealed too
	for i := n + 1; i <= n+40; i++ {
		if _, _, err := s.Publish(msg(i, 500), []Target{{Queue: "q", Seq: uint64(i), Durable: true}}); err != nil {
			t.Fatal(err)
		}
		s.Ack("q", uint64(i))
	}
	if err := s.Flush(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	s.reclaim()
	after := segFiles(t, dir)
	if len(after) > 3 {
		t.Fatalf("segment files %v remain after everything was acked (had %v)", after, before)
	}
	if st := s.Stats(); st.SegmentsDeleted == 0 || st.Segments != len(after) {
		t.Fatalf("stats %+v, files %v", st, after)
	}
}

// An ack must not be dropped while the enqueue it cancels is still on disk,
// even when the ack's segment is otherwise dead.
func TestAckOutlivesNoEnqueue(t *testing.T) {
	dir := t.TempDir()
	opt := Options{SegmentSize: 8 << 10, NoAutoCompact: true}
	s, _ := mustOpen(t, dir, opt)
	// segment 1: A (kept) and B (acked later)
	if _, _, err := s.Publish(msg(1, 100), []Target{{Queue: "keep", Seq: 1, Durable: true}}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.Publish(msg(2, 100), []Target{{Queue: "q", Seq: 1, Durable: true}}); err != nil {
		t.Fatal(err)
	}
	// fill some segments with churn
	seq := uint64(2)
	for range 60 {
		if _, _, err := s.Publish(msg(3, 600), []Target{{Queue: "q", Seq: seq, Durable: true}}); err != nil {
			t.Fatal(err)
		}
		s.Ack("q", seq)
		seq++
	}
	s.Ack("q", 1) // B's ack lands in a late segment
	for range 60 {
		if _, _, err := s.Publish(msg(3, 600), []Target{{Queue: "q", Seq: seq, Durable: true}}); err != nil {
			t.Fatal(err)
		}
		s.Ack("q", seq)
		seq++
	}
	if err := s.Flush(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	s.reclaim()
	files := segFiles(t, dir)
	if files[0] != 1 {
		t.Fatalf("segment 1 (live) deleted: %v", files)
	}
	crashed := snapshot(t, s)
	s2, rec := mustOpen(t, crashed, opt)
	if !slices.Equal(seqs(rec.Queues["q"]), nil) || len(rec.Queues["keep"]) != 1 {
		t.Fatalf("after reclaim and crash: %v (acked message resurrected?)", rec.Queues)
	}
	mustClose(t, s2)

	// compaction moves A; then everything old can go
	if err := s.Compact(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	files = segFiles(t, dir)
	if len(files) > 3 || files[0] == 1 {
		t.Fatalf("after compaction files %v", files)
	}
	crashed = snapshot(t, s)
	mustClose(t, s)
	for _, d := range []string{dir, crashed} {
		s, rec := mustOpen(t, d, opt)
		if len(rec.Queues["q"]) != 0 || len(rec.Queues["keep"]) != 1 {
			t.Fatalf("after compaction: %v", rec.Queues)
		}
		mustRead(t, s, rec.Queues["keep"][0].Ref, msg(1, 100))
		mustClose(t, s)
	}
}

func TestCompaction(t *testing.T) {
	dir := t.TempDir()
	opt := Options{SegmentSize: 16 << 10, NoAutoCompact: true}
	s, _ := mustOpen(t, dir, opt)
	type kept struct {
		q   string
		seq uint64
		ref Ref
		m   *Message
	}
	var keep []kept
	seq := uint64(1)
	for i := range 400 {
		m := msg(i, 300)
		q := "churn"
		if i%40 == 0 {
			q = "slow"
		}
		ref, _, err := s.Publish(m, []Target{{Queue: q, Seq: seq, Durable: true}})
		if err != nil {
			t.Fatal(err)
		}
		if q == "slow" {
			keep = append(keep, kept{q, seq, ref, m})
			s.Delivered(q, seq)
		}
		seq++
	}
	for i := uint64(1); i < seq; i++ {
		s.Ack("churn", i)
	}
	// a transient body is never compacted away while held
	tref, _, err := s.WriteMessage(msg(999, 50), false)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Flush(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	s.reclaim()
	before := segFiles(t, dir)
	st0 := s.Stats()
	if err := s.Compact(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	after := segFiles(t, dir)
	st := s.Stats()
	if st.Compactions == 0 || len(after) >= len(before) {
		t.Fatalf("compaction: %d -> %d files, stats %+v", len(before), len(after), st)
	}
	if st.DiskBytes >= st0.DiskBytes/2 {
		t.Errorf("disk bytes %d -> %d", st0.DiskBytes, st.DiskBytes)
	}
	// old refs still read, through forwarding
	for _, k := range keep {
		mustRead(t, s, k.ref, k.m)
	}
	mustRead(t, s, tref, msg(999, 50))
	s.Wait(ctxT(t), s.Ack("slow", keep[0].seq))
	crashed := snapshot(t, s)
	mustClose(t, s)
	for _, d := range []string{dir, crashed} {
		s, rec := mustOpen(t, d, opt)
		got := rec.Queues["slow"]
		if len(got) != len(keep)-1 {
			t.Fatalf("recovered %d slow entries, want %d", len(got), len(keep)-1)
		}
		for i, e := range got {
			k := keep[i+1]
			if e.Seq != k.seq || !e.Redelivered || e.Size != 300 {
				t.Fatalf("entry %+v, want seq %d redelivered", e, k.seq)
			}
			mustRead(t, s, e.Ref, k.m)
		}
		if len(rec.Queues["churn"]) != 0 {
			t.Fatalf("acked churn recovered: %d", len(rec.Queues["churn"]))
		}
		mustClose(t, s)
	}
}

func TestVersionFile(t *testing.T) {
	dir := t.TempDir()
	s, _ := mustOpen(t, dir, Options{})
	mustClose(t, s)
	if err := os.WriteFile(filepath.Join(dir, versionFile), []byte("99\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, _, err := Open(dir, Options{}); !errors.Is(err, store.ErrVersion) {
		t.Fatalf("Open with VERSION 99: %v, want ErrVersion", err)
	}
	os.Remove(filepath.Join(dir, versionFile))
	if _, _, err := Open(dir, Options{}); !errors.Is(err, store.ErrVersion) {
		t.Fatalf("Open without VERSION: %v, want ErrVersion", err)
	}
}

func TestLockedDir(t *testing.T) {
	dir := t.TempDir()
	s, _ := mustOpen(t, dir, Options{})
	defer mustClose(t, s)
	if _, _, err := Open(dir, Options{}); err == nil {
		t.Fatal("second Open of the same dir succeeded")
	}
}

func TestClosedStore(t *testing.T) {
	s, _ := mustOpen(t, t.TempDir(), Options{})
	mustClose(t, s)
	if _, _, err := s.WriteMessage(msg(1, 1), true); !errors.Is(err, store.ErrClosed) {
		t.Fatalf("write after close: %v", err)
	}
	if err := s.Flush(context.Background()); err != nil && !errors.Is(err, store.ErrClosed) {
		t.Fatalf("flush after close: %v", err)
	}
	s.Ack("q", 1)
	if err := s.Close(); !errors.Is(err, store.ErrClosed) {
		t.Fatalf("second close: %v", err)
	}
}

func TestOnSyncAndBackpressure(t *testing.T) {
	dir := t.TempDir()
	var last uint64
	calls := 0
	s, _ := mustOpen(t, dir, Options{MaxBuffer: 64 << 10, OnSync: func(lsn uint64) {
		if lsn <= last {
			panic(fmt.Sprintf("OnSync %x after %x", lsn, last))
		}
		last = lsn
		calls++
	}})
	var lsn uint64
	for i := range 500 {
		var err error
		_, lsn, err = s.Publish(msg(i, 4000), []Target{{Queue: "q", Seq: uint64(i + 1), Durable: true}})
		if err != nil {
			t.Fatal(err)
		}
		if b := s.Stats().Buffered; b > 64<<10+8<<10 {
			t.Fatalf("buffered %d bytes, over the 64 KiB cap", b)
		}
	}
	if err := s.Wait(ctxT(t), lsn); err != nil {
		t.Fatal(err)
	}
	mustClose(t, s)
	if calls == 0 || last < lsn {
		t.Fatalf("OnSync calls %d, last %x < %x", calls, last, lsn)
	}
}

func TestReadErrors(t *testing.T) {
	s, _ := mustOpen(t, t.TempDir(), Options{})
	defer mustClose(t, s)
	ref, _, _ := s.Publish(msg(1, 10), []Target{{Queue: "q", Seq: 1, Durable: true}})
	if err := s.Flush(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []Ref{{}, {Segment: 77, Offset: 40}, {Segment: ref.Segment, Offset: ref.Offset + 3}, {Segment: ref.Segment, Offset: 1 << 30}} {
		if _, err := s.Read(bad); err == nil {
			t.Errorf("Read(%v) succeeded", bad)
		}
	}
	if _, err := s.Enqueue("q", 2, Ref{Segment: 77, Offset: 40}, true, EntryMeta{}); err == nil {
		t.Error("Enqueue of a bogus ref succeeded")
	}
	if _, _, err := s.WriteMessage(&Message{Exchange: string(make([]byte, 300))}, true); !errors.Is(err, store.ErrTooLarge) {
		t.Errorf("long exchange: %v", err)
	}
}

var _ = io.EOF

// TestEntryMetaSurvives: expiry and priority come back from a crash image
// (log replay), from a checkpoint, and after compaction copied the enqueue
// records, for entries written by Publish and by Enqueue.
func TestEntryMetaSurvives(t *testing.T) {
	dir := testDir(t)
	opt := Options{SegmentSize: 16 << 10, NoAutoCompact: true, CheckpointEvery: -1}
	s, _ := mustOpen(t, dir, opt)
	want := map[uint64]EntryMeta{}
	seq := uint64(1)
	for i := range 300 {
		m := msg(i, 300)
		if i%30 != 0 {
			if _, _, err := s.Publish(m, []Target{{Queue: "churn", Seq: seq, Durable: true}}); err != nil {
				t.Fatal(err)
			}
			s.Ack("churn", seq)
			seq++
			continue
		}
		em := EntryMeta{Priority: uint8(i / 30), Expires: 1_800_000_000_000 + int64(i)}
		if i%60 == 0 {
			em.Expires = 0 // priority only
		}
		slow := uint64(len(want) + 1)
		if i%90 == 0 {
			ref, _, err := s.WriteMessage(m, true)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := s.Enqueue("slow", slow, ref, true, em); err != nil {
				t.Fatal(err)
			}
		} else if _, _, err := s.Publish(m, []Target{{Queue: "slow", Seq: slow, Durable: true, Meta: em}}); err != nil {
			t.Fatal(err)
		}
		want[slow] = em
	}
	check := func(how string, rec *Recovery) {
		t.Helper()
		got := rec.Queues["slow"]
		if len(got) != len(want) {
			t.Fatalf("%s: %d entries, want %d", how, len(got), len(want))
		}
		for _, e := range got {
			if e.Meta() != want[e.Seq] {
				t.Fatalf("%s: seq %d meta %+v, want %+v", how, e.Seq, e.Meta(), want[e.Seq])
			}
		}
	}
	beforeCompact := snapshot(t, s)
	s.reclaim()
	if err := s.Compact(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	if s.Stats().Compactions == 0 {
		t.Fatal("nothing was compacted")
	}
	afterCompact := snapshot(t, s)
	mustClose(t, s) // writes a checkpoint
	for _, c := range []struct {
		how, dir string
		ckp      bool
	}{{"replay", beforeCompact, false}, {"replay after compaction", afterCompact, false}, {"checkpoint", dir, true}} {
		s, rec := mustOpen(t, c.dir, opt)
		if rec.Checkpoint != c.ckp {
			t.Fatalf("%s: checkpoint used %v", c.how, rec.Checkpoint)
		}
		check(c.how, rec)
		// and once more from the checkpoint this Close writes
		mustClose(t, s)
		s, rec = mustOpen(t, c.dir, opt)
		check(c.how+", then checkpoint", rec)
		mustClose(t, s)
	}
}
