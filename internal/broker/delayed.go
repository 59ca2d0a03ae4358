package broker

import (
	"container/heap"
	"math"
	"strconv"
	"sync"
	"time"

	"github.com/warrenmq/warren/internal/amqp"
	"github.com/warrenmq/warren/internal/broker/routing"
	"github.com/warrenmq/warren/internal/store"
)

// The x-delayed-message exchange type, with the semantics of RabbitMQ's
// rabbitmq-delayed-message-exchange plugin: the required argument
// x-delayed-type names the routing type (direct, fanout, topic, headers);
// a message whose x-delay header is a delay in milliseconds in
// (0, 2^32-1] is held and then routed through the exchange as if
// published again, with x-delay rewritten to minus the delay (so it is not
// delayed twice on its way, and consumers can tell it was delayed). Other
// messages (no x-delay, zero, negative or out of range) are routed at once.
//
// A held message counts as unroutable at publish time, as in the plugin:
// a mandatory publish is returned (the plugin does not support mandatory),
// and it is confirmed once stored. Persistent messages held by a durable
// exchange are written to the message store under the exchange's own owner
// key, with the due time as the entry's expiry, and are rescheduled at
// boot; others stay in memory, their bodies paged to the store (unsynced)
// when there is one. Each exchange has one timer, armed for the earliest
// due message of a heap. Deleting the exchange drops what it holds.

// KindDelayed is the plugin's exchange type name.
const KindDelayed = "x-delayed-message"

// maxDelay is the longest delay the plugin honours: Erlang's timer limit.
// A longer one routes the message at once.
const maxDelay = 1<<32 - 1

// exchangeMatcher returns the matcher for a new exchange of kind: a
// delayed exchange routes with the rules of its x-delayed-type.
func exchangeMatcher(kind string, args amqp.Table) (routing.Matcher[Dest], bool) {
	if kind != KindDelayed {
		return routing.New[Dest](kind)
	}
	if m, ok := routing.New[Dest](delayedType(args)); ok {
		return m, true
	}
	// Only a type check sees this (declare validates the argument).
	return routing.NewDirect[Dest](), true
}

// delayedType is the x-delayed-type argument, "" if absent or not a string.
func delayedType(args amqp.Table) string {
	switch t := args["x-delayed-type"].(type) {
	case string:
		return t
	case []byte:
		return string(t)
	}
	return ""
}

// validateExchangeArgs checks the arguments of a new exchange of kind as
// RabbitMQ's exchange type validate callback does.
func validateExchangeArgs(kind string, args amqp.Table) error {
	if kind != KindDelayed {
		return nil
	}
	var name string
	switch t := args["x-delayed-type"].(type) {
	case string:
		name = t
	case []byte:
		name = string(t)
	default:
		return errorf(KindPreconditionFailed, "Invalid argument, 'x-delayed-type' must be an existing exchange type")
	}
	if name == KindDelayed {
		return errorf(KindPreconditionFailed, "Invalid argument, 'x-delayed-message' can't be used for 'x-delayed-type'")
	}
	if _, ok := routing.New[Dest](name); !ok {
		return errorf(KindCommandInvalid, "unknown exchange type '%s'", name)
	}
	return nil
}

// routingKind is the type whose rules route x's messages.
func (x *Exchange) routingKind() string {
	if x.delayed != nil {
		return x.delayed.kind
	}
	return x.Kind
}

