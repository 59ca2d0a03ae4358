package segment

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// Checkpoint file ("checkpoint-<LSN as 16 hex digits>.ckp"): the live index
// at a log position, so that Open replays only the log after it.
//
//	magic "WRNCKPT\x01", position (u64 LSN), then uvarints:
//	nextOwnerID, maxSegment,
//	owners: count, then per owner: id, lastSeq+1 (0: none), name length,
//	  name, entry count, then per entry: seq delta, zigzag(body segment
//	  delta), body offset, body size, zigzag(enqueue segment - body
//	  segment), flags byte (ckpRedelivered, ckpPrio, ckpExpires), then
//	  the priority byte if ckpPrio, then zigzag(expires) if ckpExpires;
//	segments: count, then id, bodies, body bytes, dep count, deps;
//	tombstones: count, then owner id, count, segments;
//	compacted segments not yet deleted: count, ids;
//	CRC32-C of everything before it (4 bytes).
//
// It is written to a temporary file, fsynced and renamed into place, and
// the directory fsynced, only once the log up to its position is durable.
var ckpMagic = [8]byte{'W', 'R', 'N', 'C', 'K', 'P', 'T', 1}

const ckpPrefix, ckpSuffix = "checkpoint-", ".ckp"

func ckpName(pos uint64) string { return fmt.Sprintf("%s%016x%s", ckpPrefix, pos, ckpSuffix) }

func parseCkpName(name string) (uint64, bool) {
	if !strings.HasPrefix(name, ckpPrefix) || !strings.HasSuffix(name, ckpSuffix) {
		return 0, false
	}
	v, err := strconv.ParseUint(name[len(ckpPrefix):len(name)-len(ckpSuffix)], 16, 64)
	return v, err == nil
}

// Entry flag bits in a checkpoint. ckpRedelivered equals eRedelivered;
// checkpoints written before entries had meta never set the other two.
const (
	ckpRedelivered = eRedelivered
	ckpPrio        = 1 << 2
	ckpExpires     = 1 << 3
)

func (st *rstate) encode() []byte {
	n := 64
	for _, o := range st.owners {
		n += 32 + len(o.name) + 12*len(o.ents)
	}
	b := make([]byte, 0, n)
	b = append(b, ckpMagic[:]...)
	b = binary.LittleEndian.AppendUint64(b, st.pos)
	b = binary.AppendUvarint(b, uint64(st.nextID))
	b = binary.AppendUvarint(b, uint64(st.maxSeg))

	ids := sortedKeys(st.owners)
	b = binary.AppendUvarint(b, uint64(len(ids)))
	for _, id := range ids {
		o := st.owners[id]
		b = binary.AppendUvarint(b, uint64(id))
		if o.hasSeq {
			b = binary.AppendUvarint(b, o.lastSeq+1)
		} else {
			b = binary.AppendUvarint(b, 0)
		}
		b = binary.AppendUvarint(b, uint64(len(o.name)))
		b = append(b, o.name...)
		live := 0
		for _, e := range o.ents {
			if e.flags&eDead == 0 {
				live++
			}
		}
		b = binary.AppendUvarint(b, uint64(live))
		var prevSeq uint64
		var prevSeg uint32
		for _, e := range o.ents {
			if e.flags&eDead != 0 {
				continue
			}
			b = binary.AppendUvarint(b, e.seq-prevSeq)
			b = binary.AppendVarint(b, int64(e.ref.Segment)-int64(prevSeg))
			b = binary.AppendUvarint(b, uint64(e.ref.Offset))
			b = binary.AppendUvarint(b, uint64(e.size))
			b = binary.AppendVarint(b, int64(e.eseg)-int64(e.ref.Segment))
			fl := e.flags & eRedelivered
			if e.prio != 0 {
				fl |= ckpPrio
			}
			if e.expires != 0 {
				fl |= ckpExpires
			}
			b = append(b, fl)
			if e.prio != 0 {
				b = append(b, e.prio)
			}
			if e.expires != 0 {
				b = binary.AppendVarint(b, e.expires)
			}
			prevSeq, prevSeg = e.seq, e.ref.Segment
		}
	}
	sids := sortedKeys(st.segs)
	b = binary.AppendUvarint(b, uint64(len(sids)))
	for _, id := range sids {
		g := st.segs[id]
		b = binary.AppendUvarint(b, uint64(id))
		b = binary.AppendUvarint(b, uint64(g.bodies))
		b = binary.AppendUvarint(b, uint64(g.bodyBytes))
		b = appendU32s(b, g.deps)
	}
	tids := sortedKeys(st.tombs)
	b = binary.AppendUvarint(b, uint64(len(tids)))
	for _, id := range tids {
		b = binary.AppendUvarint(b, uint64(id))
		b = appendU32s(b, st.tombs[id])
	}
	cids := sortedKeys(st.condemned)
	b = appendU32s(b, cids)
	return binary.LittleEndian.AppendUint32(b, crc32.Checksum(b, castagnoli))
}

