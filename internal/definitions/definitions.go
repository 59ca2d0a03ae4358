// Package definitions exports and imports a broker's definitions (users
// with their password hashes, vhosts, permissions, topic permissions,
// parameters, policies, queues, exchanges and bindings) in RabbitMQ's JSON
// format, so a file exported from RabbitMQ imports into Warren and back.
//
// An import is all or nothing: the whole document is validated against
// the broker's state, and turned into broker commands, before the first
// one is applied, under the broker's metadata lock (Broker.ApplyBatch).
package definitions

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/warrenmq/warren/internal/amqp"
	"github.com/warrenmq/warren/internal/auth"
	"github.com/warrenmq/warren/internal/broker"
)

// RabbitVersion is the RabbitMQ version whose format exports follow (the
// rabbit_version field).
const RabbitVersion = "3.10.8"

// --- export ---

type userDef struct {
	Name             string           `json:"name"`
	PasswordHash     string           `json:"password_hash"`
	HashingAlgorithm string           `json:"hashing_algorithm"`
	Tags             []string         `json:"tags"`
	Limits           map[string]int64 `json:"limits"`
}

type vhostMeta struct {
	Description      string   `json:"description"`
	Tags             []string `json:"tags"`
	DefaultQueueType string   `json:"default_queue_type,omitempty"`
}

type vhostDef struct {
	Name     string           `json:"name"`
	Limits   map[string]int64 `json:"limits"`
	Metadata vhostMeta        `json:"metadata"`
}

type permDef struct {
	User      string `json:"user"`
	Vhost     string `json:"vhost"`
	Configure string `json:"configure"`
	Write     string `json:"write"`
	Read      string `json:"read"`
}

type topicPermDef struct {
	User     string `json:"user"`
	Vhost    string `json:"vhost"`
	Exchange string `json:"exchange"`
	Write    string `json:"write"`
	Read     string `json:"read"`
}

type paramDef struct {
	Value     json.RawMessage `json:"value"`
	Vhost     string          `json:"vhost,omitempty"`
	Component string          `json:"component"`
	Name      string          `json:"name"`
}

type globalParamDef struct {
	Name  string          `json:"name"`
	Value json.RawMessage `json:"value"`
}

type policyDef struct {
	Vhost      string          `json:"vhost,omitempty"`
	Name       string          `json:"name"`
	Pattern    string          `json:"pattern"`
	ApplyTo    string          `json:"apply-to"`
	Definition json.RawMessage `json:"definition"`
	Priority   int             `json:"priority"`
}

type queueDef struct {
	Name       string         `json:"name"`
	Vhost      string         `json:"vhost,omitempty"`
	Durable    bool           `json:"durable"`
	AutoDelete bool           `json:"auto_delete"`
	Arguments  map[string]any `json:"arguments"`
}

type exchangeDef struct {
	Name       string         `json:"name"`
	Vhost      string         `json:"vhost,omitempty"`
	Type       string         `json:"type"`
	Durable    bool           `json:"durable"`
	AutoDelete bool           `json:"auto_delete"`
	Internal   bool           `json:"internal"`
	Arguments  map[string]any `json:"arguments"`
}

type bindingDef struct {
	Source          string         `json:"source"`
	Vhost           string         `json:"vhost,omitempty"`
	Destination     string         `json:"destination"`
	DestinationType string         `json:"destination_type"`
	RoutingKey      string         `json:"routing_key"`
	Arguments       map[string]any `json:"arguments"`
}

type fullDoc struct {
	RabbitVersion    string           `json:"rabbit_version"`
	RabbitMQVersion  string           `json:"rabbitmq_version"`
	ProductName      string           `json:"product_name"`
	Users            []userDef        `json:"users"`
	Vhosts           []vhostDef       `json:"vhosts"`
	Permissions      []permDef        `json:"permissions"`
	TopicPermissions []topicPermDef   `json:"topic_permissions"`
	Parameters       []paramDef       `json:"parameters"`
	GlobalParameters []globalParamDef `json:"global_parameters"`
	Policies         []policyDef      `json:"policies"`
	Queues           []queueDef       `json:"queues"`
	Exchanges        []exchangeDef    `json:"exchanges"`
	Bindings         []bindingDef     `json:"bindings"`
}

