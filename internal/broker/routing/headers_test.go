package routing

import (
	"testing"
	"time"

	"github.com/warrenmq/warren/internal/amqp"
)

func TestHeadersMatch(t *testing.T) {
	ts := time.Unix(1700000000, 0).UTC()
	tests := []struct {
		name    string
		args    amqp.Table
		headers amqp.Table
		want    bool
	}{
		{"all default, equal", amqp.Table{"a": "1"}, amqp.Table{"a": "1"}, true},
		{"all default, extra headers", amqp.Table{"a": "1"}, amqp.Table{"a": "1", "b": "2"}, true},
		{"all, one missing", amqp.Table{"x-match": "all", "a": "1", "b": "2"}, amqp.Table{"a": "1"}, false},
		{"all, one differs", amqp.Table{"x-match": "all", "a": "1", "b": "2"}, amqp.Table{"a": "1", "b": "3"}, false},
		{"all, both", amqp.Table{"x-match": "all", "a": "1", "b": "2"}, amqp.Table{"a": "1", "b": "2"}, true},
		{"any, one of two", amqp.Table{"x-match": "any", "a": "1", "b": "2"}, amqp.Table{"b": "2"}, true},
		{"any, present but different", amqp.Table{"x-match": "any", "a": "1"}, amqp.Table{"a": "2"}, false},
		{"any, none", amqp.Table{"x-match": "any", "a": "1"}, amqp.Table{"c": "1"}, false},

		{"all, no args, no headers", nil, nil, true},
		{"all, only x-match, no headers", amqp.Table{"x-match": "all"}, nil, true},
		{"any, no args", amqp.Table{"x-match": "any"}, amqp.Table{"a": "1"}, false},
		{"any, no args, no headers", amqp.Table{"x-match": "any"}, nil, false},
		{"all, args, no headers", amqp.Table{"a": "1"}, nil, false},
		{"all, args, empty headers", amqp.Table{"a": "1"}, amqp.Table{}, false},

		{"all ignores x- args", amqp.Table{"x-match": "all", "x-foo": "bar"}, nil, true},
		{"all ignores x- args with others", amqp.Table{"x-foo": "bar", "a": "1"}, amqp.Table{"a": "1"}, true},
		{"any ignores x- args", amqp.Table{"x-match": "any", "x-foo": "bar"}, amqp.Table{"x-foo": "bar"}, false},
		{"all-with-x needs x- arg", amqp.Table{"x-match": "all-with-x", "x-foo": "bar"}, nil, false},
		{"all-with-x, x- arg present", amqp.Table{"x-match": "all-with-x", "x-foo": "bar", "a": "1"}, amqp.Table{"x-foo": "bar", "a": "1"}, true},
		{"all-with-x, x- arg differs", amqp.Table{"x-match": "all-with-x", "x-foo": "bar", "a": "1"}, amqp.Table{"x-foo": "baz", "a": "1"}, false},
		{"any-with-x, x- arg", amqp.Table{"x-match": "any-with-x", "x-foo": "bar"}, amqp.Table{"x-foo": "bar"}, true},
		{"any-with-x, x-match itself never counts", amqp.Table{"x-match": "any-with-x"}, amqp.Table{"x-match": "any-with-x"}, false},
		{"all-with-x, only x-match", amqp.Table{"x-match": "all-with-x"}, nil, true},
		{"x-match header in message is data", amqp.Table{"a": "1"}, amqp.Table{"a": "1", "x-match": "any"}, true},

		{"invalid x-match acts as all", amqp.Table{"x-match": "foo", "a": "1", "b": "2"}, amqp.Table{"a": "1"}, false},
		{"invalid x-match acts as all (match)", amqp.Table{"x-match": "foo", "a": "1"}, amqp.Table{"a": "1"}, true},
		{"non-string x-match acts as all", amqp.Table{"x-match": []byte("any"), "a": "1", "b": "2"}, amqp.Table{"a": "1"}, false},
		{"x-match is case-sensitive", amqp.Table{"x-match": "ANY", "a": "1", "b": "2"}, amqp.Table{"a": "1"}, false},

		{"void: present with value", amqp.Table{"a": nil}, amqp.Table{"a": "anything"}, true},
		{"void: present as void", amqp.Table{"a": nil}, amqp.Table{"a": nil}, true},
		{"void: absent", amqp.Table{"a": nil}, amqp.Table{"b": "1"}, false},
		{"void: any", amqp.Table{"x-match": "any", "a": nil, "b": "1"}, amqp.Table{"a": int32(7)}, true},
		{"value vs void header", amqp.Table{"a": "x"}, amqp.Table{"a": nil}, false},

		{"int32 vs int64", amqp.Table{"a": int32(5)}, amqp.Table{"a": int64(5)}, true},
		{"uint8 vs int16", amqp.Table{"a": uint8(5)}, amqp.Table{"a": int16(5)}, true},
		{"int8 -1 vs uint8 255", amqp.Table{"a": int8(-1)}, amqp.Table{"a": uint8(255)}, false},
		{"int vs float64", amqp.Table{"a": int32(5)}, amqp.Table{"a": float64(5)}, true},
		{"int vs float64 fraction", amqp.Table{"a": int32(5)}, amqp.Table{"a": 5.5}, false},
		{"float32 vs float64 inexact", amqp.Table{"a": float32(0.1)}, amqp.Table{"a": 0.1}, false},
		{"float32 vs float64 exact", amqp.Table{"a": float32(0.5)}, amqp.Table{"a": 0.5}, true},
		{"string vs bytes", amqp.Table{"a": "abc"}, amqp.Table{"a": []byte("abc")}, true},
		{"string case", amqp.Table{"a": "abc"}, amqp.Table{"a": "ABC"}, false},
		{"string vs int", amqp.Table{"a": "5"}, amqp.Table{"a": int32(5)}, false},
		{"bool", amqp.Table{"a": true}, amqp.Table{"a": true}, true},
		{"bool vs int", amqp.Table{"a": true}, amqp.Table{"a": int32(1)}, false},
		{"bool false vs void", amqp.Table{"a": false}, amqp.Table{"a": nil}, false},
		{"timestamp vs seconds", amqp.Table{"a": ts}, amqp.Table{"a": int64(1700000000)}, true},
		{"timestamp vs timestamp", amqp.Table{"a": ts}, amqp.Table{"a": ts}, true},
		{"decimal same", amqp.Table{"a": amqp.Decimal{Scale: 1, Value: 10}}, amqp.Table{"a": amqp.Decimal{Scale: 1, Value: 10}}, true},
		{"decimal same number, other scale", amqp.Table{"a": amqp.Decimal{Scale: 1, Value: 10}}, amqp.Table{"a": amqp.Decimal{Scale: 2, Value: 100}}, false},
		{"decimal vs int", amqp.Table{"a": amqp.Decimal{Scale: 0, Value: 1}}, amqp.Table{"a": int32(1)}, false},
		{"table, same types", amqp.Table{"a": amqp.Table{"x": int32(1)}}, amqp.Table{"a": amqp.Table{"x": int32(1)}}, true},
		{"table, other int type", amqp.Table{"a": amqp.Table{"x": int32(1)}}, amqp.Table{"a": amqp.Table{"x": int64(1)}}, false},
		{"array, same", amqp.Table{"a": []any{"x", int32(1)}}, amqp.Table{"a": []any{"x", int32(1)}}, true},
		{"array, other int type", amqp.Table{"a": []any{int32(1)}}, amqp.Table{"a": []any{int64(1)}}, false},
		{"array, other order", amqp.Table{"a": []any{"x", "y"}}, amqp.Table{"a": []any{"y", "x"}}, false},
		{"array, string vs bytes inside", amqp.Table{"a": []any{"x"}}, amqp.Table{"a": []any{[]byte("x")}}, false},
		{"empty table vs empty array", amqp.Table{"a": amqp.Table{}}, amqp.Table{"a": []any{}}, true},
		{"empty array vs empty string", amqp.Table{"a": []any{}}, amqp.Table{"a": ""}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := NewHeaders[string]()
			m.Bind("q", "ignored", tt.args)
			got := len(m.Route("also ignored", tt.headers, nil)) == 1
			if got != tt.want {
				t.Fatalf("args %v, headers %v: matched = %v, want %v", tt.args, tt.headers, got, tt.want)
			}
		})
	}
}

