package broker

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
)

// Access control and the rest of the non-routing metadata: users,
// permissions, topic permissions, vhost metadata and limits, user limits,
// runtime parameters and policies. They live in the broker, beside vhosts,
// because they are part of the one metadata state machine: every change is
// a Command through Apply (so it is logged, and later replicated), vhost
// and user deletion cascade to them atomically, and a snapshot holds them
// all. The broker stores password hashes as opaque strings; hashing, SASL
// and certificates are the auth package's business.

// Metadata operations on access control, parameters and policies.
const (
	OpAddUser               Op = "add_user"        // User, PasswordHash, HashingAlgorithm, Tags, Limits; fails if the user exists
	OpPutUser               Op = "put_user"        // the same, creating or updating (definitions import, management PUT)
	OpDeleteUser            Op = "delete_user"     // User; drops its permissions, ends its connections
	OpChangePassword        Op = "change_password" // User, PasswordHash ("" clears it), HashingAlgorithm
	OpSetUserTags           Op = "set_user_tags"   // User, Tags
	OpSetUserLimits         Op = "set_user_limits" // User, Limits (merged into the current ones)
	OpClearUserLimits       Op = "clear_user_limits"
	OpSetVhostMetadata      Op = "set_vhost_metadata" // Vhost, Description, Tags, DefaultQueueType
	OpSetVhostLimits        Op = "set_vhost_limits"   // Vhost, Limits (replacing the current ones)
	OpClearVhostLimits      Op = "clear_vhost_limits" // Vhost, Name: one limit, or "" / "all" for every one
	OpSetPermissions        Op = "set_permissions"    // User, Vhost, Configure, Write, Read
	OpClearPermissions      Op = "clear_permissions"
	OpSetTopicPermissions   Op = "set_topic_permissions" // User, Vhost, Exchange, Write, Read
	OpClearTopicPermissions Op = "clear_topic_permissions"
	OpSetParameter          Op = "set_parameter" // Vhost, Component, Name, Value
	OpClearParameter        Op = "clear_parameter"
	OpSetGlobalParameter    Op = "set_global_parameter" // Name, Value
	OpClearGlobalParameter  Op = "clear_global_parameter"
	OpSetPolicy             Op = "set_policy" // Vhost, Name, Pattern, ApplyTo, Priority, Value (the definition)
	OpClearPolicy           Op = "clear_policy"
	OpSetOperatorPolicy     Op = "set_operator_policy" // as OpSetPolicy; the definition may only cap limits
	OpClearOperatorPolicy   Op = "clear_operator_policy"
	// OpBatch is how ApplyBatch logs its durable commands: one record, so
	// a batch is on disk whole or not at all.
	OpBatch Op = "batch"
)

// Limit names, as RabbitMQ spells them.
const (
	LimitMaxConnections = "max-connections"
	LimitMaxQueues      = "max-queues"
	LimitMaxChannels    = "max-channels"
)

var (
	vhostLimitNames = []string{LimitMaxConnections, LimitMaxQueues}
	userLimitNames  = []string{LimitMaxConnections, LimitMaxChannels}
)

// User is an account. A *User handed out by the broker is never modified
// (a change replaces it), so it may be kept and read without locks.
type User struct {
	Name             string
	PasswordHash     string // base64(salt + digest); "" means no password: cannot log in with one
	HashingAlgorithm string // rabbit_password_hashing_sha256 (RabbitMQ's default), _sha512, _md5
	Tags             []string
	Limits           map[string]int64 // max-connections, max-channels
}

// HasTag reports whether the user carries tag.
func (u *User) HasTag(tag string) bool { return slices.Contains(u.Tags, tag) }

// Limit returns a user limit; ok is false when there is none (absent or
// negative, which RabbitMQ reads as "no limit").
func (u *User) Limit(name string) (n int64, ok bool) { return limit(u.Limits, name) }

func limit(m map[string]int64, name string) (int64, bool) {
	n, ok := m[name]
	if !ok || n < 0 {
		return 0, false
	}
	return n, true
}

// Perm is one of the three permissions of RabbitMQ's access control.
type Perm uint8

// Permissions.
const (
	PermConfigure Perm = iota
	PermWrite
	PermRead
)

func (p Perm) String() string {
	switch p {
	case PermConfigure:
		return "configure"
	case PermWrite:
		return "write"
	}
	return "read"
}

// Permission is what a user may do in a vhost: a regular expression per
// kind of access, matched against resource names. An empty expression
// matches nothing (RabbitMQ reads it as ^$).
type Permission struct {
	User, Vhost            string
	Configure, Write, Read string
	re                     [3]*regexp.Regexp
}

// Allows reports whether p grants perm on a resource called name.
func (p *Permission) Allows(perm Perm, name string) bool { return p.re[perm].MatchString(name) }

