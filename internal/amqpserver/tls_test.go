package amqpserver_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/warrenmq/warren/internal/amqpserver"
	"github.com/warrenmq/warren/internal/broker"
	"github.com/warrenmq/warren/internal/warrentest"
)

// testCA is a certificate authority made up for a test.
type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	pem  []byte
}

var serial atomic.Int64

func nextSerial() *big.Int { return big.NewInt(serial.Add(1)) }

func newTestCA(t testing.TB, name string) *testCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: nextSerial(), Subject: pkix.Name{CommonName: name, Organization: []string{"Warren tests"}},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	return &testCA{cert: cert, key: key, pem: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})}
}

// issue makes a leaf certificate; server ones are for 127.0.0.1.
func (ca *testCA) issue(t testing.TB, cn string, server bool) tls.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: nextSerial(), Subject: pkix.Name{CommonName: cn, Organization: []string{"Warren tests"}},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature,
	}
	if server {
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
		tmpl.IPAddresses = []net.IP{net.IPv4(127, 0, 0, 1)}
	} else {
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	leaf, _ := x509.ParseCertificate(der)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}
}

// writePEM writes a certificate and its key to files for TLSConfig.
func writePEM(t testing.TB, dir, name string, c tls.Certificate) (certFile, keyFile string) {
	t.Helper()
	certFile, keyFile = filepath.Join(dir, name+".pem"), filepath.Join(dir, name+".key")
	kder, err := x509.MarshalECPrivateKey(c.PrivateKey.(*ecdsa.PrivateKey))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Certificate[0]}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), 0o600); err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile
}

type tlsFixture struct {
	ca, rogue *testCA
	dir       string
	certFile  string
	keyFile   string
	caFile    string
}

func newTLSFixture(t testing.TB) *tlsFixture {
	t.Helper()
	f := &tlsFixture{ca: newTestCA(t, "Warren test CA"), rogue: newTestCA(t, "Rogue CA"), dir: t.TempDir()}
	f.certFile, f.keyFile = writePEM(t, f.dir, "server", f.ca.issue(t, "localhost", true))
	f.caFile = filepath.Join(f.dir, "ca.pem")
	if err := os.WriteFile(f.caFile, f.ca.pem, 0o600); err != nil {
		t.Fatal(err)
	}
	return f
}

func (f *tlsFixture) server(t testing.TB, verify string, failIfNoCert bool) *warrentest.InProc {
	t.Helper()
	cfg, err := amqpserver.TLSConfig(amqpserver.TLSOptions{CertFile: f.certFile, KeyFile: f.keyFile, CAFile: f.caFile,
		Verify: verify, FailIfNoPeerCert: failIfNoCert})
	if err != nil {
		t.Fatal(err)
	}
	return warrentest.StartInProc(t, warrentest.InProcConfig{TLS: cfg})
}

// client is the TLS configuration of a client trusting our CA, with an
// optional certificate.
func (f *tlsFixture) client(certs ...tls.Certificate) *tls.Config {
	pool := x509.NewCertPool()
	pool.AddCert(f.ca.cert)
	return &tls.Config{RootCAs: pool, Certificates: certs, ServerName: "127.0.0.1"}
}

func tlsDial(p *warrentest.InProc, user, pass, vhost string, cfg *tls.Config, sasl ...amqp.Authentication) (*amqp.Connection, error) {
	u := "amqps://" + user + ":" + pass + "@" + p.TLSAddr + "/" + vhost
	return amqp.DialConfig(u, amqp.Config{TLSClientConfig: cfg, SASL: sasl, Dial: amqp.DefaultDial(5 * time.Second)})
}

