package segment

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// The crash test re-executes the test binary as a child that writes to a
// store and prints what OnSync reported durable; the parent SIGKILLs it at
// a random moment and checks the store.

const (
	crashEnv    = "WARREN_SEGMENT_CRASH_CHILD"
	diskFullEnv = "WARREN_SEGMENT_DISKFULL_CHILD"
)

func TestMain(m *testing.M) {
	if dir := os.Getenv(crashEnv); dir != "" {
		crashChild(dir)
		os.Exit(0)
	}
	if dir := os.Getenv(diskFullEnv); dir != "" {
		if err := diskFullChild(dir); err != nil {
			fmt.Println("FAIL", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	code := m.Run()
	cleanupBig()
	os.Exit(code)
}

// crashMessage is the deterministic content of (queue, seq).
func crashMessage(q string, seq uint64) *Message {
	n := int(seq*37%3000) + 1
	unit := []byte(fmt.Sprintf("%s/%d;", q, seq))
	body := bytes.Repeat(unit, n/len(unit)+1)[:n]
	return &Message{Exchange: "x", RoutingKey: q, Body: body}
}

var crashOpt = Options{SegmentSize: 128 << 10, CheckpointEvery: 512 << 10}

// crashChild publishes and acks until killed. Output lines:
//
//	E queue seq lsn   enqueued (durable), lsn of the record
//	A queue seq lsn   acked
//	S lsn             OnSync: everything up to lsn is durable
func crashChild(dir string) {
	var outMu sync.Mutex
	out := bufio.NewWriterSize(os.Stdout, 64<<10)
	line := func(format string, args ...any) {
		outMu.Lock()
		fmt.Fprintf(out, format, args...)
		outMu.Unlock()
	}
	opt := crashOpt
	opt.OnSync = func(lsn uint64) {
		outMu.Lock()
		fmt.Fprintf(out, "S %d\n", lsn)
		out.Flush() // every durable claim reaches the parent before the next
		outMu.Unlock()
	}
	s, rec, err := Open(dir, opt)
	if err != nil {
		fmt.Println("OPEN", err)
		os.Exit(2)
	}
	var wg sync.WaitGroup
	for w := range 4 {
		q := fmt.Sprintf("q%d", w)
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), uint64(w)))
			type qs struct {
				q   string
				seq uint64
			}
			held := make([]qs, 0, 1024)
			for _, name := range []string{q, q + "x"} {
				for _, e := range rec.Queues[name] {
					held = append(held, qs{name, e.Seq})
				}
			}
			seq := max(rec.NextSeq[q], rec.NextSeq[q+"x"], 1)
			for {
				if rng.IntN(2) == 0 && len(held) > 0 {
					i := rng.IntN(min(len(held), 16)) // mostly old ones
					h := held[i]
					held = append(held[:i], held[i+1:]...)
					// may be acked from now on: say so before it happens
					outMu.Lock()
					fmt.Fprintf(out, "a %s %d 0\n", h.q, h.seq)
					out.Flush()
					outMu.Unlock()
					if lsn := s.Ack(h.q, h.seq); lsn != 0 {
						line("A %s %d %d\n", h.q, h.seq, lsn)
					}
					continue
				}
				targets := []Target{{Queue: q, Seq: seq, Durable: true}}
				if rng.IntN(4) == 0 {
					// also to a second queue
					targets = append(targets, Target{Queue: q + "x", Seq: seq, Durable: true})
				}
				_, lsn, err := s.Publish(crashMessage(q, seq), targets)
				if err != nil {
					line("ERR %v\n", err)
					return
				}
				for _, tg := range targets {
					line("E %s %d %d\n", tg.Queue, seq, lsn)
					held = append(held, qs{tg.Queue, seq})
				}
				if rng.IntN(5) == 0 {
					s.Delivered(q, seq)
				}
				seq++
				if rng.IntN(50) == 0 {
					s.Wait(context.Background(), lsn)
				}
			}
		}()
	}
	wg.Wait()
}

type crashLog struct {
	synced uint64
	enq    map[string]map[uint64]uint64 // queue -> seq -> lsn
	ack    map[string]map[uint64]uint64
}

func parseCrashLog(t *testing.T, out []byte) *crashLog {
	l := &crashLog{enq: map[string]map[uint64]uint64{}, ack: map[string]map[uint64]uint64{}}
	lines := strings.Split(string(out), "\n")
	for _, ln := range lines[:len(lines)-1] { // the last one may be cut
		f := strings.Fields(ln)
		switch {
		case len(f) == 2 && f[0] == "S":
			v, _ := strconv.ParseUint(f[1], 10, 64)
			l.synced = max(l.synced, v)
		case len(f) == 4 && f[0] == "a":
			seq, _ := strconv.ParseUint(f[2], 10, 64)
			if l.ack[f[1]] == nil {
				l.ack[f[1]] = map[uint64]uint64{}
			}
			if _, ok := l.ack[f[1]][seq]; !ok {
				l.ack[f[1]][seq] = ^uint64(0) // acked at an unknown LSN
			}
		case len(f) == 4 && (f[0] == "E" || f[0] == "A"):
			seq, _ := strconv.ParseUint(f[2], 10, 64)
			lsn, _ := strconv.ParseUint(f[3], 10, 64)
			m := l.enq
			if f[0] == "A" {
				m = l.ack
			}
			if m[f[1]] == nil {
				m[f[1]] = map[uint64]uint64{}
			}
			m[f[1]][seq] = lsn
		case len(f) > 0 && (f[0] == "OPEN" || f[0] == "ERR"):
			t.Fatalf("child: %s", ln)
		}
	}
	return l
}

