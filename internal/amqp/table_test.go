package amqp

import (
	"bytes"
	"encoding/binary"
	"math"
	"strings"
	"testing"
	"time"
)

func fullTable() Table {
	ts := time.Date(2024, 5, 6, 7, 8, 9, 0, time.UTC)
	return Table{
		"bool":    true,
		"false":   false,
		"int8":    int8(-8),
		"uint8":   uint8(200),
		"int16":   int16(-1600),
		"uint16":  uint16(60000),
		"int32":   int32(-320000),
		"uint32":  uint32(4000000000),
		"int64":   int64(-1 << 40),
		"float32": float32(1.5),
		"float64": math.Pi,
		"decimal": Decimal{Scale: 2, Value: -12345},
		"string":  "héllo",
		"empty":   "",
		"bytes":   []byte{0, 1, 2, 0xFF},
		"nobytes": []byte{},
		"time":    ts,
		"void":    nil,
		"array":   []any{int32(1), "two", []any{Table{"deep": []byte("x")}}, nil, Decimal{1, 5}, ts},
		"noarray": []any{},
		"nested":  Table{"a": Table{"b": Table{"c": int64(3)}}, "list": []any{true}},
		"notable": Table{},
	}
}

func TestTableRoundTrip(t *testing.T) {
	want := fullTable()
	enc, err := AppendTable([]byte("prefix"), want)
	if err != nil {
		t.Fatal(err)
	}
	enc = enc[len("prefix"):]
	got, n, err := ReadTable(append(enc, 0xEE, 0xEE))
	if err != nil {
		t.Fatal(err)
	}
	if n != len(enc) {
		t.Errorf("n = %d, want %d", n, len(enc))
	}
	if !equal(got, want) {
		t.Fatalf("got  %#v\nwant %#v", got, want)
	}
}

func TestTableWireTags(t *testing.T) {
	ts := time.Unix(0x01020304, 0)
	tests := []struct {
		in   any
		want []byte
	}{
		{true, []byte{'t', 1}},
		{int8(-1), []byte{'b', 0xFF}},
		{uint8(7), []byte{'B', 7}},
		{int16(-2), []byte{'s', 0xFF, 0xFE}},
		{uint16(3), []byte{'u', 0, 3}},
		{int32(4), []byte{'I', 0, 0, 0, 4}},
		{uint32(5), []byte{'i', 0, 0, 0, 5}},
		{int64(6), []byte{'l', 0, 0, 0, 0, 0, 0, 0, 6}},
		{7, []byte{'I', 0, 0, 0, 7}},                   // int fits: 'I' like amqp091-go
		{1 << 40, []byte{'l', 0, 0, 1, 0, 0, 0, 0, 0}}, // int too big for 'I': 'l'
		{uint(8), []byte{'l', 0, 0, 0, 0, 0, 0, 0, 8}},
		{uint64(9), []byte{'l', 0, 0, 0, 0, 0, 0, 0, 9}},
		{float32(1), []byte{'f', 0x3F, 0x80, 0, 0}},
		{float64(1), []byte{'d', 0x3F, 0xF0, 0, 0, 0, 0, 0, 0}},
		{Decimal{3, 10}, []byte{'D', 3, 0, 0, 0, 10}},
		{"ab", []byte{'S', 0, 0, 0, 2, 'a', 'b'}},
		{[]byte("ab"), []byte{'x', 0, 0, 0, 2, 'a', 'b'}},
		{ts, []byte{'T', 0, 0, 0, 0, 1, 2, 3, 4}},
		{nil, []byte{'V'}},
		{[]any{true}, []byte{'A', 0, 0, 0, 2, 't', 1}},
		{Table{}, []byte{'F', 0, 0, 0, 0}},
		{map[string]any{}, []byte{'F', 0, 0, 0, 0}},
	}
	for _, tt := range tests {
		got, err := AppendTable(nil, Table{"k": tt.in})
		if err != nil {
			t.Errorf("%T: %v", tt.in, err)
			continue
		}
		want := append([]byte{0, 0, 0, byte(2 + len(tt.want)), 1, 'k'}, tt.want...)
		if !bytes.Equal(got, want) {
			t.Errorf("%T %v:\n got % x\nwant % x", tt.in, tt.in, got, want)
		}
	}
}