// TopicPermission restricts the routing keys a user may publish with
// (write) and bind with (read) on one topic exchange. {username} and
// {vhost} in the expressions stand for the user's name and the vhost.
type TopicPermission struct {
	User, Vhost, Exchange string
	Write, Read           string
	re                    [3]*regexp.Regexp // expanded; nil when the expansion does not compile (denies)
}

// VhostInfo is a vhost's metadata and limits.
type VhostInfo struct {
	Name             string
	Description      string
	Tags             []string
	DefaultQueueType string
	Limits           map[string]int64 // max-connections, max-queues
}

// Limit returns a vhost limit; ok is false when there is none.
func (vi *VhostInfo) Limit(name string) (int64, bool) { return limit(vi.Limits, name) }

// Parameter is a runtime parameter (shovels, federation upstreams, …),
// kept opaque. Vhost is empty for a global parameter.
type Parameter struct {
	Vhost, Component, Name string
	Value                  json.RawMessage
}

// Policy is a policy or operator policy. Definition is kept as given;
// qconfig.go applies it to queues and exchanges.
type Policy struct {
	Vhost, Name, Pattern, ApplyTo string
	Priority                      int
	Definition                    json.RawMessage

	re  *regexp.Regexp // compiled Pattern
	def map[string]any // decoded Definition
}

type userVhost struct{ user, vhost string }
type topicKey struct{ user, vhost, exchange string }
type paramKey struct{ vhost, component, name string }
type policyKey struct{ vhost, name string }

// access holds the tables. Writers hold Broker.applyMu (they run in
// commits) and mu; readers take mu.RLock.
type access struct {
	mu         sync.RWMutex
	users      map[string]*User
	perms      map[userVhost]*Permission
	topics     map[topicKey]*TopicPermission
	vhosts     map[string]*VhostInfo
	params     map[paramKey]*Parameter
	globals    map[string]*Parameter
	policies   map[policyKey]*Policy
	opPolicies map[policyKey]*Policy
	gen        atomic.Uint64 // bumped by every change that can revoke access
	listenerMu sync.Mutex
	listeners  map[int]func(Event)
	nextL      int
}

func (a *access) init() {
	a.users = map[string]*User{}
	a.perms = map[userVhost]*Permission{}
	a.topics = map[topicKey]*TopicPermission{}
	a.vhosts = map[string]*VhostInfo{}
	a.params = map[paramKey]*Parameter{}
	a.globals = map[string]*Parameter{}
	a.policies = map[policyKey]*Policy{}
	a.opPolicies = map[policyKey]*Policy{}
	a.listeners = map[int]func(Event){}
}

// Event tells front ends about a deletion that must end sessions.
type Event struct {
	Kind string // "vhost" or "user"
	Name string
}

// Subscribe registers fn to be told when a vhost or a user is deleted. It
// is called after the change, with the metadata lock held: it must not
// block or call Apply. The returned function unsubscribes.
func (b *Broker) Subscribe(fn func(Event)) (cancel func()) {
	a := &b.acc
	a.listenerMu.Lock()
	id := a.nextL
	a.nextL++
	a.listeners[id] = fn
	a.listenerMu.Unlock()
	return func() {
		a.listenerMu.Lock()
		delete(a.listeners, id)
		a.listenerMu.Unlock()
	}
}

func (b *Broker) notify(ev Event) {
	a := &b.acc
	a.listenerMu.Lock()
	fns := make([]func(Event), 0, len(a.listeners))
	for _, fn := range a.listeners {
		fns = append(fns, fn)
	}
	a.listenerMu.Unlock()
	for _, fn := range fns {
		fn(ev)
	}
}

// afterCommit runs once a command took effect.
func (b *Broker) afterCommit(c *Command) {
	switch c.Op {
	case OpDeleteVhost:
		b.notify(Event{Kind: "vhost", Name: c.Vhost})
	case OpDeleteUser:
		b.notify(Event{Kind: "user", Name: c.User})
	case OpSetPolicy, OpClearPolicy, OpSetOperatorPolicy, OpClearOperatorPolicy:
		b.applyPolicies(c.Vhost)
	}
}

// AccessGen changes whenever a permission, a topic permission, a user or
// a vhost goes away or changes, so a cached access decision is valid as
// long as AccessGen returns what it did when the decision was made.
func (b *Broker) AccessGen() uint64 { return b.acc.gen.Load() }

// --- lookups ---

// User returns the named user, or nil.
func (b *Broker) User(name string) *User {
	b.acc.mu.RLock()
	defer b.acc.mu.RUnlock()
	return b.acc.users[name]
}

