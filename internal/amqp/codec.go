package amqp

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// Shared primitives of the generated Encode/Decode methods.

var (
	errShort    = errors.New("short input")
	errTrailing = errors.New("trailing bytes")
)

// decoder reads AMQP primitives from b. The first failure is kept in err and
// every later read returns a zero value, so generated code can read all
// fields and check once at the end (finish).
type decoder struct {
	b   []byte
	err error
}

func (d *decoder) fail(err error) {
	if d.err == nil {
		d.err = err
	}
	d.b = nil
}

func (d *decoder) octet() uint8 {
	if len(d.b) < 1 {
		d.fail(errShort)
		return 0
	}
	v := d.b[0]
	d.b = d.b[1:]
	return v
}

func (d *decoder) short() uint16 {
	if len(d.b) < 2 {
		d.fail(errShort)
		return 0
	}
	v := binary.BigEndian.Uint16(d.b)
	d.b = d.b[2:]
	return v
}

func (d *decoder) long() uint32 {
	if len(d.b) < 4 {
		d.fail(errShort)
		return 0
	}
	v := binary.BigEndian.Uint32(d.b)
	d.b = d.b[4:]
	return v
}

func (d *decoder) longlong() uint64 {
	if len(d.b) < 8 {
		d.fail(errShort)
		return 0
	}
	v := binary.BigEndian.Uint64(d.b)
	d.b = d.b[8:]
	return v
}

// shortstrBytes returns the bytes of a shortstr, aliasing the input.
func (d *decoder) shortstrBytes() []byte {
	if len(d.b) < 1 || len(d.b)-1 < int(d.b[0]) {
		d.fail(errShort)
		return nil
	}
	n := int(d.b[0])
	v := d.b[1 : 1+n]
	d.b = d.b[1+n:]
	return v
}

func (d *decoder) shortstr() string { return string(d.shortstrBytes()) }

// shortstrReuse is shortstr returning old, without allocating, if the value
// equals it.
func (d *decoder) shortstrReuse(old string) string {
	b := d.shortstrBytes()
	if string(b) == old {
		return old
	}
	return string(b)
}

// longstrBytes returns the bytes of a longstr, aliasing the input.
func (d *decoder) longstrBytes() []byte {
	if len(d.b) < 4 {
		d.fail(errShort)
		return nil
	}
	n := binary.BigEndian.Uint32(d.b)
	if uint64(len(d.b)-4) < uint64(n) {
		d.fail(errShort)
		return nil
	}
	v := d.b[4 : 4+int(n)]
	d.b = d.b[4+int(n):]
	return v
}

func (d *decoder) longstr() string { return string(d.longstrBytes()) }

// tableBytes returns an encoded table with its length prefix, aliasing the
// input, without decoding it.
func (d *decoder) tableBytes() []byte {
	if len(d.b) < 4 || uint64(len(d.b)-4) < uint64(binary.BigEndian.Uint32(d.b)) {
		d.fail(errShort)
		return nil
	}
	n := 4 + int(binary.BigEndian.Uint32(d.b))
	v := d.b[:n:n]
	d.b = d.b[n:]
	return v
}

func (d *decoder) table() Table {
	if d.err != nil {
		return nil
	}
	t, n, err := ReadTable(d.b)
	if err != nil {
		d.fail(err)
		return nil
	}
	d.b = d.b[n:]
	return t
}

// finish reports the first decoding error, or trailing bytes, as RabbitMQ's
// FRAME_ERROR for the method.
func (d *decoder) finish(classID, methodID uint16) error {
	if d.err == nil && len(d.b) != 0 {
		d.err = errTrailing
	}
	if d.err == nil {
		return nil
	}
	return &Error{
		Code:     ReplyFrameError,
		Text:     "FRAME_ERROR - cannot decode " + MethodName(classID, methodID) + " arguments: " + d.err.Error(),
		ClassID:  classID,
		MethodID: methodID,
	}
}

// appendShortstr appends a short string. Longer strings than 255 bytes
// cannot be represented and are truncated; the broker validates names
// (exchange, queue, routing key, consumer tag) before they get here.
func appendShortstr(dst []byte, s string) []byte {
	if len(s) > 255 {
		s = s[:255]
	}
	dst = append(dst, byte(len(s)))
	return append(dst, s...)
}

func appendLongstr(dst []byte, s string) []byte {
	dst = binary.BigEndian.AppendUint32(dst, uint32(len(s)))
	return append(dst, s...)
}

// ParseMethod splits a method-frame payload into its class id, method id
// and encoded arguments (aliasing payload). A server can use it to decode
// hot methods into reused structs instead of calling DecodeMethod:
//
//	c, m, args, err := amqp.ParseMethod(f.Payload)
//	if c == amqp.ClassBasic && m == amqp.MethodBasicPublish { err = ch.pub.Decode(args) }
func ParseMethod(payload []byte) (classID, methodID uint16, args []byte, err error) {
	if len(payload) < 4 {
		return 0, 0, nil, &Error{Code: ReplyFrameError, Text: fmt.Sprintf("FRAME_ERROR - method frame payload of %d bytes is too short", len(payload))}
	}
	return binary.BigEndian.Uint16(payload), binary.BigEndian.Uint16(payload[2:]), payload[4:], nil
}

// DecodeMethod decodes a whole method-frame payload: class id, method id and
// arguments. The method's strings and tables are copies; nothing aliases
// payload. Errors are *Error: an unknown (class, method) is a hard
// 503 COMMAND_INVALID (RabbitMQ 3.10 just drops the connection there);
// malformed arguments are a hard 501 FRAME_ERROR naming the method.
func DecodeMethod(payload []byte) (Method, error) {
	c, id, args, err := ParseMethod(payload)
	if err != nil {
		return nil, err
	}
	m := NewMethod(c, id)
	if m == nil {
		return nil, &Error{
			Code:     ReplyCommandInvalid,
			Text:     fmt.Sprintf("COMMAND_INVALID - unknown method class_id=%d method_id=%d", c, id),
			ClassID:  c,
			MethodID: id,
		}
	}
	if err := m.Decode(args); err != nil {
		return nil, err
	}
	return m, nil
}

// AppendMethodFrame appends a whole method frame: frame header, class id,
// method id, arguments and frame-end. The size is back-patched, so nothing
// is allocated beyond growing dst.
func AppendMethodFrame(dst []byte, channel uint16, m Method) []byte {
	start := len(dst)
	dst = append(dst, FrameMethod, byte(channel>>8), byte(channel), 0, 0, 0, 0)
	dst = binary.BigEndian.AppendUint16(dst, m.ClassID())
	dst = binary.BigEndian.AppendUint16(dst, m.MethodID())
	dst = m.Encode(dst)
	binary.BigEndian.PutUint32(dst[start+3:], uint32(len(dst)-start-FrameHeaderSize))
	return append(dst, FrameEnd)
}