func TestCrashConsistency(t *testing.T) {
	if testing.Short() {
		t.Skip("re-executes the test binary")
	}
	dir := t.TempDir()
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 1))
	confirmed, acked := 0, 0
	for round := range 20 {
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), crashEnv+"="+dir)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		pipe, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		// read everything; note when the first durable claim arrives
		var stdout bytes.Buffer
		started := make(chan struct{})
		done := make(chan struct{})
		go func() {
			defer close(done)
			buf := make([]byte, 64<<10)
			seen := false
			for {
				n, err := pipe.Read(buf)
				stdout.Write(buf[:n])
				if !seen && bytes.Contains(stdout.Bytes(), []byte("S ")) {
					seen = true
					close(started)
				}
				if err != nil {
					if !seen {
						close(started)
					}
					return
				}
			}
		}()
		select {
		case <-started:
		case <-time.After(10 * time.Second):
		}
		time.Sleep(time.Duration(5+rng.IntN(120)) * time.Millisecond)
		cmd.Process.Signal(syscall.SIGKILL)
		<-done
		err = cmd.Wait()
		var ee *exec.ExitError
		if !errors.As(err, &ee) {
			t.Fatalf("round %d: child: %v\n%s", round, err, stderr.String())
		}
		log := parseCrashLog(t, stdout.Bytes())
		if log.synced == 0 {
			t.Fatalf("round %d: child reported nothing durable\nstderr: %s", round, stderr.String())
		}

		snap := copyDir(t, dir) // for the post-mortem if a check fails
		s, rec := mustOpen(t, dir, crashOpt)
		for q, enq := range log.enq {
			have := map[uint64]Entry{}
			for _, e := range rec.Queues[q] {
				have[e.Seq] = e
			}
			for seq, lsn := range enq {
				ackLSN, wasAcked := log.ack[q][seq]
				_, ok := have[seq]
				switch {
				case wasAcked && ackLSN <= log.synced:
					if ok {
						t.Fatalf("round %d: %s/%d acked durably (ack %x <= %x) but recovered", round, q, seq, ackLSN, log.synced)
					}
					acked++
				case lsn <= log.synced && !wasAcked:
					if !ok {
						dumpRecords(t, snap, seq)
						t.Fatalf("round %d: %s/%d confirmed (lsn %x <= synced %x) but lost", round, q, seq, lsn, log.synced)
					}
					confirmed++
				}
			}
		}
		// whatever is recovered is intact and was really written
		for q, es := range rec.Queues {
			base := strings.TrimSuffix(q, "x")
			for _, e := range es {
				mustRead(t, s, e.Ref, crashMessage(base, e.Seq))
			}
		}
		mustClose(t, s)
		os.RemoveAll(snap)
	}
	if confirmed == 0 || acked == 0 {
		t.Fatalf("checked %d confirmed and %d acked messages; want some of each", confirmed, acked)
	}
	t.Logf("20 kills: %d confirmed messages found, %d durable acks honoured; files %v", confirmed, acked, segFiles(t, dir))
}