type vhostDoc struct {
	RabbitVersion string        `json:"rabbit_version"`
	Parameters    []paramDef    `json:"parameters"`
	Policies      []policyDef   `json:"policies"`
	Queues        []queueDef    `json:"queues"`
	Exchanges     []exchangeDef `json:"exchanges"`
	Bindings      []bindingDef  `json:"bindings"`
}

// ErrNoVhost is Export's and ImportVhost's error for a vhost that does not
// exist.
var ErrNoVhost = errors.New("vhost_not_found")

// Export returns the definitions of the whole broker (vhost "") or of one
// vhost, as RabbitMQ's GET /api/definitions[/vhost] does: for one vhost
// only its parameters, policies, queues, exchanges and bindings, without
// vhost fields.
func Export(b *broker.Broker, vhost string) ([]byte, error) {
	if vhost != "" {
		if b.Vhost(vhost) == nil {
			return nil, ErrNoVhost
		}
		d := vhostDoc{RabbitVersion: RabbitVersion, Parameters: parameters(b, vhost), Policies: policies(b, vhost)}
		d.Queues, d.Exchanges, d.Bindings = entities(b, b.Vhost(vhost), false)
		return json.MarshalIndent(d, "", "  ")
	}
	d := fullDoc{RabbitVersion: RabbitVersion, RabbitMQVersion: RabbitVersion, ProductName: "Warren",
		Users: []userDef{}, Vhosts: []vhostDef{}, Permissions: []permDef{}, TopicPermissions: []topicPermDef{},
		Parameters: parameters(b, ""), GlobalParameters: []globalParamDef{}, Policies: policies(b, ""),
		Queues: []queueDef{}, Exchanges: []exchangeDef{}, Bindings: []bindingDef{}}
	for _, u := range b.Users() {
		alg := u.HashingAlgorithm
		if alg == "" {
			alg = auth.DefaultAlgorithm
		}
		d.Users = append(d.Users, userDef{Name: u.Name, PasswordHash: u.PasswordHash, HashingAlgorithm: alg,
			Tags: nonNil(u.Tags), Limits: nonNilMap(u.Limits)})
	}
	for _, v := range b.Vhosts() {
		vi := b.VhostInfo(v.Name)
		if vi == nil {
			continue
		}
		d.Vhosts = append(d.Vhosts, vhostDef{Name: v.Name, Limits: nonNilMap(vi.Limits),
			Metadata: vhostMeta{Description: vi.Description, Tags: nonNil(vi.Tags), DefaultQueueType: vi.DefaultQueueType}})
		qs, xs, bs := entities(b, v, true)
		d.Queues = append(d.Queues, qs...)
		d.Exchanges = append(d.Exchanges, xs...)
		d.Bindings = append(d.Bindings, bs...)
	}
	for _, p := range b.Permissions() {
		d.Permissions = append(d.Permissions, permDef{p.User, p.Vhost, p.Configure, p.Write, p.Read})
	}
	for _, p := range b.TopicPermissions() {
		d.TopicPermissions = append(d.TopicPermissions, topicPermDef{p.User, p.Vhost, p.Exchange, p.Write, p.Read})
	}
	for _, p := range b.GlobalParameters() {
		d.GlobalParameters = append(d.GlobalParameters, globalParamDef{p.Name, p.Value})
	}
	return json.MarshalIndent(d, "", "  ")
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func nonNilMap(m map[string]int64) map[string]int64 {
	if m == nil {
		return map[string]int64{}
	}
	return m
}

// parameters lists runtime parameters, with each vhost's limits as the
// vhost-limits parameter RabbitMQ keeps them in.
func parameters(b *broker.Broker, vhost string) []paramDef {
	out := []paramDef{}
	for _, v := range b.Vhosts() {
		if vhost != "" && v.Name != vhost {
			continue
		}
		vi := b.VhostInfo(v.Name)
		if vi == nil || len(vi.Limits) == 0 {
			continue
		}
		raw, _ := json.Marshal(vi.Limits)
		p := paramDef{Value: raw, Vhost: v.Name, Component: vhostLimitsComponent, Name: "limits"}
		if vhost != "" {
			p.Vhost = ""
		}
		out = append(out, p)
	}
	for _, p := range b.Parameters(vhost) {
		d := paramDef{Value: p.Value, Vhost: p.Vhost, Component: p.Component, Name: p.Name}
		if vhost != "" {
			d.Vhost = ""
		}
		out = append(out, d)
	}
	return out
}

func policies(b *broker.Broker, vhost string) []policyDef {
	out := []policyDef{}
	for _, p := range b.Policies(vhost) {
		d := policyDef{Vhost: p.Vhost, Name: p.Name, Pattern: p.Pattern, ApplyTo: p.ApplyTo, Definition: p.Definition, Priority: p.Priority}
		if vhost != "" {
			d.Vhost = ""
		}
		out = append(out, d)
	}
	return out
}

// entities lists a vhost's queues (not exclusive ones), exchanges (not
// the default or amq.* ones) and bindings (not from the default exchange,
// not to exclusive queues), as RabbitMQ's export does.
func entities(b *broker.Broker, v *broker.Vhost, withVhost bool) ([]queueDef, []exchangeDef, []bindingDef) {
	vh := ""
	if withVhost {
		vh = v.Name
	}
	qs, xs, bs := []queueDef{}, []exchangeDef{}, []bindingDef{}
	exported := map[string]bool{}
	for _, q := range sortQueues(v.Queues()) {
		if q.Exclusive {
			continue
		}
		exported[q.Name] = true
		qs = append(qs, queueDef{Name: q.Name, Vhost: vh, Durable: q.Durable, AutoDelete: q.AutoDelete, Arguments: fromTable(q.Args)})
	}
	for _, x := range sortExchanges(v.Exchanges()) {
		if x.Name != "" && !strings.HasPrefix(x.Name, "amq.") {
			xs = append(xs, exchangeDef{Name: x.Name, Vhost: vh, Type: x.Kind, Durable: x.Durable, AutoDelete: x.AutoDelete,
				Internal: x.Internal, Arguments: fromTable(x.Args)})
		}
		if x.Name == "" {
			continue
		}
		for _, bd := range x.Bindings() {
			d := bindingDef{Source: x.Name, Vhost: vh, RoutingKey: bd.Key, Arguments: fromTable(bd.Args)}
			if bd.Dest.Queue != nil {
				if !exported[bd.Dest.Queue.Name] {
					continue
				}
				d.Destination, d.DestinationType = bd.Dest.Queue.Name, broker.DestQueue
			} else {
				d.Destination, d.DestinationType = bd.Dest.Exchange.Name, broker.DestExchange
			}
			bs = append(bs, d)
		}
	}
	return qs, xs, bs
}

// --- import ---

// vhostLimitsComponent is the runtime parameter component RabbitMQ keeps
// vhost limits in (name "limits").
const vhostLimitsComponent = "vhost-limits"

// Import applies a definitions document to the broker, as RabbitMQ's
// POST /api/definitions and load_definitions do: users, vhosts,
// permissions, topic permissions, exchanges, global parameters, policies,
// parameters, queues, bindings. Existing queues and exchanges are left as
// they are; existing users, permissions, parameters and policies are
// updated. Nothing is applied unless the whole document is valid.
func Import(b *broker.Broker, data []byte) error {
	doc, err := parse(data)
	if err != nil || doc == nil {
		return err
	}
	return b.ApplyBatch(func() ([]*broker.Command, error) {
		p := newPlan(b)
		if err := p.full(doc); err != nil {
			return nil, err
		}
		return p.cmds, nil
	})
}

// ImportVhost applies the parameters, policies, queues, exchanges and
// bindings of a document to one existing vhost, ignoring their vhost
// fields, as RabbitMQ's POST /api/definitions/vhost does.
func ImportVhost(b *broker.Broker, vhost string, data []byte) error {
	doc, err := parse(data)
	if err != nil || doc == nil {
		return err
	}
	return b.ApplyBatch(func() ([]*broker.Command, error) {
		if b.Vhost(vhost) == nil {
			return nil, ErrNoVhost
		}
		p := newPlan(b)
		if err := p.entities(doc, vhost); err != nil {
			return nil, err
		}
		return p.cmds, nil
	})
}

func parse(data []byte) (object, error) {
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, nil
	}
	var doc object
	if err := json.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("failed to parse definitions: %w", err)
	}
	if doc == nil {
		return nil, errors.New("failed to parse definitions: not a JSON object")
	}
	return doc, nil
}

