package amqp

import (
	"encoding/binary"
	"fmt"
	"io"
)

// Frame is one AMQP frame. Payload excludes the header and frame-end.
type Frame struct {
	Type    uint8
	Channel uint16
	Payload []byte
}

const (
	// DefaultReadBufferSize is the Reader's buffer size when NewReader is
	// given 0: one read takes in a full default-sized frame (RabbitMQ's
	// default frame_max is 128 KiB) and many small ones.
	DefaultReadBufferSize = 128<<10 + 8

	// MaxFrameSizeHardCap bounds a frame's payload when no frame_max is
	// set (SetMaxFrameSize(0)).
	MaxFrameSizeHardCap = 256 << 20

	minReadBufferSize = 512
	// initialReadBufferSize is where a Reader starts: an idle connection
	// keeps only this much; a busy one grows towards its configured size.
	initialReadBufferSize = 4096
	// growAfter full reads in a row double the buffer; shrinkAfterShort
	// short reads in a row (a quiet peer) halve it again.
	growAfter        = 4
	shrinkAfterShort = 64
	// After this many ReadFrame calls without a frame that needs the grown
	// buffer, the Reader returns to its configured buffer.
	shrinkAfter = 64
	// frameSizeFudge is the slack RabbitMQ allows over frame_max, since
	// some clients count frame_max as the payload size.
	frameSizeFudge = 8
)

// Reader reads frames from a stream into a reused buffer and parses them in
// place: ReadFrame allocates nothing unless a frame is bigger than the
// buffer, which then grows for it and shrinks back later. It is not safe
// for concurrent use.
type Reader struct {
	r     io.Reader
	buf   []byte // current buffer (len == cap); data is buf[start:end]
	base  []byte // the configured-size buffer, kept to shrink back to
	start int
	end   int
	max   uint32 // frame_max; 0 means MaxFrameSizeHardCap
	err   error  // sticky read error
	idle  int    // ReadFrame calls since buf last had to be bigger than base
	// Adaptive sizing of base between initialReadBufferSize and maxBase.
	maxBase    int
	fullReads  int
	shortReads int
}

// NewReader returns a Reader reading from r in chunks of up to bufSize
// bytes (DefaultReadBufferSize if bufSize <= 0).
//
// The frame size limit starts at FrameMinSize, the only size a peer may
// send before connection.tune-ok; call SetMaxFrameSize with the negotiated
// frame_max afterwards.
func NewReader(r io.Reader, bufSize int) *Reader {
	if bufSize <= 0 {
		bufSize = DefaultReadBufferSize
	}
	if bufSize < minReadBufferSize {
		bufSize = minReadBufferSize
	}
	b := make([]byte, min(bufSize, initialReadBufferSize))
	return &Reader{r: r, buf: b, base: b, max: FrameMinSize, maxBase: bufSize}
}

// adapt resizes the normal buffer after a read of m bytes into avail bytes
// of free space: reads that fill it mean the peer has more waiting, so read
// more per syscall; a long run of short reads means it is quiet.
func (r *Reader) adapt(m, avail int) {
	if len(r.buf) != len(r.base) {
		return // holding a big frame; maybeShrink handles that
	}
	if m == avail {
		r.fullReads++
		if r.fullReads >= growAfter && len(r.base) < r.maxBase {
			r.resizeBase(min(2*len(r.base), r.maxBase))
		}
	} else {
		r.fullReads = 0
	}
	if m < len(r.base)/16 {
		r.shortReads++
	} else {
		r.shortReads = 0
	}
}

func (r *Reader) resizeBase(n int) {
	nb := make([]byte, n)
	r.end = copy(nb, r.buf[r.start:r.end])
	r.start = 0
	r.buf, r.base = nb, nb
	r.fullReads, r.shortReads = 0, 0
}

// SetMaxFrameSize sets the negotiated frame_max (whole frame, header and
// frame-end included). A frame whose declared payload size exceeds it (with
// RabbitMQ's 8-byte tolerance) is rejected before anything is allocated
// for it. 0 means no negotiated limit; MaxFrameSizeHardCap still applies.
func (r *Reader) SetMaxFrameSize(n uint32) { r.max = n }

// Buffered returns the number of bytes already read from the stream but not
// yet returned as frames. A server can skip flushing its writes while more
// input is waiting.
func (r *Reader) Buffered() int { return r.end - r.start }

// FrameBuffered reports whether a whole frame is already buffered, so the
// next ReadFrame will not read from the stream. A server does its
// end-of-batch work (flushing confirms, flow control) when it is false.
func (r *Reader) FrameBuffered() bool {
	n := r.end - r.start
	if n < FrameHeaderSize {
		return false
	}
	size := binary.BigEndian.Uint32(r.buf[r.start+3:])
	return uint64(n) >= uint64(FrameHeaderSize)+uint64(size)+1
}

// ReadProtocolHeader reads the 8-byte protocol header a client sends before
// any frame (ProtocolHeader for AMQP 0-9-1). Bytes after it stay buffered
// for ReadFrame.
func (r *Reader) ReadProtocolHeader() ([8]byte, error) {
	var h [8]byte
	if err := r.fill(len(h)); err != nil {
		return h, err
	}
	copy(h[:], r.buf[r.start:])
	r.start += len(h)
	return h, nil
}

