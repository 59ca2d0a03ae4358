package amqp

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"time"
)

// Field tables use RabbitMQ's type tags (its 0-9-1 errata, which every
// client follows), not the ones in the 0-9-1 spec:
//
//	't' bool       'b' int8     'B' uint8    's' int16    'u' uint16
//	'I' int32      'i' uint32   'l' int64    'f' float32  'd' float64
//	'D' Decimal    'S' string   'x' []byte   'A' []any    'T' time.Time
//	'F' Table      'V' nil
//
// Decoding gives exactly those Go types ('T' as UTC time.Time at second
// precision). Encoding accepts them plus, like amqp091-go, int (as 'I' when
// it fits in 32 bits, else 'l'), and also uint and uint64 (as 'l' when they
// fit in int64) and map[string]any (as 'F').

// MaxTableDepth bounds the nesting of tables and arrays, on decode and
// encode, so hostile input (or a cyclic Table) cannot exhaust the stack.
const MaxTableDepth = 100

var (
	errTableDepth = errors.New("field table nested too deeply")
	errBadLength  = errors.New("field length exceeds input")
)

// ReadTable decodes a field table. b starts at the table's 4-byte length;
// n is the number of bytes consumed (4 + length). An empty table decodes to
// an empty, non-nil Table. Nothing aliases b: keys and string values share
// one copy of the table's bytes, byte arrays are copied each.
func ReadTable(b []byte) (t Table, n int, err error) {
	body, n, err := lengthPrefixed(b)
	if err != nil {
		return nil, 0, err
	}
	if t, err = readTable(string(body), 0); err != nil {
		return nil, 0, err
	}
	return t, n, nil
}

// ReadArray decodes a field array ('A' value without its tag): b starts at
// the array's 4-byte length; n is the number of bytes consumed.
func ReadArray(b []byte) (a []any, n int, err error) {
	body, n, err := lengthPrefixed(b)
	if err != nil {
		return nil, 0, err
	}
	if a, err = readArray(string(body), 0); err != nil {
		return nil, 0, err
	}
	return a, n, nil
}

func lengthPrefixed(b []byte) (body []byte, n int, err error) {
	if len(b) < 4 {
		return nil, 0, errShort
	}
	size := binary.BigEndian.Uint32(b)
	if uint64(len(b)-4) < uint64(size) {
		return nil, 0, errBadLength
	}
	return b[4 : 4+int(size)], 4 + int(size), nil
}

// The decoders below work on a string copy of the whole table, so that keys
// and string values are substrings of it rather than an allocation each.

func be16(s string) uint16 { return uint16(s[0])<<8 | uint16(s[1]) }
func be32(s string) uint32 { return uint32(be16(s))<<16 | uint32(be16(s[2:])) }
func be64(s string) uint64 { return uint64(be32(s))<<32 | uint64(be32(s[4:])) }

// sized splits a 4-byte length-prefixed value off s.
func sized(s string) (body string, n int, err error) {
	if len(s) < 4 {
		return "", 0, errShort
	}
	size := be32(s)
	if uint64(len(s)-4) < uint64(size) {
		return "", 0, errBadLength
	}
	return s[4 : 4+int(size)], 4 + int(size), nil
}

// readTable decodes table entries filling all of s.
func readTable(s string, depth int) (Table, error) {
	if depth >= MaxTableDepth {
		return nil, errTableDepth
	}
	t := Table{}
	for len(s) > 0 {
		kl := int(s[0])
		if len(s)-1 < kl {
			return nil, errBadLength
		}
		key := s[1 : 1+kl]
		v, n, err := readField(s[1+kl:], depth)
		if err != nil {
			return nil, fmt.Errorf("field %q: %w", key, err)
		}
		t[key] = v
		s = s[1+kl+n:]
	}
	return t, nil
}

// readArray decodes array values filling all of s.
func readArray(s string, depth int) ([]any, error) {
	if depth >= MaxTableDepth {
		return nil, errTableDepth
	}
	a := []any{}
	for len(s) > 0 {
		v, n, err := readField(s, depth)
		if err != nil {
			return nil, fmt.Errorf("array element %d: %w", len(a), err)
		}
		a = append(a, v)
		s = s[n:]
	}
	return a, nil
}

