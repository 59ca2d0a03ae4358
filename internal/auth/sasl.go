package auth

import (
	"bytes"
	"errors"

	"github.com/warrenmq/warren/internal/amqp"
)

// Mechanisms offered in connection.start, in RabbitMQ's order.
const Mechanisms = "PLAIN AMQPLAIN"

// ErrBadResponse is a SASL response that cannot be parsed.
var ErrBadResponse = errors.New("malformed SASL response")

// ParseResponse extracts the user name and password from a SASL response.
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
	parts := bytes.Split(resp, []byte{0})
	if len(parts) != 3 {
		return "", "", ErrBadResponse
	}
	return string(parts[1]), string(parts[2]), nil
}

// parseAMQPLain reads a field table without its length prefix, holding
// LOGIN and PASSWORD.
func parseAMQPLain(resp []byte) (string, string, error) {
	if len(resp) > 1<<20 {
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
