package broker

import (
	"sort"
	"sync"
	"time"
)

// Sink is the protocol side of a Session: it turns deliveries into frames.
// Its methods are called with queue and session locks held, so they must
// not block and must not call back into the broker.
type Sink interface {
	// Deliver writes one delivery to the client.
	Deliver(d Delivery)
	// Writable reports whether the outbound buffer has room. While it is
	// false nothing is dispatched to the session; the sink calls
	// Session.Resume once it has drained.
	Writable() bool
	// ConsumerCancelled tells the client the server cancelled a consumer
	// (its queue was deleted).
	ConsumerCancelled(consumerTag string)
}

// Delivery is one message handed to a consumer or to basic.get.
type Delivery struct {
	ConsumerTag  string
	DeliveryTag  uint64
	Redelivered  bool
	Msg          *Message
	MessageCount int // basic.get only: messages left ready in the queue
}

// Consumer is a subscription of a session to a queue.
type Consumer struct {
	Tag       string
	Queue     *Queue
	NoAck     bool
	Exclusive bool
	Args      map[string]any
	Priority  int64 // x-priority: higher-priority consumers are served first

	s        *Session
	prefetch uint32 // per-consumer limit (basic.qos global=false), 0 = none
	unacked  uint32 // guarded by s.mu
}

// Session is the delivery side of one AMQP channel: delivery tags, the
// unacknowledged messages, prefetch limits and the channel's consumers.
type Session struct {
	mu             sync.Mutex
	sink           Sink
	nextTag        uint64
	unacked        ring[unackedEntry] // sorted by tag; acked entries become tombstones until they reach the front
	live           int                // unacked entries not yet settled
	prefetch       uint32             // for consumers created from now on (basic.qos global=false)
	globalPrefetch uint32             // channel-wide limit (basic.qos global=true)
	consumers      map[string]*Consumer
	active         bool // channel.flow
	paused         bool // a dispatch found the sink not writable
	closed         bool

	settled []unackedEntry // scratch, used only by the channel's own goroutine

	// Consumer timeout bookkeeping (Overdue): the oldest outstanding tag
	// seen and when it was first seen so.
	watchTag   uint64
	watchSince time.Time
}

type unackedEntry struct {
	tag  uint64
	q    *Queue
	e    entry
	c    *Consumer // nil for basic.get
	done bool
	held bool // acked or nacked in an uncommitted transaction (Hold)
}

// NewSession makes the delivery state of a channel.
func NewSession(sink Sink) *Session {
	return &Session{sink: sink, consumers: make(map[string]*Consumer), active: true}
}

// NextTag is the delivery tag the next delivery will get. Direct reply-to
// deliveries carry it without taking it, as in RabbitMQ.
func (s *Session) NextTag() uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.nextTag + 1
}

// SetPrefetch applies basic.qos. RabbitMQ semantics: global=false sets the
// limit for consumers created afterwards; global=true limits the channel.
func (s *Session) SetPrefetch(count uint32, global bool) {
	s.mu.Lock()
	if global {
		s.globalPrefetch = count
	} else {
		s.prefetch = count
	}
	s.mu.Unlock()
	s.Resume()
}

// SetFlow applies channel.flow from the client.
func (s *Session) SetFlow(active bool) {
	s.mu.Lock()
	s.active = active
	s.mu.Unlock()
	if active {
		s.Resume()
	}
}

// HasConsumer reports whether tag is in use on this session.
func (s *Session) HasConsumer(tag string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok := s.consumers[tag]
	return ok
}

// UnackedCount is the number of deliveries awaiting ack.
func (s *Session) UnackedCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.live
}

// ConsumerCount is the number of consumers on this session.
func (s *Session) ConsumerCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.consumers)
}

// tryDeliverLocked hands e to consumer c if the session has credit.
// q.mu must be held.
// m is the message to send: e's, or a copy with x-delivery-count.
func (s *Session) tryDeliver(c *Consumer, q *Queue, e entry, m *Message) bool {
	s.mu.Lock()
	if s.closed || !s.active || !s.sink.Writable() {
		s.paused = true
		s.mu.Unlock()
		return false
	}
	if !c.NoAck {
		if (c.prefetch > 0 && c.unacked >= c.prefetch) || (s.globalPrefetch > 0 && uint32(s.live) >= s.globalPrefetch) {
			s.mu.Unlock()
			return false
		}
	}
	s.nextTag++
	d := Delivery{ConsumerTag: c.Tag, DeliveryTag: s.nextTag, Redelivered: e.is(redelivered), Msg: m}
	if !c.NoAck {
		s.unacked.PushBack(unackedEntry{tag: s.nextTag, q: q, e: e, c: c})
		s.live++
		c.unacked++
		q.unacked++
	}
	s.sink.Deliver(d)
	s.mu.Unlock()
	return true
}