// diskFullChild fills the disk (simulated with RLIMIT_FSIZE, which makes
// writes past the limit fail with EFBIG after a partial write), checks the
// store fails cleanly, lifts the limit and checks it recovers.
func diskFullChild(dir string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	s, _, err := Open(dir, Options{CheckpointEvery: -1})
	if err != nil {
		return err
	}
	var okSeqs []uint64
	seq := uint64(1)
	for range 20 {
		if _, _, err := s.Publish(crashMessage("q", seq), []Target{{Queue: "q", Seq: seq, Durable: true}}); err != nil {
			return err
		}
		okSeqs = append(okSeqs, seq)
		seq++
	}
	if err := s.Flush(ctx); err != nil {
		return err
	}
	fi, err := os.Stat(s.segPath(s.head.id))
	if err != nil {
		return err
	}
	var orig syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_FSIZE, &orig); err != nil {
		return err
	}
	limit := uint64(fi.Size()) + 50000
	if err := syscall.Setrlimit(syscall.RLIMIT_FSIZE, &syscall.Rlimit{Cur: limit, Max: orig.Max}); err != nil {
		return err
	}
	lastGood := s.Synced()
	var unconfirmed uint64
	var firstErr error
	for range 200 {
		if _, _, err := s.Publish(crashMessage("q", seq), []Target{{Queue: "q", Seq: seq, Durable: true}}); err != nil {
			firstErr = err
			break
		}
		unconfirmed = seq
		seq++
		if err := s.Flush(ctx); err != nil {
			firstErr = err
			break
		}
		okSeqs = append(okSeqs, unconfirmed)
		unconfirmed = 0
		lastGood = s.Synced()
	}
	if firstErr == nil {
		return errors.New("no error with the file size limit")
	}
	if s.Err() == nil {
		return errors.New("Err() is nil while failing")
	}
	if err := s.Flush(ctx); err == nil {
		return errors.New("Flush succeeded while failing")
	}
	if s.Synced() != lastGood {
		return fmt.Errorf("Synced moved from %x to %x while failing", lastGood, s.Synced())
	}
	if _, _, err := s.Publish(crashMessage("q", seq), []Target{{Queue: "q", Seq: seq, Durable: true}}); err == nil {
		return errors.New("Publish accepted while failing")
	}
	if st := s.Stats(); st.Err == nil {
		return errors.New("Stats.Err nil while failing")
	}
	// space is back
	if err := syscall.Setrlimit(syscall.RLIMIT_FSIZE, &orig); err != nil {
		return err
	}
	deadline := time.Now().Add(10 * time.Second)
	for s.Err() != nil {
		if time.Now().After(deadline) {
			return fmt.Errorf("still failing after the limit was lifted: %v", s.Err())
		}
		time.Sleep(10 * time.Millisecond)
	}
	// the message whose commit failed is durable now too
	if unconfirmed != 0 {
		okSeqs = append(okSeqs, unconfirmed)
	}
	for range 20 {
		if _, _, err := s.Publish(crashMessage("q", seq), []Target{{Queue: "q", Seq: seq, Durable: true}}); err != nil {
			return err
		}
		okSeqs = append(okSeqs, seq)
		seq++
	}
	if err := s.Flush(ctx); err != nil {
		return err
	}
	st := s.Stats()
	fmt.Fprintf(os.Stderr, "disk full: first error %v; writes %d fsyncs %d\n", firstErr, st.Writes, st.Fsyncs)
	fmt.Printf("OK %d\n", len(okSeqs))
	for _, q := range okSeqs {
		fmt.Printf("%d\n", q)
	}
	// crash without Close: the parent recovers by replay
	os.Exit(0)
	return nil
}

func TestDiskFull(t *testing.T) {
	if testing.Short() {
		t.Skip("re-executes the test binary")
	}
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), diskFullEnv+"="+dir)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("child: %v\n%s%s", err, out, stderr.Bytes())
	}
	t.Logf("child: %s", bytes.TrimSpace(stderr.Bytes()))
	lines := strings.Fields(string(out))
	if len(lines) < 2 || lines[0] != "OK" {
		t.Fatalf("child said:\n%s", out)
	}
	var want []uint64
	for _, l := range lines[2:] {
		v, _ := strconv.ParseUint(l, 10, 64)
		want = append(want, v)
	}
	s, rec := mustOpen(t, dir, Options{})
	defer mustClose(t, s)
	if rec.Truncated != 0 || len(rec.Corrupt) != 0 {
		t.Errorf("recovery cut %d bytes, corrupt %v: the failed writes left garbage", rec.Truncated, rec.Corrupt)
	}
	got := map[uint64]bool{}
	for _, e := range rec.Queues["q"] {
		got[e.Seq] = true
		mustRead(t, s, e.Ref, crashMessage("q", e.Seq))
	}
	for _, q := range want {
		if !got[q] {
			t.Fatalf("confirmed seq %d lost after the disk-full episode (recovered %d entries)", q, len(got))
		}
	}
	if len(got) != len(want) {
		t.Fatalf("recovered %d entries, child confirmed %d", len(got), len(want))
	}
	ents, _ := os.ReadDir(dir)
	for _, e := range ents {
		if strings.HasSuffix(e.Name(), ".tmp") {
			t.Errorf("left %s", filepath.Join(dir, e.Name()))
		}
	}
}

// dumpRecords prints, for a post-mortem, the files of dir and the records
// of its segments that concern seq (plus owner, delete and compaction
// records).
func dumpRecords(t testing.TB, dir string, seq uint64) {
	ents, _ := os.ReadDir(dir)
	for _, e := range ents {
		t.Logf("file %s", e.Name())
	}
	for _, id := range segFiles(t, dir) {
		f, err := os.Open(filepath.Join(dir, segName(id)))
		if err != nil {
			continue
		}
		end, err := scanSegment(f, segHeaderSize, -1, func(off int64, h recHeader, p []byte) {
			switch h.typ {
			case recOwner:
				t.Logf("seg %d off %d owner %d = %s", id, off, h.owner, p)
			case recDeleteOwner, recCompacted:
				t.Logf("seg %d off %d %s owner %d seq %d", id, off, h.typ, h.owner, h.seq)
			case recEnqueue, recAck, recDelivered:
				if h.seq == seq {
					t.Logf("seg %d off %d %s owner %d seq %d payload %x flags %d", id, off, h.typ, h.owner, h.seq, p, h.flags)
				}
			}
		})
		t.Logf("seg %d end %d err %v", id, end, err)
		f.Close()
	}
}
