package broker

import (
	"math"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/warrenmq/warren/internal/amqp"
	"github.com/warrenmq/warren/internal/store"
)

// Queue is a classic queue. Its contents, consumers and configuration are
// guarded by mu; its identity (name, flags, args) never changes after
// declaration.
type Queue struct {
	Name       string
	Vhost      *Vhost
	Durable    bool
	Exclusive  bool
	AutoDelete bool
	Args       amqp.Table
	Owner      uint64 // connection that owns an exclusive queue

	maxPriority     int  // x-max-priority; 0 = not a priority queue
	singleActive    bool // x-single-active-consumer
	countDeliveries bool // redeliveries carry x-delivery-count (x-queue-type quorum)

	mu            sync.Mutex
	cfg           queueConfig
	ready         readyList
	readyBytes    int
	unacked       int
	consumers     []*Consumer // by priority (highest first) when consumerPrio
	consumerPrio  bool        // some consumer has a non-zero x-priority
	rr            int         // round-robin position among consumers
	nextSeq       uint64
	hadConsumer   bool
	exclusiveUsed bool
	deleted       bool
	memBytes      int64       // bodies of ready messages held in memory
	flow          atomic.Bool // Backlogged, as of the last enqueue or dispatch

	dead     []deadLetter // collected under mu, published by unlock
	ttlTimer *time.Timer  // fires when the head expires
	ttlAt    int64        // when ttlTimer fires (unix ms); 0 = not armed
	expTimer *time.Timer  // x-expires: deletes the queue once unused
	lastUsed int64        // unix ms of the last use that counts for x-expires

	key   string       // name in the message store
	store MessageStore // nil: in memory only

	bindings []*Binding // guarded by Vhost.mu

	Stats QueueStats
}

// QueueStats are cheap monotonic counters for management and metrics.
type QueueStats struct {
	Published    atomic.Uint64
	Delivered    atomic.Uint64
	Acked        atomic.Uint64
	Redelivered  atomic.Uint64
	DeadLettered atomic.Uint64
	Expired      atomic.Uint64
}

// newQueue makes a queue from a declare command.
func newQueue(v *Vhost, c *Command) *Queue {
	q := &Queue{Name: c.Name, Vhost: v, Durable: c.Durable, Exclusive: c.Exclusive,
		AutoDelete: c.AutoDelete, Args: c.Args}
	if c.Exclusive {
		q.Owner = c.Owner
	}
	if n, ok := asInt(c.Args["x-max-priority"]); ok && n > 0 {
		q.maxPriority = int(min(n, 255))
	}
	q.singleActive, _ = c.Args["x-single-active-consumer"].(bool)
	q.countDeliveries = c.Args["x-queue-type"] == "quorum"
	q.ready = newReadyList(q.maxPriority)
	q.cfg = v.configFor(c.Name, c.Args)
	q.lastUsed = nowMs()
	q.armExpiresLocked()
	return q
}

func nowMs() int64 { return time.Now().UnixMilli() }

// unlock releases q.mu and then dead-letters what was collected under it:
// publishing to the dead-letter exchange may enqueue on other queues (or
// on this one), so it must not hold the lock.
func (q *Queue) unlock() {
	if len(q.dead) == 0 {
		q.mu.Unlock()
		return
	}
	dead, cfg := q.dead, q.cfg
	q.dead = nil
	q.mu.Unlock()
	q.Vhost.deadLetter(q, &cfg, dead)
}

// Counts reports ready and unacknowledged messages and consumers.
func (q *Queue) Counts() (ready, unacked, consumers int) {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.ready.Len(), q.unacked, len(q.consumers)
}

// ReadyBytes is the body size of the ready messages.
func (q *Queue) ReadyBytes() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.readyBytes
}

// enqueue status.
type enqueued int

const (
	enqGone     enqueued = iota // the queue was deleted
	enqOK                       // queued or delivered
	enqRejected                 // refused by x-overflow reject-publish(-dlx)
)