// trackGet records a basic.get delivery and returns its tag. q.mu held.
func (s *Session) trackGet(q *Queue, e entry, noAck bool) uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.nextTag++
	if !noAck {
		s.unacked.PushBack(unackedEntry{tag: s.nextTag, q: q, e: e})
		s.live++
		q.unacked++
	}
	return s.nextTag
}

// Overdue reports whether the oldest unacknowledged delivery has been
// outstanding for timeout or longer, as of now. It is called periodically
// (the consumer timeout's tick); the age is measured from the first call
// that saw the delivery oldest, so deliveries carry no timestamp and the
// answer is at most one tick late.
func (s *Session) Overdue(now time.Time, timeout time.Duration) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed || s.live == 0 {
		s.watchTag = 0
		return false
	}
	front := s.unacked.Front().tag
	if front != s.watchTag {
		s.watchTag, s.watchSince = front, now
		return false
	}
	return now.Sub(s.watchSince) >= timeout
}

// Resume re-runs dispatch for every queue this session consumes from, after
// credit came back (acks, qos, flow, a drained socket).
func (s *Session) Resume() {
	s.mu.Lock()
	s.paused = false
	var buf [8]*Queue // Resume runs after every ack: don't allocate for the usual few queues
	qs := buf[:0]
	for _, c := range s.consumers {
		qs = appendUnique(qs, c.Queue)
	}
	s.mu.Unlock()
	for _, q := range qs {
		q.kick()
	}
}

// Paused reports whether a dispatch was refused for lack of sink room, so
// the protocol side knows to call Resume when it drains.
func (s *Session) Paused() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.paused
}

func appendUnique(qs []*Queue, q *Queue) []*Queue {
	for _, x := range qs {
		if x == q {
			return qs
		}
	}
	return append(qs, q)
}

// unknownTag is RabbitMQ's error for an ack of a tag it does not know.
func unknownTag(tag uint64) *Error {
	return errorf(KindPreconditionFailed, "unknown delivery tag %d", tag)
}

// coverLocked calls take for each outstanding entry an ack/nack of tag
// covers, following RabbitMQ: tag 0 with multiple means everything, and
// otherwise the tag itself must be outstanding. Entries held by a
// transaction are not outstanding. s.mu must be held.
func (s *Session) coverLocked(tag uint64, multiple bool, take func(p *unackedEntry)) error {
	n := s.unacked.Len()
	if multiple && tag == 0 {
		for i := 0; i < n; i++ {
			if p := s.unacked.Ptr(i); !p.done && !p.held {
				take(p)
			}
		}
		return nil
	}
	i := sort.Search(n, func(i int) bool { return s.unacked.At(i).tag >= tag })
	if i == n || s.unacked.At(i).tag != tag || s.unacked.At(i).done || s.unacked.At(i).held {
		return unknownTag(tag)
	}
	lo := i
	if multiple {
		lo = 0
	}
	for j := lo; j <= i; j++ {
		if p := s.unacked.Ptr(j); !p.done && !p.held {
			take(p)
		}
	}
	return nil
}

// collectLocked marks settled and returns the entries an ack/nack of tag
// covers (see coverLocked). s.mu must be held.
func (s *Session) collectLocked(tag uint64, multiple bool) ([]unackedEntry, error) {
	out := s.settled[:0]
	err := s.coverLocked(tag, multiple, func(p *unackedEntry) {
		out = append(out, *p)
		p.done = true
	})
	if err != nil {
		return nil, err
	}
	return s.doneLocked(out), nil
}

// doneLocked accounts for the entries just marked done. s.mu must be held.
func (s *Session) doneLocked(out []unackedEntry) []unackedEntry {
	for _, u := range out {
		s.live--
		if u.c != nil {
			u.c.unacked--
		}
	}
	for s.unacked.Len() > 0 && s.unacked.Front().done {
		s.unacked.PopFront()
	}
	s.settled = out
	return out
}

// Hold takes the deliveries an ack or nack of tag covers out of the
// outstanding set without settling them, for an ack or nack inside a
// transaction: as in RabbitMQ, an unknown tag fails at once, and a held
// delivery cannot be acked again. It returns their tags, for SettleHeld
// at tx.commit or Unhold at tx.rollback.
func (s *Session) Hold(tag uint64, multiple bool) ([]uint64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var tags []uint64
	err := s.coverLocked(tag, multiple, func(p *unackedEntry) {
		p.held = true
		tags = append(tags, p.tag)
	})
	return tags, err
}

// Settlement is what becomes of settled deliveries.
type Settlement int

const (
	SettleAck     Settlement = iota // acknowledged: gone
	SettleRequeue                   // back to the queue
	SettleReject                    // rejected without requeue: dead-lettered if the queue says so
)

// SettleHeld settles held deliveries as how says and reports how many it
// settled.
func (s *Session) SettleHeld(tags []uint64, how Settlement) int {
	s.mu.Lock()
	out := s.settled[:0]
	for _, tag := range tags {
		n := s.unacked.Len()
		i := sort.Search(n, func(i int) bool { return s.unacked.At(i).tag >= tag })
		if i < n {
			if p := s.unacked.Ptr(i); p.tag == tag && p.held && !p.done {
				p.held, p.done = false, true
				out = append(out, *p)
			}
		}
	}
	out = s.doneLocked(out)
	s.mu.Unlock()
	n := len(out)
	s.settle(out, how)
	return n
}