// plan validates a document against the broker and the document's own
// earlier items, and collects the commands that carry it out.
type plan struct {
	b         *broker.Broker
	users     map[string]bool
	vhosts    map[string]bool // created by the document
	exchanges map[[2]string]string
	queues    map[[2]string]bool
	newQueues map[string]int
	limits    map[string]map[string]int64 // vhost limits the document sets
	cmds      []*broker.Command
}

func newPlan(b *broker.Broker) *plan {
	return &plan{b: b, users: map[string]bool{}, vhosts: map[string]bool{}, exchanges: map[[2]string]string{},
		queues: map[[2]string]bool{}, newQueues: map[string]int{}, limits: map[string]map[string]int64{}}
}

func (p *plan) add(c *broker.Command) { p.cmds = append(p.cmds, c) }

func (p *plan) userExists(name string) bool { return p.users[name] || p.b.User(name) != nil }

func (p *plan) vhostExists(name string) bool { return p.vhosts[name] || p.b.Vhost(name) != nil }

// exchangeKind is an exchange's type if it exists or will, else "".
func (p *plan) exchangeKind(vhost, name string) string {
	if k, ok := p.exchanges[[2]string{vhost, name}]; ok {
		return k
	}
	if v := p.b.Vhost(vhost); v != nil {
		if x := v.Exchange(name); x != nil {
			return x.Kind
		}
		return ""
	}
	if p.vhosts[vhost] {
		switch name {
		case "", "amq.direct":
			return broker.KindDirect
		case "amq.fanout":
			return broker.KindFanout
		case "amq.topic":
			return broker.KindTopic
		case "amq.headers", "amq.match":
			return broker.KindHeaders
		}
	}
	return ""
}

