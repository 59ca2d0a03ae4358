package broker

import (
	"encoding/json"
	"strings"

	"github.com/warrenmq/warren/internal/amqp"
)

// Op names a metadata command.
type Op string

// Metadata operations. Every change to vhosts, exchanges, queues and
// bindings is one of these, applied by Broker.Apply; on one node the
// durable ones are written to the metadata log, in a cluster they will go
// through Raft. Keep them deterministic: no clocks, no random names.
const (
	OpAddVhost        Op = "add_vhost"
	OpDeleteVhost     Op = "delete_vhost"
	OpDeclareExchange Op = "declare_exchange"
	OpDeleteExchange  Op = "delete_exchange"
	OpDeclareQueue    Op = "declare_queue"
	OpDeleteQueue     Op = "delete_queue"
	OpBind            Op = "bind"
	OpUnbind          Op = "unbind"
)

// Binding destination types.
const (
	DestQueue    = "queue"
	DestExchange = "exchange"
)

// Command is one metadata change.
type Command struct {
	Op          Op         `json:"op"`
	Vhost       string     `json:"vhost"`
	Name        string     `json:"name,omitempty"`
	Type        string     `json:"type,omitempty"` // exchange kind
	Durable     bool       `json:"durable,omitempty"`
	AutoDelete  bool       `json:"auto_delete,omitempty"`
	Internal    bool       `json:"internal,omitempty"`
	Exclusive   bool       `json:"exclusive,omitempty"`
	Passive     bool       `json:"-"`
	IfUnused    bool       `json:"if_unused,omitempty"`
	IfEmpty     bool       `json:"if_empty,omitempty"`
	Owner       uint64     `json:"owner,omitempty"` // connection id owning an exclusive queue
	Args        amqp.Table `json:"-"`
	RawArgs     []byte     `json:"args,omitempty"` // Args in AMQP table encoding, so types survive the log
	Source      string     `json:"source,omitempty"`
	Destination string     `json:"destination,omitempty"`
	DestType    string     `json:"destination_type,omitempty"`
	Key         string     `json:"routing_key,omitempty"`

	// Access control, vhost metadata, parameters and policies (access.go).
	User             string            `json:"user,omitempty"`
	PasswordHash     string            `json:"password_hash,omitempty"`
	HashingAlgorithm string            `json:"hashing_algorithm,omitempty"`
	Tags             []string          `json:"tags,omitempty"`
	Limits           map[string]int64  `json:"limits,omitempty"`
	Description      string            `json:"description,omitempty"`
	DefaultQueueType string            `json:"default_queue_type,omitempty"`
	Configure        string            `json:"configure,omitempty"`
	Write            string            `json:"write,omitempty"`
	Read             string            `json:"read,omitempty"`
	Exchange         string            `json:"exchange,omitempty"`
	Component        string            `json:"component,omitempty"`
	Pattern          string            `json:"pattern,omitempty"`
	ApplyTo          string            `json:"apply_to,omitempty"`
	Priority         int               `json:"priority,omitempty"`
	Value            json.RawMessage   `json:"value,omitempty"`
	Batch            []json.RawMessage `json:"batch,omitempty"` // OpBatch: the commands, each as logged

	auto *Queue // auto-deletion of exactly this queue (not a successor of the same name)
}

// Result is what a command produced.
type Result struct {
	Queue         *Queue
	Exchange      *Exchange
	MessageCount  int
	ConsumerCount int
}

func (c *Command) marshal() ([]byte, error) {
	c.RawArgs = nil
	if len(c.Args) > 0 {
		raw, err := amqp.AppendTable(nil, c.Args)
		if err != nil {
			return nil, err
		}
		c.RawArgs = raw
	}
	return json.Marshal(c)
}

func (c *Command) decodeArgs() error {
	if len(c.RawArgs) == 0 {
		return nil
	}
	t, _, err := amqp.ReadTable(c.RawArgs)
	c.Args = t
	return err
}

