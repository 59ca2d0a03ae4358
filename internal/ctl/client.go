package ctl

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/warrenmq/warren/internal/mgmt/apitypes"
)

// DefaultNode is where warren ctl looks for a node when neither --node nor
// WARREN_CTL_NODE says otherwise: the management listener's default port.
const DefaultNode = "http://localhost:15672"

// DefaultPort is the management port a node given as rabbit@host or a bare
// host name is reached on.
const DefaultPort = "15672"

// nodeURL turns a --node value into the base URL of the node's management
// API. It accepts
//
//	http://host:15672, https://host/prefix   (the URL, any path is a prefix)
//	rabbit@host, warren@host                 (→ http://host:15672)
//	host, host:port                          (→ http://host[:15672])
//
// User info in the URL (http://user:pass@host) is returned as credentials.
func nodeURL(node string) (base *url.URL, user *url.Userinfo, err error) {
	node = strings.TrimSpace(node)
	if node == "" {
		node = DefaultNode
	}
	if strings.Contains(node, "://") {
		u, err := url.Parse(node)
		if err != nil {
			return nil, nil, fmt.Errorf("invalid node URL %q: %v", node, err)
		}
		if u.Scheme != "http" && u.Scheme != "https" {
			return nil, nil, fmt.Errorf("invalid node URL %q: the scheme must be http or https", node)
		}
		if u.Host == "" {
			return nil, nil, fmt.Errorf("invalid node URL %q: no host", node)
		}
		user = u.User
		u.User = nil
		u.RawQuery, u.Fragment = "", ""
		u.Path = strings.TrimSuffix(u.Path, "/")
		u.RawPath = strings.TrimSuffix(u.RawPath, "/")
		u.Path = strings.TrimSuffix(u.Path, "/api")
		u.RawPath = strings.TrimSuffix(u.RawPath, "/api")
		return u, user, nil
	}
	host := node
	if i := strings.LastIndex(node, "@"); i >= 0 {
		host = node[i+1:] // rabbit@host: Erlang node names carry no port
		if host == "" {
			return nil, nil, fmt.Errorf("invalid node name %q: no host after @", node)
		}
		host = net.JoinHostPort(strings.Trim(host, "[]"), DefaultPort)
	} else if _, _, err := net.SplitHostPort(host); err != nil {
		host = net.JoinHostPort(strings.Trim(host, "[]"), DefaultPort)
	}
	if strings.ContainsAny(host, "/?# ") {
		return nil, nil, fmt.Errorf("invalid node %q", node)
	}
	return &url.URL{Scheme: "http", Host: host}, nil, nil
}

// client calls one node's management API with HTTP basic auth.
type client struct {
	base       *url.URL
	user, pass string
	hc         *http.Client
}

// apiPath joins escaped path segments under /api: apiPath("queues", "/",
// "q") is /api/queues/%2F/q.
func apiPath(segments ...string) string {
	var b strings.Builder
	b.WriteString("/api")
	for _, s := range segments {
		b.WriteByte('/')
		b.WriteString(url.PathEscape(s))
	}
	return b.String()
}

// httpError is a non-2xx answer.
type httpError struct {
	Method, Path string
	Status       int
	Err, Reason  string // RabbitMQ's {"error": ..., "reason": ...}
}

func (e *httpError) Error() string {
	msg := e.Reason
	if msg == "" {
		msg = e.Err
	}
	if msg == "" {
		msg = http.StatusText(e.Status)
	}
	return fmt.Sprintf("%s %s: %d %s", e.Method, e.Path, e.Status, msg)
}

// message is the server's reason, else the status text.
func (e *httpError) message() string {
	switch {
	case e.Reason != "":
		return e.Reason
	case e.Err != "":
		return e.Err
	}
	return fmt.Sprintf("%d %s", e.Status, http.StatusText(e.Status))
}

func isStatus(err error, status int) bool {
	var he *httpError
	return errors.As(err, &he) && he.Status == status
}

