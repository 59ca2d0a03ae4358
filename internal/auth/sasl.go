package auth

import (
	"bytes"
	"crypto/x509"
	"errors"

	"github.com/warrenmq/warren/internal/amqp"
)

// Mechanisms offered in connection.start on a plain connection, in
// RabbitMQ's order. EXTERNAL is added on TLS connections that presented a
// verified client certificate.
const Mechanisms = "PLAIN AMQPLAIN"

// External is the SASL mechanism of rabbitmq_auth_mechanism_ssl: the user
// is named by the client's certificate.
const External = "EXTERNAL"

// ErrBadResponse is a SASL response that cannot be parsed.
var ErrBadResponse = errors.New("malformed SASL response")

// maxResponse bounds what we parse; a frame is bounded anyway.
const maxResponse = 1 << 20

// ParseResponse extracts the user name and password from a PLAIN or
// AMQPLAIN response.
func ParseResponse(mechanism string, resp []byte) (user, pass string, err error) {
	switch mechanism {
	case "PLAIN":
		return parsePlain(resp)
	case "AMQPLAIN":
		return parseAMQPLain(resp)
	}
	return "", "", errors.New("unsupported mechanism")
}

// parsePlain reads RFC 4616: [authzid] NUL authcid NUL passwd.
func parsePlain(resp []byte) (string, string, error) {
	if len(resp) > maxResponse {
		return "", "", ErrBadResponse
	}
	i := bytes.IndexByte(resp, 0)
	if i < 0 {
		return "", "", ErrBadResponse
	}
	rest := resp[i+1:]
	j := bytes.IndexByte(rest, 0)
	if j < 0 || bytes.IndexByte(rest[j+1:], 0) >= 0 {
		return "", "", ErrBadResponse
	}
	return string(rest[:j]), string(rest[j+1:]), nil
}

// parseAMQPLain reads a field table without its length prefix, holding
// LOGIN and PASSWORD as strings.
func parseAMQPLain(resp []byte) (string, string, error) {
	if len(resp) > maxResponse {
		return "", "", ErrBadResponse
	}
	buf := make([]byte, 4+len(resp))
	buf[0], buf[1], buf[2], buf[3] = byte(len(resp)>>24), byte(len(resp)>>16), byte(len(resp)>>8), byte(len(resp))
	copy(buf[4:], resp)
	t, _, err := amqp.ReadTable(buf)
	if err != nil {
		return "", "", ErrBadResponse
	}
	user, ok1 := t["LOGIN"].(string)
	pass, ok2 := t["PASSWORD"].(string)
	if !ok1 || !ok2 {
		return "", "", ErrBadResponse
	}
	return user, pass, nil
}

// Where EXTERNAL takes the user name from (ssl_cert_login_from).
const (
	CertCommonName        = "common_name"
	CertDistinguishedName = "distinguished_name"
)

// CertLoginName is the user name a client certificate stands for: its
// subject's common name, or the whole distinguished name
// ("CN=client,O=Org", RFC 4514) when from is distinguished_name.
func CertLoginName(cert *x509.Certificate, from string) (string, error) {
	if cert == nil {
		return "", errors.New("connection peer presented no TLS (x.509) certificate")
	}
	if from == CertDistinguishedName {
		return cert.Subject.String(), nil
	}
	if cert.Subject.CommonName == "" {
		return "", errors.New("no name found")
	}
	return cert.Subject.CommonName, nil
}
