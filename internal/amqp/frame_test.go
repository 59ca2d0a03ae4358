package amqp

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"
)

// testStream is a stream with a frame of every method, content, heartbeats
// and a body bigger than the smallest read buffer.
func testStream(t testing.TB) []byte {
	var s []byte
	for i, m := range allMethods() {
		s = AppendMethodFrame(s, uint16(i), m)
	}
	raw, err := AppendProperties(nil, fullProperties())
	if err != nil {
		t.Fatal(err)
	}
	body := bytes.Repeat([]byte("0123456789"), 500)
	s = AppendMethodFrame(s, 1, &BasicPublish{Exchange: "x", RoutingKey: "k"})
	s = AppendHeaderFrame(s, 1, ClassBasic, uint64(len(body)), raw)
	s = AppendBodyFrames(s, 1, body, FrameMinSize)
	s = AppendHeartbeat(s)
	s = AppendBodyFrames(s, 65535, body[:10], 0)
	return s
}

func readAll(t testing.TB, r *Reader) ([]Frame, error) {
	var fs []Frame
	for {
		f, err := r.ReadFrame()
		if err != nil {
			return fs, err
		}
		f.Payload = bytes.Clone(f.Payload)
		fs = append(fs, f)
	}
}

func sameFrames(t *testing.T, what string, got, want []Frame) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d frames, want %d", what, len(got), len(want))
	}
	for i := range got {
		if got[i].Type != want[i].Type || got[i].Channel != want[i].Channel || !bytes.Equal(got[i].Payload, want[i].Payload) {
			t.Fatalf("%s: frame %d differs: %+v vs %+v", what, i, got[i], want[i])
		}
	}
}

func TestReaderSplitEverywhere(t *testing.T) {
	s := testStream(t)
	r := NewReader(bytes.NewReader(s), len(s)+100)
	r.SetMaxFrameSize(0)
	want, err := readAll(t, r)
	if err != io.EOF {
		t.Fatalf("err = %v", err)
	}
	if len(want) != 64+3+2+1 {
		t.Fatalf("%d frames", len(want))
	}
	for i := 0; i <= len(s); i++ {
		r := NewReader(io.MultiReader(bytes.NewReader(s[:i]), bytes.NewReader(s[i:])), minReadBufferSize)
		r.SetMaxFrameSize(FrameMinSize)
		got, err := readAll(t, r)
		if err != io.EOF {
			t.Fatalf("split %d: err = %v", i, err)
		}
		sameFrames(t, "split", got, want)
	}
	r = NewReader(iotest.OneByteReader(bytes.NewReader(s)), 0)
	got, err := readAll(t, r)
	if err != io.EOF {
		t.Fatalf("one byte: err = %v", err)
	}
	sameFrames(t, "one byte", got, want)
	r = NewReader(iotest.DataErrReader(bytes.NewReader(s)), 0)
	got, err = readAll(t, r)
	if err != io.EOF {
		t.Fatalf("data+err: err = %v", err)
	}
	sameFrames(t, "data+err", got, want)
}

func TestReaderEOF(t *testing.T) {
	s := AppendHeartbeat(nil)
	for n := 1; n < len(s); n++ {
		_, err := NewReader(bytes.NewReader(s[:n]), 0).ReadFrame()
		if err != io.ErrUnexpectedEOF {
			t.Errorf("%d bytes: %v", n, err)
		}
	}
	if _, err := NewReader(bytes.NewReader(nil), 0).ReadFrame(); err != io.EOF {
		t.Errorf("empty: %v", err)
	}
	boom := errors.New("boom")
	r := NewReader(iotest.TimeoutReader(bytes.NewReader(append(s, s...))), 0)
	if _, err := r.ReadFrame(); err != nil {
		t.Fatal(err)
	}
	if _, err := r.ReadFrame(); err != nil {
		t.Fatal(err)
	}
	if _, err := r.ReadFrame(); err != iotest.ErrTimeout {
		t.Fatalf("timeout: %v", err)
	}
	r = NewReader(io.MultiReader(bytes.NewReader(s), iotest.ErrReader(boom)), 0)
	if _, err := r.ReadFrame(); err != nil {
		t.Fatal(err)
	}
	if _, err := r.ReadFrame(); err != boom {
		t.Fatalf("err = %v", err)
	}
}

func frameErr(t *testing.T, err error, reason string) {
	t.Helper()
	var ae *Error
	if !errors.As(err, &ae) || ae.Code != ReplyFrameError || !ae.Hard() ||
		!strings.HasPrefix(ae.Text, "FRAME_ERROR - ") || !strings.Contains(ae.Text, reason) {
		t.Fatalf("err = %v, want FRAME_ERROR %s", err, reason)
	}
}

