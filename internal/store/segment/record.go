package segment

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"

	"github.com/warrenmq/warren/internal/store"
)

// On-disk layout. All integers are little endian.
//
// Segment header (segHeaderSize bytes):
//
//	0  8  magic "WRNSEG\x00\x01"
//	8  4  format version (formatVersion)
//	12 4  segment id (matches the file name)
//	16 12 reserved, zero
//	28 4  CRC32-C of bytes 0..28
//
// Record (recHeaderSize bytes of header, then the payload):
//
//	0  4  CRC32-C (Castagnoli) of bytes 4..end (rest of header + payload)
//	4  4  payload length
//	8  1  type (rec*)
//	9  1  flags (flag*)
//	10 1  priority (enqueue records; zero in every other type)
//	11 1  reserved, zero
//	12 4  owner (queue id; 0 for records that belong to no owner)
//	16 8  sequence (the owner's sequence or index; 0 if none)
//	24 -  payload
const (
	segHeaderSize = 32
	recHeaderSize = 24
	formatVersion = 1

	// maxPayload bounds a record's payload: 512 MiB of body plus room for
	// names and properties. A longer length field is corruption.
	maxPayload = 512<<20 + 1<<20
	// MaxBodySize is the largest message body WriteMessage accepts.
	MaxBodySize = 512 << 20
	// maxProps bounds the raw properties of a message.
	maxProps = 512 << 10
)

var segMagic = [8]byte{'W', 'R', 'N', 'S', 'E', 'G', 0, 1}

type recType uint8

// Record types. Values are part of the format: never renumber. Types 32 and
// up are reserved for replicated-queue (Raft) records, which use owner as
// the group id and seq as the log index.
const (
	recMessage     recType = 1 // payload: message (see appendMessage); owner 0, seq 0
	recEnqueue     recType = 2 // owner holds the message at seq; payload: ref seg, ref off, body size[, expires]
	recAck         recType = 3 // owner no longer holds seq; payload: segment of the enqueue record
	recDelivered   recType = 4 // seq was delivered; payload: segment of the enqueue record
	recOwner       recType = 5 // owner id is named; payload: name
	recDeleteOwner recType = 6 // every entry of owner is dropped; no payload
	recCompacted   recType = 7 // seq is a segment whose live records were all copied before this record
)

func (t recType) String() string {
	switch t {
	case recMessage:
		return "message"
	case recEnqueue:
		return "enqueue"
	case recAck:
		return "ack"
	case recDelivered:
		return "delivered"
	case recOwner:
		return "owner"
	case recDeleteOwner:
		return "delete-owner"
	case recCompacted:
		return "compacted"
	}
	return fmt.Sprintf("type(%d)", uint8(t))
}

// Record flags.
const (
	flagDurable     = 1 << 0 // message: written by a durable write (else transient, never recovered on its own)
	flagRedelivered = 1 << 1 // enqueue: the entry had been delivered before this record was written
	flagCopy        = 1 << 2 // enqueue: a copy written by compaction (informational)
	flagExpires     = 1 << 3 // enqueue: the payload ends with the expiry time (8 bytes, unix ms)
)

// An enqueue record's payload is 12 bytes: the body's Ref (segment, offset)
// and the body size. With flagExpires 8 more follow: the entry's expiry in
// unix milliseconds (int64). Its priority is header byte 10. Records
// written before either existed (byte 10 zero, no flag) read as priority 0,
// no expiry.