// fieldSizes are the value sizes of the fixed-size tags.
var fieldSizes = [256]uint8{
	't': 1, 'b': 1, 'B': 1, 's': 2, 'u': 2, 'I': 4, 'i': 4, 'l': 8, 'L': 8,
	'f': 4, 'd': 8, 'D': 5, 'T': 8,
}

// readField decodes one tagged value; n includes the tag.
func readField(s string, depth int) (v any, n int, err error) {
	if len(s) < 1 {
		return nil, 0, errShort
	}
	tag, p := s[0], s[1:]
	if size := int(fieldSizes[tag]); len(p) < size {
		return nil, 0, errShort
	}
	switch tag {
	case 't':
		return p[0] != 0, 2, nil
	case 'b':
		return int8(p[0]), 2, nil
	case 'B':
		return p[0], 2, nil
	case 's':
		return int16(be16(p)), 3, nil
	case 'u':
		return be16(p), 3, nil
	case 'I':
		return int32(be32(p)), 5, nil
	case 'i':
		return be32(p), 5, nil
	case 'l', 'L': // RabbitMQ decodes both as signed 64-bit
		return int64(be64(p)), 9, nil
	case 'f':
		return math.Float32frombits(be32(p)), 5, nil
	case 'd':
		return math.Float64frombits(be64(p)), 9, nil
	case 'D':
		return Decimal{Scale: p[0], Value: int32(be32(p[1:]))}, 6, nil
	case 'T':
		return time.Unix(int64(be64(p)), 0).UTC(), 9, nil
	case 'S':
		body, n, err := sized(p)
		return body, 1 + n, err
	case 'x':
		body, n, err := sized(p)
		if err != nil {
			return nil, 0, err
		}
		return []byte(body), 1 + n, nil
	case 'A':
		body, n, err := sized(p)
		if err != nil {
			return nil, 0, err
		}
		a, err := readArray(body, depth+1)
		return a, 1 + n, err
	case 'F':
		body, n, err := sized(p)
		if err != nil {
			return nil, 0, err
		}
		t, err := readTable(body, depth+1)
		return t, 1 + n, err
	case 'V':
		return nil, 1, nil
	}
	return nil, 0, fmt.Errorf("unknown field type %q", tag)
}

// AppendTable appends a field table (4-byte length then entries). It fails
// on a value of an unsupported Go type, a key longer than 255 bytes, or
// nesting deeper than MaxTableDepth; dst is then returned unchanged. Entries
// are written in map order.
func AppendTable(dst []byte, t Table) ([]byte, error) {
	out, err := appendTable(dst, t, 0, true)
	if err != nil {
		return dst, err
	}
	return out, nil
}

// AppendArray appends a field array (4-byte length then tagged values,
// without the 'A' tag).
func AppendArray(dst []byte, a []any) ([]byte, error) {
	out, err := appendArray(dst, a, 0, true)
	if err != nil {
		return dst, err
	}
	return out, nil
}

// appendTableLenient is AppendTable for generated Encode methods, which
// cannot fail: unsupported values (and tables nested too deeply) are written
// as void, and long keys are truncated. Use AppendTable to catch them.
func appendTableLenient(dst []byte, t Table) []byte {
	dst, _ = appendTable(dst, t, 0, false)
	return dst
}

func appendTable(dst []byte, t Table, depth int, strict bool) ([]byte, error) {
	if depth >= MaxTableDepth {
		return dst, errTableDepth
	}
	start := len(dst)
	dst = append(dst, 0, 0, 0, 0)
	for k, v := range t {
		if len(k) > 255 {
			if strict {
				return dst, fmt.Errorf("field table key of %d bytes is longer than 255", len(k))
			}
			k = k[:255]
		}
		dst = append(dst, byte(len(k)))
		dst = append(dst, k...)
		var err error
		if dst, err = appendField(dst, v, depth, strict); err != nil {
			return dst, fmt.Errorf("field %q: %w", k, err)
		}
	}
	binary.BigEndian.PutUint32(dst[start:], uint32(len(dst)-start-4))
	return dst, nil
}