// queue reports whether a queue exists or will, and whether it is
// another connection's exclusive queue.
func (p *plan) queue(vhost, name string) (exists, exclusive bool) {
	if p.queues[[2]string{vhost, name}] {
		return true, false
	}
	if v := p.b.Vhost(vhost); v != nil {
		if q := v.Queue(name); q != nil {
			return true, q.Exclusive
		}
	}
	return false, false
}

type itemError struct {
	what string
	i    int
	name string
	err  error
}

func (e *itemError) Error() string {
	if e.name != "" {
		return fmt.Sprintf("%s[%d] '%s': %v", e.what, e.i, e.name, e.err)
	}
	return fmt.Sprintf("%s[%d]: %v", e.what, e.i, e.err)
}

func (e *itemError) Unwrap() error { return e.err }

// each runs f over a category, labelling errors with the item.
func each(doc object, key string, f func(o object) (name string, err error)) error {
	items, err := list(doc, key)
	if err != nil {
		return err
	}
	for i, o := range items {
		if name, err := f(o); err != nil {
			return &itemError{key, i, name, err}
		}
	}
	return nil
}

// full plans a whole-broker import in RabbitMQ's order.
func (p *plan) full(doc object) error {
	version, _ := doc.str("rabbitmq_version")
	if version == "" {
		version, _ = doc.str("rabbit_version")
	}
	steps := []struct {
		key string
		f   func(object) (string, error)
	}{
		{"users", func(o object) (string, error) { return p.user(o, version) }},
		{"vhosts", p.vhost},
		{"permissions", p.permission},
		{"topic_permissions", p.topicPermission},
	}
	for _, s := range steps {
		if err := each(doc, s.key, s.f); err != nil {
			return err
		}
	}
	return p.entitiesOrdered(doc, "")
}

