package broker

import (
	"sort"
	"sync"
	"sync/atomic"

	"github.com/warrenmq/warren/internal/amqp"
	"github.com/warrenmq/warren/internal/store"
)

// Queue is a classic FIFO queue. Its contents and consumers are guarded by
// mu; its identity (name, flags, args) never changes after declaration.
type Queue struct {
	Name       string
	Vhost      *Vhost
	Durable    bool
	Exclusive  bool
	AutoDelete bool
	Args       amqp.Table
	Owner      uint64 // connection that owns an exclusive queue

	mu            sync.Mutex
	ready         ring[entry]
	readyBytes    int
	unacked       int
	consumers     []*Consumer
	rr            int // round-robin position among consumers
	nextSeq       uint64
	hadConsumer   bool
	exclusiveUsed bool
	deleted       bool
	memBytes      int64       // bodies of ready messages held in memory
	flow          atomic.Bool // Backlogged, as of the last enqueue or dispatch

	key   string       // name in the message store
	store MessageStore // nil: in memory only

	bindings []*Binding // guarded by Vhost.mu

	Stats QueueStats
}

// QueueStats are cheap monotonic counters for management and metrics.
type QueueStats struct {
	Published   atomic.Uint64
	Delivered   atomic.Uint64
	Acked       atomic.Uint64
	Redelivered atomic.Uint64
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

// enqueue appends m and dispatches. ref is where m's body is durably
// stored (zero if it is not): a durable queue then records its own
// reference, and lsn says what must be synced before confirming. ok is
// false if the queue is gone.
func (q *Queue) enqueue(m *Message, ref store.Ref) (lsn uint64, ok bool, err error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.deleted {
		return 0, false, nil
	}
	q.nextSeq++
	e := entry{msg: m, seq: q.nextSeq, size: uint32(len(m.Body))}
	if !ref.IsZero() && q.storing() && m.Persistent {
		lsn, err = q.store.Enqueue(q.key, e.seq, ref, true)
		if err != nil {
			q.nextSeq--
			return 0, false, err
		}
		e.ref, e.durable = ref, true
	}
	q.Stats.Published.Add(1)
	if q.ready.Len() == 0 && len(q.consumers) > 0 && q.deliverOne(&e) {
		return lsn, true, nil
	}
	q.pushReadyLocked(e)
	q.dispatchLocked() // also updates q.flow
	return lsn, true, nil
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

// deliverOne offers e to the consumers round-robin. q.mu held.
func (q *Queue) deliverOne(e *entry) bool {
	n := len(q.consumers)
	for i := 0; i < n; i++ {
		idx := (q.rr + i) % n
		c := q.consumers[idx]
		if c.s.tryDeliver(c, q, *e) {
			q.rr = (idx + 1) % n
			q.Stats.Delivered.Add(1)
			if e.redelivered {
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
			return true
		}
	}
	return false
}

// dispatchLocked hands ready messages to consumers while any has credit,
// reading paged-out bodies back as they reach the head.
func (q *Queue) dispatchLocked() {
	defer func() { q.flow.Store(q.backloggedLocked()) }()
	for q.ready.Len() > 0 && len(q.consumers) > 0 {
		p := q.ready.Ptr(0)
		if p.msg == nil && !q.loadLocked(p) {
			q.popReadyLocked()
			continue
		}
		if !q.deliverOne(p) {
			return
		}
		q.popReadyLocked()
	}
}

// popReadyLocked removes the head of the ready list, whose body (if any)
// leaves the queue's memory account.
func (q *Queue) popReadyLocked() entry {
	e := q.ready.PopFront()
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
	q.mu.Unlock()
}

// Get pops one message for basic.get.
func (q *Queue) Get(s *Session, noAck bool) (Delivery, bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	for q.ready.Len() > 0 && !q.deleted {
		p := q.ready.Ptr(0)
		if p.msg == nil && !q.loadLocked(p) {
			q.popReadyLocked()
			continue
		}
		e := q.popReadyLocked()
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
		return Delivery{DeliveryTag: tag, Redelivered: e.redelivered, Msg: e.msg, MessageCount: q.ready.Len()}, true
	}
	return Delivery{}, false
}

// settle removes acknowledged (or dropped) deliveries.
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

// requeue puts deliveries back at their original positions, marked
// redelivered, and dispatches them again.
func (q *Queue) requeue(us []unackedEntry) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.deleted {
		if q.store != nil {
			for i := range us {
				q.forgetLocked(&us[i].e) // releases paging holds
			}
		}
		return
	}
	q.unacked -= len(us)
	es := make([]entry, len(us))
	for i, u := range us {
		es[i] = u.e
		es[i].redelivered = true
	}
	sort.Slice(es, func(i, j int) bool { return es[i].seq < es[j].seq })
	// Walk back to front so that the common case (all older than every
	// ready message) is a series of PushFront calls.
	for i := len(es) - 1; i >= 0; i-- {
		e := es[i]
		n := q.ready.Len()
		switch {
		case n == 0 || e.seq < q.ready.Front().seq:
			q.ready.PushFront(e)
		default:
			pos := sort.Search(n, func(k int) bool { return q.ready.At(k).seq > e.seq })
			q.ready.Insert(pos, e)
		}
		q.readyBytes += int(e.size)
		q.memAdd(int64(e.size))
	}
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
	q.consumers = append(q.consumers, c)
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
	q.mu.Unlock()
	if autoDelete {
		q.Vhost.autoDeleteQueue(q)
	}
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
		for i := 0; i < q.ready.Len(); i++ {
			q.forgetLocked(q.ready.Ptr(i))
		}
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
	return n
}

// Deleted reports whether the queue was deleted.
func (q *Queue) Deleted() bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.deleted
}