// Users lists users sorted by name.
func (b *Broker) Users() []*User {
	b.acc.mu.RLock()
	us := make([]*User, 0, len(b.acc.users))
	for _, u := range b.acc.users {
		us = append(us, u)
	}
	b.acc.mu.RUnlock()
	sort.Slice(us, func(i, j int) bool { return us[i].Name < us[j].Name })
	return us
}

// Permission returns a user's permissions in a vhost, or nil.
func (b *Broker) Permission(user, vhost string) *Permission {
	b.acc.mu.RLock()
	defer b.acc.mu.RUnlock()
	return b.acc.perms[userVhost{user, vhost}]
}

// Permissions lists every permission, by user then vhost.
func (b *Broker) Permissions() []*Permission {
	b.acc.mu.RLock()
	ps := make([]*Permission, 0, len(b.acc.perms))
	for _, p := range b.acc.perms {
		ps = append(ps, p)
	}
	b.acc.mu.RUnlock()
	sort.Slice(ps, func(i, j int) bool {
		if ps[i].User != ps[j].User {
			return ps[i].User < ps[j].User
		}
		return ps[i].Vhost < ps[j].Vhost
	})
	return ps
}

// TopicPermissions lists every topic permission, by user, vhost, exchange.
func (b *Broker) TopicPermissions() []*TopicPermission {
	b.acc.mu.RLock()
	ps := make([]*TopicPermission, 0, len(b.acc.topics))
	for _, p := range b.acc.topics {
		ps = append(ps, p)
	}
	b.acc.mu.RUnlock()
	sort.Slice(ps, func(i, j int) bool {
		a, c := ps[i], ps[j]
		if a.User != c.User {
			return a.User < c.User
		}
		if a.Vhost != c.Vhost {
			return a.Vhost < c.Vhost
		}
		return a.Exchange < c.Exchange
	})
	return ps
}

// VhostInfo returns a vhost's metadata and limits, or nil if there is no
// such vhost.
func (b *Broker) VhostInfo(name string) *VhostInfo {
	if b.Vhost(name) == nil {
		return nil
	}
	b.acc.mu.RLock()
	vi := b.acc.vhosts[name]
	b.acc.mu.RUnlock()
	if vi == nil {
		vi = &VhostInfo{Name: name}
	}
	return vi
}

// Parameters lists the runtime parameters of vhost ("" for every vhost),
// sorted.
func (b *Broker) Parameters(vhost string) []*Parameter {
	b.acc.mu.RLock()
	var ps []*Parameter
	for k, p := range b.acc.params {
		if vhost == "" || k.vhost == vhost {
			ps = append(ps, p)
		}
	}
	b.acc.mu.RUnlock()
	sort.Slice(ps, func(i, j int) bool {
		a, c := ps[i], ps[j]
		if a.Vhost != c.Vhost {
			return a.Vhost < c.Vhost
		}
		if a.Component != c.Component {
			return a.Component < c.Component
		}
		return a.Name < c.Name
	})
	return ps
}

// GlobalParameters lists the global runtime parameters by name.
func (b *Broker) GlobalParameters() []*Parameter {
	b.acc.mu.RLock()
	ps := make([]*Parameter, 0, len(b.acc.globals))
	for _, p := range b.acc.globals {
		ps = append(ps, p)
	}
	b.acc.mu.RUnlock()
	sort.Slice(ps, func(i, j int) bool { return ps[i].Name < ps[j].Name })
	return ps
}

// Policies lists the policies of vhost ("" for every vhost), sorted.
func (b *Broker) Policies(vhost string) []*Policy { return b.listPolicies(b.acc.policies, vhost) }

// OperatorPolicies lists the operator policies of vhost ("" for all).
func (b *Broker) OperatorPolicies(vhost string) []*Policy {
	return b.listPolicies(b.acc.opPolicies, vhost)
}

func (b *Broker) listPolicies(table map[policyKey]*Policy, vhost string) []*Policy {
	b.acc.mu.RLock()
	var ps []*Policy
	for k, p := range table {
		if vhost == "" || k.vhost == vhost {
			ps = append(ps, p)
		}
	}
	b.acc.mu.RUnlock()
	sort.Slice(ps, func(i, j int) bool {
		if ps[i].Vhost != ps[j].Vhost {
			return ps[i].Vhost < ps[j].Vhost
		}
		return ps[i].Name < ps[j].Name
	})
	return ps
}

// --- authorisation, as rabbit_access_control and rabbit_auth_backend_internal ---

// CheckVhostAccess allows a user into a vhost when the vhost exists and
// the user has any permissions there. The error is KindNotAllowed.
func (b *Broker) CheckVhostAccess(user, vhost string) error {
	if b.Vhost(vhost) != nil && b.Permission(user, vhost) != nil {
		return nil
	}
	return errorf(KindNotAllowed, "access to vhost '%s' refused for user '%s'", vhost, user)
}

