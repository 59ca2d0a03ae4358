package main

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
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/warrenmq/warren/internal/warrentest"
)

// pemCert writes a certificate signed by parent (self-signed when nil)
// and its key; it returns the certificate and key for further signing.
func pemCert(t *testing.T, dir, name string, tmpl *x509.Certificate, parent *x509.Certificate, parentKey *ecdsa.PrivateKey) (*x509.Certificate, *ecdsa.PrivateKey, tls.Certificate) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	if parent == nil {
		parent, parentKey = tmpl, key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, &key.PublicKey, parentKey)
	if err != nil {
		t.Fatal(err)
	}
	kder, _ := x509.MarshalECPrivateKey(key)
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	keyPEM := pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder})
	if err := os.WriteFile(filepath.Join(dir, name+".pem"), certPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, name+".key"), keyPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	c, _ := x509.ParseCertificate(der)
	pair, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	return c, key, pair
}

// The real binary: load_definitions (WARREN_LOAD_DEFINITIONS) at start,
// which also means no default guest; an AMQPS listener with client
// certificates and EXTERNAL; the same after a restart.
func TestServerDefinitionsAndTLS(t *testing.T) {
	dir := t.TempDir()
	now := time.Now()
	ca, caKey, _ := pemCert(t, dir, "ca", &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test CA"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign}, nil, nil)
	pemCert(t, dir, "server", &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "localhost"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour), IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, KeyUsage: x509.KeyUsageDigitalSignature}, ca, caKey)
	_, _, client := pemCert(t, dir, "client", &x509.Certificate{SerialNumber: big.NewInt(3), Subject: pkix.Name{CommonName: "deploy"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour),
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}, KeyUsage: x509.KeyUsageDigitalSignature}, ca, caKey)

	defs := filepath.Join(dir, "definitions.json")
	if err := os.WriteFile(defs, []byte(`{
		"users": [{"name": "deploy", "password": "deploy-pw", "tags": ["administrator"]}],
		"vhosts": [{"name": "/"}],
		"permissions": [{"user": "deploy", "vhost": "/", "configure": ".*", "write": ".*", "read": ".*"}],
		"queues": [{"name": "boot-q", "vhost": "/", "durable": true, "auto_delete": false, "arguments": {}}]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	n := warrentest.Start(t,
		warrentest.WithArgs("--amqps-addr", "127.0.0.1:0", "--tls-cert", filepath.Join(dir, "server.pem"),
			"--tls-key", filepath.Join(dir, "server.key"), "--tls-ca", filepath.Join(dir, "ca.pem")),
		warrentest.WithEnv("WARREN_LOAD_DEFINITIONS="+defs),
		warrentest.WithWait("amqp", "amqps"))
	pool := x509.NewCertPool()
	pool.AddCert(ca)

	check := func() {
		t.Helper()
		// No default guest when definitions are loaded, as RabbitMQ.
		if c, err := amqp.Dial("amqp://guest:guest@" + n.Addr["amqp"] + "/"); err == nil {
			c.Close()
			t.Fatal("guest exists")
		}
		c, err := amqp.Dial("amqp://deploy:deploy-pw@" + n.Addr["amqp"] + "/")
		if err != nil {
			t.Fatal(err)
		}
		ch, err := c.Channel()
		if err != nil {
			t.Fatal(err)
		}
		if _, err := ch.QueueDeclarePassive("boot-q", true, false, false, false, nil); err != nil {
			t.Fatalf("boot-q: %v", err)
		}
		c.Close()
		// AMQPS with a password, and with the certificate (EXTERNAL).
		c, err = amqp.DialTLS("amqps://deploy:deploy-pw@"+n.Addr["amqps"]+"/", &tls.Config{RootCAs: pool, ServerName: "127.0.0.1"})
		if err != nil {
			t.Fatalf("amqps PLAIN: %v", err)
		}
		c.Close()
		c, err = amqp.DialConfig("amqps://"+n.Addr["amqps"]+"/", amqp.Config{
			TLSClientConfig: &tls.Config{RootCAs: pool, ServerName: "127.0.0.1", Certificates: []tls.Certificate{client}},
			SASL:            []amqp.Authentication{&amqp.ExternalAuth{}}})
		if err != nil {
			t.Fatalf("amqps EXTERNAL: %v", err)
		}
		c.Close()
		_, err = amqp.DialConfig("amqps://"+n.Addr["amqps"]+"/", amqp.Config{
			TLSClientConfig: &tls.Config{RootCAs: pool, ServerName: "127.0.0.1"},
			SASL:            []amqp.Authentication{&amqp.ExternalAuth{}}})
		if !errors.Is(err, amqp.ErrSASL) {
			t.Fatalf("EXTERNAL without a certificate: %v, want ErrSASL", err)
		}
	}
	check()
	if !strings.Contains(n.Log(), "amqps listening on "+n.Addr["amqps"]) || !strings.Contains(n.Log(), "definitions imported") {
		t.Errorf("log:\n%s", n.Log())
	}
	n.Restart(t)
	check()
}

// A broken definitions file stops the server, saying why.
func TestServerBadDefinitions(t *testing.T) {
	defs := filepath.Join(t.TempDir(), "bad.json")
	if err := os.WriteFile(defs, []byte(`{"permissions": [{"user": "nobody", "vhost": "/", "configure": "", "write": "", "read": ""}]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	n, err := warrentest.TryStart(t, warrentest.WithEnv("WARREN_LOAD_DEFINITIONS="+defs))
	if err == nil {
		t.Fatal("started with a broken definitions file")
	}
	if !strings.Contains(n.Log(), "no_such_user: nobody") {
		t.Errorf("log does not say why:\n%s", n.Log())
	}
}