func appendU32s(b []byte, xs []uint32) []byte {
	b = binary.AppendUvarint(b, uint64(len(xs)))
	for _, x := range xs {
		b = binary.AppendUvarint(b, uint64(x))
	}
	return b
}

func sortedKeys[V any](m map[uint32]V) []uint32 {
	ks := make([]uint32, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}

// ckpReader decodes with bounds checks: a damaged checkpoint is an error,
// never a panic or a huge allocation.
type ckpReader struct {
	b   []byte
	err error
}

func (r *ckpReader) uv() uint64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.err = errCorrupt
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *ckpReader) sv() int64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Varint(r.b)
	if n <= 0 {
		r.err = errCorrupt
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *ckpReader) u32() uint32 {
	v := r.uv()
	if v > 1<<32-1 {
		r.err = errCorrupt
	}
	return uint32(v)
}

// count reads a count of items taking at least min bytes each.
func (r *ckpReader) count(min int) int {
	v := r.uv()
	if v > uint64(len(r.b)/min) {
		r.err = errCorrupt
		return 0
	}
	return int(v)
}

func (r *ckpReader) bytes(n int) []byte {
	if r.err != nil {
		return nil
	}
	if n > len(r.b) {
		r.err = errCorrupt
		return nil
	}
	v := r.b[:n]
	r.b = r.b[n:]
	return v
}

func (r *ckpReader) u32s() []uint32 {
	n := r.count(1)
	if n == 0 {
		return nil
	}
	xs := make([]uint32, 0, n)
	for range n {
		xs = append(xs, r.u32())
	}
	return xs
}

func decodeCheckpoint(b []byte) (*rstate, error) {
	if len(b) < len(ckpMagic)+8+4 || [8]byte(b[:8]) != ckpMagic {
		return nil, fmt.Errorf("%w: bad checkpoint header", errCorrupt)
	}
	body := b[:len(b)-4]
	if crc32.Checksum(body, castagnoli) != binary.LittleEndian.Uint32(b[len(b)-4:]) {
		return nil, fmt.Errorf("%w: bad checkpoint checksum", errCorrupt)
	}
	st := newRState()
	st.pos = binary.LittleEndian.Uint64(body[8:])
	r := &ckpReader{b: body[16:]}
	st.nextID = max(r.u32(), 1)
	st.maxSeg = r.u32()
	for range r.count(4) {
		id := r.u32()
		o := &rowner{id: id}
		if ls := r.uv(); ls > 0 {
			o.lastSeq, o.hasSeq = ls-1, true
		}
		o.name = string(r.bytes(r.count(1)))
		if n := r.count(6); n > 0 {
			o.ents = make([]rentry, 0, n)
			var seq uint64
			var seg uint32
			for i := range n {
				d := r.uv()
				if i > 0 && d == 0 {
					r.err = errCorrupt
				}
				seq += d
				seg = uint32(int64(seg) + r.sv())
				e := rentry{seq: seq, ref: Ref{Segment: seg, Offset: r.u32()}, size: r.u32()}
				e.eseg = uint32(int64(seg) + r.sv())
				if fl := r.bytes(1); fl != nil {
					if fl[0]&^(ckpRedelivered|ckpPrio|ckpExpires) != 0 {
						r.err = errCorrupt
					}
					e.flags = fl[0] & ckpRedelivered
					if fl[0]&ckpPrio != 0 {
						if p := r.bytes(1); p != nil {
							e.prio = p[0]
						}
						if e.prio == 0 {
							r.err = errCorrupt // encode never writes it
						}
					}
					if fl[0]&ckpExpires != 0 {
						if e.expires = r.sv(); e.expires == 0 {
							r.err = errCorrupt
						}
					}
				}
				o.ents = append(o.ents, e)
			}
		}
		if r.err != nil {
			return nil, fmt.Errorf("%w: checkpoint owners", errCorrupt)
		}
		if id == 0 || st.owners[id] != nil {
			return nil, fmt.Errorf("%w: checkpoint owner id %d", errCorrupt, id)
		}
		st.owners[id] = o
	}
	for range r.count(4) {
		id := r.u32()
		g := &rseg{bodies: int64(r.uv()), bodyBytes: int64(r.uv()), deps: r.u32s()}
		st.segs[id] = g
	}
	for range r.count(2) {
		id := r.u32()
		st.tombs[id] = r.u32s()
	}
	for _, id := range r.u32s() {
		st.condemned[id] = true
	}
	if r.err != nil || len(r.b) != 0 {
		return nil, fmt.Errorf("%w: checkpoint body", errCorrupt)
	}
	return st, nil
}

