package routing

import (
	"bytes"
	"fmt"
	"math"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/warrenmq/warren/internal/amqp"
)

// Field values compared as RabbitMQ compares them.
//
// RabbitMQ decodes a field table into a list of {Name, Type, Value}
// triples (rabbit_binary_parser:parse_table, v3.10.25): every integer type
// becomes an Erlang integer, 'f' and 'd' Erlang floats, 'S' and 'x'
// binaries, 't' the atoms true/false, 'V' the atom undefined, 'D' the tuple
// {Scale, Value} (Value unsigned), 'T' an integer of seconds (unsigned),
// 'F' a nested list of triples and 'A' a list of {Type, Value} pairs.
//
// The headers exchange tests a binding value against a header value with
// Erlang's == on the Value parts only (rabbit_exchange_type_headers:
// headers_match, "PV == DV"), so at the top level the field type does not
// count (looseEqual):
//   - integers of any width are equal when their values are: int32 5 ==
//     int64 5 == uint8 5;
//   - == between an integer and a float is numeric and exact: 5 == 5.0,
//     while float32 0.1 (widened to a double) differs from float64 0.1;
//   - a timestamp is its seconds, so it equals the same integer;
//   - a string ('S') equals a byte array ('x') of the same bytes;
//   - decimals are equal only to decimals with the same scale and value
//     (1.0 as {1,10} differs from {2,100});
//   - an empty table equals an empty array (both are []).
//
// Inside a nested table or array the type tags are part of the compared
// terms, so there the field types must agree too (typedEqual): {long, 5}
// differs from {signedint, 5}. The same exact comparison is RabbitMQ's
// binding identity, which Unbind uses (argsEqual).
//
// One difference remains: RabbitMQ compares nested tables in wire order,
// while amqp.Table is a Go map with none, so Warren treats nested tables as
// equal when they hold the same fields in any order.

// fieldType is RabbitMQ's name for a field's type (the atoms of
// rabbit_binary_parser), as far as comparisons and messages need it.
type fieldType uint8

const (
	typeUnknown fieldType = iota
	typeVoid
	typeBool
	typeByte
	typeUnsignedByte
	typeShort
	typeUnsignedShort
	typeSignedInt
	typeUnsignedInt
	typeLong
	typeFloat
	typeDouble
	typeDecimal
	typeLongstr
	typeBinary
	typeTimestamp
	typeTable
	typeArray
)

func (t fieldType) String() string {
	switch t {
	case typeVoid:
		return "void"
	case typeBool:
		return "bool"
	case typeByte:
		return "byte"
	case typeUnsignedByte:
		return "unsignedbyte"
	case typeShort:
		return "short"
	case typeUnsignedShort:
		return "unsignedshort"
	case typeSignedInt:
		return "signedint"
	case typeUnsignedInt:
		return "unsignedint"
	case typeLong:
		return "long"
	case typeFloat:
		return "float"
	case typeDouble:
		return "double"
	case typeDecimal:
		return "decimal"
	case typeLongstr:
		return "longstr"
	case typeBinary:
		return "binary"
	case typeTimestamp:
		return "timestamp"
	case typeTable:
		return "table"
	case typeArray:
		return "array"
	}
	return "unknown"
}

// typeOf is the type a value has on the wire. Besides the types the
// decoder produces it takes what amqp's encoder accepts: int ('I' when it
// fits in 32 bits, else 'l'), uint and uint64 ('l'), map[string]any ('F').
func typeOf(v any) fieldType {
	switch x := v.(type) {
	case nil:
		return typeVoid
	case bool:
		return typeBool
	case int8:
		return typeByte
	case uint8:
		return typeUnsignedByte
	case int16:
		return typeShort
	case uint16:
		return typeUnsignedShort
	case int32:
		return typeSignedInt
	case uint32:
		return typeUnsignedInt
	case int:
		if x >= math.MinInt32 && x <= math.MaxInt32 {
			return typeSignedInt
		}
		return typeLong
	case int64, uint64, uint:
		return typeLong
	case float32:
		return typeFloat
	case float64:
		return typeDouble
	case amqp.Decimal:
		return typeDecimal
	case string:
		return typeLongstr
	case []byte:
		return typeBinary
	case time.Time:
		return typeTimestamp
	case amqp.Table, map[string]any:
		return typeTable
	case []any:
		return typeArray
	}
	return typeUnknown
}

// num is an integer (sign and magnitude, so every int64 and uint64 fits)
// or a float.
type num struct {
	isFloat bool
	neg     bool
	mag     uint64
	f       float64
}

func intNum(i int64) num {
	if i < 0 {
		return num{neg: true, mag: uint64(-(i + 1)) + 1}
	}
	return num{mag: uint64(i)}
}