// persistent reports whether a command changes durable state, and so must
// be in the metadata log.
func (b *Broker) persistent(c *Command, r Result) bool {
	if IsAccessOp(c.Op) {
		return true
	}
	switch c.Op {
	case OpAddVhost, OpDeleteVhost:
		return true
	case OpDeclareExchange:
		return !c.Passive && c.Durable
	case OpDeclareQueue:
		return !c.Passive && c.Durable && !c.Exclusive
	case OpDeleteExchange:
		return r.Exchange != nil && r.Exchange.Durable
	case OpDeleteQueue:
		return r.Queue != nil && r.Queue.Durable && !r.Queue.Exclusive
	case OpBind, OpUnbind:
		return r.Exchange != nil && r.Exchange.Durable && ((r.Queue != nil && r.Queue.Durable && !r.Queue.Exclusive) ||
			(r.Queue == nil && c.DestType == DestExchange && b.destExchangeDurable(c)))
	}
	return false
}

func (b *Broker) destExchangeDurable(c *Command) bool {
	v := b.Vhost(c.Vhost)
	if v == nil {
		return false
	}
	x := v.Exchange(c.Destination)
	return x != nil && x.Durable
}

// Apply validates and carries out one metadata command. It is the single
// entry point for metadata changes.
func (b *Broker) Apply(c *Command) (Result, error) {
	return b.apply(c, true)
}

func (b *Broker) apply(c *Command, log bool) (Result, error) {
	b.applyMu.Lock()
	defer b.applyMu.Unlock()
	r, commit, err := b.check(c)
	if err != nil || commit == nil {
		return r, err
	}
	if log && b.meta != nil && b.persistent(c, r) {
		rec, err := c.marshal()
		if err != nil {
			return r, errorf(KindInternal, "cannot encode metadata: %v", err)
		}
		if err := b.meta.Append(rec); err != nil {
			return r, errorf(KindInternal, "cannot write metadata: %v", err)
		}
	}
	res := commit()
	b.afterCommit(c)
	return res, nil
}

// check validates c against the current state and returns a function that
// makes the change (nil when there is nothing to change, e.g. a passive
// declare or a redeclare of an equivalent object).
func (b *Broker) check(c *Command) (Result, func() Result, error) {
	if IsAccessOp(c.Op) {
		return b.checkAccess(c)
	}
	if c.Op == OpAddVhost {
		if b.Vhost(c.Vhost) != nil {
			return Result{}, nil, nil
		}
		if err := ValidateLimits(c.Limits, true); err != nil {
			return Result{}, nil, err
		}
		return Result{}, func() Result {
			b.addVhostInfo(c)
			b.mu.Lock()
			b.vhosts[c.Vhost] = newVhost(b, c.Vhost)
			b.mu.Unlock()
			return Result{}
		}, nil
	}
	v := b.Vhost(c.Vhost)
	if v == nil {
		return Result{}, nil, errorf(KindNotFound, "no vhost '%s'", c.Vhost)
	}
	switch c.Op {
	case OpDeleteVhost:
		return Result{}, func() Result { b.deleteVhost(v); return Result{} }, nil
	case OpDeclareExchange:
		return v.checkDeclareExchange(c)
	case OpDeleteExchange:
		return v.checkDeleteExchange(c)
	case OpDeclareQueue:
		return v.checkDeclareQueue(c)
	case OpDeleteQueue:
		return v.checkDeleteQueue(c)
	case OpBind, OpUnbind:
		return v.checkBinding(c)
	}
	return Result{}, nil, errorf(KindCommandInvalid, "unknown command '%s'", c.Op)
}

func (b *Broker) deleteVhost(v *Vhost) {
	b.mu.Lock()
	delete(b.vhosts, v.Name)
	b.mu.Unlock()
	b.dropVhostAccess(v.Name)
	v.mu.Lock()
	defer v.mu.Unlock()
	for _, q := range v.queues {
		q.markDeleted()
	}
	for _, x := range v.exchanges {
		x.deleted.Store(true)
		x.dropDelayed()
	}
}

func isBuiltinExchange(name string) bool {
	switch name {
	case "", "amq.direct", "amq.fanout", "amq.topic", "amq.headers", "amq.match":
		return true
	}
	return false
}

