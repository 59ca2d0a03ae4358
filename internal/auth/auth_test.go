package auth

import (
	"crypto/x509"
	"crypto/x509/pkix"
	"net"
	"testing"
)

// RabbitMQ's documented examples (passwords guide and the classic MD5 one).
func TestVerifyPasswordRabbitMQVectors(t *testing.T) {
	for _, tc := range []struct{ alg, hash, pass string }{
		{SHA256, "kI3GCqW5JLMJa4iX1lo7X4D6XbYqlLgxIs30+P6tENUV2POR", "test12"},
		{"", "kI3GCqW5JLMJa4iX1lo7X4D6XbYqlLgxIs30+P6tENUV2POR", "test12"},
		{MD5, "ytUIm8s3AnKsXQjptplKFytfVxI=", "simon"},
	} {
		if !VerifyPassword(tc.alg, tc.hash, tc.pass) {
			t.Errorf("%s %s: %q refused", tc.alg, tc.hash, tc.pass)
		}
		if VerifyPassword(tc.alg, tc.hash, tc.pass+"x") {
			t.Errorf("%s %s: a wrong password accepted", tc.alg, tc.hash)
		}
	}
	if VerifyPassword(SHA512, "kI3GCqW5JLMJa4iX1lo7X4D6XbYqlLgxIs30+P6tENUV2POR", "test12") {
		t.Error("a SHA-256 hash accepted as SHA-512")
	}
	for _, bad := range []string{"", "!!", "AAAA", "AAAAAAA="} {
		if VerifyPassword(SHA256, bad, "") {
			t.Errorf("hash %q accepted", bad)
		}
	}
	if VerifyPassword("rabbit_password_hashing_rot13", "kI3GCqW5JLMJa4iX1lo7X4D6XbYqlLgxIs30+P6tENUV2POR", "test12") {
		t.Error("unknown algorithm accepted")
	}
}

func TestHashPasswordRoundTrip(t *testing.T) {
	for _, alg := range []string{SHA256, SHA512, MD5} {
		h, err := HashPasswordWith(alg, "s3cret")
		if err != nil {
			t.Fatal(err)
		}
		if !VerifyPassword(alg, h, "s3cret") || VerifyPassword(alg, h, "s3cre") {
			t.Errorf("%s: round trip failed", alg)
		}
	}
	if HashPassword("a") == HashPassword("a") {
		t.Error("two hashes of one password share a salt")
	}
	if _, err := HashPasswordWith("nope", "a"); err == nil {
		t.Error("unknown algorithm accepted")
	}
}

func TestParseResponse(t *testing.T) {
	amqplain := func(fields string) []byte { return []byte(fields) }
	for _, tc := range []struct {
		mech       string
		resp       []byte
		user, pass string
		ok         bool
	}{
		{"PLAIN", []byte("\x00guest\x00guest"), "guest", "guest", true},
		{"PLAIN", []byte("authz\x00guest\x00pw"), "guest", "pw", true},
		{"PLAIN", []byte("\x00guest\x00"), "guest", "", true},
		{"PLAIN", []byte("\x00guest"), "", "", false},
		{"PLAIN", []byte("\x00a\x00b\x00c"), "", "", false},
		{"PLAIN", nil, "", "", false},
		{"AMQPLAIN", amqplain("\x05LOGINS\x00\x00\x00\x05guest\x08PASSWORDS\x00\x00\x00\x02pw"), "guest", "pw", true},
		{"AMQPLAIN", amqplain("\x05LOGINS\x00\x00\x00\x05guest"), "", "", false},
		{"AMQPLAIN", amqplain("\x05LOGINS\x00\x00\x00\x09guest"), "", "", false},
		{"AMQPLAIN", amqplain("\x05LOGINI\x00\x00\x00\x05\x08PASSWORDS\x00\x00\x00\x02pw"), "", "", false},
		{"CRAM-MD5", []byte("x"), "", "", false},
	} {
		u, p, err := ParseResponse(tc.mech, tc.resp)
		if (err == nil) != tc.ok || u != tc.user || p != tc.pass {
			t.Errorf("%s %q: %q %q %v, want %q %q ok=%v", tc.mech, tc.resp, u, p, err, tc.user, tc.pass, tc.ok)
		}
	}
}

func TestLoopback(t *testing.T) {
	remote := &net.TCPAddr{IP: net.IPv4(10, 0, 0, 1), Port: 1}
	local := &net.TCPAddr{IP: net.IPv6loopback, Port: 1}
	if LoopbackAllowed("guest", []string{"guest"}, remote) {
		t.Error("guest allowed from 10.0.0.1")
	}
	if !LoopbackAllowed("guest", []string{"guest"}, local) || !LoopbackAllowed("bob", []string{"guest"}, remote) ||
		!LoopbackAllowed("guest", nil, remote) {
		t.Error("loopback check too strict")
	}
}

func TestCertLoginName(t *testing.T) {
	c := &x509.Certificate{Subject: pkix.Name{CommonName: "client", Organization: []string{"Org"}}}
	if n, err := CertLoginName(c, CertCommonName); err != nil || n != "client" {
		t.Errorf("common name: %q %v", n, err)
	}
	if n, err := CertLoginName(c, CertDistinguishedName); err != nil || n != "CN=client,O=Org" {
		t.Errorf("distinguished name: %q %v", n, err)
	}
	if _, err := CertLoginName(nil, CertCommonName); err == nil {
		t.Error("no certificate accepted")
	}
	if _, err := CertLoginName(&x509.Certificate{}, ""); err == nil {
		t.Error("a certificate without CN accepted")
	}
}