// headerOnly serves one frame header and fails the test if more is read.
type headerOnly struct {
	t    *testing.T
	h    []byte
	done bool
}

func (h *headerOnly) Read(p []byte) (int, error) {
	if h.done {
		h.t.Fatal("reader read past the header of an oversized frame")
	}
	h.done = true
	return copy(p, h.h), nil
}

func TestReaderRejectsOversizedBeforeAllocating(t *testing.T) {
	hdr := []byte{FrameBody, 0, 1, 0x7F, 0xFF, 0xFF, 0xFF}
	for _, max := range []uint32{0, FrameMinSize, 131072} {
		r := NewReader(&headerOnly{t: t, h: hdr}, 1024)
		r.SetMaxFrameSize(max)
		_, err := r.ReadFrame()
		frameErr(t, err, "frame_too_large")
		if len(r.buf) != 1024 {
			t.Fatalf("buffer grew to %d", len(r.buf))
		}
	}
	// Default limit before tune: FrameMinSize (plus RabbitMQ's fudge).
	ok := AppendBodyFrames(nil, 1, make([]byte, FrameMinSize), 0)
	_, err := NewReader(bytes.NewReader(ok), 0).ReadFrame()
	if err != nil {
		t.Fatalf("frame of payload frame_max: %v", err)
	}
	big := AppendBodyFrames(nil, 1, make([]byte, FrameMinSize+1), 0)
	_, err = NewReader(bytes.NewReader(big), 0).ReadFrame()
	frameErr(t, err, "{frame_too_large,4097,4088}")

	// The check costs no buffer allocation: only the error itself.
	allocs := testing.AllocsPerRun(20, func() {
		r := &Reader{r: bytes.NewReader(hdr), buf: make([]byte, 16), max: FrameMinSize}
		r.base = r.buf
		r.ReadFrame()
	})
	if allocs > 6 {
		t.Errorf("allocs = %v", allocs)
	}
}

func TestReaderFrameErrors(t *testing.T) {
	hb := AppendHeartbeat(nil)
	bad := bytes.Clone(hb)
	bad[7] = 0
	_, err := NewReader(bytes.NewReader(bad), 0).ReadFrame()
	frameErr(t, err, "{invalid_frame_end_marker,0}")

	unknown := bytes.Clone(hb)
	unknown[0] = 9
	_, err = NewReader(bytes.NewReader(unknown), 0).ReadFrame()
	frameErr(t, err, "unknown_frame")

	// The protocol header sent mid-stream is an unknown frame type ('A').
	_, err = NewReader(bytes.NewReader(ProtocolHeader), 0).ReadFrame()
	frameErr(t, err, "type 65")
}

func TestReaderProtocolHeader(t *testing.T) {
	s := append(bytes.Clone(ProtocolHeader), AppendHeartbeat(nil)...)
	r := NewReader(iotest.HalfReader(bytes.NewReader(s)), 0)
	h, err := r.ReadProtocolHeader()
	if err != nil || !bytes.Equal(h[:], ProtocolHeader) {
		t.Fatalf("%q %v", h, err)
	}
	if f, err := r.ReadFrame(); err != nil || f.Type != FrameHeartbeat {
		t.Fatalf("%+v %v", f, err)
	}
	if _, err := NewReader(strings.NewReader("AMQ"), 0).ReadProtocolHeader(); err != io.ErrUnexpectedEOF {
		t.Fatalf("short: %v", err)
	}
}

func TestReaderGrowsAndShrinks(t *testing.T) {
	var s []byte
	s = AppendBodyFrames(s, 1, bytes.Repeat([]byte{'b'}, 100000), 0)
	for i := 0; i < 2*shrinkAfter; i++ {
		s = AppendHeartbeat(s)
	}
	r := NewReader(bytes.NewReader(s), 4096)
	r.SetMaxFrameSize(0)
	f, err := r.ReadFrame()
	if err != nil || len(f.Payload) != 100000 {
		t.Fatalf("%d %v", len(f.Payload), err)
	}
	if len(r.buf) < 100008 {
		t.Fatalf("buffer %d did not grow", len(r.buf))
	}
	if r.Buffered() == 0 {
		t.Fatal("Buffered = 0 with heartbeats pending")
	}
	for i := 0; i < 2*shrinkAfter; i++ {
		if f, err := r.ReadFrame(); err != nil || f.Type != FrameHeartbeat {
			t.Fatalf("%d: %+v %v", i, f, err)
		}
	}
	if len(r.buf) != 4096 {
		t.Fatalf("buffer %d did not shrink back", len(r.buf))
	}
	if r.Buffered() != 0 {
		t.Fatalf("Buffered = %d at end", r.Buffered())
	}
}

