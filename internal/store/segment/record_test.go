package segment

import (
	"bytes"
	"errors"
	"testing"

	"github.com/warrenmq/warren/internal/store"
)

// seedRecords returns one valid record of every type.
func seedRecords() [][]byte {
	m := &Message{Exchange: "amq.direct", RoutingKey: "k", Props: []byte{0x90, 0, 2}, Body: []byte("hello")}
	return [][]byte{
		appendMessage(nil, m, flagDurable),
		appendMessage(nil, &Message{}, 0),
		appendEnqueue(nil, 3, 42, Ref{Segment: 7, Offset: 4096}, 5, flagRedelivered, EntryMeta{}),
		appendEnqueue(nil, 3, 43, Ref{Segment: 7, Offset: 4096}, 5, 0, EntryMeta{Expires: 1_700_000_000_123, Priority: 9}),
		appendTargeted(nil, recAck, 3, 42, 7),
		appendTargeted(nil, recDelivered, 3, 42, 7),
		appendOwner(nil, 3, 41, "orders"),
		appendBare(nil, recDeleteOwner, 3, 0),
		appendBare(nil, recCompacted, 0, 9),
	}
}

func TestRecordRoundTrip(t *testing.T) {
	for _, rec := range seedRecords() {
		h, p, err := decodeRecord(rec)
		if err != nil {
			t.Fatalf("%x: %v", rec, err)
		}
		if h.size() != len(rec) || len(p) != int(h.length) {
			t.Fatalf("%s: size %d, record %d bytes", h.typ, h.size(), len(rec))
		}
		// every strict prefix is short, every flipped bit is caught
		for n := range len(rec) {
			if _, _, err := decodeRecord(rec[:n]); err == nil {
				t.Fatalf("%s: prefix of %d bytes decoded", h.typ, n)
			}
		}
		for i := range len(rec) {
			for bit := range 8 {
				b := bytes.Clone(rec)
				b[i] ^= 1 << bit
				if _, _, err := decodeRecord(b); err == nil {
					t.Fatalf("%s: flipped bit %d of byte %d not detected", h.typ, bit, i)
				}
			}
		}
	}
	m, err := decodeMessage(seedRecords()[0][recHeaderSize:])
	if err != nil || m.Exchange != "amq.direct" || m.RoutingKey != "k" || string(m.Body) != "hello" || !bytes.Equal(m.Props, []byte{0x90, 0, 2}) {
		t.Fatalf("message round trip: %+v %v", m, err)
	}
}

// FuzzDecodeRecord: any input yields an error or a record that re-encodes
// to the same bytes; never a panic, never a record that fails its CRC.
func FuzzDecodeRecord(f *testing.F) {
	for _, rec := range seedRecords() {
		f.Add(rec)
		f.Add(append(bytes.Clone(rec), seedRecords()[2]...))
	}
	f.Add([]byte{})
	f.Add(make([]byte, recHeaderSize))
	f.Fuzz(func(t *testing.T, b []byte) {
		h, p, err := decodeRecord(b)
		if err != nil {
			if !errors.Is(err, errShort) && !errors.Is(err, store.ErrCorrupt) {
				t.Fatalf("unexpected error kind %v", err)
			}
			return
		}
		if h.size() > len(b) || len(p) != int(h.length) {
			t.Fatalf("record of %d bytes from %d", h.size(), len(b))
		}
		var re []byte
		switch h.typ {
		case recMessage:
			m, err := decodeMessage(p)
			if err != nil {
				t.Fatalf("valid message record with a bad payload: %v", err)
			}
			re = appendMessage(nil, m, h.flags)
		case recEnqueue:
			ref, size, meta := decodeEnqueue(h, p)
			re = appendEnqueue(nil, h.owner, h.seq, ref, size, h.flags, meta)
		default:
			re = appendHeader(nil, h.typ, h.flags, h.owner, h.seq, len(p))
			re = append(re, p...)
			sealRecord(re)
		}
		if !bytes.Equal(re, b[:h.size()]) {
			t.Fatalf("re-encoded %x\nfrom      %x", re, b[:h.size()])
		}
		// the scanner agrees with the decoder
		if h.typ == recMessage {
			if bodySizeOf(p) > uint32(len(p)) {
				t.Fatal("body larger than payload")
			}
		}
	})
}

// FuzzDecodeCheckpoint: a damaged checkpoint is an error, never a panic or
// a giant allocation.
func FuzzDecodeCheckpoint(f *testing.F) {
	st := newRState()
	st.pos = mkLSN(3, 100)
	o := st.owner(1)
	o.name = "q"
	o.noteSeq(9)
	o.enqueue(rentry{seq: 5, ref: Ref{Segment: 2, Offset: 64}, size: 10, eseg: 2})
	o.enqueue(rentry{seq: 9, ref: Ref{Segment: 3, Offset: 32}, size: 1, eseg: 3, flags: eRedelivered})
	o.enqueue(rentry{seq: 12, ref: Ref{Segment: 3, Offset: 90}, size: 1, eseg: 3, prio: 200, expires: 1_700_000_000_000})
	st.seg(2).addDep(2, 1)
	st.seg(3)
	st.tombs[7] = []uint32{2}
	st.condemned[1] = true
	good := st.encode()
	f.Add(good)
	f.Add(good[:len(good)-5])
	f.Fuzz(func(t *testing.T, b []byte) {
		st, err := decodeCheckpoint(b)
		if err != nil {
			return
		}
		if !bytes.Equal(st.encode(), b) {
			t.Fatalf("checkpoint does not re-encode to itself")
		}
	})
}

func TestCheckpointRoundTrip(t *testing.T) {
	st := newRState()
	st.pos = mkLSN(3, 100)
	st.nextID = 5
	st.maxSeg = 3
	o := st.owner(4)
	o.name = "queue"
	for i := uint64(1); i < 1000; i += 3 {
		e := rentry{seq: i, ref: Ref{Segment: uint32(1 + i/500), Offset: uint32(32 + i)}, size: uint32(i), eseg: uint32(1 + i/400)}
		if i%2 == 0 {
			e.prio, e.expires = uint8(i), 1_700_000_000_000+int64(i)
		}
		o.enqueue(e)
	}
	st.owner(2).name = "empty"
	st.seg(1).addDep(1, 0)
	st.seg(2).addDep(2, 1)
	st.seg(2).bodies, st.seg(2).bodyBytes = 10, 1000
	b := st.encode()
	got, err := decodeCheckpoint(b)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got.encode(), b) || len(got.owners[4].ents) != len(o.ents) || got.owners[4].ents[5] != o.ents[5] || got.owners[4].ents[6] != o.ents[6] {
		t.Fatal("checkpoint round trip differs")
	}
	if len(b) > 16*len(o.ents)+200 {
		t.Errorf("checkpoint of %d entries takes %d bytes", len(o.ents), len(b))
	}
}
