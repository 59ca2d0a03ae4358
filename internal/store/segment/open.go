package segment

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/warrenmq/warren/internal/store"
)

// SchemaVersion is the on-disk layout version, kept in the VERSION file.
// Open refuses a directory with another version.
const SchemaVersion = 1

const versionFile = "VERSION"

// Recovery is what Open found in the log.
type Recovery struct {
	// Queues lists, per queue, the entries enqueued durably and not acked,
	// in seq order. Queues without entries are absent.
	Queues map[string][]Entry
	// NextSeq holds, for every queue the store knows (also empty ones), the
	// lowest seq its next Enqueue may use.
	NextSeq map[string]uint64
	// Checkpoint tells whether a checkpoint was used; Replayed how many
	// bytes of log were read after it.
	Checkpoint bool
	Replayed   int64
	// Truncated is how many bytes of torn or corrupt tail were cut from the
	// last segment; Corrupt lists older segments whose reading stopped
	// early (their records after the damage are ignored).
	Truncated int64
	Corrupt   []uint32
}

// Open opens (creating if needed) the store in dir, recovers it, and starts
// its syncer. It takes an exclusive lock on the directory. The returned
// Recovery belongs to the caller.
func Open(dir string, opt Options) (*Store, *Recovery, error) {
	opt.fill()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, nil, err
	}
	lock, err := lockDir(filepath.Join(dir, "LOCK"))
	if err != nil {
		return nil, nil, fmt.Errorf("segment: lock %s: %w", dir, err)
	}
	s, rec, err := open(dir, opt)
	if err != nil {
		unlockDir(lock)
		return nil, nil, err
	}
	s.lock = lock
	s.syncWG.Add(1)
	go s.syncLoop()
	s.maintWG.Add(2)
	go s.maintLoop()
	go s.preallocLoop()
	return s, rec, nil
}

func checkVersion(dir string, empty bool) error {
	path := filepath.Join(dir, versionFile)
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		if !empty {
			return fmt.Errorf("%w: %s has segment files but no %s", store.ErrVersion, dir, versionFile)
		}
		tmp := path + ".tmp"
		if err := os.WriteFile(tmp, []byte(strconv.Itoa(SchemaVersion)+"\n"), 0o644); err != nil {
			return err
		}
		if err := fsyncPath(tmp); err != nil {
			return err
		}
		if err := os.Rename(tmp, path); err != nil {
			return err
		}
		return syncDir(dir)
	}
	if err != nil {
		return err
	}
	v, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || v != SchemaVersion {
		return fmt.Errorf("%w: %s says %q, this build reads %d", store.ErrVersion, path, strings.TrimSpace(string(b)), SchemaVersion)
	}
	return nil
}

func fsyncPath(path string) error {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	return f.Sync()
}

func parseSegName(name string) (uint32, bool) {
	if !strings.HasSuffix(name, ".seg") || len(name) != 14 {
		return 0, false
	}
	v, err := strconv.ParseUint(name[:10], 10, 32)
	return uint32(v), err == nil && v > 0
}