func defaultExchangeRefused() *Error {
	return errorf(KindAccessRefused, "operation not permitted on the default exchange")
}

func (v *Vhost) checkDeclareExchange(c *Command) (Result, func() Result, error) {
	v.mu.RLock()
	x := v.exchanges[c.Name]
	v.mu.RUnlock()
	// RabbitMQ checks the type first (a passive declare has none to check).
	if !c.Passive {
		if _, ok := newExchange(v, c.Name, c.Type, false, false, false, nil); !ok {
			return Result{}, nil, errorf(KindCommandInvalid, "unknown exchange type '%s'", c.Type)
		}
	}
	if c.Name == "" {
		return Result{}, nil, defaultExchangeRefused()
	}
	if c.Passive {
		if x == nil {
			return Result{}, nil, notFoundExchange(v.Name, c.Name)
		}
		return Result{Exchange: x}, nil, nil
	}
	if x != nil {
		return Result{Exchange: x}, nil, v.exchangeEquivalent(x, c)
	}
	if strings.HasPrefix(c.Name, "amq.") {
		return Result{}, nil, errorf(KindAccessRefused, "exchange name '%s' contains reserved prefix 'amq.*'", c.Name)
	}
	if err := validateExchangeArgs(c.Type, c.Args); err != nil {
		return Result{}, nil, err
	}
	return Result{}, func() Result {
		nx, _ := newExchange(v, c.Name, c.Type, c.Durable, c.AutoDelete, c.Internal, c.Args)
		pol, op := v.policyOfExchange(c.Name)
		v.mu.Lock()
		nx.applyPolicy(pol, op)
		v.exchanges[c.Name] = nx
		v.mu.Unlock()
		return Result{Exchange: nx}
	}, nil
}

func (v *Vhost) exchangeEquivalent(x *Exchange, c *Command) error {
	what := "exchange '" + x.Name + "' in vhost '" + v.Name + "'"
	if x.Kind != c.Type {
		return inequivalent("type", what, c.Type, x.Kind)
	}
	if x.Durable != c.Durable {
		return inequivalent("durable", what, c.Durable, x.Durable)
	}
	if x.AutoDelete != c.AutoDelete {
		return inequivalent("auto_delete", what, c.AutoDelete, x.AutoDelete)
	}
	if x.Internal != c.Internal {
		return inequivalent("internal", what, c.Internal, x.Internal)
	}
	return argsEquivalent(what, []string{"alternate-exchange"}, c.Args, x.Args)
}

func (v *Vhost) checkDeleteExchange(c *Command) (Result, func() Result, error) {
	if c.Name == "" {
		return Result{}, nil, defaultExchangeRefused()
	}
	if strings.HasPrefix(c.Name, "amq.") {
		return Result{}, nil, errorf(KindAccessRefused, "deletion of system exchange '%s' in vhost '%s' not allowed", c.Name, v.Name)
	}
	v.mu.RLock()
	x := v.exchanges[c.Name]
	inUse := x != nil && len(x.bindings) > 0
	v.mu.RUnlock()
	if x == nil {
		return Result{}, nil, nil // RabbitMQ answers delete-ok
	}
	if c.IfUnused && inUse {
		return Result{}, nil, errorf(KindPreconditionFailed, "exchange '%s' in vhost '%s' in use", c.Name, v.Name)
	}
	return Result{Exchange: x}, func() Result {
		v.mu.Lock()
		v.deleteExchangeLocked(x)
		v.mu.Unlock()
		return Result{Exchange: x}
	}, nil
}

// deleteExchangeLocked removes x and every binding from or to it, then
// auto-deletes sources left without bindings. v.mu held.
func (v *Vhost) deleteExchangeLocked(x *Exchange) {
	if x.deleted.Swap(true) {
		return
	}
	x.dropDelayed()
	delete(v.exchanges, x.Name)
	for _, bd := range x.bindings {
		if bd.Dest.Queue != nil {
			bd.Dest.Queue.bindings = removeBinding(bd.Dest.Queue.bindings, bd)
		} else {
			bd.Dest.Exchange.incoming = removeBinding(bd.Dest.Exchange.incoming, bd)
		}
	}
	x.bindings = nil
	for _, bd := range x.incoming {
		v.unbindLocked(bd)
	}
	x.incoming = nil
}

