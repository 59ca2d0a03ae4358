package amqp

import (
	"bytes"
	"errors"
	"io"
	"testing"
)

// seedFrames adds a valid frame of every method, and the content frames of
// the test stream, as seeds.
func seedFrames(add func(frame []byte)) {
	for i, m := range allMethods() {
		add(AppendMethodFrame(nil, uint16(i), m))
	}
	raw, _ := AppendProperties(nil, fullProperties())
	add(AppendHeaderFrame(nil, 1, ClassBasic, 10, raw))
	add(AppendBodyFrames(nil, 1, []byte("hello body"), 0))
	add(AppendHeartbeat(nil))
}

// FuzzReader feeds the input whole and split at a point: both must give the
// same frames and the same kind of ending; never a panic.
func FuzzReader(f *testing.F) {
	seedFrames(func(fr []byte) { f.Add(fr, uint16(len(fr)/2)) })
	f.Add(testStream(f), uint16(1000))
	f.Fuzz(func(t *testing.T, data []byte, split uint16) {
		read := func(r io.Reader) ([]Frame, error) {
			rd := NewReader(r, minReadBufferSize)
			rd.SetMaxFrameSize(1 << 16)
			var fs []Frame
			for {
				fr, err := rd.ReadFrame()
				if err != nil {
					return fs, err
				}
				if len(fr.Payload) > 1<<16 {
					t.Fatalf("payload of %d bytes over the limit", len(fr.Payload))
				}
				switch fr.Type {
				case FrameMethod:
					checkMethodPayload(t, fr.Payload)
				case FrameHeader:
					if _, _, raw, err := ParseHeader(fr.Payload); err == nil {
						checkProperties(t, raw)
					}
				case FrameBody, FrameHeartbeat:
				default:
					t.Fatalf("frame type %d returned", fr.Type)
				}
				fr.Payload = bytes.Clone(fr.Payload)
				fs = append(fs, fr)
			}
		}
		whole, errWhole := read(bytes.NewReader(data))
		at := int(split) % (len(data) + 1)
		parts, errParts := read(io.MultiReader(bytes.NewReader(data[:at]), bytes.NewReader(data[at:])))
		if len(whole) != len(parts) {
			t.Fatalf("%d frames whole, %d split", len(whole), len(parts))
		}
		for i := range whole {
			if whole[i].Type != parts[i].Type || whole[i].Channel != parts[i].Channel || !bytes.Equal(whole[i].Payload, parts[i].Payload) {
				t.Fatalf("frame %d differs", i)
			}
		}
		var e1, e2 *Error
		if errors.As(errWhole, &e1) != errors.As(errParts, &e2) || (e1 != nil && e1.Text != e2.Text) ||
			(e1 == nil && errWhole != errParts) {
			t.Fatalf("errors differ: %v vs %v", errWhole, errParts)
		}
	})
}

// checkMethodPayload decodes a method payload; if it decodes, encoding it
// again must give an equal method.
func checkMethodPayload(t *testing.T, payload []byte) {
	m, err := DecodeMethod(payload)
	if err != nil {
		var ae *Error
		if !errors.As(err, &ae) || !ae.Hard() {
			t.Fatalf("error %v is not a hard *Error", err)
		}
		return
	}
	frame := AppendMethodFrame(nil, 0, m)
	m2, err := DecodeMethod(frame[FrameHeaderSize : len(frame)-1])
	if err != nil {
		t.Fatalf("re-decode of %s: %v", m.Name(), err)
	}
	if !equal(m, m2) {
		t.Fatalf("round trip of %s:\n%#v\n%#v", m.Name(), m, m2)
	}
}

// checkProperties decodes properties; if they decode, encode→decode must
// give the same, and ScanProperties must agree.
func checkProperties(t *testing.T, raw []byte) {
	var p Properties
	n, err := p.Decode(raw)
	s, serr := ScanProperties(raw)
	if (err == nil) != (serr == nil) {
		// Scan does not decode the headers table, so it may accept what
		// Decode rejects, but never the reverse.
		if err == nil {
			t.Fatalf("Decode ok but ScanProperties: %v", serr)
		}
	}
	if err != nil {
		return
	}
	if n > len(raw) {
		t.Fatalf("n = %d > %d", n, len(raw))
	}
	if s.DeliveryMode != p.DeliveryMode || s.Priority != p.Priority || s.Expiration != p.Expiration ||
		s.HasPriority != (p.Flags&FlagPriority != 0) || s.Flags != p.Flags {
		t.Fatalf("scan %#v vs decode %#v", s, p)
	}
	if s.Headers != nil {
		h, _, err := ReadTable(s.Headers)
		if err != nil || !equal(h, p.Headers) {
			t.Fatalf("scanned headers %v (%v) vs %v", h, err, p.Headers)
		}
	}
	enc, err := AppendProperties(nil, &p)
	if err != nil {
		t.Fatalf("encode: %v", err)
	}
	var p2 Properties
	if n2, err := p2.Decode(enc); err != nil || n2 != len(enc) {
		t.Fatalf("re-decode: %d/%d %v", n2, len(enc), err)
	}
	if !equal(&p, &p2) {
		t.Fatalf("round trip:\n%#v\n%#v", p, p2)
	}
}

func FuzzReadTable(f *testing.F) {
	enc, _ := AppendTable(nil, fullTable())
	f.Add(enc)
	f.Add([]byte{0, 0, 0, 0})
	for _, m := range allMethods() {
		args := m.Encode(nil)
		for i := 0; i+4 <= len(args); i++ {
			if _, n, err := ReadTable(args[i:]); err == nil && n > 4 {
				f.Add(args[i : i+n])
			}
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		tab, n, err := ReadTable(data)
		if err != nil {
			return
		}
		if n < 4 || n > len(data) {
			t.Fatalf("n = %d of %d", n, len(data))
		}
		enc, err := AppendTable(nil, tab)
		if err != nil {
			t.Fatalf("encode decoded table: %v", err)
		}
		tab2, n2, err := ReadTable(enc)
		if err != nil || n2 != len(enc) {
			t.Fatalf("re-decode: %d/%d %v", n2, len(enc), err)
		}
		if !equal(tab, tab2) {
			t.Fatalf("round trip:\n%#v\n%#v", tab, tab2)
		}
	})
}

func FuzzDecodeMethod(f *testing.F) {
	seedFrames(func(fr []byte) {
		if fr[0] == FrameMethod {
			f.Add(fr[FrameHeaderSize : len(fr)-1])
		}
	})
	f.Fuzz(func(t *testing.T, payload []byte) {
		checkMethodPayload(t, payload)
	})
}

func FuzzProperties(f *testing.F) {
	raw, _ := AppendProperties(nil, fullProperties())
	f.Add(raw)
	f.Add([]byte{0, 0})
	f.Add([]byte{0x10, 0x01, 0x00, 0x00, 2})
	raw, _ = AppendProperties(nil, &Properties{ContentType: "a", Headers: Table{"x-match": "any"}, Expiration: "10", Priority: 3})
	f.Add(raw)
	f.Fuzz(func(t *testing.T, raw []byte) {
		checkProperties(t, raw)
	})
}