// CheckResourceAccess checks perm on the queue or exchange (kind) called
// name. The default exchange is checked as "amq.default". The error is
// KindAccessRefused with RabbitMQ's text.
func (b *Broker) CheckResourceAccess(user, vhost, kind, name string, perm Perm) error {
	if kind == DestExchange && name == "" {
		name = "amq.default"
	}
	if p := b.Permission(user, vhost); p != nil && p.Allows(perm, name) {
		return nil
	}
	return errorf(KindAccessRefused, "access to %s '%s' in vhost '%s' refused for user '%s'", kind, name, vhost, user)
}

// HasTopicPermission reports whether a topic permission restricts the user
// on an exchange; without one, every routing key is allowed.
func (b *Broker) HasTopicPermission(user, vhost, exchange string) bool {
	b.acc.mu.RLock()
	defer b.acc.mu.RUnlock()
	return b.acc.topics[topicKey{user, vhost, exchange}] != nil
}

// CheckTopicAccess checks a routing key against the user's topic
// permission (write for publishing, read for binding) on a topic exchange.
func (b *Broker) CheckTopicAccess(user, vhost, exchange, routingKey string, perm Perm) error {
	b.acc.mu.RLock()
	tp := b.acc.topics[topicKey{user, vhost, exchange}]
	b.acc.mu.RUnlock()
	if tp == nil {
		return nil
	}
	if re := tp.re[perm]; re != nil && re.MatchString(routingKey) {
		return nil
	}
	return errorf(KindAccessRefused, "access to topic '%s' in exchange '%s' in vhost '%s' refused for user '%s'",
		routingKey, exchange, vhost, user)
}

// compilePerm compiles a permission expression: unanchored, as Erlang's
// re:run, and "" meaning ^$.
func compilePerm(expr string) (*regexp.Regexp, error) {
	if expr == "" {
		expr = "^$"
	}
	return regexp.Compile(expr)
}

// ValidatePermissionRegexp reports whether expr is usable as a permission
// or policy pattern.
func ValidatePermissionRegexp(expr string) error {
	if _, err := compilePerm(expr); err != nil {
		return errorf(KindCommandInvalid, "regular expression '%s' is invalid: %v", expr, err)
	}
	return nil
}

// expandTopic replaces {username} and {vhost}, as RabbitMQ's
// expand_topic_permission does for AMQP 0-9-1 (no escaping).
func expandTopic(expr, user, vhost string) string {
	if expr == "" {
		expr = "^$"
	}
	expr = strings.ReplaceAll(expr, "{username}", user)
	return strings.ReplaceAll(expr, "{vhost}", vhost)
}

// ValidateLimits checks a vhost's (vhost=true) or a user's limits.
func ValidateLimits(limits map[string]int64, vhost bool) error {
	names, what := userLimitNames, "user-limits"
	if vhost {
		names, what = vhostLimitNames, "vhost-limits"
	}
	for k := range limits {
		if !slices.Contains(names, k) {
			return errorf(KindCommandInvalid, "Unrecognised terms [{<<\"%s\">>,...}] in %s", k, what)
		}
	}
	return nil
}

// ValidatePasswordHash checks that hash is empty or base64 of at least a
// salt and a byte of digest.
func ValidatePasswordHash(hash string) error {
	if hash == "" {
		return nil
	}
	raw, err := base64.StdEncoding.DecodeString(hash)
	if err != nil || len(raw) < 5 {
		return errorf(KindCommandInvalid, "invalid password hash")
	}
	return nil
}

// IsAccessOp reports whether op is one of this file's operations.
func IsAccessOp(op Op) bool {
	switch op {
	case OpAddUser, OpPutUser, OpDeleteUser, OpChangePassword, OpSetUserTags, OpSetUserLimits, OpClearUserLimits,
		OpSetVhostMetadata, OpSetVhostLimits, OpClearVhostLimits, OpSetPermissions, OpClearPermissions,
		OpSetTopicPermissions, OpClearTopicPermissions, OpSetParameter, OpClearParameter,
		OpSetGlobalParameter, OpClearGlobalParameter, OpSetPolicy, OpClearPolicy,
		OpSetOperatorPolicy, OpClearOperatorPolicy:
		return true
	}
	return false
}

func noUser(name string) *Error  { return errorf(KindNotFound, "no user '%s'", name) }
func noVhost(name string) *Error { return errorf(KindNotFound, "no vhost '%s'", name) }