// MessagesDelayed reports how many messages a delayed exchange holds
// (the plugin's messages_delayed); ok is false for other exchanges.
func (x *Exchange) MessagesDelayed() (n int, ok bool) {
	d := x.delayed
	if d == nil {
		return 0, false
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	return len(d.q), true
}

// dropDelayed discards what a delayed exchange holds (it was deleted).
func (x *Exchange) dropDelayed() {
	if x.delayed != nil {
		x.delayed.drop()
	}
}

// delayedKey names a delayed exchange's messages in the message store; the
// leading byte keeps it apart from queue keys (vhost NUL name).
func delayedKey(vhost, name string) string { return "\x01delayed\x00" + vhost + "\x00" + name }

// delayed is a delayed exchange's held messages.
type delayed struct {
	x    *Exchange
	kind string // x-delayed-type
	key  string // owner key in the message store

	fireMu  sync.Mutex // one fire at a time, so due messages go out in order
	scratch Scratch    // routing buffers of fire (under fireMu)

	mu      sync.Mutex
	q       pendingHeap
	timer   *time.Timer
	at      int64  // due time timer is armed for (unix ms); 0 = not armed
	ord     uint64 // arrival order, to keep equal due times FIFO
	seq     uint64 // last store seq used
	seqInit bool   // seq was read from the store
	closed  bool   // deleted: holds nothing, takes nothing
}

// pending is one held message: about 48 bytes, the body being in the
// store when there is one.
type pending struct {
	due     int64 // unix ms
	ord     uint64
	seq     uint64    // store seq (durable)
	ref     store.Ref // body in the store
	msg     *Message  // body in memory (no store, or paging failed)
	durable bool      // an enqueue record under the exchange's key
	hold    bool      // ref is a transient copy to release
}

type pendingHeap []pending

func (h pendingHeap) Len() int { return len(h) }
func (h pendingHeap) Less(i, j int) bool {
	return h[i].due < h[j].due || (h[i].due == h[j].due && h[i].ord < h[j].ord)
}
func (h pendingHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *pendingHeap) Push(v any)   { *h = append(*h, v.(pending)) }
func (h *pendingHeap) Pop() any {
	old := *h
	p := old[len(old)-1]
	old[len(old)-1] = pending{}
	*h = old[:len(old)-1]
	return p
}

func newDelayed(x *Exchange) *delayed {
	return &delayed{x: x, kind: delayedType(x.Args), key: delayedKey(x.Vhost.Name, x.Name)}
}

// delayOf reads an x-delay header as the plugin does: integers as they
// are, floats and decimals truncated, strings parsed as integers.
func delayOf(h amqp.Table) (int64, bool) {
	if n, ok := asInt(h["x-delay"]); ok {
		return n, true
	}
	switch v := h["x-delay"].(type) {
	case float32:
		return truncDelay(float64(v))
	case float64:
		return truncDelay(v)
	case amqp.Decimal:
		return truncDelay(float64(v.Value) / math.Pow10(int(v.Scale)))
	case string:
		// The plugin's binary_to_integer fails the publish on junk; here
		// junk just means no delay.
		n, err := strconv.ParseInt(v, 10, 64)
		return n, err == nil
	}
	return 0, false
}

func truncDelay(f float64) (int64, bool) {
	if math.IsNaN(f) || math.Abs(f) > 1<<62 {
		return 0, false
	}
	return int64(f), true
}

// hold takes m if it is to be delayed. held false: route it now. A held
// message routes nowhere yet (Routed 0); LSN covers its store records.
// heldByDelay reports whether a delayed exchange would hold m.
func heldByDelay(m *Message) bool {
	delay, ok := delayOf(m.Headers())
	return ok && delay > 0 && delay <= maxDelay
}

func (d *delayed) hold(m *Message) (res PublishResult, held bool, err error) {
	delay, ok := delayOf(m.Headers())
	if !ok || delay <= 0 || delay > maxDelay {
		return res, false, nil
	}
	x := d.x
	b := x.Vhost.broker
	x.Stats.PublishIn.Add(1)
	// Due at a whole millisecond no earlier than now plus the delay.
	p := pending{due: (time.Now().UnixNano()+int64(time.Millisecond)-1)/int64(time.Millisecond) + delay}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return res, true, nil // deleted meanwhile: as good as unroutable
	}
	st := b.store
	switch {
	case st == nil:
		p.msg = m
	case m.Persistent && x.Durable:
		d.initSeqLocked(st)
		ref, _, err := st.WriteMessage(toStore(m), true)
		if err != nil {
			b.log.Error("cannot store a delayed message; refusing it", "exchange", x.Name, "vhost", x.Vhost.Name, "err", err)
			return PublishResult{Refused: true}, true, err
		}
		lsn, err := st.Enqueue(d.key, d.seq+1, ref, true, store.EntryMeta{Expires: p.due})
		if err != nil {
			b.log.Error("cannot store a delayed message; refusing it", "exchange", x.Name, "vhost", x.Vhost.Name, "err", err)
			return PublishResult{Refused: true}, true, err
		}
		d.seq++
		p.seq, p.ref, p.durable = d.seq, ref, true
		res.LSN = lsn
		if len(m.extraKeys()) > 0 {
			p.msg = m // the stored properties lack BCC: keep the keys while we can
		}
	case len(m.extraKeys()) > 0:
		p.msg = m // CC/BCC keys are not in the stored properties (BCC is removed)
	default:
		// Page the body out: held messages are not read until due.
		if ref, _, err := st.WriteMessage(toStore(m), false); err == nil {
			p.ref, p.hold = ref, true
		} else {
			p.msg = m
		}
	}
	d.ord++
	p.ord = d.ord
	heap.Push(&d.q, p)
	d.armLocked()
	return res, true, nil
}

func (d *delayed) initSeqLocked(st MessageStore) {
	if !d.seqInit {
		if n := st.NextSeq(d.key); n > 0 {
			d.seq = n - 1
		}
		d.seqInit = true
	}
}

// armLocked sets the timer for the earliest due message. d.mu held.
func (d *delayed) armLocked() {
	if len(d.q) == 0 || d.closed {
		return
	}
	due := d.q[0].due
	if d.at != 0 && d.at <= due {
		return // armed for then or earlier
	}
	wait := time.Duration(max(due-nowMs(), 0)) * time.Millisecond
	if d.timer == nil {
		d.timer = time.AfterFunc(wait, d.fire)
	} else {
		d.timer.Reset(wait)
	}
	d.at = due
}

