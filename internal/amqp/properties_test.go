package amqp

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"
)

func fullProperties() *Properties {
	return &Properties{
		ContentType:     "application/json",
		ContentEncoding: "gzip",
		Headers:         Table{"x-match": "all", "n": int32(1), "nested": Table{"a": []any{"b"}}},
		DeliveryMode:    2,
		Priority:        9,
		CorrelationID:   "corr",
		ReplyTo:         "amq.rabbitmq.reply-to",
		Expiration:      "60000",
		MessageID:       "msg-1",
		Timestamp:       time.Unix(1700000000, 0).UTC(),
		Type:            "type",
		UserID:          "guest",
		AppID:           "app",
		ClusterID:       "cluster",
	}
}

func TestPropertiesRoundTrip(t *testing.T) {
	tests := map[string]*Properties{
		"all":         fullProperties(),
		"none":        {},
		"persistent":  {DeliveryMode: 2},
		"zero values": {Flags: FlagPriority | FlagContentType | FlagHeaders | FlagTimestamp, Headers: Table{}, Timestamp: time.Unix(0, 0).UTC()},
	}
	for name, p := range tests {
		t.Run(name, func(t *testing.T) {
			raw, err := AppendProperties([]byte{1, 2, 3}, p)
			if err != nil {
				t.Fatal(err)
			}
			raw = raw[3:]
			var got Properties
			n, err := got.Decode(append(raw, 0xEE))
			if err != nil {
				t.Fatal(err)
			}
			if n != len(raw) {
				t.Errorf("n = %d, want %d", n, len(raw))
			}
			want := *p
			want.Flags = p.flags()
			if !equal(&got, &want) {
				t.Fatalf("got  %#v\nwant %#v", got, want)
			}
			for n := 0; n < len(raw); n++ {
				if _, err := new(Properties).Decode(raw[:n]); err == nil {
					t.Fatalf("truncated to %d/%d: no error", n, len(raw))
				}
			}
		})
	}
}

func TestPropertiesFlagsOnWire(t *testing.T) {
	raw, err := AppendProperties(nil, &Properties{ContentType: "t", DeliveryMode: 2, Priority: 0})
	if err != nil {
		t.Fatal(err)
	}
	want := []byte{0x90, 0x00, 1, 't', 2}
	if !bytes.Equal(raw, want) {
		t.Fatalf("got % x want % x", raw, want)
	}
	if _, err := AppendProperties(nil, &Properties{Type: strings.Repeat("t", 256)}); !errors.Is(err, ErrPropertyTooLong) {
		t.Errorf("long type: %v", err)
	}
	if _, err := AppendProperties(nil, &Properties{Headers: Table{"x": struct{}{}}}); err == nil {
		t.Error("bad header: no error")
	}
}

func TestPropertiesContinuation(t *testing.T) {
	// Continuation words that are empty are skipped.
	raw := []byte{0x10, 0x01, 0x00, 0x01, 0x00, 0x00, 2}
	var p Properties
	if n, err := p.Decode(raw); err != nil || n != len(raw) || p.DeliveryMode != 2 || p.Flags != FlagDeliveryMode {
		t.Fatalf("n=%d err=%v %#v", n, err, p)
	}
	if s, err := ScanProperties(raw); err != nil || s.DeliveryMode != 2 {
		t.Fatalf("scan: %v %#v", err, s)
	}
	for _, bad := range [][]byte{
		{0x00, 0x01, 0x80, 0x00}, // unknown property in word 2
		{0x00, 0x02},             // unknown 15th property
		{0x00, 0x01},             // continuation word missing
		{0x00},
	} {
		if _, err := p.Decode(bad); err == nil {
			t.Errorf("% x: no error", bad)
		}
		if _, err := ScanProperties(bad); err == nil {
			t.Errorf("scan % x: no error", bad)
		}
	}
}

func TestScanProperties(t *testing.T) {
	p := fullProperties()
	raw, _ := AppendProperties(nil, p)
	s, err := ScanProperties(raw)
	if err != nil {
		t.Fatal(err)
	}
	if s.DeliveryMode != 2 || s.Priority != 9 || !s.HasPriority || s.Expiration != "60000" || s.Flags != p.flags() {
		t.Fatalf("%#v", s)
	}
	h, n, err := ReadTable(s.Headers)
	if err != nil || n != len(s.Headers) || !equal(h, p.Headers) {
		t.Fatalf("headers %v %d %v", h, n, err)
	}
	s, err = ScanProperties([]byte{0, 0})
	if err != nil || s.HasPriority || s.Headers != nil {
		t.Fatalf("empty: %#v %v", s, err)
	}
	for n := 2; n < len(raw); n++ {
		if _, err := ScanProperties(raw[:n]); err == nil {
			t.Fatalf("truncated to %d: no error", n)
		}
	}
	few, _ := AppendProperties(nil, &Properties{ContentType: "text/plain", DeliveryMode: 2, Priority: 1, Headers: Table{"a": "b"}, MessageID: "m", Timestamp: time.Unix(1, 0)})
	if a := testing.AllocsPerRun(100, func() {
		if _, err := ScanProperties(few); err != nil {
			t.Fatal(err)
		}
	}); a != 0 {
		t.Errorf("ScanProperties allocs = %v", a)
	}
}

func TestHeaderFrame(t *testing.T) {
	raw, _ := AppendProperties(nil, fullProperties())
	frame := AppendHeaderFrame(nil, 3, ClassBasic, 1<<33, raw)
	r := NewReader(bytes.NewReader(frame), 0)
	f, err := r.ReadFrame()
	if err != nil {
		t.Fatal(err)
	}
	if f.Type != FrameHeader || f.Channel != 3 {
		t.Fatalf("%d %d", f.Type, f.Channel)
	}
	class, size, props, err := ParseHeader(f.Payload)
	if err != nil || class != ClassBasic || size != 1<<33 || !bytes.Equal(props, raw) {
		t.Fatalf("%d %d % x %v", class, size, props, err)
	}
	if _, _, _, err := ParseHeader(f.Payload[:13]); err == nil {
		t.Error("short header accepted")
	}
}