// unbindLocked removes one binding, auto-deleting its source if that was
// the last. v.mu held.
func (v *Vhost) unbindLocked(bd *Binding) {
	src := bd.Source
	src.matcher.Unbind(bd.Dest, bd.Key, bd.Args)
	src.bindings = removeBinding(src.bindings, bd)
	if bd.Dest.Queue != nil {
		bd.Dest.Queue.bindings = removeBinding(bd.Dest.Queue.bindings, bd)
	} else {
		bd.Dest.Exchange.incoming = removeBinding(bd.Dest.Exchange.incoming, bd)
	}
	if src.AutoDelete && len(src.bindings) == 0 {
		v.deleteExchangeLocked(src)
	}
}

func removeBinding(bs []*Binding, bd *Binding) []*Binding {
	for i, x := range bs {
		if x == bd {
			return append(bs[:i], bs[i+1:]...)
		}
	}
	return bs
}

// queueDeclareArgs are the arguments RabbitMQ 3.10 checks for equivalence
// on a classic queue (rabbit_classic_queue:capabilities/0), in its order.
var queueDeclareArgs = []string{
	"x-expires", "x-message-ttl", "x-dead-letter-exchange", "x-dead-letter-routing-key",
	"x-max-length", "x-max-length-bytes", "x-max-priority", "x-overflow", "x-queue-mode",
	"x-queue-version", "x-single-active-consumer", "x-queue-type", "x-queue-master-locator",
}

func (v *Vhost) checkDeclareQueue(c *Command) (Result, func() Result, error) {
	if c.Exclusive {
		c.Durable = false // as RabbitMQ: an exclusive queue never outlives its connection
	}
	v.mu.RLock()
	q := v.queues[c.Name]
	v.mu.RUnlock()
	if q != nil {
		// RabbitMQ checks ownership laxly for passive declares (a shared
		// queue is fine) and strictly otherwise (the exclusive flag must
		// match, and an exclusive queue must be ours).
		if q.Exclusive && q.Owner != c.Owner {
			return Result{}, nil, lockedQueue(v.Name, c.Name)
		}
		r := Result{Queue: q}
		r.MessageCount, _, r.ConsumerCount = q.Counts()
		q.Touch() // a declare is a use, for x-expires
		if c.Passive {
			return r, nil, nil
		}
		if q.Exclusive != c.Exclusive {
			return Result{}, nil, lockedQueue(v.Name, c.Name)
		}
		what := "queue '" + q.Name + "' in vhost '" + v.Name + "'"
		if q.Durable != c.Durable {
			return r, nil, inequivalent("durable", what, c.Durable, q.Durable)
		}
		if q.AutoDelete != c.AutoDelete {
			return r, nil, inequivalent("auto_delete", what, c.AutoDelete, q.AutoDelete)
		}
		return r, nil, argsEquivalent(what, queueDeclareArgs, c.Args, q.Args)
	}
	if c.Passive {
		return Result{}, nil, notFoundQueue(v.Name, c.Name)
	}
	if strings.HasPrefix(c.Name, "amq.") && !strings.HasPrefix(c.Name, "amq.gen-") {
		return Result{}, nil, errorf(KindAccessRefused, "queue name '%s' contains reserved prefix 'amq.*'", c.Name)
	}
	if err := v.checkQueueLimit(c.Name); err != nil {
		return Result{}, nil, err
	}
	// As rabbit_channel: arguments are validated for new queues only (an
	// existing queue is checked for equivalence instead).
	if err := validateQueueArgs(v.Name, c.Name, c.Args); err != nil {
		return Result{}, nil, err
	}
	return Result{}, func() Result {
		nq := newQueue(v, c)
		nq.attachStore(v.broker)
		v.mu.Lock()
		v.queues[c.Name] = nq
		v.mu.Unlock()
		return Result{Queue: nq}
	}, nil
}