// checkAccess validates an access command and returns its commit. Every
// change it commits bumps the generation, so cached decisions are redone.
func (b *Broker) checkAccess(c *Command) (Result, func() Result, error) {
	a := &b.acc
	user := func() (*User, error) {
		a.mu.RLock()
		u := a.users[c.User]
		a.mu.RUnlock()
		if u == nil {
			return nil, noUser(c.User)
		}
		return u, nil
	}
	vhost := func() error {
		if b.Vhost(c.Vhost) == nil {
			return noVhost(c.Vhost)
		}
		return nil
	}
	userAndVhost := func() error {
		if _, err := user(); err != nil {
			return err
		}
		return vhost()
	}
	commit := func(f func()) func() Result {
		return func() Result {
			a.mu.Lock()
			f()
			a.mu.Unlock()
			a.gen.Add(1)
			return Result{}
		}
	}
	switch c.Op {
	case OpAddUser, OpPutUser:
		if c.User == "" {
			return Result{}, nil, errorf(KindCommandInvalid, "user name must not be empty")
		}
		if err := ValidatePasswordHash(c.PasswordHash); err != nil {
			return Result{}, nil, err
		}
		if err := ValidateLimits(c.Limits, false); err != nil {
			return Result{}, nil, err
		}
		old, _ := user()
		if old != nil && c.Op == OpAddUser {
			return Result{}, nil, errorf(KindPreconditionFailed, "user '%s' already exists", c.User)
		}
		return Result{}, commit(func() {
			u := &User{Name: c.User, PasswordHash: c.PasswordHash, HashingAlgorithm: c.HashingAlgorithm,
				Tags: slices.Clone(c.Tags), Limits: cloneLimits(c.Limits)}
			if old != nil && c.Limits == nil {
				u.Limits = old.Limits
			}
			a.users[c.User] = u
		}), nil
	case OpDeleteUser:
		if _, err := user(); err != nil {
			return Result{}, nil, err
		}
		return Result{}, commit(func() {
			delete(a.users, c.User)
			for k := range a.perms {
				if k.user == c.User {
					delete(a.perms, k)
				}
			}
			for k := range a.topics {
				if k.user == c.User {
					delete(a.topics, k)
				}
			}
		}), nil
	case OpChangePassword, OpSetUserTags, OpSetUserLimits, OpClearUserLimits:
		old, err := user()
		if err != nil {
			return Result{}, nil, err
		}
		if err := ValidatePasswordHash(c.PasswordHash); err != nil {
			return Result{}, nil, err
		}
		if err := ValidateLimits(c.Limits, false); err != nil {
			return Result{}, nil, err
		}
		return Result{}, commit(func() {
			u := *old
			switch c.Op {
			case OpChangePassword:
				u.PasswordHash, u.HashingAlgorithm = c.PasswordHash, c.HashingAlgorithm
			case OpSetUserTags:
				u.Tags = slices.Clone(c.Tags)
			case OpSetUserLimits:
				u.Limits = cloneLimits(u.Limits)
				if u.Limits == nil {
					u.Limits = map[string]int64{}
				}
				for k, v := range c.Limits {
					u.Limits[k] = v
				}
			case OpClearUserLimits:
				u.Limits = clearLimit(u.Limits, c.Name)
			}
			a.users[c.User] = &u
		}), nil
	case OpSetVhostMetadata, OpSetVhostLimits, OpClearVhostLimits:
		if err := vhost(); err != nil {
			return Result{}, nil, err
		}
		if err := ValidateLimits(c.Limits, true); err != nil {
			return Result{}, nil, err
		}
		return Result{}, commit(func() {
			vi := VhostInfo{Name: c.Vhost}
			if old := a.vhosts[c.Vhost]; old != nil {
				vi = *old
			}
			switch c.Op {
			case OpSetVhostMetadata:
				vi.Description, vi.Tags, vi.DefaultQueueType = c.Description, slices.Clone(c.Tags), c.DefaultQueueType
			case OpSetVhostLimits:
				vi.Limits = cloneLimits(c.Limits)
			case OpClearVhostLimits:
				vi.Limits = clearLimit(vi.Limits, c.Name)
			}
			a.vhosts[c.Vhost] = &vi
		}), nil
	case OpSetPermissions:
		if err := userAndVhost(); err != nil {
			return Result{}, nil, err
		}
		p := &Permission{User: c.User, Vhost: c.Vhost, Configure: c.Configure, Write: c.Write, Read: c.Read}
		for i, expr := range []string{c.Configure, c.Write, c.Read} {
			re, err := compilePerm(expr)
			if err != nil {
				return Result{}, nil, errorf(KindCommandInvalid, "regular expression '%s' is invalid: %v", expr, err)
			}
			p.re[i] = re
		}
		return Result{}, commit(func() { a.perms[userVhost{c.User, c.Vhost}] = p }), nil
	case OpClearPermissions:
		if err := userAndVhost(); err != nil {
			return Result{}, nil, err
		}
		return Result{}, commit(func() { delete(a.perms, userVhost{c.User, c.Vhost}) }), nil
	case OpSetTopicPermissions:
		if err := userAndVhost(); err != nil {
			return Result{}, nil, err
		}
		tp := &TopicPermission{User: c.User, Vhost: c.Vhost, Exchange: c.Exchange, Write: c.Write, Read: c.Read}
		for _, pr := range []struct {
			perm Perm
			expr string
		}{{PermWrite, c.Write}, {PermRead, c.Read}} {
			if _, err := compilePerm(pr.expr); err != nil {
				return Result{}, nil, errorf(KindCommandInvalid, "regular expression '%s' is invalid: %v", pr.expr, err)
			}
			tp.re[pr.perm], _ = regexp.Compile(expandTopic(pr.expr, c.User, c.Vhost))
		}
		return Result{}, commit(func() { a.topics[topicKey{c.User, c.Vhost, c.Exchange}] = tp }), nil
	case OpClearTopicPermissions:
		if err := userAndVhost(); err != nil {
			return Result{}, nil, err
		}
		return Result{}, commit(func() {
			for k := range a.topics {
				if k.user == c.User && k.vhost == c.Vhost && (c.Exchange == "" || k.exchange == c.Exchange) {
					delete(a.topics, k)
				}
			}
		}), nil
	case OpSetParameter, OpClearParameter:
		if err := vhost(); err != nil {
			return Result{}, nil, err
		}
		if c.Component == "" || c.Name == "" {
			return Result{}, nil, errorf(KindCommandInvalid, "a parameter needs a component and a name")
		}
		k := paramKey{c.Vhost, c.Component, c.Name}
		if c.Op == OpClearParameter {
			return Result{}, commit(func() { delete(a.params, k) }), nil
		}
		if !json.Valid(c.Value) {
			return Result{}, nil, errorf(KindCommandInvalid, "parameter value is not JSON")
		}
		p := &Parameter{Vhost: c.Vhost, Component: c.Component, Name: c.Name, Value: slices.Clone(c.Value)}
		return Result{}, commit(func() { a.params[k] = p }), nil
	case OpSetGlobalParameter, OpClearGlobalParameter:
		if c.Name == "" {
			return Result{}, nil, errorf(KindCommandInvalid, "a global parameter needs a name")
		}
		if c.Op == OpClearGlobalParameter {
			return Result{}, commit(func() { delete(a.globals, c.Name) }), nil
		}
		if !json.Valid(c.Value) {
			return Result{}, nil, errorf(KindCommandInvalid, "parameter value is not JSON")
		}
		p := &Parameter{Name: c.Name, Value: slices.Clone(c.Value)}
		return Result{}, commit(func() { a.globals[c.Name] = p }), nil
	case OpSetPolicy, OpClearPolicy, OpSetOperatorPolicy, OpClearOperatorPolicy:
		if err := vhost(); err != nil {
			return Result{}, nil, err
		}
		if c.Name == "" {
			return Result{}, nil, errorf(KindCommandInvalid, "a policy needs a name")
		}
		operator := c.Op == OpSetOperatorPolicy || c.Op == OpClearOperatorPolicy
		table := a.policies
		if operator {
			table = a.opPolicies
		}
		k := policyKey{c.Vhost, c.Name}
		if c.Op == OpClearPolicy || c.Op == OpClearOperatorPolicy {
			return Result{}, commit(func() { delete(table, k) }), nil
		}
		if err := ValidatePermissionRegexp(c.Pattern); err != nil {
			return Result{}, nil, err
		}
		switch c.ApplyTo {
		case "all", "queues", "exchanges":
		default:
			return Result{}, nil, errorf(KindCommandInvalid, "Invalid value '%s' for apply-to", c.ApplyTo)
		}
		p := &Policy{Vhost: c.Vhost, Name: c.Name, Pattern: c.Pattern, ApplyTo: c.ApplyTo, Priority: c.Priority,
			Definition: slices.Clone(c.Value)}
		if err := compilePolicy(p, operator); err != nil {
			return Result{}, nil, err
		}
		return Result{}, commit(func() { table[k] = p }), nil
	}
	return Result{}, nil, errorf(KindCommandInvalid, "unknown command '%s'", c.Op)
}