// ReadFrame returns the next frame.
//
// The returned Payload aliases the Reader's buffer: it is valid only until
// the next call of any Reader method. Copy what must outlive that.
//
// Errors: io.EOF at a frame boundary, io.ErrUnexpectedEOF inside a frame,
// other read errors as they come (frames read before an error are returned
// first), and *Error with code ReplyFrameError (a hard 501 FRAME_ERROR,
// with RabbitMQ's reason in the text) for an unknown frame type, a frame
// larger than the frame_max, or a bad frame-end octet.
func (r *Reader) ReadFrame() (Frame, error) {
	if len(r.buf) != len(r.base) {
		r.maybeShrink()
	} else if r.shortReads >= shrinkAfterShort && len(r.base) > initialReadBufferSize && r.end-r.start < len(r.base)/2 {
		r.resizeBase(max(len(r.base)/2, initialReadBufferSize))
	}
	if err := r.fill(FrameHeaderSize); err != nil {
		return Frame{}, err
	}
	h := r.buf[r.start : r.start+FrameHeaderSize]
	typ := h[0]
	channel := binary.BigEndian.Uint16(h[1:])
	size := binary.BigEndian.Uint32(h[3:])
	switch typ {
	case FrameMethod, FrameHeader, FrameBody, FrameHeartbeat:
	default:
		return Frame{}, &Error{Code: ReplyFrameError, Text: fmt.Sprintf("FRAME_ERROR - type %d, channel %d: unknown_frame", typ, channel)}
	}
	// The payload may be frame_max-8 bytes, plus RabbitMQ's fudge.
	limit := uint32(MaxFrameSizeHardCap)
	if r.max != 0 && r.max < limit {
		limit = r.max - FrameHeaderSize - 1 + frameSizeFudge
	}
	if size > limit {
		return Frame{}, &Error{Code: ReplyFrameError, Text: fmt.Sprintf("FRAME_ERROR - type %d, channel %d: {frame_too_large,%d,%d}", typ, channel, size, int64(limit)-frameSizeFudge)}
	}
	total := FrameHeaderSize + int(size) + 1
	if total > len(r.base) {
		r.idle = 0
	}
	if err := r.fill(total); err != nil {
		return Frame{}, err
	}
	f := r.buf[r.start : r.start+total]
	if end := f[total-1]; end != FrameEnd {
		return Frame{}, &Error{Code: ReplyFrameError, Text: fmt.Sprintf("FRAME_ERROR - type %d, channel %d: {invalid_frame_end_marker,%d}", typ, channel, end)}
	}
	r.start += total
	if r.start == r.end {
		r.start, r.end = 0, 0
	}
	return Frame{Type: typ, Channel: channel, Payload: f[FrameHeaderSize : total-1 : total-1]}, nil
}

// fill makes at least n bytes available at buf[start:], reading as needed.
func (r *Reader) fill(n int) error {
	zeroReads := 0
	for r.end-r.start < n {
		if r.err != nil {
			if r.err == io.EOF && r.end > r.start {
				return io.ErrUnexpectedEOF
			}
			return r.err
		}
		r.room(n)
		avail := len(r.buf) - r.end
		m, err := r.r.Read(r.buf[r.end:])
		if m < 0 || m > avail {
			r.err = fmt.Errorf("amqp: invalid read count %d", m)
			continue
		}
		r.end += m
		r.adapt(m, avail)
		if err != nil {
			r.err = err
		} else if m == 0 {
			if zeroReads++; zeroReads >= 100 {
				r.err = io.ErrNoProgress
			}
		}
	}
	return nil
}

// room makes space for n bytes from start, and a reasonably large read:
// it moves the unread bytes to the front, or grows the buffer.
func (r *Reader) room(n int) {
	if n > len(r.buf) {
		size := max(n, 2*len(r.buf))
		size = (size + 4095) &^ 4095
		nb := make([]byte, size)
		r.end = copy(nb, r.buf[r.start:r.end])
		r.start = 0
		r.buf = nb
		return
	}
	if r.start > 0 && (r.start+n > len(r.buf) || len(r.buf)-r.end < len(r.buf)/8) {
		r.end = copy(r.buf, r.buf[r.start:r.end])
		r.start = 0
	}
}

// maybeShrink returns to the configured buffer once big frames stop.
func (r *Reader) maybeShrink() {
	r.idle++
	if r.idle < shrinkAfter || r.end-r.start > len(r.base) {
		return
	}
	r.end = copy(r.base, r.buf[r.start:r.end])
	r.start = 0
	r.buf = r.base
	r.idle = 0
}

// AppendHeartbeat appends a heartbeat frame.
func AppendHeartbeat(dst []byte) []byte {
	return append(dst, FrameHeartbeat, 0, 0, 0, 0, 0, 0, FrameEnd)
}

// AppendBodyFrames appends body as content-body frames of at most frameMax
// bytes each (payload frameMax-8). frameMax 0 means no limit (one frame); a
// frameMax below FrameMinSize is treated as FrameMinSize. An empty body
// appends nothing: AMQP sends no body frame for a zero-size body.
func AppendBodyFrames(dst []byte, channel uint16, body []byte, frameMax uint32) []byte {
	chunk := len(body)
	if frameMax != 0 {
		if frameMax < FrameMinSize {
			frameMax = FrameMinSize
		}
		chunk = min(chunk, int(frameMax)-FrameHeaderSize-1)
	}
	for len(body) > 0 {
		n := min(chunk, len(body))
		dst = append(dst, FrameBody, byte(channel>>8), byte(channel))
		dst = binary.BigEndian.AppendUint32(dst, uint32(n))
		dst = append(dst, body[:n]...)
		dst = append(dst, FrameEnd)
		body = body[n:]
	}
	return dst
}
