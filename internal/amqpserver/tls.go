package amqpserver

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"os"
	"time"
)

// TLS verification modes, as RabbitMQ's ssl_options.verify.
const (
	VerifyPeer = "verify_peer"
	VerifyNone = "verify_none"
)

// TLSOptions configure an AMQPS listener, as RabbitMQ's ssl_options.
type TLSOptions struct {
	CertFile, KeyFile string // PEM certificate chain and private key
	CAFile            string // PEM CA bundle for client certificates; "" accepts none
	// Verify is verify_peer (the default when CAFile is set: a client
	// certificate, if presented, must chain to CAFile) or verify_none (no
	// client certificate is asked for).
	Verify string
	// FailIfNoPeerCert refuses clients without a certificate (with
	// verify_peer).
	FailIfNoPeerCert bool
}

// cipherSuites are the TLS 1.2 suites we accept: ECDHE with AEAD only.
// TLS 1.3 suites are not configurable and all fine.
var cipherSuites = []uint16{
	tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
	tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
	tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
	tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
	tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
	tls.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
}

// TLSConfig builds the server side of AMQPS: TLS 1.2 or later, ECDHE
// AEAD suites, and client certificates verified against CAFile.
func TLSConfig(o TLSOptions) (*tls.Config, error) {
	cert, err := tls.LoadX509KeyPair(o.CertFile, o.KeyFile)
	if err != nil {
		return nil, fmt.Errorf("tls certificate: %w", err)
	}
	cfg := &tls.Config{
		Certificates: []tls.Certificate{cert},
		MinVersion:   tls.VersionTLS12,
		CipherSuites: cipherSuites,
		ClientAuth:   tls.NoClientCert,
	}
	verify := o.Verify
	if verify == "" {
		verify = VerifyNone
		if o.CAFile != "" {
			verify = VerifyPeer
		}
	}
	switch verify {
	case VerifyNone:
	case VerifyPeer:
		if o.CAFile == "" {
			return nil, errors.New("tls: verify_peer needs a CA file (--tls-ca, ssl_options.cacertfile)")
		}
		pem, err := os.ReadFile(o.CAFile)
		if err != nil {
			return nil, fmt.Errorf("tls CA: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("tls CA: no certificate in %s", o.CAFile)
		}
		cfg.ClientCAs = pool
		cfg.ClientAuth = tls.VerifyClientCertIfGiven
		if o.FailIfNoPeerCert {
			cfg.ClientAuth = tls.RequireAndVerifyClientCert
		}
	default:
		return nil, fmt.Errorf("tls: verify must be %s or %s, not %q", VerifyPeer, VerifyNone, verify)
	}
	return cfg, nil
}

// ServeTLS accepts AMQPS connections on ln until Close. The TLS handshake
// runs on each connection's goroutine, within the handshake timeout.
func (s *Server) ServeTLS(ln net.Listener, cfg *tls.Config) error {
	return s.Serve(tls.NewListener(ln, cfg))
}

// tlsHandshake completes the TLS handshake of an AMQPS connection before
// the AMQP one, so connection.start can offer EXTERNAL to a client that
// presented a verified certificate.
func (c *conn) tlsHandshake(deadline time.Time) error {
	tc, ok := c.nc.(*tls.Conn)
	if !ok {
		return nil
	}
	_ = tc.SetDeadline(deadline)
	if err := tc.HandshakeContext(c.srv.ctx); err != nil {
		return fmt.Errorf("%w: TLS: %v", errHandshake, err)
	}
	_ = tc.SetWriteDeadline(time.Time{})
	st := tc.ConnectionState()
	if len(st.VerifiedChains) > 0 && len(st.PeerCertificates) > 0 {
		c.az.peerCert = st.PeerCertificates[0]
	}
	return nil
}