// enqueue appends m and dispatches. ref is where m's body is durably
// stored (zero if it is not): a durable queue then records its own
// reference, and lsn says what must be synced before confirming.
func (q *Queue) enqueue(m *Message, ref store.Ref) (lsn uint64, st enqueued, err error) {
	q.mu.Lock()
	defer q.unlock()
	if q.deleted {
		return 0, enqGone, nil
	}
	cfg := &q.cfg
	if cfg.limited() && cfg.overflow != OverflowDropHead && q.wouldOverflowLocked(len(m.Body)) {
		// rabbit_amqqueue_process: the publish is dropped and nacked; with
		// reject-publish-dlx it is dead-lettered too.
		if cfg.overflow == OverflowRejectPublishDLX && cfg.hasDLX {
			q.dead = append(q.dead, deadLetter{msg: m, reason: reasonMaxLen})
		}
		return 0, enqRejected, nil
	}
	q.nextSeq++
	e := entry{msg: m, seq: q.nextSeq, size: uint32(len(m.Body)), prio: m.Priority, expires: q.expiryFor(m)}
	if !ref.IsZero() && q.storing() && m.Persistent {
		lsn, err = q.store.Enqueue(q.key, e.seq, ref, true, store.EntryMeta{Expires: e.expires, Priority: e.prio})
		if err != nil {
			q.nextSeq--
			return 0, enqGone, err
		}
		e.ref = ref
		e.set(durable)
	}
	q.Stats.Published.Add(1)
	if q.ready.Len() == 0 && len(q.consumers) > 0 && q.deliverOne(&e) {
		return lsn, enqOK, nil
	}
	q.pushReadyLocked(e)
	if cfg.limited() {
		q.dropHeadLocked()
	}
	q.dispatchLocked() // also updates q.flow
	return lsn, enqOK, nil
}

// expiryFor is when a message published now expires: the sooner of the
// queue's message TTL and the message's expiration (unix ms, 0 = never).
func (q *Queue) expiryFor(m *Message) int64 {
	ttl := q.cfg.messageTTL
	if mt, ok := m.TTL(); ok && (ttl < 0 || mt < ttl) {
		ttl = mt
	}
	if ttl < 0 {
		return 0
	}
	return nowMs() + ttl
}

// wouldOverflowLocked is rabbit_amqqueue_process:will_overflow.
func (q *Queue) wouldOverflowLocked(size int) bool {
	c := &q.cfg
	return (c.maxLength >= 0 && int64(q.ready.Len()+1) > c.maxLength) ||
		(c.maxBytes >= 0 && int64(q.readyBytes+size) > c.maxBytes)
}

// dropHeadLocked drops (dead-letters) messages from the head while the
// queue is over its length limits, for overflow drop-head.
func (q *Queue) dropHeadLocked() {
	c := &q.cfg
	if c.overflow != OverflowDropHead {
		return
	}
	for q.ready.Len() > 0 && ((c.maxLength >= 0 && int64(q.ready.Len()) > c.maxLength) ||
		(c.maxBytes >= 0 && int64(q.readyBytes) > c.maxBytes)) {
		q.discardHeadLocked(reasonMaxLen)
	}
}

// FlowReady is the backlog of ready messages beyond which a queue that has
// consumers asks its publishers to slow down (see Backlogged).
const FlowReady = 4096

// Backlogged reports whether the queue has consumers and a backlog beyond
// FlowReady: its publishers should give the consumers room to catch up, as
// RabbitMQ's credit flow makes them.
func (q *Queue) Backlogged() bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.backloggedLocked()
}

func (q *Queue) backloggedLocked() bool {
	return len(q.consumers) > 0 && q.ready.Len() > FlowReady && !q.deleted
}

// deliverOne offers e to the consumers: round-robin, highest consumer
// priority first, or only the active one of a single-active-consumer
// queue. q.mu held.
func (q *Queue) deliverOne(e *entry) bool {
	m := q.outgoing(e)
	n := len(q.consumers)
	switch {
	case q.singleActive:
		if n == 0 || !q.consumers[0].s.tryDeliver(q.consumers[0], q, *e, m) {
			return false
		}
		q.delivered(q.consumers[0], e)
		return true
	case q.consumerPrio:
		return q.deliverByPriority(e, m)
	}
	for i := 0; i < n; i++ {
		idx := (q.rr + i) % n
		c := q.consumers[idx]
		if c.s.tryDeliver(c, q, *e, m) {
			q.rr = (idx + 1) % n
			q.delivered(c, e)
			return true
		}
	}
	return false
}

// outgoing is the message to send for e: its own, or for a quorum-typed
// queue's redelivery a copy carrying x-delivery-count.
func (q *Queue) outgoing(e *entry) *Message {
	if q.countDeliveries && e.deliveries > 0 {
		return withDeliveryCount(e.msg, e.deliveries)
	}
	return e.msg
}