func cloneLimits(m map[string]int64) map[string]int64 {
	if m == nil {
		return nil
	}
	out := make(map[string]int64, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

func clearLimit(m map[string]int64, name string) map[string]int64 {
	if name == "" || name == "all" {
		return nil
	}
	m = cloneLimits(m)
	delete(m, name)
	return m
}

// addVhostInfo records the metadata an add_vhost command carries. It runs
// in the commit, with applyMu held.
func (b *Broker) addVhostInfo(c *Command) {
	if c.Description == "" && len(c.Tags) == 0 && c.DefaultQueueType == "" && c.Limits == nil {
		return
	}
	a := &b.acc
	a.mu.Lock()
	a.vhosts[c.Vhost] = &VhostInfo{Name: c.Vhost, Description: c.Description, Tags: slices.Clone(c.Tags),
		DefaultQueueType: c.DefaultQueueType, Limits: cloneLimits(c.Limits)}
	a.mu.Unlock()
}

// dropVhostAccess forgets everything tied to a deleted vhost, as
// rabbit_vhost:internal_delete does. Runs in the commit.
func (b *Broker) dropVhostAccess(name string) {
	a := &b.acc
	a.mu.Lock()
	delete(a.vhosts, name)
	for k := range a.perms {
		if k.vhost == name {
			delete(a.perms, k)
		}
	}
	for k := range a.topics {
		if k.vhost == name {
			delete(a.topics, k)
		}
	}
	for k := range a.params {
		if k.vhost == name {
			delete(a.params, k)
		}
	}
	for k := range a.policies {
		if k.vhost == name {
			delete(a.policies, k)
		}
	}
	for k := range a.opPolicies {
		if k.vhost == name {
			delete(a.opPolicies, k)
		}
	}
	a.mu.Unlock()
	a.gen.Add(1)
}

// checkQueueLimit enforces a vhost's max-queues on a new queue.
func (v *Vhost) checkQueueLimit(name string) error {
	vi := v.broker.VhostInfo(v.Name)
	if vi == nil {
		return nil
	}
	n, ok := vi.Limit(LimitMaxQueues)
	if !ok {
		return nil
	}
	v.mu.RLock()
	count := len(v.queues)
	v.mu.RUnlock()
	if int64(count)+1 > n {
		return errorf(KindPreconditionFailed, "cannot declare queue '%s': queue limit in vhost '%s' (%d) is reached", name, v.Name, n)
	}
	return nil
}

// pristine reports whether nothing was ever defined: no vhost, no user, no
// permission. RabbitMQ inserts its default data only then.
func (b *Broker) pristine() bool {
	b.mu.RLock()
	nv := len(b.vhosts)
	b.mu.RUnlock()
	b.acc.mu.RLock()
	defer b.acc.mu.RUnlock()
	return nv == 0 && len(b.acc.users) == 0 && len(b.acc.perms) == 0
}

// DefaultUser is the user a node creates on its first start.
type DefaultUser struct {
	Name             string
	PasswordHash     string
	HashingAlgorithm string
	Tags             []string // administrator when nil
}

// defaultCommands are the default vhost, user and permissions, created on
// a pristine broker only (not re-created after being deleted).
func defaultCommands(vhost string, u DefaultUser) []*Command {
	var cmds []*Command
	if vhost != "" {
		cmds = append(cmds, &Command{Op: OpAddVhost, Vhost: vhost, Description: "Default virtual host"})
	}
	if u.Name != "" {
		tags := u.Tags
		if tags == nil {
			tags = []string{"administrator"}
		}
		cmds = append(cmds, &Command{Op: OpAddUser, User: u.Name, PasswordHash: u.PasswordHash,
			HashingAlgorithm: u.HashingAlgorithm, Tags: tags})
		if vhost != "" {
			cmds = append(cmds, &Command{Op: OpSetPermissions, User: u.Name, Vhost: vhost, Configure: ".*", Write: ".*", Read: ".*"})
		}
	}
	return cmds
}

// --- snapshot ---

// userCommands recreate every user (first in a snapshot).
func (b *Broker) userCommands() []*Command {
	var cmds []*Command
	for _, u := range b.Users() {
		cmds = append(cmds, &Command{Op: OpAddUser, User: u.Name, PasswordHash: u.PasswordHash,
			HashingAlgorithm: u.HashingAlgorithm, Tags: u.Tags, Limits: u.Limits})
	}
	return cmds
}

// addVhostCommand recreates a vhost with its metadata and limits.
func (b *Broker) addVhostCommand(name string) *Command {
	c := &Command{Op: OpAddVhost, Vhost: name}
	b.acc.mu.RLock()
	if vi := b.acc.vhosts[name]; vi != nil {
		c.Description, c.Tags, c.DefaultQueueType, c.Limits = vi.Description, vi.Tags, vi.DefaultQueueType, vi.Limits
	}
	b.acc.mu.RUnlock()
	return c
}

// accessCommands recreate permissions, parameters and policies (after the
// users and vhosts in a snapshot).
func (b *Broker) accessCommands() []*Command {
	var cmds []*Command
	for _, p := range b.Permissions() {
		cmds = append(cmds, &Command{Op: OpSetPermissions, User: p.User, Vhost: p.Vhost,
			Configure: p.Configure, Write: p.Write, Read: p.Read})
	}
	for _, p := range b.TopicPermissions() {
		cmds = append(cmds, &Command{Op: OpSetTopicPermissions, User: p.User, Vhost: p.Vhost,
			Exchange: p.Exchange, Write: p.Write, Read: p.Read})
	}
	for _, p := range b.Parameters("") {
		cmds = append(cmds, &Command{Op: OpSetParameter, Vhost: p.Vhost, Component: p.Component, Name: p.Name, Value: p.Value})
	}
	for _, p := range b.GlobalParameters() {
		cmds = append(cmds, &Command{Op: OpSetGlobalParameter, Name: p.Name, Value: p.Value})
	}
	for _, p := range b.Policies("") {
		cmds = append(cmds, &Command{Op: OpSetPolicy, Vhost: p.Vhost, Name: p.Name, Pattern: p.Pattern,
			ApplyTo: p.ApplyTo, Priority: p.Priority, Value: p.Definition})
	}
	for _, p := range b.OperatorPolicies("") {
		cmds = append(cmds, &Command{Op: OpSetOperatorPolicy, Vhost: p.Vhost, Name: p.Name, Pattern: p.Pattern,
			ApplyTo: p.ApplyTo, Priority: p.Priority, Value: p.Definition})
	}
	return cmds
}

// --- batches ---

// ApplyBatch applies a list of commands as one metadata change. prepare
// runs with the metadata lock held, so the state it validates against
// cannot change before its commands run, and nothing else is applied in
// between. The durable commands are logged as one record after the last
// has been carried out. Commands are checked one by one against the state
// the earlier ones left; the first failure stops the batch with the
// earlier ones applied, so prepare must validate everything (see
// definitions.Import).
func (b *Broker) ApplyBatch(prepare func() ([]*Command, error)) error {
	b.applyMu.Lock()
	defer b.applyMu.Unlock()
	cmds, err := prepare()
	if err != nil {
		return err
	}
	return b.applyBatchLocked(cmds, b.meta != nil)
}

func (b *Broker) applyBatchLocked(cmds []*Command, log bool) error {
	var recs []json.RawMessage
	var done []*Command
	for i, c := range cmds {
		r, commit, err := b.check(c)
		if err != nil {
			if len(done) > 0 {
				b.log.Error("metadata batch failed part-way", "applied", i, "of", len(cmds), "op", c.Op, "err", err)
				if werr := b.logBatch(recs, log); werr != nil {
					b.log.Error("metadata batch: cannot log the applied part", "err", werr)
				}
			}
			return fmt.Errorf("%s: %w", describe(c), err)
		}
		if commit == nil {
			continue
		}
		if log && b.persistent(c, r) {
			rec, err := c.marshal()
			if err != nil {
				return errorf(KindInternal, "cannot encode metadata: %v", err)
			}
			recs = append(recs, rec)
		}
		commit()
		done = append(done, c)
	}
	for _, c := range done {
		b.afterCommit(c)
	}
	return b.logBatch(recs, log)
}

func (b *Broker) logBatch(recs []json.RawMessage, log bool) error {
	if !log || len(recs) == 0 {
		return nil
	}
	rec := []byte(recs[0])
	if len(recs) > 1 {
		var err error
		rec, err = json.Marshal(&Command{Op: OpBatch, Batch: recs})
		if err != nil {
			return errorf(KindInternal, "cannot encode metadata: %v", err)
		}
	}
	if err := b.meta.Append(rec); err != nil {
		return errorf(KindInternal, "cannot write metadata: %v", err)
	}
	return nil
}

// replayBatch applies a logged batch at recovery.
func (b *Broker) replayBatch(c *Command) error {
	cmds := make([]*Command, 0, len(c.Batch))
	for _, rec := range c.Batch {
		var sub Command
		if err := json.Unmarshal(rec, &sub); err != nil {
			return err
		}
		if err := sub.decodeArgs(); err != nil {
			return err
		}
		cmds = append(cmds, &sub)
	}
	for _, sub := range cmds {
		if _, err := b.apply(sub, false); err != nil {
			b.log.Warn("metadata replay: command failed", "op", sub.Op, "name", sub.Name, "err", err)
		}
	}
	return nil
}

func describe(c *Command) string {
	switch {
	case c.User != "" && c.Vhost != "":
		return fmt.Sprintf("%s %s in vhost '%s'", c.Op, c.User, c.Vhost)
	case c.User != "":
		return fmt.Sprintf("%s %s", c.Op, c.User)
	case c.Name != "":
		return fmt.Sprintf("%s '%s' in vhost '%s'", c.Op, c.Name, c.Vhost)
	case c.Source != "":
		return fmt.Sprintf("%s '%s' -> '%s' in vhost '%s'", c.Op, c.Source, c.Destination, c.Vhost)
	}
	return fmt.Sprintf("%s '%s'", c.Op, c.Vhost)
}