func TestTableEncodeErrors(t *testing.T) {
	deep := Table{}
	for i := 0; i < MaxTableDepth+1; i++ {
		deep = Table{"d": deep}
	}
	cyclic := Table{}
	cyclic["self"] = cyclic
	for name, tab := range map[string]Table{
		"unsupported": {"x": struct{}{}},
		"nested bad":  {"a": []any{Table{"x": make(chan int)}}},
		"uint64 big":  {"x": uint64(math.MaxUint64)},
		"long key":    {strings.Repeat("k", 256): 1},
		"too deep":    deep,
		"cyclic":      cyclic,
	} {
		dst := []byte("keep")
		got, err := AppendTable(dst, tab)
		if err == nil {
			t.Errorf("%s: no error", name)
		}
		if string(got) != "keep" {
			t.Errorf("%s: dst changed to %q", name, got)
		}
	}
	if _, err := AppendArray(nil, []any{1, struct{}{}}); err == nil {
		t.Error("array: no error")
	}
	// Lenient (method Encode) replaces what it cannot write by void.
	var m ExchangeDeclare
	if err := m.Decode((&ExchangeDeclare{Arguments: cyclic}).Encode(nil)); err != nil {
		t.Fatal(err)
	}
}

func TestReadTableHostile(t *testing.T) {
	good, _ := AppendTable(nil, fullTable())
	for n := 0; n < len(good); n++ {
		if _, _, err := ReadTable(good[:n]); err == nil {
			t.Fatalf("truncated to %d bytes: no error", n)
		}
	}
	be := binary.BigEndian
	tests := map[string][]byte{
		"huge table":      {0xFF, 0xFF, 0xFF, 0xFF},
		"key past end":    {0, 0, 0, 2, 5, 'k'},
		"huge string":     {0, 0, 0, 7, 1, 'k', 'S', 0xFF, 0xFF, 0xFF, 0xFF},
		"huge bytes":      {0, 0, 0, 7, 1, 'k', 'x', 0x7F, 0xFF, 0xFF, 0xFF},
		"huge array":      {0, 0, 0, 7, 1, 'k', 'A', 0xFF, 0xFF, 0xFF, 0xF0},
		"huge nested":     {0, 0, 0, 7, 1, 'k', 'F', 0x80, 0, 0, 0},
		"unknown tag":     {0, 0, 0, 3, 1, 'k', 'Z'},
		"spec tag U":      {0, 0, 0, 5, 1, 'k', 'U', 0, 1},
		"short int":       {0, 0, 0, 4, 1, 'k', 'I', 0},
		"missing value":   {0, 0, 0, 2, 1, 'k'},
		"nested overruns": {0, 0, 0, 11, 1, 'k', 'F', 0, 0, 0, 9, 1, 'j', 'S', 0},
	}
	// A table nested beyond MaxTableDepth.
	var deep []byte
	deep = be.AppendUint32(deep, 0)
	for i := 0; i < MaxTableDepth+5; i++ {
		deep = append(be.AppendUint32(nil, uint32(len(deep)+3)), append([]byte{1, 'd', 'F'}, deep...)...)
	}
	tests["too deep"] = deep
	arr := []byte{0, 0, 0, 0}
	for i := 0; i < MaxTableDepth+5; i++ {
		arr = append(be.AppendUint32(nil, uint32(len(arr)+1)), append([]byte{'A'}, arr...)...)
	}
	tests["arrays too deep"] = append(be.AppendUint32(nil, uint32(len(arr)+3)), append([]byte{1, 'a', 'A'}, arr...)...)
	for name, b := range tests {
		if tab, _, err := ReadTable(b); err == nil {
			t.Errorf("%s: no error, got %v", name, tab)
		}
	}
	if a, n, err := ReadArray([]byte{0, 0, 0, 2, 'B', 9, 0xEE}); err != nil || n != 6 || len(a) != 1 || a[0] != uint8(9) {
		t.Errorf("ReadArray = %v %d %v", a, n, err)
	}
}

func TestReadTableCopies(t *testing.T) {
	enc, _ := AppendTable(nil, Table{"s": "abc", "x": []byte("def")})
	tab, _, err := ReadTable(enc)
	if err != nil {
		t.Fatal(err)
	}
	for i := range enc {
		enc[i] = 0
	}
	if tab["s"] != "abc" || string(tab["x"].([]byte)) != "def" {
		t.Fatalf("decoded values alias input: %v", tab)
	}
}

func TestReadTableUppercaseL(t *testing.T) {
	// RabbitMQ accepts 'L' and decodes it as a signed 64-bit integer.
	raw := []byte{0, 0, 0, 11, 1, 'k', 'L', 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xfe}
	tb, n, err := ReadTable(raw)
	if err != nil || n != len(raw) || tb["k"] != int64(-2) {
		t.Fatalf("got %v, %d, %v", tb, n, err)
	}
	if _, _, err := ReadTable(raw[:10]); err == nil {
		t.Fatal("truncated 'L' value accepted")
	}
}