// entities plans a one-vhost import.
func (p *plan) entities(doc object, vhost string) error { return p.entitiesOrdered(doc, vhost) }

func (p *plan) entitiesOrdered(doc object, vhost string) error {
	steps := []struct {
		key string
		f   func(object) (string, error)
	}{
		{"exchanges", func(o object) (string, error) { return p.exchange(o, vhost) }},
		{"global_parameters", p.globalParameter},
		{"policies", func(o object) (string, error) { return p.policy(o, vhost) }},
		{"parameters", func(o object) (string, error) { return p.parameter(o, vhost) }},
		{"queues", func(o object) (string, error) { return p.queueDef(o, vhost) }},
		{"bindings", func(o object) (string, error) { return p.binding(o, vhost) }},
	}
	for _, s := range steps {
		if vhost != "" && s.key == "global_parameters" {
			continue
		}
		if err := each(doc, s.key, s.f); err != nil {
			return err
		}
	}
	return p.checkQueueLimits()
}

func (p *plan) user(o object, version string) (string, error) {
	name, err := o.reqStr("name")
	if err != nil || name == "" {
		return name, firstErr(err, errors.New("name: must not be empty"))
	}
	pass, err := o.str("password")
	if err != nil {
		return name, err
	}
	hash, err := o.str("password_hash")
	if err != nil {
		return name, err
	}
	if o.has("password") && o.has("password_hash") {
		return name, errors.New("both_password_and_password_hash_are_provided")
	}
	alg, err := o.str("hashing_algorithm")
	if err != nil {
		return name, err
	}
	if alg == "" {
		alg = defaultAlgorithm(version)
	}
	if !auth.KnownAlgorithm(alg) {
		return name, fmt.Errorf("hashing_algorithm: unsupported %q", alg)
	}
	if o.has("password") {
		if hash, err = auth.HashPasswordWith(alg, pass); err != nil {
			return name, err
		}
	}
	if err := broker.ValidatePasswordHash(hash); err != nil {
		return name, fmt.Errorf("password_hash: %v", err)
	}
	tags, err := o.tags("tags")
	if err != nil {
		return name, err
	}
	if !o.has("tags") {
		if admin, _ := o.boolean("administrator"); admin {
			tags = []string{"administrator"}
		}
	}
	limits, err := o.limits("limits")
	if err != nil {
		return name, err
	}
	if err := broker.ValidateLimits(limits, false); err != nil {
		return name, err
	}
	p.users[name] = true
	c := &broker.Command{Op: broker.OpPutUser, User: name, PasswordHash: hash, HashingAlgorithm: alg, Tags: tags, Limits: limits}
	if c.Tags == nil {
		c.Tags = []string{}
	}
	p.add(c)
	return name, nil
}

// defaultAlgorithm is RabbitMQ's hashing_algorithm/2 for documents that
// do not name one: MD5 before 3.6, SHA-256 after.
func defaultAlgorithm(version string) string {
	for _, old := range []string{"3.0.", "3.1.", "3.2.", "3.3.", "3.4.", "3.5."} {
		if strings.HasPrefix(version, old) {
			return auth.MD5
		}
	}
	return auth.SHA256
}

func firstErr(errs ...error) error {
	for _, e := range errs {
		if e != nil {
			return e
		}
	}
	return nil
}

