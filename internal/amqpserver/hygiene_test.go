package amqpserver_test

import (
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"runtime"
	"sync"
	"testing"
	"time"

	wire "github.com/warrenmq/warren/internal/amqp"
	"github.com/warrenmq/warren/internal/amqpserver"
	"github.com/warrenmq/warren/internal/warrentest"
)

// Thousands of clients drop at every point of the handshake (TCP and TLS);
// afterwards the server holds no connection, and goroutines and heap are
// back where they were. Not parallel: it counts the process's goroutines.

// hzStage is how far a client gets before it hangs up.
type hzStage int

const (
	hzConnect       hzStage = iota // connect, hang up
	hzPartialHeader                // "AMQ"
	hzHeader                       // the protocol header
	hzPartialStart                 // half a start-ok frame
	hzStartOk                      // start-ok, no tune-ok
	hzBadLogin                     // a wrong password (the server closes)
	hzTuneOk                       // tune-ok, no open
	hzOpen                         // connection open, no close handshake
	hzChannel                      // a channel open too
	hzGarbage                      // not AMQP at all
	hzSilent                       // says nothing: the handshake timeout drops it
	hzTLSPartial                   // TLS port, half a ClientHello
	hzTLSSilent                    // TLS port, nothing: dropped at the timeout
	hzTLSHandshake                 // TLS handshake done, then nothing more
	hzTLSOpen                      // AMQP open over TLS, then hang up
	hzStages
)

func hzSend(nc net.Conn, ch uint16, m wire.Method) error {
	_, err := nc.Write(wire.AppendMethodFrame(nil, ch, m))
	return err
}

// hzExpect reads frames until a method of type M.
func hzExpect[M wire.Method](r *wire.Reader) error {
	for {
		f, err := r.ReadFrame()
		if err != nil {
			return err
		}
		if f.Type != wire.FrameMethod {
			continue
		}
		m, err := wire.DecodeMethod(f.Payload)
		if err != nil {
			return err
		}
		if _, ok := m.(M); ok {
			return nil
		}
		return fmt.Errorf("got %s", m.Name())
	}
}

// hzClient plays one client to its stage and hangs up.
func hzClient(p *warrentest.InProc, tlsCfg *tls.Config, stage hzStage) error {
	addr := p.Addr
	if stage >= hzTLSPartial {
		addr = p.TLSAddr
	}
	nc, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return err
	}
	defer nc.Close()
	_ = nc.SetDeadline(time.Now().Add(20 * time.Second))
	switch stage {
	case hzConnect:
		return nil
	case hzPartialHeader:
		_, err := nc.Write([]byte("AMQ"))
		return err
	case hzGarbage:
		_, err := nc.Write([]byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"))
		return err
	case hzSilent, hzTLSSilent:
		_, err := io.Copy(io.Discard, nc) // until the server hangs up
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			return fmt.Errorf("not dropped at the handshake timeout: %w", err)
		}
		return nil
	case hzTLSPartial:
		// The first bytes of a TLS record carrying a ClientHello.
		_, err := nc.Write([]byte{0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03})
		return err
	}
	if stage >= hzTLSHandshake {
		tc := tls.Client(nc, tlsCfg)
		if err := tc.Handshake(); err != nil {
			return err
		}
		if stage == hzTLSHandshake {
			return nil
		}
		nc = tc
	}
	if _, err := nc.Write(wire.ProtocolHeader); err != nil {
		return err
	}
	if stage == hzHeader {
		return nil
	}
	r := wire.NewReader(nc, 0)
	if err := hzExpect[*wire.ConnectionStart](r); err != nil {
		return err
	}
	pass := "guest"
	if stage == hzBadLogin {
		pass = "wrong"
	}
	startOk := wire.AppendMethodFrame(nil, 0, &wire.ConnectionStartOk{
		ClientProperties: wire.Table{"capabilities": wire.Table{"authentication_failure_close": true}},
		Mechanism:        "PLAIN", Response: "\x00guest\x00" + pass, Locale: "en_US"})
	if stage == hzPartialStart {
		_, err := nc.Write(startOk[:len(startOk)/2])
		return err
	}
	if _, err := nc.Write(startOk); err != nil {
		return err
	}
	if stage == hzBadLogin {
		return hzExpect[*wire.ConnectionClose](r)
	}
	if err := hzExpect[*wire.ConnectionTune](r); err != nil {
		return err
	}
	if stage == hzStartOk {
		return nil
	}
	if err := hzSend(nc, 0, &wire.ConnectionTuneOk{ChannelMax: 16, FrameMax: 131072}); err != nil {
		return err
	}
	if stage == hzTuneOk {
		return nil
	}
	if err := hzSend(nc, 0, &wire.ConnectionOpen{VirtualHost: "/"}); err != nil {
		return err
	}
	if err := hzExpect[*wire.ConnectionOpenOk](r); err != nil {
		return err
	}
	if stage == hzOpen || stage == hzTLSOpen {
		return nil
	}
	if err := hzSend(nc, 1, &wire.ChannelOpen{}); err != nil {
		return err
	}
	return hzExpect[*wire.ChannelOpenOk](r)
}