func TestHeadersDedupAndUnbind(t *testing.T) {
	m := NewHeaders[string]()
	m.Bind("q", "", amqp.Table{"a": "1"})
	m.Bind("q", "", amqp.Table{"x-match": "any", "a": "1", "b": "2"})
	m.Bind("r", "", amqp.Table{"b": "2"})
	h := amqp.Table{"a": "1", "b": "2"}
	if got := sortedRoute(m, "", h); len(got) != 2 || got[0] != "q" || got[1] != "r" {
		t.Fatalf("Route = %v, want [q r]", got)
	}
	// Args compare with types: int32 is not int64, key order is irrelevant.
	m.Bind("s", "k", amqp.Table{"n": int32(1), "m": "x"})
	if m.Unbind("s", "k", amqp.Table{"n": int64(1), "m": "x"}) {
		t.Fatal("Unbind matched args of another type")
	}
	if m.Unbind("s", "other", amqp.Table{"n": int32(1), "m": "x"}) {
		t.Fatal("Unbind matched another key")
	}
	if !m.Unbind("s", "k", amqp.Table{"m": "x", "n": int32(1)}) {
		t.Fatal("Unbind of an existing binding = false")
	}
	if !m.Unbind("q", "", amqp.Table{"a": "1"}) {
		t.Fatal("Unbind(q) = false")
	}
	if got := sortedRoute(m, "", amqp.Table{"b": "2"}); len(got) != 2 {
		t.Fatalf("Route = %v, want q through its any binding, and r", got)
	}
	if m.Len() != 2 {
		t.Fatalf("Len() = %d, want 2", m.Len())
	}
}