func (p *plan) vhost(o object) (string, error) {
	name, err := o.reqStr("name")
	if err != nil || name == "" {
		return name, firstErr(err, errors.New("name: must not be empty"))
	}
	var meta object
	if raw, ok := o["metadata"]; ok && !isNull(raw) {
		if err := json.Unmarshal(raw, &meta); err != nil {
			return name, errors.New("metadata: want an object")
		}
	}
	pick := func(key string) object {
		if o.has(key) || meta == nil {
			return o
		}
		return meta
	}
	desc, err := pick("description").str("description")
	if err != nil {
		return name, err
	}
	tags, err := pick("tags").tags("tags")
	if err != nil {
		return name, err
	}
	dqt, err := pick("default_queue_type").str("default_queue_type")
	if err != nil {
		return name, err
	}
	limits, err := o.limits("limits")
	if err != nil {
		return name, err
	}
	if err := broker.ValidateLimits(limits, true); err != nil {
		return name, err
	}
	hasMeta := o.has("description") || o.has("tags") || meta != nil
	if p.vhostExists(name) {
		if hasMeta {
			p.add(&broker.Command{Op: broker.OpSetVhostMetadata, Vhost: name, Description: desc, Tags: tags, DefaultQueueType: dqt})
		}
	} else {
		p.vhosts[name] = true
		p.add(&broker.Command{Op: broker.OpAddVhost, Vhost: name, Description: desc, Tags: tags, DefaultQueueType: dqt})
	}
	if len(limits) > 0 {
		p.setVhostLimits(name, limits)
	}
	return name, nil
}

func (p *plan) setVhostLimits(vhost string, limits map[string]int64) {
	p.limits[vhost] = limits
	p.add(&broker.Command{Op: broker.OpSetVhostLimits, Vhost: vhost, Limits: limits})
}

func (p *plan) userAndVhost(o object) (user, vhost string, err error) {
	if user, err = o.reqStr("user"); err != nil {
		return
	}
	if vhost, err = o.reqStr("vhost"); err != nil {
		return
	}
	if !p.userExists(user) {
		return user, vhost, fmt.Errorf("no_such_user: %s", user)
	}
	if !p.vhostExists(vhost) {
		return user, vhost, fmt.Errorf("no_such_vhost: %s", vhost)
	}
	return user, vhost, nil
}

// regexps reads permission expressions, which must be present and valid.
func regexps(o object, keys ...string) ([]string, error) {
	out := make([]string, len(keys))
	for i, k := range keys {
		s, err := o.reqStr(k)
		if err != nil {
			return nil, err
		}
		if err := broker.ValidatePermissionRegexp(s); err != nil {
			return nil, fmt.Errorf("%s: %v", k, err)
		}
		out[i] = s
	}
	return out, nil
}

func (p *plan) permission(o object) (string, error) {
	user, vhost, err := p.userAndVhost(o)
	if err != nil {
		return user, err
	}
	re, err := regexps(o, "configure", "write", "read")
	if err != nil {
		return user, err
	}
	p.add(&broker.Command{Op: broker.OpSetPermissions, User: user, Vhost: vhost, Configure: re[0], Write: re[1], Read: re[2]})
	return user, nil
}

func (p *plan) topicPermission(o object) (string, error) {
	user, vhost, err := p.userAndVhost(o)
	if err != nil {
		return user, err
	}
	x, err := o.reqStr("exchange")
	if err != nil {
		return user, err
	}
	re, err := regexps(o, "write", "read")
	if err != nil {
		return user, err
	}
	p.add(&broker.Command{Op: broker.OpSetTopicPermissions, User: user, Vhost: vhost, Exchange: x, Write: re[0], Read: re[1]})
	return user, nil
}

// itemVhost is the vhost of an entity: the forced one of a one-vhost
// import, else its own vhost field, which must name a vhost.
func (p *plan) itemVhost(o object, forced string) (string, error) {
	if forced != "" {
		return forced, nil
	}
	v, err := o.reqStr("vhost")
	if err != nil {
		return "", err
	}
	if !p.vhostExists(v) {
		return v, fmt.Errorf("no_such_vhost: %s", v)
	}
	return v, nil
}

