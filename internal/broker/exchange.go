package broker

import (
	"sync/atomic"

	"github.com/warrenmq/warren/internal/amqp"
	"github.com/warrenmq/warren/internal/broker/routing"
)

// Exchange kinds built in.
const (
	KindDirect  = "direct"
	KindFanout  = "fanout"
	KindTopic   = "topic"
	KindHeaders = "headers"
)

// Dest is a binding's destination: a queue or an exchange.
type Dest struct {
	Queue    *Queue
	Exchange *Exchange
}

// Binding links a source exchange to a destination.
type Binding struct {
	Source *Exchange
	Dest   Dest
	Key    string
	Args   amqp.Table
}

// Durable reports whether the binding survives a restart: both ends must.
func (b *Binding) Durable() bool {
	if b.Dest.Queue != nil {
		return b.Source.Durable && b.Dest.Queue.Durable
	}
	return b.Source.Durable && b.Dest.Exchange.Durable
}

// Exchange routes messages to queues and exchanges. Its bindings are
// guarded by Vhost.mu: written under the write lock, routed under RLock.
type Exchange struct {
	Name       string
	Kind       string
	Durable    bool
	AutoDelete bool
	Internal   bool
	Args       amqp.Table
	Vhost      *Vhost

	matcher  routing.Matcher[Dest]
	bindings []*Binding // outgoing
	incoming []*Binding // exchange-to-exchange bindings pointing here
	deleted  atomic.Bool
	delayed  *delayed // x-delayed-message state (delayed.go); nil for other kinds

	// Guarded by Vhost.mu, like the bindings.
	alternate        string  // alternate exchange (argument, else policy); "" = none
	policy, opPolicy *Policy // applied, nil = none

	Stats ExchangeStats
}

// applyPolicy sets what the policies give the exchange: the
// alternate-exchange argument wins over a policy's (rabbit_policy:get_arg).
// v.mu must be held.
func (x *Exchange) applyPolicy(pol, op *Policy) {
	x.policy, x.opPolicy = pol, op
	x.alternate = ""
	if ae, ok := x.Args["alternate-exchange"].(string); ok {
		x.alternate = ae
	} else if pol != nil {
		x.alternate, _ = pol.def["alternate-exchange"].(string)
	}
}

// PolicyInfo reports the policies applied to the exchange.
func (x *Exchange) PolicyInfo() ConfigInfo {
	x.Vhost.mu.RLock()
	defer x.Vhost.mu.RUnlock()
	var ci ConfigInfo
	if x.policy != nil {
		ci.Policy = x.policy.Name
		ci.Effective = mergeDefinitions(x.policy, x.opPolicy)
	}
	if x.opPolicy != nil {
		ci.OperatorPolicy = x.opPolicy.Name
		ci.Effective = mergeDefinitions(x.policy, x.opPolicy)
	}
	return ci
}

// ExchangeStats are cheap counters for management and metrics.
type ExchangeStats struct {
	PublishIn  atomic.Uint64
	PublishOut atomic.Uint64
}

func newExchange(v *Vhost, name, kind string, durable, autoDelete, internal bool, args amqp.Table) (*Exchange, bool) {
	m, ok := exchangeMatcher(kind, args)
	if !ok {
		return nil, false
	}
	x := &Exchange{Name: name, Kind: kind, Durable: durable, AutoDelete: autoDelete,
		Internal: internal, Args: args, Vhost: v, matcher: m}
	if kind == KindDelayed {
		x.delayed = newDelayed(x)
	}
	return x, true
}

// Bindings returns a copy of the exchange's outgoing bindings.
func (x *Exchange) Bindings() []*Binding {
	x.Vhost.mu.RLock()
	defer x.Vhost.mu.RUnlock()
	return append([]*Binding(nil), x.bindings...)
}

// Deleted reports whether the exchange was deleted.
func (x *Exchange) Deleted() bool { return x.deleted.Load() }

func (x *Exchange) findBinding(d Dest, key string, args amqp.Table) int {
	for i, b := range x.bindings {
		if b.Dest == d && b.Key == key && tablesEqual(b.Args, args) {
			return i
		}
	}
	return -1
}
