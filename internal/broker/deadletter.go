package broker

import (
	"strconv"
	"time"

	"github.com/warrenmq/warren/internal/amqp"
)

// Dead-letter reasons, as RabbitMQ writes them in x-death.
const (
	reasonRejected      = "rejected"
	reasonExpired       = "expired"
	reasonMaxLen        = "maxlen"
	reasonDeliveryLimit = "delivery_limit"
)

// deadLetter is a message leaving a queue for its dead-letter exchange.
type deadLetter struct {
	msg       *Message
	reason    string
	e         entry // the queue entry, forgotten once republished
	fromQueue bool  // e is set (false for a publish refused by reject-publish-dlx)
}

// deadLetter republishes messages that left q to its dead-letter
// exchange, as rabbit_dead_letter:publish, then forgets their entries: a
// crash in between delivers twice rather than never.
func (v *Vhost) deadLetter(q *Queue, cfg *queueConfig, dead []deadLetter) {
	v.mu.RLock()
	x := v.exchanges[cfg.dlx]
	v.mu.RUnlock()
	if x != nil {
		sc := &Scratch{}
		for _, d := range dead {
			m := deadLetterMessage(d.msg, d.reason, q.Name, cfg, time.Now())
			if m == nil {
				continue
			}
			q.Stats.DeadLettered.Add(1)
			_, _ = v.publish(x, m, sc, func(t *Queue) bool {
				return d.reason == reasonRejected || !isCycle(t.Name, m.ext.deaths)
			})
		}
	}
	q.mu.Lock()
	for i := range dead {
		if dead[i].fromQueue {
			q.forgetLocked(&dead[i].e)
		}
	}
	q.mu.Unlock()
}

// deadLetterMessage is rabbit_dead_letter:make_msg: the message with an
// updated x-death header (and x-first-death-* on its first death), no
// expiration, routed to the dead-letter exchange with the dead-letter
// routing key or its original routing keys. Nil if its properties cannot
// be decoded.
func deadLetterMessage(m *Message, reason, queue string, cfg *queueConfig, now time.Time) *Message {
	var p amqp.Properties
	if _, err := p.Decode(m.Props); err != nil {
		return nil
	}
	h := p.Headers
	if h == nil {
		h = amqp.Table{}
	} else {
		h = cloneTable(h)
	}
	// The first routing key is the one published with; the others come
	// from the CC header (BCC was removed at publish).
	rks := []any{m.RoutingKey}
	if cc, ok := h["CC"].([]any); ok {
		for _, k := range cc {
			if s, ok := k.(string); ok {
				rks = append(rks, s)
			}
		}
	}
	info := amqp.Table{
		"reason":       reason,
		"queue":        queue,
		"time":         now.UTC().Truncate(time.Second),
		"exchange":     m.Exchange,
		"routing-keys": rks,
	}
	if p.Flags&amqp.FlagExpiration != 0 && p.Expiration != "" {
		info["original-expiration"] = p.Expiration
	}
	deaths, _ := h["x-death"].([]any)
	if _, present := h["x-death"]; !present {
		h["x-first-death-reason"] = reason
		h["x-first-death-queue"] = queue
		h["x-first-death-exchange"] = m.Exchange
	}
	h["x-death"] = updateDeaths(deaths, info, queue, reason)
	keys := append([]string{m.RoutingKey}, m.extraKeys()...)
	if cfg.hasDLRK {
		keys = []string{cfg.dlrk}
		delete(h, "CC")
	}
	p.Headers = h
	p.Flags |= amqp.FlagHeaders
	p.Flags &^= amqp.FlagExpiration
	p.Expiration = ""
	props, err := amqp.AppendProperties(nil, &p)
	if err != nil {
		return nil
	}
	out := &Message{Exchange: cfg.dlx, RoutingKey: keys[0], Props: props, Body: m.Body,
		Persistent: m.Persistent, Priority: m.Priority, ext: &messageExt{extraKeys: keys[1:]}}
	out.ext.deaths, _ = h["x-death"].([]any)
	return out
}

// updateDeaths adds a death to an x-death array: the entry for the same
// queue and reason counts one more and moves to the front (keeping its
// other fields), otherwise a new entry with count 1 goes first.
func updateDeaths(deaths []any, info amqp.Table, queue, reason string) []any {
	out := make([]any, 0, len(deaths)+1)
	var found amqp.Table
	for _, d := range deaths {
		t, ok := d.(amqp.Table)
		if ok && found == nil && t["queue"] == queue && t["reason"] == reason {
			found = cloneTable(t)
			continue
		}
		out = append(out, d)
	}
	if found != nil {
		n, _ := asInt(found["count"])
		found["count"] = n + 1
		return append([]any{found}, out...)
	}
	info["count"] = int64(1)
	return append([]any{info}, out...)
}

// isCycle is rabbit_dead_letter:is_cycle: dead-lettering to queue closes a
// cycle if queue already appears in the message's deaths and no death on
// the way back to it was a rejection (a client's decision breaks the
// cycle; an automatic one would loop forever).
func isCycle(queue string, deaths []any) bool {
	for _, d := range deaths {
		t, ok := d.(amqp.Table)
		if !ok {
			return false // something a client put there: not fully automatic
		}
		if t["reason"] == reasonRejected {
			return false
		}
		if t["queue"] == queue {
			return true
		}
	}
	return false
}

func cloneTable(t amqp.Table) amqp.Table {
	c := make(amqp.Table, len(t))
	for k, v := range t {
		c[k] = v
	}
	return c
}

// withDeliveryCount returns m with the x-delivery-count header a quorum
// queue adds to a message it delivers again.
func withDeliveryCount(m *Message, n uint16) *Message {
	var p amqp.Properties
	if _, err := p.Decode(m.Props); err != nil {
		return m
	}
	h := cloneTable(p.Headers)
	h["x-delivery-count"] = int64(n)
	p.Headers = h
	p.Flags |= amqp.FlagHeaders
	props, err := amqp.AppendProperties(nil, &p)
	if err != nil {
		return m
	}
	c := *m
	c.Props = props
	return &c
}

// ParseExpiration reads a per-message TTL (the expiration property) as
// rabbit_basic:parse_expiration; the error text is RabbitMQ's reason.
func ParseExpiration(s string) (int64, error) {
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		// string:to_integer accepts a leading integer and reports the rest.
		i := 0
		if i < len(s) && (s[i] == '-' || s[i] == '+') {
			i++
		}
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
		if i == 0 || (i == 1 && (s[0] == '-' || s[0] == '+')) {
			return 0, errorf(KindPreconditionFailed, "invalid expiration '%s': no_integer", s)
		}
		return 0, errorf(KindPreconditionFailed, "invalid expiration '%s': {leftover_string,\"%s\"}", s, s[i:])
	}
	if n < 0 {
		return 0, errorf(KindPreconditionFailed, "invalid expiration '%s': {value_negative,%d}", s, n)
	}
	if n > 1<<32-1 {
		return 0, errorf(KindPreconditionFailed, "invalid expiration '%s': {value_too_large,%d,%d}", s, n, int64(1<<32-1))
	}
	return n, nil
}