func toNum(v any) (num, bool) {
	switch x := v.(type) {
	case int8:
		return intNum(int64(x)), true
	case int16:
		return intNum(int64(x)), true
	case int32:
		return intNum(int64(x)), true
	case int64:
		return intNum(x), true
	case int:
		return intNum(int64(x)), true
	case uint8:
		return num{mag: uint64(x)}, true
	case uint16:
		return num{mag: uint64(x)}, true
	case uint32:
		return num{mag: uint64(x)}, true
	case uint64:
		return num{mag: x}, true
	case uint:
		return num{mag: uint64(x)}, true
	case float32:
		return num{isFloat: true, f: float64(x)}, true
	case float64:
		return num{isFloat: true, f: x}, true
	case time.Time:
		// 'T' is unsigned 64-bit seconds; amqp decodes it with
		// time.Unix(int64(u), 0), which this undoes.
		return num{mag: uint64(x.Unix())}, true
	}
	return num{}, false
}

// equal is Erlang's == on numbers: exact, also between integer and float.
func (a num) equal(b num) bool {
	switch {
	case a.isFloat && b.isFloat:
		return a.f == b.f
	case a.isFloat:
		return b.equalFloat(a.f)
	case b.isFloat:
		return a.equalFloat(b.f)
	}
	return a.neg == b.neg && a.mag == b.mag
}

func (a num) equalFloat(f float64) bool {
	if math.IsInf(f, 0) || f != math.Trunc(f) { // NaN fails f != Trunc(f)
		return false
	}
	neg := f < 0
	if neg {
		f = -f
	}
	if f >= 1<<64 || uint64(f) != a.mag {
		return false
	}
	return a.mag == 0 || neg == a.neg
}

func asTable(v any) (map[string]any, bool) {
	switch x := v.(type) {
	case amqp.Table:
		return x, true
	case map[string]any:
		return x, true
	}
	return nil, false
}

// looseEqual is Erlang's == on two decoded field values, type tags not
// included: how the headers exchange compares a binding value with a
// header value.
func looseEqual(a, b any) bool {
	switch x := a.(type) {
	case string:
		switch y := b.(type) {
		case string:
			return x == y
		case []byte:
			return x == string(y)
		}
		return false
	case []byte:
		switch y := b.(type) {
		case string:
			return string(x) == y
		case []byte:
			return bytes.Equal(x, y)
		}
		return false
	case bool:
		y, ok := b.(bool)
		return ok && x == y
	case nil:
		return b == nil
	case amqp.Decimal:
		y, ok := b.(amqp.Decimal)
		return ok && x == y
	}
	if na, ok := toNum(a); ok {
		nb, ok := toNum(b)
		return ok && na.equal(nb)
	}
	ta, aTable := asTable(a)
	tb, bTable := asTable(b)
	aa, aArray := a.([]any)
	ab, bArray := b.([]any)
	switch {
	case aTable && bTable:
		return tablesEqual(ta, tb)
	case aArray && bArray:
		return arraysEqual(aa, ab)
	case aTable && bArray:
		return len(ta) == 0 && len(ab) == 0
	case aArray && bTable:
		return len(aa) == 0 && len(tb) == 0
	case aTable || bTable || aArray || bArray:
		return false
	}
	if typeOf(b) != typeUnknown {
		return false
	}
	return reflect.DeepEqual(a, b)
}

// typedEqual compares two values with their field types, as Erlang
// compares {Type, Value} terms.
func typedEqual(a, b any) bool {
	return typeOf(a) == typeOf(b) && looseEqual(a, b)
}

func tablesEqual(a, b map[string]any) bool {
	if len(a) != len(b) {
		return false
	}
	for k, va := range a {
		vb, ok := b[k]
		if !ok || !typedEqual(va, vb) {
			return false
		}
	}
	return true
}

func arraysEqual(a, b []any) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !typedEqual(a[i], b[i]) {
			return false
		}
	}
	return true
}

// argsEqual is RabbitMQ's binding identity on arguments: the same fields
// with the same types and values. Nil and empty are equal.
func argsEqual(a, b amqp.Table) bool { return tablesEqual(a, b) }