// fireBatch bounds how many messages fire routes between looks at the heap.
const fireBatch = 256

// fire routes the messages that are due and re-arms the timer.
func (d *delayed) fire() {
	d.fireMu.Lock()
	defer d.fireMu.Unlock()
	var batch []pending
	for {
		d.mu.Lock()
		d.at = 0
		if d.closed {
			d.mu.Unlock()
			return
		}
		if d.x.Deleted() { // its vhost went
			d.mu.Unlock()
			d.drop()
			return
		}
		now := nowMs()
		batch = batch[:0]
		for len(d.q) > 0 && d.q[0].due <= now && len(batch) < fireBatch {
			batch = append(batch, heap.Pop(&d.q).(pending))
		}
		more := len(d.q) > 0 && d.q[0].due <= now
		if !more {
			d.armLocked()
		}
		d.mu.Unlock()
		for i := range batch {
			d.route(&batch[i])
			batch[i] = pending{}
		}
		if !more {
			return
		}
	}
}

// route publishes a due message through the exchange, then forgets it.
// One attempt, as the plugin: what no queue takes then is dropped.
func (d *delayed) route(p *pending) {
	x := d.x
	b := x.Vhost.broker
	defer d.forget(p)
	m := p.msg
	if m == nil {
		sm, err := b.store.Read(p.ref)
		if err != nil {
			b.log.Error("cannot read a delayed message; dropping it", "exchange", x.Name, "vhost", x.Vhost.Name, "err", err)
			return
		}
		m = &Message{Exchange: sm.Exchange, RoutingKey: sm.RoutingKey, Props: sm.Props, Body: sm.Body}
		if sum, err := amqp.ScanProperties(m.Props); err == nil {
			_ = m.ApplySummary(&sum) // accepted once already
		}
	}
	m = withNegatedDelay(m)
	if x.Deleted() {
		return
	}
	x.Stats.PublishIn.Add(^uint64(0)) // counted once, when it was held
	if _, err := x.Vhost.Publish(x, m, &d.scratch); err != nil {
		b.log.Error("cannot route a delayed message", "exchange", x.Name, "vhost", x.Vhost.Name, "err", err)
	}
}

// forget drops the store's records of a message that left the exchange.
func (d *delayed) forget(p *pending) {
	st := d.x.Vhost.broker.store
	if st == nil {
		return
	}
	if p.durable {
		st.Ack(d.key, p.seq)
	}
	if p.hold {
		st.Release(p.ref)
	}
}

// withNegatedDelay returns m with x-delay set to minus its delay, as the
// plugin does before routing a held message (a signed 32-bit integer;
// 64-bit when it does not fit).
func withNegatedDelay(m *Message) *Message {
	var p amqp.Properties
	if _, err := p.Decode(m.Props); err != nil {
		return m
	}
	delay, ok := delayOf(p.Headers)
	if !ok {
		return m
	}
	h := cloneTable(p.Headers)
	if -delay >= math.MinInt32 {
		h["x-delay"] = int32(-delay)
	} else {
		h["x-delay"] = -delay
	}
	p.Headers = h
	props, err := amqp.AppendProperties(nil, &p)
	if err != nil {
		return m
	}
	nm := *m
	nm.Props = props
	return &nm
}

// drop discards every held message and the store's records of them.
func (d *delayed) drop() {
	d.mu.Lock()
	if d.closed {
		d.mu.Unlock()
		return
	}
	d.closed = true
	if d.timer != nil {
		d.timer.Stop()
	}
	q := d.q
	d.q = nil
	d.mu.Unlock()
	st := d.x.Vhost.broker.store
	if st == nil {
		return
	}
	for i := range q {
		if q[i].hold {
			st.Release(q[i].ref)
		}
	}
	if d.x.Durable {
		st.DeleteQueue(d.key)
	}
}

// restore takes the store's entries of a durable delayed exchange after a
// restart (their expiry is the due time) and arms the timer: what fell due
// while the node was down is routed at once.
func (d *delayed) restore(es []store.Entry, nextSeq uint64) {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, e := range es {
		d.ord++
		d.q = append(d.q, pending{due: e.Expires, ord: d.ord, seq: e.Seq, ref: e.Ref, durable: true})
	}
	heap.Init(&d.q)
	if nextSeq > 0 {
		d.seq = nextSeq - 1
	}
	d.seqInit = true
	d.armLocked()
}

// restoreDelayed hands the message store's records to durable delayed
// exchanges and marks their keys found (the rest is deleted by the caller).
func (b *Broker) restoreDelayed(rec map[string][]store.Entry, found map[string]bool) {
	for _, v := range b.Vhosts() {
		for _, x := range v.Exchanges() {
			if x.delayed == nil || !x.Durable {
				continue
			}
			key := x.delayed.key
			found[key] = true
			x.delayed.restore(rec[key], b.store.NextSeq(key))
		}
	}
}