// deliverByPriority offers e to the highest-priority consumers that have
// credit, round-robin within a priority (the one served moves to the end
// of its group).
func (q *Queue) deliverByPriority(e *entry, m *Message) bool {
	cs := q.consumers
	for i := 0; i < len(cs); {
		j := i + 1
		for j < len(cs) && cs[j].Priority == cs[i].Priority {
			j++
		}
		for k := i; k < j; k++ {
			c := cs[k]
			if c.s.tryDeliver(c, q, *e, m) {
				copy(cs[k:j-1], cs[k+1:j])
				cs[j-1] = c
				q.delivered(c, e)
				return true
			}
		}
		i = j
	}
	return false
}

// delivered does the queue's bookkeeping for a delivery of e to c.
func (q *Queue) delivered(c *Consumer, e *entry) {
	q.Stats.Delivered.Add(1)
	if e.is(redelivered) {
		q.Stats.Redelivered.Add(1)
	}
	if c.NoAck {
		q.Stats.Acked.Add(1)
		if q.store != nil {
			q.forgetLocked(e)
		}
	} else if q.store != nil {
		q.deliveredLocked(e)
	}
}

// dispatchLocked hands ready messages to consumers while any has credit,
// reading paged-out bodies back as they reach the head and dropping
// expired ones.
func (q *Queue) dispatchLocked() {
	defer func() { q.flow.Store(q.backloggedLocked()) }()
	q.dropExpiredLocked()
	for q.ready.Len() > 0 && len(q.consumers) > 0 {
		p := q.ready.Head()
		if p.expires != 0 && p.expires <= nowMs() {
			q.discardHeadLocked(reasonExpired)
			continue
		}
		if p.msg == nil && !q.loadLocked(p) {
			q.popReadyLocked()
			continue
		}
		if !q.deliverOne(p) {
			break
		}
		q.popReadyLocked()
	}
	q.armTTLLocked()
}

// dropExpiredLocked removes expired messages from the head, as
// rabbit_amqqueue_process:drop_expired_msgs: a message expires only once
// it reaches the head, so an expired message behind a live one waits.
func (q *Queue) dropExpiredLocked() {
	if q.ready.Len() == 0 || q.ready.Head().expires == 0 {
		return
	}
	now := nowMs()
	for q.ready.Len() > 0 {
		h := q.ready.Head()
		if h.expires == 0 || h.expires > now {
			break
		}
		q.discardHeadLocked(reasonExpired)
	}
}

// armTTLLocked makes the TTL timer fire when the head expires, so expired
// messages leave promptly even with no consumer asking.
func (q *Queue) armTTLLocked() {
	if q.ready.Len() == 0 || q.deleted {
		return
	}
	at := q.ready.Head().expires
	if at == 0 || (q.ttlAt != 0 && q.ttlAt <= at) {
		return
	}
	q.ttlAt = at
	d := time.Duration(at-nowMs()) * time.Millisecond
	if q.ttlTimer == nil {
		q.ttlTimer = time.AfterFunc(d, q.ttlFired)
	} else {
		q.ttlTimer.Reset(d)
	}
}

func (q *Queue) ttlFired() {
	q.mu.Lock()
	q.ttlAt = 0
	if !q.deleted {
		q.dispatchLocked()
	}
	q.unlock()
}

// discardHeadLocked removes the head for reason, dead-lettering it when
// the queue has a dead-letter exchange.
func (q *Queue) discardHeadLocked(reason string) {
	e := q.popReadyLocked()
	if reason == reasonExpired {
		q.Stats.Expired.Add(1)
	}
	q.discardLocked(e, reason)
}

// discardLocked drops an entry that left the queue without being
// acknowledged, or collects it for dead-lettering (see unlock).
func (q *Queue) discardLocked(e entry, reason string) {
	if !q.cfg.hasDLX || q.deleted {
		q.forgetLocked(&e)
		return
	}
	m := e.msg
	if m == nil {
		m = q.readBody(&e)
		if m == nil {
			return // unreadable: readBody logged and forgot it
		}
	}
	q.dead = append(q.dead, deadLetter{msg: m, reason: reason, e: e, fromQueue: true})
}

// readBody reads a paged-out body without counting it in memory.
func (q *Queue) readBody(e *entry) *Message {
	sm, err := q.store.Read(e.ref)
	if err != nil {
		q.Vhost.broker.log.Error("cannot read a stored message; dropping it", "queue", q.Name, "vhost", q.Vhost.Name, "seq", e.seq, "err", err)
		q.forgetLocked(e)
		return nil
	}
	return fromStore(sm, e.is(durable))
}