func appendArray(dst []byte, a []any, depth int, strict bool) ([]byte, error) {
	if depth >= MaxTableDepth {
		return dst, errTableDepth
	}
	start := len(dst)
	dst = append(dst, 0, 0, 0, 0)
	for i, v := range a {
		var err error
		if dst, err = appendField(dst, v, depth, strict); err != nil {
			return dst, fmt.Errorf("array element %d: %w", i, err)
		}
	}
	binary.BigEndian.PutUint32(dst[start:], uint32(len(dst)-start-4))
	return dst, nil
}

func appendField(dst []byte, v any, depth int, strict bool) ([]byte, error) {
	be := binary.BigEndian
	switch v := v.(type) {
	case nil:
		return append(dst, 'V'), nil
	case bool:
		b := byte(0)
		if v {
			b = 1
		}
		return append(dst, 't', b), nil
	case int8:
		return append(dst, 'b', byte(v)), nil
	case uint8:
		return append(dst, 'B', v), nil
	case int16:
		return be.AppendUint16(append(dst, 's'), uint16(v)), nil
	case uint16:
		return be.AppendUint16(append(dst, 'u'), v), nil
	case int32:
		return be.AppendUint32(append(dst, 'I'), uint32(v)), nil
	case uint32:
		return be.AppendUint32(append(dst, 'i'), v), nil
	case int64:
		return be.AppendUint64(append(dst, 'l'), uint64(v)), nil
	case int:
		if v >= math.MinInt32 && v <= math.MaxInt32 {
			return be.AppendUint32(append(dst, 'I'), uint32(int32(v))), nil
		}
		return be.AppendUint64(append(dst, 'l'), uint64(v)), nil
	case uint:
		if uint64(v) <= math.MaxInt64 {
			return be.AppendUint64(append(dst, 'l'), uint64(v)), nil
		}
	case uint64:
		if v <= math.MaxInt64 {
			return be.AppendUint64(append(dst, 'l'), v), nil
		}
	case float32:
		return be.AppendUint32(append(dst, 'f'), math.Float32bits(v)), nil
	case float64:
		return be.AppendUint64(append(dst, 'd'), math.Float64bits(v)), nil
	case Decimal:
		return be.AppendUint32(append(dst, 'D', v.Scale), uint32(v.Value)), nil
	case string:
		dst = be.AppendUint32(append(dst, 'S'), uint32(len(v)))
		return append(dst, v...), nil
	case []byte:
		dst = be.AppendUint32(append(dst, 'x'), uint32(len(v)))
		return append(dst, v...), nil
	case time.Time:
		return be.AppendUint64(append(dst, 'T'), uint64(v.Unix())), nil
	case Table:
		return appendNested(dst, 'F', depth, strict, func(dst []byte) ([]byte, error) {
			return appendTable(dst, v, depth+1, strict)
		})
	case map[string]any:
		return appendNested(dst, 'F', depth, strict, func(dst []byte) ([]byte, error) {
			return appendTable(dst, Table(v), depth+1, strict)
		})
	case []any:
		return appendNested(dst, 'A', depth, strict, func(dst []byte) ([]byte, error) {
			return appendArray(dst, v, depth+1, strict)
		})
	}
	if strict {
		return dst, fmt.Errorf("unsupported field value of type %T", v)
	}
	return append(dst, 'V'), nil
}

// appendNested writes a tagged table or array. In lenient mode a value that
// fails (too deep) is replaced by void.
func appendNested(dst []byte, tag byte, depth int, strict bool, f func([]byte) ([]byte, error)) ([]byte, error) {
	start := len(dst)
	out, err := f(append(dst, tag))
	if err != nil {
		if strict {
			return out, err
		}
		return append(dst[:start], 'V'), nil
	}
	return out, nil
}