func TestValidateHeadersArgs(t *testing.T) {
	tests := []struct {
		name string
		args amqp.Table
		want string // "" for valid
	}{
		{"absent", amqp.Table{"a": "1"}, ""},
		{"nil args", nil, ""},
		{"all", amqp.Table{"x-match": "all"}, ""},
		{"any", amqp.Table{"x-match": "any"}, ""},
		{"all-with-x", amqp.Table{"x-match": "all-with-x"}, ""},
		{"any-with-x", amqp.Table{"x-match": "any-with-x"}, ""},
		{"foo", amqp.Table{"x-match": "foo"},
			`Invalid x-match field value <<"foo">>; expected all, any, all-with-x, or any-with-x`},
		{"upper case", amqp.Table{"x-match": "ALL"},
			`Invalid x-match field value <<"ALL">>; expected all, any, all-with-x, or any-with-x`},
		{"empty", amqp.Table{"x-match": ""},
			`Invalid x-match field value <<>>; expected all, any, all-with-x, or any-with-x`},
		{"quote and backslash", amqp.Table{"x-match": `a"b\c`},
			`Invalid x-match field value <<"a\"b\\c">>; expected all, any, all-with-x, or any-with-x`},
		{"control", amqp.Table{"x-match": "a\nb"},
			`Invalid x-match field value <<"a\nb">>; expected all, any, all-with-x, or any-with-x`},
		{"unprintable", amqp.Table{"x-match": "\x01\x02"},
			`Invalid x-match field value <<1,2>>; expected all, any, all-with-x, or any-with-x`},
		{"int", amqp.Table{"x-match": int32(5)},
			`Invalid x-match field type signedint (value 5); expected longstr`},
		{"negative long", amqp.Table{"x-match": int64(-7)},
			`Invalid x-match field type long (value -7); expected longstr`},
		{"bytes", amqp.Table{"x-match": []byte("all")},
			`Invalid x-match field type binary (value <<"all">>); expected longstr`},
		{"void", amqp.Table{"x-match": nil},
			`Invalid x-match field type void (value undefined); expected longstr`},
		{"bool", amqp.Table{"x-match": true},
			`Invalid x-match field type bool (value true); expected longstr`},
		{"double", amqp.Table{"x-match": 1.5},
			`Invalid x-match field type double (value 1.5); expected longstr`},
		{"float", amqp.Table{"x-match": float32(0.1)},
			`Invalid x-match field type float (value 0.10000000149011612); expected longstr`},
		{"decimal", amqp.Table{"x-match": amqp.Decimal{Scale: 2, Value: -1}},
			`Invalid x-match field type decimal (value {2,4294967295}); expected longstr`},
		{"table", amqp.Table{"x-match": amqp.Table{"b": int32(5), "a": "all"}},
			`Invalid x-match field type table (value [{<<"a">>,longstr,<<"all">>},{<<"b">>,signedint,5}]); expected longstr`},
		{"array", amqp.Table{"x-match": []any{"all", uint8(1)}},
			`Invalid x-match field type array (value [{longstr,<<"all">>},{unsignedbyte,1}]); expected longstr`},
		{"timestamp", amqp.Table{"x-match": time.Unix(1700000000, 0)},
			`Invalid x-match field type timestamp (value 1700000000); expected longstr`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := ValidateHeadersArgs(tt.args)
			switch {
			case tt.want == "" && err != nil:
				t.Fatalf("err = %v, want nil", err)
			case tt.want != "" && err == nil:
				t.Fatalf("err = nil, want %q", tt.want)
			case tt.want != "" && err.Error() != tt.want:
				t.Fatalf("err = %q\n want %q", err.Error(), tt.want)
			}
		})
	}
}