// popReadyLocked removes the head of the ready list, whose body (if any)
// leaves the queue's memory account.
func (q *Queue) popReadyLocked() entry {
	e := q.ready.PopHead()
	q.readyBytes -= int(e.size)
	if e.msg != nil {
		q.memAdd(-int64(e.size))
	}
	return e
}

func (q *Queue) kick() {
	q.mu.Lock()
	if !q.deleted {
		q.dispatchLocked()
	}
	q.unlock()
}

// Get pops one message for basic.get.
func (q *Queue) Get(s *Session, noAck bool) (Delivery, bool) {
	q.mu.Lock()
	defer q.unlock()
	q.touchLocked()
	q.dropExpiredLocked()
	defer q.armTTLLocked()
	for q.ready.Len() > 0 && !q.deleted {
		p := q.ready.Head()
		if p.msg == nil && !q.loadLocked(p) {
			q.popReadyLocked()
			continue
		}
		e := q.popReadyLocked()
		m := q.outgoing(&e)
		tag := s.trackGet(q, e, noAck)
		q.Stats.Delivered.Add(1)
		if noAck {
			q.Stats.Acked.Add(1)
		}
		if q.store != nil {
			if noAck {
				q.forgetLocked(&e)
			} else {
				q.deliveredLocked(&e)
			}
		}
		q.dropExpiredLocked() // as rabbit_amqqueue_process:fetch
		return Delivery{DeliveryTag: tag, Redelivered: e.is(redelivered), Msg: m, MessageCount: q.ready.Len()}, true
	}
	return Delivery{}, false
}

// settle removes acknowledged deliveries.
func (q *Queue) settle(us []unackedEntry) {
	q.mu.Lock()
	if !q.deleted {
		q.unacked -= len(us)
	}
	if q.store != nil {
		for i := range us {
			q.forgetLocked(&us[i].e)
		}
	}
	q.Stats.Acked.Add(uint64(len(us)))
	q.mu.Unlock()
}

// reject removes deliveries rejected without requeue: they are
// dead-lettered when the queue has a dead-letter exchange.
func (q *Queue) reject(us []unackedEntry) {
	q.mu.Lock()
	if !q.deleted {
		q.unacked -= len(us)
	}
	for i := range us {
		q.discardLocked(us[i].e, reasonRejected)
	}
	q.unlock()
}

// requeue puts deliveries back at their original positions, marked
// redelivered, and dispatches them again. A message returned more often
// than the queue's delivery limit is dead-lettered instead.
func (q *Queue) requeue(us []unackedEntry) {
	q.mu.Lock()
	defer q.unlock()
	if q.deleted {
		if q.store != nil {
			for i := range us {
				q.forgetLocked(&us[i].e) // releases paging holds
			}
		}
		return
	}
	q.unacked -= len(us)
	es := make([]entry, 0, len(us))
	for _, u := range us {
		e := u.e
		e.set(redelivered)
		if e.deliveries < math.MaxUint16 {
			e.deliveries++
		}
		if lim := q.cfg.deliveryLimit; lim >= 0 && int64(e.deliveries) > lim {
			q.discardLocked(e, reasonDeliveryLimit)
			continue
		}
		es = append(es, e)
	}
	sort.Slice(es, func(i, j int) bool { return es[i].seq < es[j].seq })
	// Walk back to front so that the common case (all older than every
	// ready message) is a series of PushFront calls.
	for i := len(es) - 1; i >= 0; i-- {
		e := es[i]
		q.ready.Return(e)
		q.readyBytes += int(e.size)
		if e.msg != nil {
			q.memAdd(int64(e.size))
		}
	}
	q.dropHeadLocked()
	q.dispatchLocked()
}

// Purge drops every ready message and returns how many there were.
func (q *Queue) Purge() int { return q.purge() }

func (q *Queue) addConsumer(c *Consumer, onAdded func()) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.deleted {
		return notFoundQueue(q.Vhost.Name, q.Name)
	}
	if q.exclusiveUsed || (c.Exclusive && len(q.consumers) > 0) {
		return errorf(KindAccessRefused, "queue '%s' in vhost '%s' in exclusive use", q.Name, q.Vhost.Name)
	}
	if c.Priority != 0 && !q.singleActive {
		q.consumerPrio = true
	}
	// Insert after every consumer of the same or higher priority.
	i := len(q.consumers)
	if q.consumerPrio {
		i = sort.Search(len(q.consumers), func(k int) bool { return q.consumers[k].Priority < c.Priority })
	}
	q.consumers = append(q.consumers, nil)
	copy(q.consumers[i+1:], q.consumers[i:])
	q.consumers[i] = c
	if onAdded != nil {
		onAdded() // under q.mu: nothing can be dispatched to c before this runs
	}
	q.hadConsumer = true
	if c.Exclusive {
		q.exclusiveUsed = true
	}
	return nil
}