func (v *Vhost) checkDeleteQueue(c *Command) (Result, func() Result, error) {
	v.mu.RLock()
	q := v.queues[c.Name]
	v.mu.RUnlock()
	if c.auto != nil && q != c.auto {
		return Result{}, nil, nil // already gone, or replaced by a new queue of that name
	}
	if q == nil {
		return Result{}, nil, nil // RabbitMQ answers delete-ok with a count of 0
	}
	if c.auto == nil && q.Exclusive && q.Owner != c.Owner {
		return Result{}, nil, lockedQueue(v.Name, c.Name)
	}
	ready, _, consumers := q.Counts()
	// rabbit_amqqueue_process checks if-empty before if-unused.
	if c.IfEmpty && ready > 0 {
		return Result{}, nil, errorf(KindPreconditionFailed, "queue '%s' in vhost '%s' not empty", c.Name, v.Name)
	}
	if c.IfUnused && consumers > 0 {
		return Result{}, nil, errorf(KindPreconditionFailed, "queue '%s' in vhost '%s' in use", c.Name, v.Name)
	}
	return Result{Queue: q}, func() Result {
		v.mu.Lock()
		delete(v.queues, q.Name)
		for len(q.bindings) > 0 {
			v.unbindLocked(q.bindings[0])
		}
		v.mu.Unlock()
		n := q.markDeleted()
		return Result{Queue: q, MessageCount: n}
	}, nil
}

func (v *Vhost) checkBinding(c *Command) (Result, func() Result, error) {
	if c.Source == "" || (c.DestType == DestExchange && c.Destination == "") {
		return Result{}, nil, defaultExchangeRefused()
	}
	v.mu.RLock()
	src := v.exchanges[c.Source]
	var d Dest
	var destMissing bool
	if c.DestType == DestExchange {
		d.Exchange = v.exchanges[c.Destination]
		destMissing = d.Exchange == nil
	} else {
		d.Queue = v.queues[c.Destination]
		destMissing = d.Queue == nil
	}
	v.mu.RUnlock()
	// As rabbit_binding: the source is reported missing first, and
	// removing a binding whose source or destination is missing is a
	// no-op, not an error.
	if src == nil || destMissing {
		switch {
		case c.Op == OpUnbind:
			return Result{}, nil, nil
		case src == nil:
			return Result{}, nil, notFoundExchange(v.Name, c.Source)
		case c.DestType == DestExchange:
			return Result{}, nil, notFoundExchange(v.Name, c.Destination)
		}
		return Result{}, nil, notFoundQueue(v.Name, c.Destination)
	}
	r := Result{Exchange: src, Queue: d.Queue}
	if c.Op == OpBind && src.routingKind() == KindHeaders {
		if err := validateHeadersBinding(c.Args); err != nil {
			return r, nil, err
		}
	}
	v.mu.RLock()
	i := src.findBinding(d, c.Key, c.Args)
	v.mu.RUnlock()
	if c.Op == OpUnbind && i < 0 {
		return r, nil, nil // nothing to unbind: not checked for exclusivity either
	}
	if d.Queue != nil && d.Queue.Exclusive && d.Queue.Owner != c.Owner {
		return Result{}, nil, lockedQueue(v.Name, d.Queue.Name)
	}
	if c.Op == OpBind && i >= 0 {
		return r, nil, nil // already bound
	}
	return r, func() Result {
		v.mu.Lock()
		defer v.mu.Unlock()
		if c.Op == OpUnbind {
			v.unbindLocked(src.bindings[i])
			return r
		}
		bd := &Binding{Source: src, Dest: d, Key: c.Key, Args: c.Args}
		src.bindings = append(src.bindings, bd)
		src.matcher.Bind(d, c.Key, c.Args)
		if d.Queue != nil {
			d.Queue.bindings = append(d.Queue.bindings, bd)
		} else {
			d.Exchange.incoming = append(d.Exchange.incoming, bd)
		}
		return r
	}, nil
}
