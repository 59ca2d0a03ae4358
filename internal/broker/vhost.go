package broker

import (
	"slices"
	"sync"

	"github.com/warrenmq/warren/internal/amqp"
	"github.com/warrenmq/warren/internal/store"
)

// Vhost is a virtual host: a namespace of exchanges and queues.
type Vhost struct {
	Name   string
	broker *Broker

	mu        sync.RWMutex
	exchanges map[string]*Exchange
	queues    map[string]*Queue
}

func newVhost(b *Broker, name string) *Vhost {
	v := &Vhost{Name: name, broker: b, exchanges: map[string]*Exchange{}, queues: map[string]*Queue{}}
	for _, d := range []struct{ name, kind string }{
		{"", KindDirect},
		{"amq.direct", KindDirect},
		{"amq.fanout", KindFanout},
		{"amq.topic", KindTopic},
		{"amq.headers", KindHeaders},
		{"amq.match", KindHeaders},
	} {
		x, _ := newExchange(v, d.name, d.kind, true, false, false, nil)
		v.exchanges[d.name] = x
	}
	return v
}

// Exchange looks an exchange up.
func (v *Vhost) Exchange(name string) *Exchange {
	v.mu.RLock()
	defer v.mu.RUnlock()
	return v.exchanges[name]
}

// Queue looks a queue up.
func (v *Vhost) Queue(name string) *Queue {
	v.mu.RLock()
	defer v.mu.RUnlock()
	return v.queues[name]
}

// Queues returns every queue, in no particular order.
func (v *Vhost) Queues() []*Queue {
	v.mu.RLock()
	defer v.mu.RUnlock()
	qs := make([]*Queue, 0, len(v.queues))
	for _, q := range v.queues {
		qs = append(qs, q)
	}
	return qs
}

// Exchanges returns every exchange, in no particular order.
func (v *Vhost) Exchanges() []*Exchange {
	v.mu.RLock()
	defer v.mu.RUnlock()
	xs := make([]*Exchange, 0, len(v.exchanges))
	for _, x := range v.exchanges {
		xs = append(xs, x)
	}
	return xs
}

// PublishResult says where a message went.
type PublishResult struct {
	Routed  int    // queues the message was enqueued on
	LSN     uint64 // the store position that must be synced before confirming; 0 = none
	Refused bool   // the store could not take it: nack the publisher
	Backlog *Queue // a queue the message went to whose consumers are behind (flow control)
}

// Scratch holds a publisher's reusable routing buffers, so that routing
// allocates nothing per message. One per publishing goroutine.
type Scratch struct {
	queues  []*Queue
	dests   []Dest
	pending []*Exchange
	seen    []*Exchange
	held    []*Exchange // delayed exchanges reached through bindings that hold the message
}

// Publish routes m from exchange x and enqueues it on every matching
// queue, once per queue however many bindings match.
func (v *Vhost) Publish(x *Exchange, m *Message, sc *Scratch) (PublishResult, error) {
	return v.publish(x, m, sc, nil)
}

// publish is Publish; keep, if not nil, filters the queues routed to (the
// dead-letter cycle check).
func (v *Vhost) publish(x *Exchange, m *Message, sc *Scratch, keep func(*Queue) bool) (PublishResult, error) {
	if x.delayed != nil { // x-delayed-message (delayed.go)
		if res, held, err := x.delayed.hold(m); held {
			return res, err
		}
	}
	qs := sc.queues[:0]
	v.mu.RLock()
	if x.Name == "" && len(m.extraKeys()) == 0 {
		if q := v.queues[m.RoutingKey]; q != nil {
			qs = append(qs, q)
		}
	} else {
		qs = v.routeLocked(x, m, qs, sc)
	}
	v.mu.RUnlock()
	if keep != nil {
		qs = slices.DeleteFunc(qs, func(q *Queue) bool { return !keep(q) })
	}
	x.Stats.PublishIn.Add(1)
	var res PublishResult
	var ref store.Ref
	if m.Persistent && v.broker.store != nil && anyDurable(qs) {
		// Written once, however many durable queues it goes to.
		var err error
		ref, res.LSN, err = v.broker.store.WriteMessage(toStore(m), true)
		if err != nil {
			clear(qs)
			sc.queues = qs[:0]
			v.broker.log.Error("cannot store a persistent message; refusing it", "err", err)
			return PublishResult{Refused: true}, err
		}
	}
	for i, q := range qs {
		lsn, st, err := q.enqueue(m, ref)
		if err != nil {
			v.broker.log.Error("cannot store a message in a queue; refusing it", "queue", q.Name, "err", err)
			res.Refused = true
		}
		switch st {
		case enqOK:
			res.Routed++
			res.LSN = max(res.LSN, lsn)
			if res.Backlog == nil && q.flow.Load() {
				res.Backlog = q
			}
		case enqRejected:
			// Routed as far as mandatory is concerned, but nacked
			// (x-overflow reject-publish), as RabbitMQ does.
			res.Routed++
			res.Refused = true
		}
		qs[i] = nil
	}
	for i, hx := range sc.held {
		r, _, err := hx.delayed.hold(m)
		if err != nil || r.Refused {
			res.Refused = true
		}
		res.LSN = max(res.LSN, r.LSN)
		sc.held[i] = nil
	}
	sc.held = sc.held[:0]
	if res.Routed > 0 {
		x.Stats.PublishOut.Add(1)
	}
	sc.queues = qs[:0]
	return res, nil
}

