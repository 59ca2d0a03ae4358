package perf

import (
	"fmt"
	"net"
	"net/url"
	"strings"
)

// URI is a parsed amqp:// URI.
type URI struct {
	Addr     string // host:port
	User     string
	Password string
	Vhost    string
}

// ParseURI parses amqp://user:pass@host:port/vhost. Missing parts default
// to guest/guest, localhost, 5672 and the vhost "/". The vhost is
// URL-decoded ("/%2f" is "/"); an empty path or a lone "/" means "/", as
// amqp091-go has it. amqps is not supported.
func ParseURI(s string) (URI, error) {
	u, err := url.Parse(s)
	if err != nil {
		return URI{}, fmt.Errorf("uri %q: %w", s, err)
	}
	if u.Scheme != "amqp" {
		return URI{}, fmt.Errorf("uri %q: scheme must be amqp", s)
	}
	r := URI{User: "guest", Password: "guest", Vhost: "/"}
	if u.User != nil {
		r.User = u.User.Username()
		if p, ok := u.User.Password(); ok {
			r.Password = p
		}
	}
	host, port := u.Hostname(), u.Port()
	if host == "" {
		host = "localhost"
	}
	if port == "" {
		port = "5672"
	}
	r.Addr = net.JoinHostPort(host, port)
	if p := u.EscapedPath(); len(p) > 1 {
		v, err := url.PathUnescape(strings.TrimPrefix(p, "/"))
		if err != nil {
			return URI{}, fmt.Errorf("uri %q: vhost: %w", s, err)
		}
		r.Vhost = v
	}
	return r, nil
}