func loadCheckpoint(path string) (*rstate, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return decodeCheckpoint(b)
}

// writeCheckpoint writes st atomically into dir and returns its path.
func writeCheckpoint(dir string, st *rstate) (string, error) {
	data := st.encode()
	path := filepath.Join(dir, ckpName(st.pos))
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return "", err
	}
	if _, err = f.Write(data); err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err == nil {
		err = syncDir(dir)
	}
	if err != nil {
		os.Remove(tmp)
		return "", err
	}
	return path, nil
}

// pruneCheckpoints removes checkpoints other than keep and the newest one
// older than it (kept as a fallback).
func pruneCheckpoints(dir string, keep uint64) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	var older []uint64
	for _, e := range ents {
		if pos, ok := parseCkpName(e.Name()); ok && pos < keep {
			older = append(older, pos)
		}
	}
	slices.Sort(older)
	for i, pos := range older {
		if i < len(older)-1 {
			os.Remove(filepath.Join(dir, ckpName(pos)))
		}
	}
}

// checkpoint writes a new checkpoint at the durable position: it loads the
// previous checkpoint and replays the log after it (skipping nothing but
// reading only segment files), like Open does. It needs transient memory
// for the live index (about 32 bytes per live entry) while it runs.
func (s *Store) checkpoint() error {
	s.ckpMu.Lock()
	defer s.ckpMu.Unlock()
	s.mu.Lock()
	pos := s.synced.Load()
	prev := s.ckpPos
	have := s.ckpPath != ""
	since := s.sinceCkp
	s.mu.Unlock()
	if have && pos == prev {
		return nil
	}
	var st *rstate
	if have {
		var err error
		if st, err = loadCheckpoint(s.ckpPath); err != nil {
			s.log.Warn("segment: previous checkpoint unreadable; replaying the whole log", "path", s.ckpPath, "err", err)
			st = nil
		}
	}
	if st == nil {
		st = newRState()
	}
	s.mu.Lock()
	ids := sortedKeys(s.segs)
	s.mu.Unlock()
	files := make(map[uint32]*os.File)
	defer func() {
		for _, f := range files {
			f.Close()
		}
	}()
	open := func(id uint32) *os.File {
		f, err := os.Open(s.segPath(id))
		if err != nil {
			return nil
		}
		files[id] = f
		return f
	}
	var bad error
	_, _ = replaySegments(st, ids, pos, open, func(id uint32, end int64, err error) {
		if err == nil {
			if id == lsnSeg(pos) && end < lsnOff(pos) {
				bad = fmt.Errorf("segment %d ends at %d, before %d", id, end, lsnOff(pos))
			}
			return
		}
		if id == lsnSeg(pos) && end < lsnOff(pos) || id != lsnSeg(pos) {
			s.log.Warn("segment: checkpoint: unreadable log", "segment", id, "offset", end, "err", err)
		}
		if id == lsnSeg(pos) && end < lsnOff(pos) {
			bad = fmt.Errorf("segment %d unreadable at %d: %w", id, end, err)
		}
	})
	if bad != nil {
		return bad
	}
	st.pos = pos
	s.mu.Lock()
	exists := make(map[uint32]bool, len(s.segs))
	for id := range s.segs {
		exists[id] = true
	}
	s.mu.Unlock()
	st.finalize(func(id uint32) bool { return exists[id] }, s.log)
	path, err := writeCheckpoint(s.dir, st)
	if err != nil {
		return err
	}
	s.mu.Lock()
	s.ckpPath, s.ckpPos = path, pos
	s.sinceCkp -= since
	s.checkpoints++
	s.mu.Unlock()
	pruneCheckpoints(s.dir, pos)
	return nil
}
