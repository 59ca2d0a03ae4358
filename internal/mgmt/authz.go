package mgmt

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"

	"github.com/warrenmq/warren/internal/broker"
)

var errEOF = io.EOF

func sprintf(format string, args ...any) string {
	if len(args) == 0 {
		return format
	}
	return fmt.Sprintf(format, args...)
}

// access is the authorisation rule of an endpoint, after RabbitMQ's
// rabbit_mgmt_util:is_authorized_* functions. Every rule first requires a
// valid login by a user with a management tag (management, policymaker,
// monitoring or administrator); 401 "Not management user" otherwise.
type access int

const (
	accMgmt         access = iota // any management user
	accVhost                      // administrator, or access to the vhost in the path
	accVhostMonitor               // administrator, monitoring, or access to the vhost
	accMonitor                    // monitoring or administrator
	accAdmin                      // administrator
	accPolicies                   // administrator, or policymaker with access to the vhost
	accGlobalParams               // policymaker (administrators are policymakers)
	accOwnObject                  // connections, channels: checked by the handler
)

// caller is the authenticated user of a request.
type caller struct {
	user *broker.User
	tags map[string]bool
}

func (c *caller) is(tag string) bool { return c.tags[tag] }
func (c *caller) admin() bool        { return c.tags["administrator"] }

// monitor: monitoring or administrator (administrator implies monitoring).
func (c *caller) monitor() bool { return c.tags["monitoring"] || c.admin() }

// policymaker: policymaker or administrator.
func (c *caller) policymaker() bool { return c.tags["policymaker"] || c.admin() }

func newCaller(u *broker.User) *caller {
	c := &caller{user: u, tags: map[string]bool{}}
	for _, t := range u.Tags {
		c.tags[t] = true
	}
	return c
}

func isMgmtUser(c *caller) bool {
	return c.is("management") || c.is("administrator") || c.is("monitoring") || c.is("policymaker")
}

// authenticate checks HTTP basic credentials as RabbitMQ does.
func (s *Server) authenticate(r *http.Request) (*caller, *apiError) {
	name, pass, ok := r.BasicAuth()
	if !ok {
		return nil, &apiError{http.StatusUnauthorized, "not_authorized", "Not_Authorized"}
	}
	u := s.lookupUser(name)
	if !checkLogin(u, pass) {
		s.log.Warn("HTTP access denied", "user", name, "reason", "invalid credentials")
		return nil, &apiError{http.StatusUnauthorized, "not_authorized", "Login failed"}
	}
	if s.loop[name] && !remoteIsLoopback(r) {
		return nil, notAuthorised("User can only log in via localhost")
	}
	c := newCaller(u)
	if !isMgmtUser(c) {
		return nil, notAuthorised("Not management user")
	}
	return c, nil
}

func remoteIsLoopback(r *http.Request) bool {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return false
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// authorize applies rule a to the caller for request r, whose path may
// name a vhost. A vhost that does not exist passes (the handler answers
// 404), as in RabbitMQ.
func (s *Server) authorize(c *caller, a access, r *http.Request) *apiError {
	vhost, hasVhost := "", false
	if v := pathValue(r, "vhost"); v != "" {
		vhost, hasVhost = v, s.cfg.Broker.Vhost(v) != nil
	}
	switch a {
	case accMgmt, accOwnObject:
		return nil
	case accVhost:
		if c.admin() || !hasVhost || s.canAccessVhost(c, vhost) {
			return nil
		}
		return notAuthorised("User not authorised to access virtual host")
	case accVhostMonitor:
		if c.monitor() || !hasVhost || s.canAccessVhost(c, vhost) {
			return nil
		}
		return notAuthorised("User not authorised to access virtual host")
	case accMonitor:
		if c.monitor() {
			return nil
		}
		return notAuthorised("Not monitor user")
	case accAdmin:
		if c.admin() {
			return nil
		}
		return notAuthorised("Not administrator user")
	case accPolicies:
		if c.admin() || (c.is("policymaker") && (!hasVhost || s.canAccessVhost(c, vhost))) {
			return nil
		}
		return notAuthorised("User not authorised to access object")
	case accGlobalParams:
		if c.policymaker() {
			return nil
		}
		return notAuthorised("User not authorised to access object")
	}
	return notAuthorised("Access refused.")
}

// canSee reports whether list endpoints show the caller objects of vhost:
// administrators and monitors see everything, others their vhosts.
func (s *Server) canSee(c *caller, vhost string) bool {
	return c.monitor() || s.canAccessVhost(c, vhost)
}

// canAccessVhost: the user has permissions in the vhost.
func (s *Server) canAccessVhost(c *caller, vhost string) bool {
	return slices.Contains(s.userVhosts(c.user.Name), vhost)
}

// endpoint is a handler with its caller resolved.
type endpoint func(w http.ResponseWriter, r *http.Request, c *caller) error

// handle registers pattern ("GET /api/...") with its access rule.
func (s *Server) handle(pattern string, a access, h endpoint) {
	s.mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
		c, aerr := s.authenticate(r)
		if aerr == nil {
			aerr = s.authorize(c, a, r)
		}
		if aerr != nil {
			writeError(w, aerr)
			return
		}
		if err := h(w, r, c); err != nil {
			writeError(w, err)
		}
	})
}