func (p *plan) exchange(o object, forced string) (string, error) {
	name, err := o.reqStr("name")
	if err != nil {
		return name, err
	}
	vhost, err := p.itemVhost(o, forced)
	if err != nil {
		return name, err
	}
	kind, err := o.reqStr("type")
	if err != nil {
		return name, err
	}
	durable, err := o.boolean("durable")
	if err != nil {
		return name, err
	}
	autoDelete, err := o.boolean("auto_delete")
	if err != nil {
		return name, err
	}
	internal, err := o.boolean("internal")
	if err != nil {
		return name, err
	}
	args, err := o.table("arguments")
	if err != nil {
		return name, err
	}
	if name == "" || strings.HasPrefix(name, "amq.") || p.exchangeKind(vhost, name) != "" {
		return name, nil // RabbitMQ skips these: the default and system exchanges, and existing ones
	}
	if !broker.ValidExchangeType(kind) {
		return name, fmt.Errorf("unknown exchange type '%s'", kind)
	}
	if err := broker.ValidateExchangeArgs(kind, args); err != nil {
		return name, err
	}
	if err := encodable(args); err != nil {
		return name, err
	}
	p.exchanges[[2]string{vhost, name}] = kind
	p.add(&broker.Command{Op: broker.OpDeclareExchange, Vhost: vhost, Name: name, Type: kind, Durable: durable,
		AutoDelete: autoDelete, Internal: internal, Args: args})
	return name, nil
}

// encodable checks that arguments survive the metadata log's AMQP table
// encoding.
func encodable(t amqp.Table) error {
	if _, err := amqp.AppendTable(nil, t); err != nil {
		return fmt.Errorf("arguments: %v", err)
	}
	return nil
}

func (p *plan) globalParameter(o object) (string, error) {
	name, err := o.reqStr("name")
	if err != nil || name == "" {
		return name, firstErr(err, errors.New("name: must not be empty"))
	}
	if !o.has("value") {
		return name, errors.New("value: missing")
	}
	p.add(&broker.Command{Op: broker.OpSetGlobalParameter, Name: name, Value: compact(o["value"])})
	return name, nil
}

func compact(raw json.RawMessage) json.RawMessage {
	var buf bytes.Buffer
	if json.Compact(&buf, raw) != nil {
		return raw
	}
	return buf.Bytes()
}

func (p *plan) policy(o object, forced string) (string, error) {
	name, err := o.reqStr("name")
	if err != nil || name == "" {
		return name, firstErr(err, errors.New("name: must not be empty"))
	}
	vhost, err := p.itemVhost(o, forced)
	if err != nil {
		return name, err
	}
	pattern, err := o.reqStr("pattern")
	if err != nil {
		return name, err
	}
	if err := broker.ValidatePermissionRegexp(pattern); err != nil {
		return name, fmt.Errorf("pattern: %v", err)
	}
	applyTo, err := o.str("apply-to")
	if err != nil {
		return name, err
	}
	if applyTo == "" {
		applyTo = "all"
	}
	if applyTo != "all" && applyTo != "queues" && applyTo != "exchanges" {
		return name, fmt.Errorf("apply-to: '%s' is not all, queues or exchanges", applyTo)
	}
	prio, _, err := o.integer("priority")
	if err != nil {
		return name, err
	}
	var def map[string]json.RawMessage
	if err := json.Unmarshal(o["definition"], &def); err != nil || def == nil {
		return name, errors.New("definition: want an object")
	}
	if err := broker.ValidatePolicyDefinition(o["definition"], false); err != nil {
		return name, fmt.Errorf("definition: %v", err)
	}
	p.add(&broker.Command{Op: broker.OpSetPolicy, Vhost: vhost, Name: name, Pattern: pattern, ApplyTo: applyTo,
		Priority: int(prio), Value: compact(o["definition"])})
	return name, nil
}

func (p *plan) parameter(o object, forced string) (string, error) {
	name, err := o.reqStr("name")
	if err != nil || name == "" {
		return name, firstErr(err, errors.New("name: must not be empty"))
	}
	vhost, err := p.itemVhost(o, forced)
	if err != nil {
		return name, err
	}
	comp, err := o.reqStr("component")
	if err != nil || comp == "" {
		return name, firstErr(err, errors.New("component: must not be empty"))
	}
	if !o.has("value") {
		return name, errors.New("value: missing")
	}
	if comp == vhostLimitsComponent {
		limits, err := limitsValue(o["value"], "value")
		if err != nil {
			return name, err
		}
		if err := broker.ValidateLimits(limits, true); err != nil {
			return name, err
		}
		p.setVhostLimits(vhost, limits)
		return name, nil
	}
	p.add(&broker.Command{Op: broker.OpSetParameter, Vhost: vhost, Component: comp, Name: name, Value: compact(o["value"])})
	return name, nil
}

