package amqp

import (
	"bytes"
	"testing"
	"time"
)

var (
	benchPublish = &BasicPublish{Exchange: "amq.direct", RoutingKey: "orders.created.eu-west-1", Mandatory: true}
	benchDeliver = &BasicDeliver{ConsumerTag: "amq.ctag-Xyz1234567890abcdefghij", DeliveryTag: 123456789, Exchange: "amq.direct", RoutingKey: "orders.created.eu-west-1"}
	benchProps   = &Properties{
		ContentType:  "application/json",
		DeliveryMode: 2,
		Headers:      Table{"x-trace": "abc", "x-retries": int32(3)},
		MessageID:    "9f1c2c3e-5d7a-4b8e-9a1f-0c2d3e4f5a6b",
		Timestamp:    time.Unix(1700000000, 0),
	}
	benchTable = Table{
		"x-message-ttl": int32(60000), "x-max-length": int64(100000), "x-queue-type": "quorum",
		"x-dead-letter-exchange": "dlx", "x-dead-letter-routing-key": "dead", "x-overflow": "reject-publish",
		"x-single-active-consumer": true, "x-max-priority": uint8(10), "x-expires": int32(3600000),
		"nested": Table{"a": []any{"b", int32(1)}},
	}
)

func benchEncode(b *testing.B, m Method) {
	buf := make([]byte, 0, 512)
	buf = AppendMethodFrame(buf, 1, m)
	b.SetBytes(int64(len(buf)))
	b.ReportAllocs()
	for b.Loop() {
		buf = AppendMethodFrame(buf[:0], 1, m)
	}
}

func benchDecode(b *testing.B, m Method) {
	frame := AppendMethodFrame(nil, 1, m)
	args := frame[FrameHeaderSize+4 : len(frame)-1]
	into := NewMethod(m.ClassID(), m.MethodID())
	b.SetBytes(int64(len(args)))
	b.ReportAllocs()
	for b.Loop() {
		if err := into.Decode(args); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkEncodeBasicPublish(b *testing.B) { benchEncode(b, benchPublish) }
func BenchmarkEncodeBasicDeliver(b *testing.B) { benchEncode(b, benchDeliver) }
func BenchmarkDecodeBasicPublish(b *testing.B) { benchDecode(b, benchPublish) }
func BenchmarkDecodeBasicDeliver(b *testing.B) { benchDecode(b, benchDeliver) }

func BenchmarkDecodeMethodBasicPublish(b *testing.B) {
	frame := AppendMethodFrame(nil, 1, benchPublish)
	payload := frame[FrameHeaderSize : len(frame)-1]
	b.SetBytes(int64(len(payload)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := DecodeMethod(payload); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkAppendProperties(b *testing.B) {
	buf, _ := AppendProperties(nil, benchProps)
	b.SetBytes(int64(len(buf)))
	b.ReportAllocs()
	for b.Loop() {
		buf, _ = AppendProperties(buf[:0], benchProps)
	}
}

func BenchmarkDecodeProperties(b *testing.B) {
	raw, _ := AppendProperties(nil, benchProps)
	b.SetBytes(int64(len(raw)))
	b.ReportAllocs()
	var p Properties
	for b.Loop() {
		if _, err := p.Decode(raw); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkScanProperties(b *testing.B) {
	raw, _ := AppendProperties(nil, benchProps)
	b.SetBytes(int64(len(raw)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ScanProperties(raw); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkAppendHeaderFrame(b *testing.B) {
	raw, _ := AppendProperties(nil, benchProps)
	buf := AppendHeaderFrame(nil, 1, ClassBasic, 1024, raw)
	b.SetBytes(int64(len(buf)))
	b.ReportAllocs()
	for b.Loop() {
		buf = AppendHeaderFrame(buf[:0], 1, ClassBasic, 1024, raw)
	}
}

func BenchmarkAppendTable10(b *testing.B) {
	buf, _ := AppendTable(nil, benchTable)
	b.SetBytes(int64(len(buf)))
	b.ReportAllocs()
	for b.Loop() {
		buf, _ = AppendTable(buf[:0], benchTable)
	}
}

func BenchmarkReadTable10(b *testing.B) {
	enc, _ := AppendTable(nil, benchTable)
	b.SetBytes(int64(len(enc)))
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := ReadTable(enc); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkReadFrame reads a stream of publishes (method, header, 1 KiB
// body) as a server would.
func BenchmarkReadFrame(b *testing.B) {
	raw, _ := AppendProperties(nil, benchProps)
	body := bytes.Repeat([]byte("x"), 1024)
	var one []byte
	one = AppendMethodFrame(one, 1, benchPublish)
	one = AppendHeaderFrame(one, 1, ClassBasic, uint64(len(body)), raw)
	one = AppendBodyFrames(one, 1, body, 131072)
	r := NewReader(&loopReader{data: bytes.Repeat(one, 256)}, 0)
	r.SetMaxFrameSize(131072)
	b.SetBytes(int64(len(one)))
	b.ReportAllocs()
	for b.Loop() {
		for range 3 {
			if _, err := r.ReadFrame(); err != nil {
				b.Fatal(err)
			}
		}
	}
}

// loopReader repeats data forever.
type loopReader struct {
	data []byte
	off  int
}

func (l *loopReader) Read(p []byte) (int, error) {
	n := copy(p, l.data[l.off:])
	l.off = (l.off + n) % len(l.data)
	return n, nil
}

func BenchmarkAppendBodyFrames(b *testing.B) {
	body := bytes.Repeat([]byte("x"), 300000)
	buf := AppendBodyFrames(nil, 1, body, 131072)
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		buf = AppendBodyFrames(buf[:0], 1, body, 131072)
	}
}
