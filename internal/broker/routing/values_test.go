package routing

import (
	"math"
	"testing"
	"time"

	"github.com/warrenmq/warren/internal/amqp"
)

func TestLooseAndTypedEqual(t *testing.T) {
	tests := []struct {
		a, b         any
		loose, typed bool
	}{
		{int32(5), int32(5), true, true},
		{int32(5), int64(5), true, false},
		{int(5), int32(5), true, true},
		{int(1 << 40), int64(1 << 40), true, true},
		{uint64(math.MaxUint64), int64(-1), false, false},
		{int64(math.MinInt64), float64(math.MinInt64), true, false},
		{int64(math.MaxInt64), float64(math.MaxInt64), false, false}, // the float is 2^63
		{int64(1 << 53), float64(1<<53 + 1), true, false},            // the float rounds to 2^53
		{int64(1<<53 + 1), float64(1 << 53), false, false},
		{int32(0), math.Copysign(0, -1), true, false},
		{float32(1.5), 1.5, true, false},
		{math.NaN(), math.NaN(), false, false},
		{math.Inf(1), int64(math.MaxInt64), false, false},
		{"a", []byte("a"), true, false},
		{[]byte("a"), []byte("a"), true, true},
		{nil, nil, true, true},
		{nil, false, false, false},
		{amqp.Decimal{Scale: 1, Value: 5}, amqp.Decimal{Scale: 1, Value: 5}, true, true},
		{time.Unix(5, 0), int64(5), true, false},
		{time.Unix(5, 0), time.Unix(5, 999), true, true}, // seconds on the wire
		{amqp.Table{}, []any{}, true, false},
		{amqp.Table{"a": "b"}, map[string]any{"a": "b"}, true, true},
		{amqp.Table{"a": "b"}, amqp.Table{"a": []byte("b")}, false, false},
		{[]any{amqp.Table{"k": int8(1)}}, []any{amqp.Table{"k": int8(1)}}, true, true},
		{[]any{amqp.Table{"k": int8(1)}}, []any{amqp.Table{"k": uint8(1)}}, false, false},
		{[]any{}, []any{nil}, false, false},
	}
	for _, tt := range tests {
		if got := looseEqual(tt.a, tt.b); got != tt.loose {
			t.Errorf("looseEqual(%#v, %#v) = %v, want %v", tt.a, tt.b, got, tt.loose)
		}
		if got := looseEqual(tt.b, tt.a); got != tt.loose {
			t.Errorf("looseEqual(%#v, %#v) = %v, want %v", tt.b, tt.a, got, tt.loose)
		}
		if got := typedEqual(tt.a, tt.b); got != tt.typed {
			t.Errorf("typedEqual(%#v, %#v) = %v, want %v", tt.a, tt.b, got, tt.typed)
		}
	}
}

// TestErlangFloat checks appendErlangFloat against what OTP 25 prints with
// ~p for the same doubles.
func TestErlangFloat(t *testing.T) {
	tests := []struct {
		f    float64
		want string
	}{
		{0, "0.0"},
		{math.Copysign(0, -1), "-0.0"},
		{0.1, "0.1"},
		{100, "100.0"},
		{1000, "1.0e3"},
		{1.5, "1.5"},
		{-2.5, "-2.5"},
		{1e-10, "1.0e-10"},
		{0.01, "0.01"},
		{0.001, "0.001"},
		{0.0001, "0.0001"},
		{0.00001, "1.0e-5"},
		{123456, "123456.0"},
		{1e15, "1.0e15"},
		{1e21, "1.0e21"},
		{9007199254740992, "9.007199254740992e15"},
		{12345678.9, "12345678.9"},
		{99999, "99999.0"},
		{1234567, "1234567.0"},
		{float64(float32(0.1)), "0.10000000149011612"},
	}
	for _, tt := range tests {
		if got := string(appendErlangFloat(nil, tt.f)); got != tt.want {
			t.Errorf("appendErlangFloat(%v) = %q, want %q", tt.f, got, tt.want)
		}
	}
}

func TestAppendBinaryTerm(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", "<<>>"},
		{"foo", `<<"foo">>`},
		{`a"b\c`, `<<"a\"b\\c">>`},
		{"a\nb\x1b", `<<"a\nb\e">>`},
		{"\x01\x02", "<<1,2>>"},
		{"a\x7f", "<<97,127>>"},
		{"\xc3\xa9", "<<\"\xc3\xa9\">>"}, // latin1-printable bytes go out as they are
	}
	for _, tt := range tests {
		if got := string(appendBinaryTerm(nil, tt.in)); got != tt.want {
			t.Errorf("appendBinaryTerm(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
