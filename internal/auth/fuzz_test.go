package auth

import (
	"bytes"
	"testing"

	"github.com/warrenmq/warren/internal/amqp"
)

// Fuzz the SASL response parsers: any input gives a result or an error,
// never a panic, and what parses re-encodes to the same credentials.

func FuzzSASLPlain(f *testing.F) {
	for _, s := range []string{"\x00guest\x00guest", "authz\x00u\x00p", "\x00\x00", "", "\x00", "a\x00b", "\x00u\x00p\x00"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, resp []byte) {
		u, p, err := ParseResponse("PLAIN", resp)
		if err != nil {
			return
		}
		if bytes.Count(resp, []byte{0}) != 2 {
			t.Fatalf("%q parsed with %d NULs", resp, bytes.Count(resp, []byte{0}))
		}
		if !bytes.HasSuffix(resp, []byte("\x00"+u+"\x00"+p)) {
			t.Fatalf("%q parsed as %q %q", resp, u, p)
		}
	})
}

func FuzzSASLAMQPlain(f *testing.F) {
	seed := func(t amqp.Table) []byte {
		b, err := amqp.AppendTable(nil, t)
		if err != nil {
			f.Fatal(err)
		}
		return b[4:]
	}
	f.Add(seed(amqp.Table{"LOGIN": "guest", "PASSWORD": "guest"}))
	f.Add(seed(amqp.Table{"LOGIN": "guest"}))
	f.Add(seed(amqp.Table{"LOGIN": int32(1), "PASSWORD": "x"}))
	f.Add(seed(amqp.Table{"LOGIN": "u", "PASSWORD": "p", "x": amqp.Table{"y": []any{int64(1), "z"}}}))
	f.Add([]byte{})
	f.Add([]byte{0xff, 0xff})
	f.Fuzz(func(t *testing.T, resp []byte) {
		u, p, err := ParseResponse("AMQPLAIN", resp)
		if err != nil {
			return
		}
		again := seed(amqp.Table{"LOGIN": u, "PASSWORD": p})
		u2, p2, err := ParseResponse("AMQPLAIN", again)
		if err != nil || u2 != u || p2 != p {
			t.Fatalf("re-encoded %q %q: %q %q %v", u, p, u2, p2, err)
		}
	})
}