func hzHeap() uint64 {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

func TestHandshakeDropsLeaveNothingBehind(t *testing.T) {
	n := 2400
	if testing.Short() {
		n = 600
	}
	f := newTLSFixture(t)
	tlsCfg, err := amqpserver.TLSConfig(amqpserver.TLSOptions{CertFile: f.certFile, KeyFile: f.keyFile})
	if err != nil {
		t.Fatal(err)
	}
	p := warrentest.StartInProc(t, warrentest.InProcConfig{TLS: tlsCfg, HandshakeTimeout: 5 * time.Second})
	clientTLS := f.client()

	// Warm up (buffers, pools, the TLS session machinery), then measure.
	for s := hzStage(0); s < hzStages; s++ {
		_ = hzClient(p, clientTLS, s)
	}
	idle := func() bool { return p.Server.ConnectionCount() == 0 }
	warrentest.Eventually(t, 10*time.Second, idle)
	baseG, baseHeap := runtime.NumGoroutine(), hzHeap()

	var mu sync.Mutex
	counts := make([]int, hzStages)
	fails := map[hzStage]error{}
	work := make(chan hzStage)
	var wg sync.WaitGroup
	for w := 0; w < 32; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for s := range work {
				err := hzClient(p, clientTLS, s)
				mu.Lock()
				counts[s]++
				if err != nil && err != io.EOF && fails[s] == nil {
					fails[s] = err
				}
				mu.Unlock()
			}
		}()
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < n; i++ {
		s := hzStage(rng.IntN(int(hzStages)))
		if (s == hzSilent || s == hzTLSSilent) && rng.IntN(16) != 0 {
			s = hzOpen // keep the slow ones to a few percent
		}
		work <- s
	}
	close(work)
	wg.Wait()
	for s, err := range fails {
		switch s {
		case hzConnect, hzPartialHeader, hzGarbage, hzTLSPartial:
			// The server may hang up first; an error here is fine.
		default:
			t.Errorf("stage %d: %v", s, err)
		}
	}
	t.Logf("clients per stage: %v", counts)

	warrentest.Eventually(t, 30*time.Second, idle)
	var g int
	var heap uint64
	ok := false
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		g, heap = runtime.NumGoroutine(), hzHeap()
		if g <= baseG+2 && heap <= baseHeap+8<<20 {
			ok = true
			break
		}
	}
	t.Logf("goroutines %d -> %d, heap %d KiB -> %d KiB", baseG, g, baseHeap>>10, heap>>10)
	if !ok {
		buf := make([]byte, 1<<20)
		t.Fatalf("not back to baseline after %d clients: goroutines %d (was %d), heap %d KiB (was %d KiB)\n%s",
			n, g, baseG, heap>>10, baseHeap>>10, buf[:runtime.Stack(buf, true)])
	}
}