// Unhold makes held deliveries outstanding again.
func (s *Session) Unhold(tags []uint64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, tag := range tags {
		n := s.unacked.Len()
		i := sort.Search(n, func(i int) bool { return s.unacked.At(i).tag >= tag })
		if i < n {
			if p := s.unacked.Ptr(i); p.tag == tag {
				p.held = false
			}
		}
	}
}

// Ack settles deliveries positively.
func (s *Session) Ack(tag uint64, multiple bool) error {
	s.mu.Lock()
	out, err := s.collectLocked(tag, multiple)
	s.mu.Unlock()
	if err != nil {
		return err
	}
	s.settle(out, SettleAck)
	return nil
}

// Nack settles deliveries negatively: requeued, or rejected (dropped or
// dead-lettered).
func (s *Session) Nack(tag uint64, multiple, requeue bool) error {
	s.mu.Lock()
	out, err := s.collectLocked(tag, multiple)
	s.mu.Unlock()
	if err != nil {
		return err
	}
	how := SettleReject
	if requeue {
		how = SettleRequeue
	}
	s.settle(out, how)
	return nil
}

// Recover requeues every unacknowledged delivery (basic.recover requeue=true).
func (s *Session) Recover() {
	s.mu.Lock()
	out, _ := s.collectLocked(0, true)
	s.mu.Unlock()
	s.settle(out, SettleRequeue)
}

// settle applies acks or requeues to the queues, grouped per queue, then
// lets queues dispatch with the credit that came back.
func (s *Session) settle(out []unackedEntry, how Settlement) {
	for len(out) > 0 {
		q := out[0].q
		j := 1
		for j < len(out) && out[j].q == q {
			j++
		}
		switch how {
		case SettleRequeue:
			q.requeue(out[:j])
		case SettleReject:
			q.reject(out[:j])
		default:
			q.settle(out[:j])
		}
		out = out[j:]
	}
	s.Resume()
}

// Consume registers a consumer on q. onAdded runs once the consumer is
// registered and before anything is dispatched to it (the protocol side
// sends basic.consume-ok there, so it precedes every delivery).
func (s *Session) Consume(q *Queue, tag string, noAck, exclusive bool, args map[string]any, onAdded func()) (*Consumer, error) {
	s.mu.Lock()
	if _, dup := s.consumers[tag]; dup {
		s.mu.Unlock()
		return nil, errorf(KindNotAllowed, "attempt to reuse consumer tag '%s'", tag)
	}
	c := &Consumer{Tag: tag, Queue: q, NoAck: noAck, Exclusive: exclusive, Args: args, s: s, prefetch: s.prefetch}
	if v, ok := args["x-priority"]; ok {
		n, isInt := asInt(v)
		if !isInt {
			s.mu.Unlock()
			return nil, errorf(KindPreconditionFailed, "invalid arg 'x-priority' for queue '%s' in vhost '%s': \"expected integer, got %s\"",
				q.Name, q.Vhost.Name, typeName(v))
		}
		c.Priority = n
	}
	s.mu.Unlock()
	if err := q.addConsumer(c, onAdded); err != nil {
		return nil, err
	}
	s.mu.Lock()
	s.consumers[tag] = c
	s.mu.Unlock()
	q.kick()
	return c, nil
}

// Cancel removes a consumer; its unacked deliveries stay with the session.
func (s *Session) Cancel(tag string) bool {
	s.mu.Lock()
	c, ok := s.consumers[tag]
	delete(s.consumers, tag)
	s.mu.Unlock()
	if ok {
		c.Queue.removeConsumer(c)
	}
	return ok
}

// consumerGone is called by a queue being deleted, with q.mu held.
func (s *Session) consumerGone(c *Consumer) {
	s.mu.Lock()
	if s.consumers[c.Tag] == c {
		delete(s.consumers, c.Tag)
		if !s.closed {
			s.sink.ConsumerCancelled(c.Tag)
		}
	}
	s.mu.Unlock()
}

// Close cancels every consumer and requeues every unacknowledged delivery,
// as when a channel or connection closes.
func (s *Session) Close() {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	s.closed = true
	cs := make([]*Consumer, 0, len(s.consumers))
	for _, c := range s.consumers {
		cs = append(cs, c)
	}
	s.consumers = map[string]*Consumer{}
	for i := 0; i < s.unacked.Len(); i++ {
		s.unacked.Ptr(i).held = false // an uncommitted transaction's acks are void
	}
	out, _ := s.collectLocked(0, true)
	out = append([]unackedEntry(nil), out...)
	s.mu.Unlock()
	for _, c := range cs {
		c.Queue.removeConsumer(c)
	}
	s.settle(out, SettleRequeue)
}