// appendTerm appends v as Erlang's ~p prints its decoded value, for error
// messages that quote one. Unlike ~p it never breaks long terms over lines,
// and it prints nested tables sorted by key (amqp.Table has no wire order).
func appendTerm(b []byte, v any) []byte {
	switch x := v.(type) {
	case nil:
		return append(b, "undefined"...)
	case bool:
		return strconv.AppendBool(b, x)
	case string:
		return appendBinaryTerm(b, x)
	case []byte:
		return appendBinaryTerm(b, string(x))
	case amqp.Decimal:
		b = append(b, '{')
		b = strconv.AppendUint(b, uint64(x.Scale), 10)
		b = append(b, ',')
		b = strconv.AppendUint(b, uint64(uint32(x.Value)), 10)
		return append(b, '}')
	case []any:
		b = append(b, '[')
		for i, e := range x {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, '{')
			b = append(b, typeOf(e).String()...)
			b = append(b, ',')
			b = appendTerm(b, e)
			b = append(b, '}')
		}
		return append(b, ']')
	}
	if n, ok := toNum(v); ok {
		switch {
		case n.isFloat:
			return appendErlangFloat(b, n.f)
		case n.neg:
			b = append(b, '-')
		}
		return strconv.AppendUint(b, n.mag, 10)
	}
	if t, ok := asTable(v); ok {
		keys := make([]string, 0, len(t))
		for k := range t {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		b = append(b, '[')
		for i, k := range keys {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, '{')
			b = appendBinaryTerm(b, k)
			b = append(b, ',')
			b = append(b, typeOf(t[k]).String()...)
			b = append(b, ',')
			b = appendTerm(b, t[k])
			b = append(b, '}')
		}
		return append(b, ']')
	}
	return fmt.Append(b, v)
}

// appendBinaryTerm prints a binary as ~p does with the default latin1
// printable range: <<"text">> when every byte is printable latin1 (bytes
// 160-255 are written as they are), else the byte values, <<1,2,3>>.
func appendBinaryTerm(b []byte, s string) []byte {
	printable := true
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 32 && c <= 126 || c >= 160 || strings.IndexByte("\n\r\t\v\b\f\x1b", c) >= 0) {
			printable = false
			break
		}
	}
	b = append(b, "<<"...)
	if !printable {
		for i := 0; i < len(s); i++ {
			if i > 0 {
				b = append(b, ',')
			}
			b = strconv.AppendUint(b, uint64(s[i]), 10)
		}
		return append(b, ">>"...)
	}
	if s == "" {
		return append(b, ">>"...)
	}
	b = append(b, '"')
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '"', '\\':
			b = append(b, '\\', c)
		case '\n':
			b = append(b, `\n`...)
		case '\r':
			b = append(b, `\r`...)
		case '\t':
			b = append(b, `\t`...)
		case '\v':
			b = append(b, `\v`...)
		case '\b':
			b = append(b, `\b`...)
		case '\f':
			b = append(b, `\f`...)
		case 0x1b:
			b = append(b, `\e`...)
		default:
			b = append(b, c)
		}
	}
	return append(b, `">>`...)
}

// appendErlangFloat prints f as Erlang/OTP 24+ io_lib_format:fwrite_g does
// (~p of a float): the shortest digits that read back as f, in plain
// notation unless scientific is shorter, and always scientific from 2^53
// up: 0.1, 100.0, 1.0e3, 1.5e-7.
func appendErlangFloat(b []byte, f float64) []byte {
	if f == 0 {
		if math.Signbit(f) {
			return append(b, "-0.0"...)
		}
		return append(b, "0.0"...)
	}
	if math.IsInf(f, 0) || math.IsNaN(f) { // not representable in Erlang
		return strconv.AppendFloat(b, f, 'g', -1, 64)
	}
	if f < 0 {
		b = append(b, '-')
		f = -f
	}
	// "d.ddde±XX": digits S and Place, with f = 0.S × 10^Place.
	sci := strconv.FormatFloat(f, 'e', -1, 64)
	ePos := strings.IndexByte(sci, 'e')
	digits := strings.Replace(sci[:ePos], ".", "", 1)
	exp, _ := strconv.Atoi(sci[ePos+1:])
	place, l := exp+1, len(digits)
	expStr := strconv.Itoa(place - 1)
	scientific := func() []byte {
		b = append(b, digits[0], '.')
		if l == 1 {
			b = append(b, '0')
		} else {
			b = append(b, digits[1:]...)
		}
		b = append(b, 'e')
		return append(b, expStr...)
	}
	switch {
	case place == 0:
		b = append(b, "0."...)
		return append(b, digits...)
	case place < 0 || place >= l:
		expDot := 1
		if l == 1 {
			expDot = 2
		}
		cost := len(expStr) + 1 + expDot
		if place < 0 {
			if 2-place > cost {
				return scientific()
			}
			b = append(b, "0."...)
			b = append(b, strings.Repeat("0", -place)...)
			return append(b, digits...)
		}
		if place-l+2 > cost || f >= 1<<53 {
			return scientific()
		}
		b = append(b, digits...)
		b = append(b, strings.Repeat("0", place-l)...)
		return append(b, ".0"...)
	}
	b = append(b, digits[:place]...)
	b = append(b, '.')
	return append(b, digits[place:]...)
}