// Fixed record sizes.
const (
	enqueueRecSize   = recHeaderSize + 12 // without expiry (see enqueueSize)
	enqueueExpSize   = enqueueRecSize + 8 // with expiry
	ackRecSize       = recHeaderSize + 4
	deliveredRecSize = recHeaderSize + 4
	deleteRecSize    = recHeaderSize
	compactedRecSize = recHeaderSize
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

var (
	errShort   = errors.New("short record")
	errCorrupt = store.ErrCorrupt
)

// recHeader is a decoded record header.
type recHeader struct {
	typ    recType
	flags  uint8
	prio   uint8 // enqueue records only
	owner  uint32
	seq    uint64
	length uint32 // payload length
}

// size is the whole record's size on disk.
func (h recHeader) size() int { return recHeaderSize + int(h.length) }

// appendHeader appends a header for a payload of n bytes; the CRC is filled
// in by sealRecord once the payload follows.
func appendHeader(b []byte, typ recType, flags uint8, owner uint32, seq uint64, n int) []byte {
	var h [recHeaderSize]byte
	binary.LittleEndian.PutUint32(h[4:], uint32(n))
	h[8] = byte(typ)
	h[9] = flags
	binary.LittleEndian.PutUint32(h[12:], owner)
	binary.LittleEndian.PutUint64(h[16:], seq)
	return append(b, h[:]...)
}

// sealRecord computes the CRC of the record in rec (header and payload).
func sealRecord(rec []byte) {
	binary.LittleEndian.PutUint32(rec, crc32.Checksum(rec[4:], castagnoli))
}

// decodeHeader decodes the fixed header at the start of b without looking
// at the payload or the CRC.
func decodeHeader(b []byte) (recHeader, error) {
	if len(b) < recHeaderSize {
		return recHeader{}, errShort
	}
	h := recHeader{
		length: binary.LittleEndian.Uint32(b[4:]),
		typ:    recType(b[8]),
		flags:  b[9],
		prio:   b[10],
		owner:  binary.LittleEndian.Uint32(b[12:]),
		seq:    binary.LittleEndian.Uint64(b[16:]),
	}
	if h.length > maxPayload || (b[10] != 0 && h.typ != recEnqueue) || b[11] != 0 || h.typ == 0 {
		return recHeader{}, errCorrupt
	}
	return h, nil
}

// decodeRecord decodes the record at the start of b. It returns errShort if
// b ends before the record does (a torn tail when b is the rest of a file)
// and errCorrupt if the header is impossible or the CRC does not match. The
// payload aliases b.
func decodeRecord(b []byte) (recHeader, []byte, error) {
	h, err := decodeHeader(b)
	if err != nil {
		return h, nil, err
	}
	end := recHeaderSize + int(h.length)
	if len(b) < end {
		return h, nil, errShort
	}
	if crc32.Checksum(b[4:end], castagnoli) != binary.LittleEndian.Uint32(b) {
		return h, nil, errCorrupt
	}
	if err := checkPayload(h, b[recHeaderSize:end]); err != nil {
		return h, nil, err
	}
	return h, b[recHeaderSize:end], nil
}

// checkPayload validates the payload shape of the known record types, so
// that a record with a valid CRC but an impossible payload (a bug, or a
// CRC collision) is never applied.
func checkPayload(h recHeader, p []byte) error {
	switch h.typ {
	case recMessage:
		if _, err := decodeMessage(p); err != nil {
			return err
		}
	case recEnqueue:
		want := 12
		if h.flags&flagExpires != 0 {
			want = 20
		}
		if len(p) != want || h.owner == 0 {
			return errCorrupt
		}
		if want == 20 && binary.LittleEndian.Uint64(p[12:]) == 0 {
			return errCorrupt // never written: expiry 0 means none, without the flag
		}
	case recAck, recDelivered:
		if len(p) != 4 || h.owner == 0 {
			return errCorrupt
		}
	case recOwner:
		if len(p) == 0 || len(p) > 1024 || h.owner == 0 {
			return errCorrupt
		}
	case recDeleteOwner:
		if len(p) != 0 || h.owner == 0 {
			return errCorrupt
		}
	case recCompacted:
		if len(p) != 0 || h.seq == 0 || h.seq > 1<<32-1 {
			return errCorrupt
		}
	}
	return nil
}

// messagePayloadSize is the payload size of m's record.
func messagePayloadSize(m *store.Message) int {
	return 1 + len(m.Exchange) + 1 + len(m.RoutingKey) + 4 + len(m.Props) + len(m.Body)
}

func checkMessage(m *store.Message) error {
	if len(m.Exchange) > 255 || len(m.RoutingKey) > 255 {
		return fmt.Errorf("%w: exchange or routing key longer than 255 bytes", store.ErrTooLarge)
	}
	if len(m.Props) > maxProps {
		return fmt.Errorf("%w: %d bytes of properties", store.ErrTooLarge, len(m.Props))
	}
	if len(m.Body) > MaxBodySize {
		return fmt.Errorf("%w: body of %d bytes", store.ErrTooLarge, len(m.Body))
	}
	return nil
}

// appendMessage appends a whole message record (header, payload, CRC).
//
// Payload: exchange length (1), exchange, routing key length (1), routing
// key, properties length (4), properties, body (the rest).
func appendMessage(b []byte, m *store.Message, flags uint8) []byte {
	start := len(b)
	b = appendHeader(b, recMessage, flags, 0, 0, messagePayloadSize(m))
	b = append(b, byte(len(m.Exchange)))
	b = append(b, m.Exchange...)
	b = append(b, byte(len(m.RoutingKey)))
	b = append(b, m.RoutingKey...)
	b = binary.LittleEndian.AppendUint32(b, uint32(len(m.Props)))
	b = append(b, m.Props...)
	b = append(b, m.Body...)
	sealRecord(b[start:])
	return b
}

// decodeMessage decodes a message payload. Props and Body alias p.
func decodeMessage(p []byte) (*store.Message, error) {
	if len(p) < 1 {
		return nil, errCorrupt
	}
	n := int(p[0])
	p = p[1:]
	if len(p) < n+1 {
		return nil, errCorrupt
	}
	exch := string(p[:n])
	p = p[n:]
	n = int(p[0])
	p = p[1:]
	if len(p) < n+4 {
		return nil, errCorrupt
	}
	rk := string(p[:n])
	p = p[n:]
	np := binary.LittleEndian.Uint32(p)
	p = p[4:]
	if uint64(np) > uint64(len(p)) {
		return nil, errCorrupt
	}
	m := &store.Message{Exchange: exch, RoutingKey: rk}
	if np > 0 {
		m.Props = p[:np:np]
	}
	m.Body = p[np:]
	return m, nil
}

// bodySizeOf returns the body size encoded in a message payload.
func bodySizeOf(p []byte) uint32 {
	m, err := decodeMessage(p)
	if err != nil {
		return 0
	}
	return uint32(len(m.Body))
}

// enqueueSize is the size of an enqueue record carrying meta.
func enqueueSize(meta store.EntryMeta) int {
	if meta.Expires != 0 {
		return enqueueExpSize
	}
	return enqueueRecSize
}

// appendEnqueue appends an enqueue record; flagExpires is set from meta
// (any flagExpires in flags is ignored).
func appendEnqueue(b []byte, owner uint32, seq uint64, ref store.Ref, size uint32, flags uint8, meta store.EntryMeta) []byte {
	start := len(b)
	flags &^= flagExpires
	n := 12
	if meta.Expires != 0 {
		flags |= flagExpires
		n = 20
	}
	b = appendHeader(b, recEnqueue, flags, owner, seq, n)
	b[start+10] = meta.Priority
	b = binary.LittleEndian.AppendUint32(b, ref.Segment)
	b = binary.LittleEndian.AppendUint32(b, ref.Offset)
	b = binary.LittleEndian.AppendUint32(b, size)
	if meta.Expires != 0 {
		b = binary.LittleEndian.AppendUint64(b, uint64(meta.Expires))
	}
	sealRecord(b[start:])
	return b
}

// decodeEnqueue decodes an enqueue record checked by checkPayload.
func decodeEnqueue(h recHeader, p []byte) (ref store.Ref, size uint32, meta store.EntryMeta) {
	ref = store.Ref{Segment: binary.LittleEndian.Uint32(p), Offset: binary.LittleEndian.Uint32(p[4:])}
	size = binary.LittleEndian.Uint32(p[8:])
	meta.Priority = h.prio
	if h.flags&flagExpires != 0 && len(p) >= 20 {
		meta.Expires = int64(binary.LittleEndian.Uint64(p[12:]))
	}
	return ref, size, meta
}

// appendTargeted appends an ack or delivered record; eseg is the segment
// that held the entry's enqueue record when this record was written.
func appendTargeted(b []byte, typ recType, owner uint32, seq uint64, eseg uint32) []byte {
	start := len(b)
	b = appendHeader(b, typ, 0, owner, seq, 4)
	b = binary.LittleEndian.AppendUint32(b, eseg)
	sealRecord(b[start:])
	return b
}

func appendOwner(b []byte, owner uint32, lastSeq uint64, name string) []byte {
	start := len(b)
	b = appendHeader(b, recOwner, 0, owner, lastSeq, len(name))
	b = append(b, name...)
	sealRecord(b[start:])
	return b
}

func appendBare(b []byte, typ recType, owner uint32, seq uint64) []byte {
	start := len(b)
	b = appendHeader(b, typ, 0, owner, seq, 0)
	sealRecord(b[start:])
	return b
}

// appendSegHeader appends a segment file header.
func appendSegHeader(b []byte, id uint32) []byte {
	var h [segHeaderSize]byte
	copy(h[:], segMagic[:])
	binary.LittleEndian.PutUint32(h[8:], formatVersion)
	binary.LittleEndian.PutUint32(h[12:], id)
	binary.LittleEndian.PutUint32(h[28:], crc32.Checksum(h[:28], castagnoli))
	return append(b, h[:]...)
}

// checkSegHeader validates a segment header for segment id.
func checkSegHeader(b []byte, id uint32) error {
	if len(b) < segHeaderSize {
		return errShort
	}
	if [8]byte(b[:8]) != segMagic {
		return fmt.Errorf("%w: bad segment magic", errCorrupt)
	}
	if crc32.Checksum(b[:28], castagnoli) != binary.LittleEndian.Uint32(b[28:]) {
		return fmt.Errorf("%w: bad segment header checksum", errCorrupt)
	}
	if v := binary.LittleEndian.Uint32(b[8:]); v != formatVersion {
		return fmt.Errorf("%w: segment format %d", store.ErrVersion, v)
	}
	if got := binary.LittleEndian.Uint32(b[12:]); got != id {
		return fmt.Errorf("%w: segment header says %d, file name %d", errCorrupt, got, id)
	}
	return nil
}

// LSNs are positions: the segment id in the high 32 bits and the end
// offset of the record in the low 32 bits. They grow with every record.
func mkLSN(seg uint32, end int64) uint64 { return uint64(seg)<<32 | uint64(uint32(end)) }

func lsnSeg(l uint64) uint32 { return uint32(l >> 32) }
func lsnOff(l uint64) int64  { return int64(uint32(l)) }