func anyDurable(qs []*Queue) bool {
	for _, q := range qs {
		if q.Durable {
			return true
		}
	}
	return false
}

// routeLocked follows bindings, including exchange-to-exchange ones, with
// the message's routing key and its CC/BCC keys, and collects each queue
// once. An exchange that routes a message nowhere hands it to its
// alternate exchange, if it has one. v.mu must be held (read).
func (v *Vhost) routeLocked(x *Exchange, m *Message, qs []*Queue, sc *Scratch) []*Queue {
	var headers amqp.Table
	seen := sc.seen[:0]
	pending := append(sc.pending[:0], x)
	for len(pending) > 0 {
		src := pending[len(pending)-1]
		pending = pending[:len(pending)-1]
		if containsExchange(seen, src) {
			continue
		}
		seen = append(seen, src)
		if src != x && src.delayed != nil && heldByDelay(m) {
			// A delayed exchange reached through a binding holds the
			// message too; publish hands it over after routing.
			sc.held = append(sc.held, src)
			continue
		}
		if src.Name == "" {
			// The default exchange: every routing key names a queue.
			for _, k := range append([]string{m.RoutingKey}, m.extraKeys()...) {
				if q := v.queues[k]; q != nil {
					qs = appendUnique(qs, q)
				}
			}
			continue
		}
		if headers == nil && src.routingKind() == KindHeaders {
			headers = m.Headers()
		}
		sc.dests = src.matcher.Route(m.RoutingKey, headers, sc.dests[:0])
		for _, k := range m.extraKeys() {
			sc.dests = src.matcher.Route(k, headers, sc.dests)
		}
		if len(sc.dests) == 0 && src.alternate != "" {
			if ae := v.exchanges[src.alternate]; ae != nil && !containsExchange(seen, ae) {
				pending = append(pending, ae)
			}
		}
		for _, d := range sc.dests {
			if d.Queue != nil {
				qs = appendUnique(qs, d.Queue)
			} else if !containsExchange(seen, d.Exchange) {
				pending = append(pending, d.Exchange)
			}
		}
	}
	clear(seen)
	sc.seen, sc.pending = seen[:0], pending[:0]
	clear(sc.dests)
	return qs
}

func containsExchange(xs []*Exchange, x *Exchange) bool {
	for _, y := range xs {
		if y == x {
			return true
		}
	}
	return false
}

// autoDeleteQueue deletes an auto-delete queue whose last consumer left.
func (v *Vhost) autoDeleteQueue(q *Queue) {
	_, _ = v.broker.Apply(&Command{Op: OpDeleteQueue, Vhost: v.Name, Name: q.Name, auto: q})
}

// CloseOwner deletes the exclusive queues of a closing connection.
func (v *Vhost) CloseOwner(owner uint64) {
	v.mu.RLock()
	var qs []*Queue
	for _, q := range v.queues {
		if q.Exclusive && q.Owner == owner {
			qs = append(qs, q)
		}
	}
	v.mu.RUnlock()
	for _, q := range qs {
		_, _ = v.broker.Apply(&Command{Op: OpDeleteQueue, Vhost: v.Name, Name: q.Name, auto: q})
	}
}

// QueueFor looks a queue up for an operation by connection owner: 404 if
// it does not exist, 405 if it is another connection's exclusive queue.
func (v *Vhost) QueueFor(name string, owner uint64) (*Queue, error) {
	q := v.Queue(name)
	if q == nil {
		return nil, notFoundQueue(v.Name, name)
	}
	if q.Exclusive && q.Owner != owner {
		return nil, lockedQueue(v.Name, name)
	}
	return q, nil
}

// ExchangeForPublish looks up an exchange a client publishes to.
func (v *Vhost) ExchangeForPublish(name string) (*Exchange, error) {
	x := v.Exchange(name)
	if x == nil {
		return nil, notFoundExchange(v.Name, name)
	}
	if x.Internal {
		return nil, errorf(KindAccessRefused, "cannot publish to internal exchange '%s' in vhost '%s'", name, v.Name)
	}
	return x, nil
}