func TestTLS(t *testing.T) {
	t.Parallel()
	f := newTLSFixture(t)
	p := f.server(t, amqpserver.VerifyPeer, false)
	b := p.Broker
	azApply(t, b, &broker.Command{Op: broker.OpAddVhost, Vhost: "tls"})
	azUser(t, b, "certuser", "pw")
	azPerms(t, b, "certuser", "tls", ".*", ".*", ".*")
	azApply(t, b, &broker.Command{Op: broker.OpChangePassword, User: "certuser"}) // no password: certificate only

	t.Run("PLAIN without a client certificate", func(t *testing.T) {
		conn, err := tlsDial(p, "guest", "guest", "", f.client())
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		if !conn.ConnectionState().HandshakeComplete || conn.ConnectionState().Version < tls.VersionTLS12 {
			t.Fatalf("TLS state %+v", conn.ConnectionState())
		}
	})
	t.Run("EXTERNAL is not offered without a certificate", func(t *testing.T) {
		_, err := tlsDial(p, "", "", "tls", f.client(), &amqp.ExternalAuth{})
		if !errors.Is(err, amqp.ErrSASL) {
			t.Fatalf("err = %v, want amqp.ErrSASL (mechanism not offered)", err)
		}
	})
	t.Run("EXTERNAL with a client certificate", func(t *testing.T) {
		conn, err := tlsDial(p, "", "", "tls", f.client(f.ca.issue(t, "certuser", false)), &amqp.ExternalAuth{})
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		// The connection is certuser's: it may declare in vhost tls.
		if e := azTry(t, conn, func(ch *amqp.Channel) error {
			_, err := ch.QueueDeclare("tq", false, true, false, false, nil)
			return err
		}); e != nil {
			t.Fatal(e)
		}
		infos := p.Server.Connections()
		found := false
		for _, ci := range infos {
			found = found || (ci.User == "certuser" && ci.AuthMechanism == "EXTERNAL")
		}
		if !found {
			t.Fatalf("connections %+v lack certuser over EXTERNAL", infos)
		}
	})
	t.Run("PLAIN still works with a client certificate", func(t *testing.T) {
		conn, err := tlsDial(p, "guest", "guest", "", f.client(f.ca.issue(t, "certuser", false)))
		if err != nil {
			t.Fatal(err)
		}
		conn.Close()
	})
	t.Run("EXTERNAL for a certificate naming no user", func(t *testing.T) {
		_, err := tlsDial(p, "", "", "tls", f.client(f.ca.issue(t, "stranger", false)), &amqp.ExternalAuth{})
		var ae *amqp.Error
		if !errors.As(err, &ae) || ae.Code != amqp.AccessRefused {
			t.Fatalf("err = %v, want 403", err)
		}
	})
	t.Run("a certificate from another CA is refused", func(t *testing.T) {
		_, err := tlsDial(p, "", "", "tls", f.client(f.rogue.issue(t, "certuser", false)), &amqp.ExternalAuth{})
		if err == nil {
			t.Fatal("accepted")
		}
	})
	t.Run("TLS 1.1 is refused", func(t *testing.T) {
		cfg := f.client()
		cfg.MinVersion, cfg.MaxVersion = tls.VersionTLS10, tls.VersionTLS11
		if conn, err := tlsDial(p, "guest", "guest", "", cfg); err == nil {
			conn.Close()
			t.Fatal("TLS 1.1 accepted")
		}
	})
	t.Run("a plain client on the TLS port is dropped", func(t *testing.T) {
		nc, err := net.DialTimeout("tcp", p.TLSAddr, 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		defer nc.Close()
		_, _ = nc.Write([]byte("AMQP\x00\x00\x09\x01"))
		_ = nc.SetReadDeadline(time.Now().Add(5 * time.Second))
		buf := make([]byte, 64)
		n, _ := nc.Read(buf)
		if strings.HasPrefix(string(buf[:n]), "AMQP") || n > 0 && buf[0] == 1 {
			t.Fatalf("got %q, want no AMQP", buf[:n])
		}
	})
}

func TestTLSFailIfNoPeerCert(t *testing.T) {
	t.Parallel()
	f := newTLSFixture(t)
	p := f.server(t, amqpserver.VerifyPeer, true)
	if conn, err := tlsDial(p, "guest", "guest", "", f.client()); err == nil {
		conn.Close()
		t.Fatal("a client without a certificate was accepted")
	}
	conn, err := tlsDial(p, "guest", "guest", "", f.client(f.ca.issue(t, "anyone", false)))
	if err != nil {
		t.Fatal(err)
	}
	conn.Close()
	// Loopback rules hold for EXTERNAL too: guest by certificate from
	// 127.0.0.1 is fine.
	conn, err = tlsDial(p, "", "", "", f.client(f.ca.issue(t, "guest", false)), &amqp.ExternalAuth{})
	if err != nil {
		t.Fatal(err)
	}
	conn.Close()
}

func TestTLSVerifyNone(t *testing.T) {
	t.Parallel()
	f := newTLSFixture(t)
	p := f.server(t, amqpserver.VerifyNone, false)
	// No certificate is asked for, so EXTERNAL is never offered.
	_, err := tlsDial(p, "", "", "", f.client(f.ca.issue(t, "guest", false)), &amqp.ExternalAuth{})
	if !errors.Is(err, amqp.ErrSASL) {
		t.Fatalf("err = %v, want amqp.ErrSASL", err)
	}
	conn, err := tlsDial(p, "guest", "guest", "", f.client())
	if err != nil {
		t.Fatal(err)
	}
	conn.Close()
}

func TestTLSConfigErrors(t *testing.T) {
	t.Parallel()
	f := newTLSFixture(t)
	for _, o := range []amqpserver.TLSOptions{
		{CertFile: f.certFile, KeyFile: filepath.Join(f.dir, "missing.key")},
		{CertFile: f.certFile, KeyFile: f.keyFile, Verify: amqpserver.VerifyPeer},
		{CertFile: f.certFile, KeyFile: f.keyFile, CAFile: f.keyFile},
		{CertFile: f.certFile, KeyFile: f.keyFile, Verify: "verify_maybe"},
	} {
		if _, err := amqpserver.TLSConfig(o); err == nil {
			t.Errorf("TLSConfig(%+v) accepted", o)
		}
	}
}