// do sends one request. body, unless nil, is sent as JSON (a []byte as
// it is); a 2xx answer's body is returned.
func (c *client) do(ctx context.Context, method, path string, query url.Values, body any) ([]byte, error) {
	u := c.base.String() + path
	if len(query) > 0 {
		u += "?" + query.Encode()
	}
	var rd io.Reader
	if body != nil {
		b, ok := body.([]byte)
		if !ok {
			var err error
			if b, err = marshal(body); err != nil {
				return nil, err
			}
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		return nil, err
	}
	req.SetBasicAuth(c.user, c.pass)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 1<<30))
	if err != nil {
		return nil, err
	}
	if resp.StatusCode/100 != 2 {
		he := &httpError{Method: method, Path: path, Status: resp.StatusCode}
		var ae struct {
			Error  any `json:"error"`
			Reason any `json:"reason"`
		}
		if json.Unmarshal(data, &ae) == nil {
			he.Err, he.Reason = errText(ae.Error), errText(ae.Reason)
		}
		return nil, he
	}
	return data, nil
}

// errText flattens an error or reason field: RabbitMQ sometimes sends an
// Erlang term as a JSON array instead of a string.
func errText(v any) string {
	switch t := v.(type) {
	case nil:
		return ""
	case string:
		return t
	}
	b, _ := json.Marshal(v)
	return string(b)
}

// getJSON GETs path and decodes the answer into out.
func (c *client) getJSON(ctx context.Context, path string, query url.Values, out any) error {
	data, err := c.do(ctx, http.MethodGet, path, query, nil)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(data, out); err != nil {
		return &badAnswer{path, err}
	}
	return nil
}

// getList GETs a list endpoint into generic objects.
func (c *client) getList(ctx context.Context, path string, query url.Values) ([]*object, error) {
	data, err := c.do(ctx, http.MethodGet, path, query, nil)
	if err != nil {
		return nil, err
	}
	l, err := decodeList(data)
	if err != nil {
		return nil, &badAnswer{path, err}
	}
	return l, nil
}

// badAnswer is a 2xx answer that is not the JSON expected.
type badAnswer struct {
	path string
	err  error
}

func (e *badAnswer) Error() string {
	return fmt.Sprintf("unexpected answer to GET %s: %v", e.path, e.err)
}

// overview is the part of GET /api/overview that warren ctl reads.
// (apitypes.Overview is stricter than some nodes: RabbitMQ sends a
// listener's socket_opts as [] when it has none.)
type overview struct {
	ProductVersion    string                `json:"product_version"`
	ProductName       string                `json:"product_name"`
	RabbitMQVersion   string                `json:"rabbitmq_version"`
	ClusterName       string                `json:"cluster_name"`
	ErlangVersion     string                `json:"erlang_version"`
	ErlangFullVersion string                `json:"erlang_full_version"`
	ObjectTotals      apitypes.ObjectTotals `json:"object_totals"`
	Node              string                `json:"node"`
	Listeners         []listener            `json:"listeners"`
}

// listener is apitypes.Listener without socket_opts.
type listener struct {
	Node      string `json:"node"`
	Protocol  string `json:"protocol"`
	IPAddress string `json:"ip_address"`
	Port      int    `json:"port"`
}

// overview is GET /api/overview.
func (c *client) overview(ctx context.Context) (*overview, error) {
	var ov overview
	if err := c.getJSON(ctx, "/api/overview", nil, &ov); err != nil {
		return nil, err
	}
	return &ov, nil
}

// newHTTPClient is the default client: proxies from the environment,
// connect timeout 10s; the overall deadline comes from the context.
func newHTTPClient() *http.Client {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.DialContext = (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext
	return &http.Client{Transport: tr}
}

// secs formats a timeout as rabbitmqctl does: "60.0".
func secs(d time.Duration) string {
	s := strconv.FormatFloat(d.Seconds(), 'f', -1, 64)
	if !strings.Contains(s, ".") {
		s += ".0"
	}
	return s
}