func (q *Queue) removeConsumer(c *Consumer) {
	q.mu.Lock()
	for i, x := range q.consumers {
		if x == c {
			q.consumers = append(q.consumers[:i], q.consumers[i+1:]...)
			if q.rr > i {
				q.rr--
			}
			if q.rr >= len(q.consumers) {
				q.rr = 0
			}
			break
		}
	}
	if c.Exclusive {
		q.exclusiveUsed = false
	}
	autoDelete := q.AutoDelete && q.hadConsumer && len(q.consumers) == 0 && !q.deleted
	if len(q.consumers) == 0 {
		q.touchLocked()
	} else if q.singleActive {
		q.dispatchLocked() // the next consumer takes over
	}
	q.unlock()
	if autoDelete {
		q.Vhost.autoDeleteQueue(q)
	}
}

// SingleActiveConsumer reports the tag of the active consumer of a
// single-active-consumer queue ("" if none or not such a queue).
func (q *Queue) SingleActiveConsumer() string {
	q.mu.Lock()
	defer q.mu.Unlock()
	if !q.singleActive || len(q.consumers) == 0 {
		return ""
	}
	return q.consumers[0].Tag
}

// purge drops every ready message and returns how many there were.
func (q *Queue) purge() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	n := q.ready.Len()
	q.dropReadyLocked()
	return n
}

// dropReadyLocked empties the ready list, store records included.
func (q *Queue) dropReadyLocked() {
	if q.store != nil {
		q.ready.Each(q.forgetLocked)
	}
	q.memAdd(-q.memBytes)
	q.ready.Clear()
	q.readyBytes = 0
}

// markDeleted ends the queue: consumers are cancelled (with
// consumer_cancel_notify) and its messages dropped. Returns ready count.
func (q *Queue) markDeleted() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.deleted {
		return 0
	}
	n := q.ready.Len()
	for _, c := range q.consumers {
		c.s.consumerGone(c)
	}
	q.consumers = nil
	if q.storing() {
		q.store.DeleteQueue(q.key)
	}
	q.deleted = true // after DeleteQueue: forgetLocked now only releases holds
	q.dropReadyLocked()
	if q.ttlTimer != nil {
		q.ttlTimer.Stop()
	}
	if q.expTimer != nil {
		q.expTimer.Stop()
	}
	return n
}

// Deleted reports whether the queue was deleted.
func (q *Queue) Deleted() bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.deleted
}

// --- configuration and queue expiry ---

// setConfig applies a new effective configuration (a policy changed): new
// limits trim the queue at once, a new expiry restarts its clock.
func (q *Queue) setConfig(c queueConfig) {
	q.mu.Lock()
	defer q.unlock()
	if q.deleted {
		return
	}
	q.cfg = c
	q.dropHeadLocked()
	q.armExpiresLocked()
	q.dispatchLocked()
}

// Touch records a use that restarts the x-expires clock (a redeclare).
func (q *Queue) Touch() {
	q.mu.Lock()
	q.touchLocked()
	q.mu.Unlock()
}

func (q *Queue) touchLocked() {
	if q.cfg.expires > 0 {
		q.lastUsed = nowMs()
		q.armExpiresLocked()
	}
}

// armExpiresLocked (re)starts the x-expires timer while the queue is
// unused.
func (q *Queue) armExpiresLocked() {
	if q.cfg.expires <= 0 || q.deleted {
		if q.expTimer != nil {
			q.expTimer.Stop()
		}
		return
	}
	d := time.Duration(q.lastUsed+q.cfg.expires-nowMs()) * time.Millisecond
	if q.expTimer == nil {
		q.expTimer = time.AfterFunc(d, q.expiresFired)
	} else {
		q.expTimer.Reset(d)
	}
}

func (q *Queue) expiresFired() {
	q.mu.Lock()
	if q.deleted || q.cfg.expires <= 0 || len(q.consumers) > 0 {
		q.mu.Unlock()
		return
	}
	if left := q.lastUsed + q.cfg.expires - nowMs(); left > 0 {
		q.expTimer.Reset(time.Duration(left) * time.Millisecond)
		q.mu.Unlock()
		return
	}
	q.mu.Unlock()
	q.Vhost.autoDeleteQueue(q)
}