func (p *plan) queueDef(o object, forced string) (string, error) {
	name, err := o.reqStr("name")
	if err != nil {
		return name, err
	}
	vhost, err := p.itemVhost(o, forced)
	if err != nil {
		return name, err
	}
	durable, err := o.boolean("durable")
	if err != nil {
		return name, err
	}
	autoDelete, err := o.boolean("auto_delete")
	if err != nil {
		return name, err
	}
	args, err := o.table("arguments")
	if err != nil {
		return name, err
	}
	if name == "" {
		return name, errors.New("name: must not be empty")
	}
	if strings.HasPrefix(name, "amq.") {
		return name, nil // RabbitMQ skips these
	}
	if exists, _ := p.queue(vhost, name); exists {
		return name, nil
	}
	if err := encodable(args); err != nil {
		return name, err
	}
	p.queues[[2]string{vhost, name}] = true
	p.newQueues[vhost]++
	p.add(&broker.Command{Op: broker.OpDeclareQueue, Vhost: vhost, Name: name, Durable: durable, AutoDelete: autoDelete, Args: args})
	return name, nil
}

// checkQueueLimits is RabbitMQ's validate_limits, with the limits the
// document itself sets taking effect (they do, before queues are
// declared).
func (p *plan) checkQueueLimits() error {
	for _, vhost := range sortedKeys(p.newQueues) {
		add := p.newQueues[vhost]
		limits := p.limits[vhost]
		if limits == nil {
			if vi := p.b.VhostInfo(vhost); vi != nil {
				limits = vi.Limits
			}
		}
		n, ok := limits[broker.LimitMaxQueues]
		if !ok || n < 0 {
			continue
		}
		have := 0
		if v := p.b.Vhost(vhost); v != nil {
			_, have = v.Counts()
		}
		if int64(have+add) > n {
			return fmt.Errorf("Adding %d queue(s) to virtual host \"%s\" would exceed the limit of %d queue(s).\n\n"+
				"This virtual host currently has %d queue(s) defined.\n\nImport aborted!", add, vhost, n, have)
		}
	}
	return nil
}

func (p *plan) binding(o object, forced string) (string, error) {
	src, err := o.reqStr("source")
	if err != nil {
		return src, err
	}
	vhost, err := p.itemVhost(o, forced)
	if err != nil {
		return src, err
	}
	dest, err := o.reqStr("destination")
	if err != nil {
		return src, err
	}
	dtype, err := o.reqStr("destination_type")
	if err != nil {
		return src, err
	}
	key, err := o.str("routing_key")
	if err != nil {
		return src, err
	}
	args, err := o.table("arguments")
	if err != nil {
		return src, err
	}
	if src == "" {
		return src, nil // the default exchange's implicit bindings; RabbitMQ never exports them
	}
	kind := p.exchangeKind(vhost, src)
	if kind == "" {
		return src, fmt.Errorf("no exchange '%s' in vhost '%s'", src, vhost)
	}
	switch dtype {
	case broker.DestQueue:
		exists, exclusive := p.queue(vhost, dest)
		if !exists {
			return src, fmt.Errorf("no queue '%s' in vhost '%s'", dest, vhost)
		}
		if exclusive {
			return src, fmt.Errorf("queue '%s' in vhost '%s' is exclusive", dest, vhost)
		}
	case broker.DestExchange:
		if dest == "" || p.exchangeKind(vhost, dest) == "" {
			return src, fmt.Errorf("no exchange '%s' in vhost '%s'", dest, vhost)
		}
	default:
		return src, fmt.Errorf("destination_type: want queue or exchange, not '%s'", dtype)
	}
	if err := broker.ValidateBindingArgs(kind, args); err != nil {
		return src, err
	}
	if err := encodable(args); err != nil {
		return src, err
	}
	p.add(&broker.Command{Op: broker.OpBind, Vhost: vhost, Source: src, Destination: dest, DestType: dtype, Key: key, Args: args})
	return src, nil
}
