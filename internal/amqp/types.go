// Package amqp is the AMQP 0-9-1 wire format: frames, field tables, content
// properties and the method structs generated from the protocol XML.
// It holds no broker logic and imports nothing of Warren's.
package amqp

import "fmt"

// Frame types and constants of AMQP 0-9-1.
const (
	FrameMethod    = 1
	FrameHeader    = 2
	FrameBody      = 3
	FrameHeartbeat = 8
	FrameEnd       = 0xCE

	// FrameHeaderSize is type(1) + channel(2) + size(4).
	FrameHeaderSize = 7
	// FrameMinSize is the smallest frame_max a peer may negotiate.
	FrameMinSize = 4096
)

// ProtocolHeader is what an AMQP 0-9-1 client sends first.
var ProtocolHeader = []byte{'A', 'M', 'Q', 'P', 0, 0, 9, 1}

// Table is an AMQP field table. Values are one of:
// nil, bool, int8, uint8, int16, uint16, int32, uint32, int64, uint64,
// float32, float64, Decimal, string, []byte, time.Time, Table, []any.
// See table.go for the wire tags and which Go types decoding produces.
type Table map[string]any

// Decimal is the AMQP decimal-value: Value / 10^Scale.
type Decimal struct {
	Scale uint8
	Value int32
}

// Method is one AMQP method's arguments. The structs implementing it are
// generated from the spec (methods_gen.go).
type Method interface {
	ClassID() uint16
	MethodID() uint16
	// Name is the spec name, e.g. "basic.publish".
	Name() string
	// HasContent reports whether a content header and body follow.
	HasContent() bool
	// Encode appends the method's arguments (not the class/method ids).
	Encode(dst []byte) []byte
	// Decode reads the arguments (after the class/method ids).
	Decode(b []byte) error
}

// Error is an AMQP exception: a reply code with its text, and the method
// that caused it. Hard errors close the connection, soft ones the channel.
type Error struct {
	Code     uint16
	Text     string
	ClassID  uint16
	MethodID uint16
}

func (e *Error) Error() string { return fmt.Sprintf("amqp %d: %s", e.Code, e.Text) }

// Hard reports whether the error closes the whole connection.
func (e *Error) Hard() bool { return IsHardCode(e.Code) }

// ChannelError builds a soft (channel-level) exception.
func ChannelError(code uint16, format string, args ...any) *Error {
	return &Error{Code: code, Text: fmt.Sprintf(format, args...)}
}

// ConnectionError builds a hard (connection-level) exception.
func ConnectionError(code uint16, format string, args ...any) *Error {
	return &Error{Code: code, Text: fmt.Sprintf(format, args...)}
}