func open(dir string, opt Options) (*Store, *Recovery, error) {
	log := opt.Log
	t0 := time.Now()
	phase := func(name string) {
		log.Debug("segment: open", "phase", name, "elapsed", time.Since(t0))
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, nil, err
	}
	var ids []uint32
	var ckps []uint64
	for _, e := range ents {
		name := e.Name()
		if id, ok := parseSegName(name); ok {
			ids = append(ids, id)
		} else if pos, ok := parseCkpName(name); ok {
			ckps = append(ckps, pos)
		} else if strings.HasSuffix(name, ".tmp") {
			os.Remove(filepath.Join(dir, name))
		}
	}
	slices.Sort(ids)
	slices.Sort(ckps)
	if err := checkVersion(dir, len(ids) == 0 && len(ckps) == 0); err != nil {
		return nil, nil, err
	}
	sizes := make(map[uint32]int64, len(ids))
	for _, id := range ids {
		fi, err := os.Stat(filepath.Join(dir, segName(id)))
		if err != nil {
			return nil, nil, err
		}
		sizes[id] = fi.Size()
	}

	// newest valid checkpoint
	rec := &Recovery{}
	var st *rstate
	var ckpPath string
	for i := len(ckps) - 1; i >= 0 && st == nil; i-- {
		path := filepath.Join(dir, ckpName(ckps[i]))
		c, err := loadCheckpoint(path)
		if err == nil && c.pos != ckps[i] {
			err = fmt.Errorf("%w: checkpoint position %x in file %s", errCorrupt, c.pos, path)
		}
		if err == nil {
			if sz, ok := sizes[lsnSeg(c.pos)]; ok && sz < lsnOff(c.pos) {
				err = fmt.Errorf("segment %d is shorter (%d) than the checkpoint position %d", lsnSeg(c.pos), sz, lsnOff(c.pos))
			}
		}
		if err != nil {
			log.Warn("segment: skipping checkpoint", "path", path, "err", err)
			continue
		}
		st, ckpPath = c, path
		rec.Checkpoint = true
	}
	if st == nil {
		st = newRState()
	}
	phase("checkpoint loaded")

	// replay the log after it
	files := make(map[uint32]*os.File, len(ids))
	closeAll := func() {
		for _, f := range files {
			f.Close()
		}
	}
	var last uint32
	if len(ids) > 0 {
		last = ids[len(ids)-1]
	}
	headBad, lastUnusable := false, false
	cleanEnd := int64(-1) // where the last segment's records end, if cleanly
	var lastEnd int64 = -1
	var ioErr error
	openSeg := func(id uint32) *os.File {
		f, err := os.OpenFile(filepath.Join(dir, segName(id)), os.O_RDWR, 0)
		if err != nil {
			ioErr = err
			return nil
		}
		files[id] = f
		return f
	}
	replayed, _ := replaySegments(st, ids, 0, openSeg, func(id uint32, end int64, err error) {
		if err == nil {
			if id == last {
				cleanEnd = end
			}
			return
		}
		if !errors.Is(err, errShort) && !errors.Is(err, errCorrupt) && !errors.Is(err, store.ErrVersion) {
			ioErr = fmt.Errorf("segment: read segment %d: %w", id, err)
			return
		}
		if id != last {
			log.Error("segment: recovery: corrupt segment; skipping the rest of it", "segment", id, "offset", end, "err", err)
			rec.Corrupt = append(rec.Corrupt, id)
			return
		}
		if end == 0 {
			if errors.Is(err, errShort) {
				headBad = true // torn while being created: rewrite it
			} else {
				log.Error("segment: recovery: damaged segment header; starting a new segment", "segment", id, "err", err)
				rec.Corrupt = append(rec.Corrupt, id)
				lastUnusable = true
			}
			return
		}
		log.Warn("segment: recovery: cutting torn tail", "segment", id, "offset", end, "size", sizes[id], "err", err)
		lastEnd = end
	})
	rec.Replayed = replayed
	phase("replayed")
	if ioErr != nil {
		closeAll()
		return nil, nil, ioErr
	}
	// cut the torn tail of the last segment
	if len(ids) > 0 {
		f := files[last]
		switch {
		case headBad:
			lastEnd = segHeaderSize
			rec.Truncated += sizes[last]
			if f == nil {
				f = openSeg(last)
			}
			if f == nil {
				closeAll()
				return nil, nil, ioErr
			}
			if err := f.Truncate(0); err != nil {
				closeAll()
				return nil, nil, err
			}
			if _, err := f.WriteAt(appendSegHeader(nil, last), 0); err != nil {
				closeAll()
				return nil, nil, err
			}
		case lastEnd >= 0:
			rec.Truncated += sizes[last] - lastEnd
			if err := f.Truncate(lastEnd); err != nil {
				closeAll()
				return nil, nil, err
			}
		case cleanEnd >= 0:
			lastEnd = cleanEnd // possibly followed by preallocated zeros
		default:
			lastEnd = sizes[last]
		}
		sizes[last] = lastEnd
	}
	// make what was replayed durable before anything builds on it
	for id, f := range files {
		if id >= lsnSeg(st.pos) {
			if err := fdatasync(f); err != nil {
				closeAll()
				return nil, nil, err
			}
		}
	}

	// delete compacted segments, whose live records were all copied
	for id := range st.condemned {
		if _, ok := sizes[id]; ok && id != last {
			if f := files[id]; f != nil {
				f.Close()
				delete(files, id)
			}
			if err := os.Remove(filepath.Join(dir, segName(id))); err != nil {
				log.Warn("segment: remove compacted segment", "segment", id, "err", err)
				continue
			}
			delete(sizes, id)
			ids = slices.DeleteFunc(ids, func(x uint32) bool { return x == id })
		}
	}
	if err := syncDir(dir); err != nil {
		closeAll()
		return nil, nil, err
	}
	phase("synced")
	st.finalize(func(id uint32) bool { _, ok := sizes[id]; return ok }, log)
	phase("finalized")

	s := &Store{
		dir:      dir,
		opt:      opt,
		log:      log,
		segs:     make(map[uint32]*segment, len(ids)+1),
		owners:   make(map[string]*owner, len(st.owners)),
		byID:     make(map[uint32]*owner, len(st.owners)),
		nextID:   st.nextID,
		tombs:    st.tombs,
		fwd:      make(map[uint32]*fwdTable),
		commitCh: make(chan struct{}),
		spareCh:  make(chan struct{}, 1),
		wake:     make(chan struct{}, 1),
		maint:    make(chan struct{}, 1),
		quit:     make(chan struct{}),
	}
	s.space = sync.NewCond(&s.mu)
	for _, id := range ids {
		f := files[id]
		if f == nil {
			if f, err = os.OpenFile(filepath.Join(dir, segName(id)), os.O_RDWR, 0); err != nil {
				closeAll()
				return nil, nil, err
			}
			files[id] = f
		}
		g := &segment{id: id, f: f, size: sizes[id]}
		g.written, g.durable = g.size, g.size
		if rg := st.segs[id]; rg != nil {
			g.bodies, g.bodyBytes, g.deps = rg.bodies, rg.bodyBytes, rg.deps
		}
		g.condemned = st.condemned[id]
		s.segs[id] = g
	}
	// the head: the last segment, or a new one
	var head *segment
	if len(ids) > 0 && last == ids[len(ids)-1] && !lastUnusable && !s.segs[last].condemned {
		head = s.segs[last]
	}
	if head == nil {
		id := max(st.maxSeg, lsnSeg(st.pos), last) + 1
		f, err := os.OpenFile(filepath.Join(dir, segName(id)), os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o644)
		if err != nil {
			closeAll()
			return nil, nil, err
		}
		if _, err := f.WriteAt(appendSegHeader(nil, id), 0); err == nil {
			err = fdatasync(f)
		}
		if err == nil {
			err = syncDir(dir)
		}
		if err != nil {
			f.Close()
			closeAll()
			return nil, nil, err
		}
		head = &segment{id: id, f: f, size: segHeaderSize, written: segHeaderSize, durable: segHeaderSize}
		s.segs[id] = head
	}
	s.head = head
	s.appendLSN = mkLSN(head.id, head.size)
	s.synced.Store(s.appendLSN)
	s.reclaimHint = true
	st.pos = s.appendLSN

	// a checkpoint now if recovery had to read much, so that a crash soon
	// after does not pay for it again
	if replayed > 16<<20 || (ckpPath == "" && len(ids) > 0) {
		if path, err := writeCheckpoint(dir, st); err != nil {
			log.Warn("segment: checkpoint after recovery failed", "err", err)
		} else {
			ckpPath = path
			pruneCheckpoints(dir, st.pos)
		}
	}
	s.ckpPath = ckpPath
	if ckpPath != "" {
		if pos, ok := parseCkpName(filepath.Base(ckpPath)); ok {
			s.ckpPos = pos
		}
	}

	rec.Queues = make(map[string][]Entry, len(st.owners))
	rec.NextSeq = make(map[string]uint64, len(st.owners))
	for _, o := range st.owners {
		ow := &owner{id: o.id, name: o.name, lastSeq: o.lastSeq, hasSeq: o.hasSeq, onDisk: true}
		if len(o.ents) > 0 {
			out := make([]Entry, len(o.ents))
			var r *run
			var eg, bg *segment
			for i, e := range o.ents {
				out[i] = Entry{Seq: e.seq, Ref: e.ref, Size: e.size, Redelivered: e.flags&eRedelivered != 0,
					Expires: e.expires, Priority: e.prio}
				if r == nil || r.eseg != e.eseg || r.bseg != e.ref.Segment || e.seq-r.last > runGap {
					r = &run{first: e.seq, last: e.seq, eseg: e.eseg, bseg: e.ref.Segment, durable: true}
					ow.runs = append(ow.runs, r)
				}
				r.add(e.seq, e.flags&eRedelivered != 0)
				if eg == nil || eg.id != e.eseg {
					eg = s.segs[e.eseg]
				}
				eg.enq++
				if bg == nil || bg.id != e.ref.Segment {
					bg = s.segs[e.ref.Segment]
				}
				bg.refs++
				if e.eseg != e.ref.Segment {
					bg.fixed++
				}
			}
			rec.Queues[o.name] = out
			ow.noteSeqFrom(o.ents[len(o.ents)-1].seq)
		}
		if ow.hasSeq {
			rec.NextSeq[o.name] = ow.lastSeq + 1
		} else {
			rec.NextSeq[o.name] = 0
		}
		o.ents = nil // let the replay copy go as we go
		s.owners[o.name] = ow
		s.byID[o.id] = ow
	}
	phase("index built")
	log.Info("segment: recovered", "queues", len(rec.Queues), "checkpoint", rec.Checkpoint,
		"replayed", rec.Replayed, "truncated", rec.Truncated, "corrupt", rec.Corrupt, "took", time.Since(t0))
	return s, rec, nil
}

func (o *owner) noteSeqFrom(seq uint64) {
	if !o.hasSeq || seq > o.lastSeq {
		o.lastSeq, o.hasSeq = seq, true
	}
}
