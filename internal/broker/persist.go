package broker

import (
	"github.com/warrenmq/warren/internal/amqp"
	"github.com/warrenmq/warren/internal/store"
)

// MessageStore is what queues need of the message store (store/segment).
type MessageStore interface {
	store.MessageLog
	// NextSeq is the lowest seq the queue's next Enqueue may use.
	NextSeq(queue string) uint64
	// Synced is the highest LSN known durable.
	Synced() uint64
}

// Memory budgets for message bodies held in memory by ready messages.
// Beyond them, bodies stay on disk (RabbitMQ's lazy mode, by default) and
// only a 40-byte entry per message remains in memory.
const (
	DefaultQueueMemory = 8 << 20
	DefaultTotalMemory = 128 << 20
)

// storeKey names a queue in the message store.
func storeKey(vhost, name string) string { return vhost + "\x00" + name }

func toStore(m *Message) *store.Message {
	return &store.Message{Exchange: m.Exchange, RoutingKey: m.RoutingKey, Props: m.Props, Body: m.Body}
}

func fromStore(sm *store.Message, persistent bool) *Message {
	m := &Message{Exchange: sm.Exchange, RoutingKey: sm.RoutingKey, Props: sm.Props, Body: sm.Body, Persistent: persistent}
	if sum, err := amqp.ScanProperties(m.Props); err == nil {
		m.Priority = sum.Priority
	}
	return m
}

// stored reports whether the queue writes persistent messages to the store.
func (q *Queue) storing() bool { return q.store != nil && q.Durable }

// pushReadyLocked appends e to the ready list, leaving its body on disk
// when the queue or the node is over its memory budget. q.mu held.
func (q *Queue) pushReadyLocked(e entry) {
	if e.msg != nil && q.store != nil && q.overBudgetLocked(int64(e.size)) {
		q.pageOutLocked(&e)
	}
	if e.msg != nil {
		q.memAdd(int64(e.size))
	}
	q.ready.Push(e)
	q.readyBytes += int(e.size)
}

func (q *Queue) overBudgetLocked(size int64) bool {
	b := q.Vhost.broker
	return q.memBytes+size > b.queueMemory || b.memBytes.Load()+size > b.totalMemory
}

// pageOutLocked drops e's body from memory: a durably stored message is
// already on disk; a transient one is written there (not synced, never
// recovered) and released once the queue is done with it.
func (q *Queue) pageOutLocked(e *entry) {
	if !e.is(durable) {
		ref, _, err := q.store.WriteMessage(toStore(e.msg), false)
		if err != nil {
			return // cannot page: keep it in memory
		}
		e.ref = ref
		e.set(hold)
	}
	e.msg = nil
}

func (q *Queue) memAdd(n int64) {
	q.memBytes += n
	q.Vhost.broker.memBytes.Add(n)
}

// loadLocked brings a paged-out body back for delivery. It reports false
// (and drops the entry's store records) if the body cannot be read.
func (q *Queue) loadLocked(e *entry) bool {
	e.msg = q.readBody(e)
	if e.msg == nil {
		return false
	}
	q.memAdd(int64(e.size))
	return true
}

// deliveredLocked notes a first delivery, so a restart marks it redelivered.
func (q *Queue) deliveredLocked(e *entry) {
	if e.is(durable) && !e.is(redelivered) {
		q.store.Delivered(q.key, e.seq)
	}
}

// forgetLocked drops the store's records of an entry that left the queue
// for good (acked, dropped, purged).
func (q *Queue) forgetLocked(e *entry) {
	if e.is(durable) && !q.deleted {
		q.store.Ack(q.key, e.seq)
	}
	if e.is(hold) {
		q.store.Release(e.ref)
	}
}

// restore fills a durable queue with its recovered messages, bodies on disk.
func (q *Queue) restore(es []store.Entry, nextSeq uint64) {
	q.mu.Lock()
	defer q.mu.Unlock()
	for _, se := range es {
		e := entry{seq: se.Seq, ref: se.Ref, size: se.Size, expires: se.Expires, prio: se.Priority, flags: durable}
		if se.Redelivered {
			e.set(redelivered)
		}
		q.ready.Push(e)
		q.readyBytes += int(se.Size)
	}
	if nextSeq > 0 {
		q.nextSeq = nextSeq - 1
	}
}

// attachStore connects a new queue to the message store. Non-durable
// queues use it only to page bodies out.
func (q *Queue) attachStore(b *Broker) {
	if b.store == nil {
		return
	}
	q.store = b.store
	q.key = storeKey(q.Vhost.Name, q.Name)
	if q.Durable {
		if next := b.store.NextSeq(q.key); next > 0 {
			q.nextSeq = next - 1
		}
	}
}

// restoreQueues attaches the store to the queues replayed from metadata,
// hands recovered messages to durable ones, and drops the store's records
// of queues that no longer exist.
func (b *Broker) restoreQueues(rec map[string][]store.Entry) {
	found := map[string]bool{}
	for _, v := range b.Vhosts() {
		for _, q := range v.Queues() {
			q.attachStore(b)
			if q.storing() {
				found[q.key] = true
				q.restore(rec[q.key], b.store.NextSeq(q.key))
			}
		}
	}
	b.restoreDelayed(rec, found)
	for key := range rec {
		if !found[key] {
			b.store.DeleteQueue(key)
		}
	}
	// Only now that every queue holds its messages: drop what expired
	// while the node was down (dead-lettering may enqueue on other queues).
	for _, v := range b.Vhosts() {
		for _, q := range v.Queues() {
			q.kick()
		}
	}
}