func TestReaderNoAllocs(t *testing.T) {
	one := AppendMethodFrame(nil, 1, &BasicAck{DeliveryTag: 1})
	s := bytes.Repeat(one, 1000)
	br := bytes.NewReader(s)
	r := NewReader(br, 4096)
	allocs := testing.AllocsPerRun(10, func() {
		br.Reset(s)
		for {
			if _, err := r.ReadFrame(); err != nil {
				break
			}
		}
	})
	if allocs != 0 {
		t.Fatalf("allocs per 1000 frames = %v", allocs)
	}
}

func TestBodyFrames(t *testing.T) {
	body := bytes.Repeat([]byte("x"), 10000)
	for _, fm := range []uint32{0, 1, FrameMinSize, 5000, 10008, 10009, 1 << 20} {
		s := AppendBodyFrames(nil, 9, body, fm)
		r := NewReader(bytes.NewReader(s), 0)
		r.SetMaxFrameSize(0)
		fs, err := readAll(t, r)
		if err != io.EOF {
			t.Fatal(err)
		}
		var got []byte
		for _, f := range fs {
			limit := int(max(fm, FrameMinSize)) - 8
			if f.Type != FrameBody || f.Channel != 9 || (fm != 0 && len(f.Payload) > limit) {
				t.Fatalf("frameMax %d: bad frame %d/%d/%d", fm, f.Type, f.Channel, len(f.Payload))
			}
			got = append(got, f.Payload...)
		}
		if !bytes.Equal(got, body) {
			t.Fatalf("frameMax %d: body differs", fm)
		}
	}
	if n := len(AppendBodyFrames(nil, 1, nil, 4096)); n != 0 {
		t.Fatalf("empty body: %d bytes", n)
	}
	if got := AppendHeartbeat(nil); !bytes.Equal(got, []byte{8, 0, 0, 0, 0, 0, 0, 0xCE}) {
		t.Fatalf("% x", got)
	}
}

func TestAppendMethodFrameNoAllocs(t *testing.T) {
	m := Method(&BasicDeliver{ConsumerTag: "ctag", DeliveryTag: 42, Exchange: "x", RoutingKey: "rk"})
	buf := make([]byte, 0, 256)
	if a := testing.AllocsPerRun(100, func() { buf = AppendMethodFrame(buf[:0], 1, m) }); a != 0 {
		t.Fatalf("allocs = %v", a)
	}
}

func TestReaderAdaptsBufferSize(t *testing.T) {
	// Many small frames arriving faster than they are read: the buffer
	// grows towards the configured size, so each syscall takes in more.
	var stream []byte
	for i := 0; i < 100000; i++ {
		stream = AppendHeartbeat(stream)
	}
	r := NewReader(bytes.NewReader(stream), 64<<10)
	if len(r.base) != initialReadBufferSize {
		t.Fatalf("initial buffer %d, want %d", len(r.base), initialReadBufferSize)
	}
	for i := 0; i < 100000; i++ {
		if _, err := r.ReadFrame(); err != nil {
			t.Fatal(err)
		}
	}
	if len(r.base) != 64<<10 {
		t.Fatalf("buffer after a burst = %d, want 64 KiB", len(r.base))
	}
	// A quiet peer: one small frame per read. The buffer shrinks back.
	pr, pw := io.Pipe()
	r.r = pr
	go func() {
		for i := 0; i < 2000; i++ {
			pw.Write(AppendHeartbeat(nil))
		}
		pw.Close()
	}()
	for i := 0; i < 2000; i++ {
		if _, err := r.ReadFrame(); err != nil {
			t.Fatal(err)
		}
	}
	if len(r.base) != initialReadBufferSize {
		t.Fatalf("buffer after a quiet period = %d, want %d", len(r.base), initialReadBufferSize)
	}
}

func TestFrameBuffered(t *testing.T) {
	stream := AppendHeartbeat(AppendHeartbeat(nil))
	pr, pw := io.Pipe()
	r := NewReader(pr, 0)
	go func() { pw.Write(stream[:12]); pw.Close() }() // one whole frame and part of the next
	if r.FrameBuffered() {
		t.Fatal("nothing read yet")
	}
	if _, err := r.ReadFrame(); err != nil {
		t.Fatal(err)
	}
	if r.FrameBuffered() {
		t.Fatal("a partial frame counted as whole")
	}
	if r.Buffered() != 4 {
		t.Fatalf("Buffered = %d, want 4", r.Buffered())
	}
}
