package broker

import (
	"bytes"

	"github.com/warrenmq/warren/internal/amqp"
	"github.com/warrenmq/warren/internal/store"
)

// Message is one published message. It is immutable once published and
// shared by every queue it was routed to (stored once, not copied per queue).
type Message struct {
	Exchange   string
	RoutingKey string
	// Props holds the raw basic-class properties (flags and values) exactly
	// as the publisher sent them; they are forwarded without re-encoding.
	Props      []byte
	Body       []byte
	Persistent bool
	Priority   uint8

	// What few messages have lives behind one pointer, so that the common
	// message stays in a small allocation size class.
	ext *messageExt
}

// messageExt holds a message's rarely used routing and expiry facts.
type messageExt struct {
	hasTTL    bool     // the expiration property gave a per-message TTL
	ttl       int64    // in milliseconds
	extraKeys []string // CC and BCC routing keys, routed besides RoutingKey
	deaths    []any    // x-death of a dead-lettered message (cycle detection)
}

func (m *Message) extra() *messageExt {
	if m.ext == nil {
		m.ext = &messageExt{}
	}
	return m.ext
}

// TTL is the per-message TTL in milliseconds, if the message has one.
func (m *Message) TTL() (ms int64, ok bool) {
	if m.ext == nil || !m.ext.hasTTL {
		return 0, false
	}
	return m.ext.ttl, true
}

// extraKeys are the CC and BCC routing keys.
func (m *Message) extraKeys() []string {
	if m.ext == nil {
		return nil
	}
	return m.ext.extraKeys
}

// ApplySummary fills in what the broker needs from a message's properties
// (read once by the protocol side with amqp.ScanProperties): persistence,
// priority, per-message TTL, and the CC/BCC sender-selected routing keys
// (BCC is removed from the message, as RabbitMQ does). An invalid
// expiration is RabbitMQ's PRECONDITION_FAILED.
func (m *Message) ApplySummary(sum *amqp.PropsSummary) error {
	m.Persistent = sum.DeliveryMode == 2
	m.Priority = sum.Priority
	if sum.Flags&amqp.FlagExpiration != 0 {
		ttl, err := ParseExpiration(sum.Expiration)
		if err != nil {
			return err
		}
		e := m.extra()
		e.hasTTL, e.ttl = true, ttl
	}
	if len(sum.Headers) > 0 && mayHaveRoutingHeaders(sum.Headers) {
		return m.applyRoutingHeaders()
	}
	return nil
}

// mayHaveRoutingHeaders is a cheap test on an encoded table for the keys
// CC or BCC (a short string length byte, then the name).
func mayHaveRoutingHeaders(raw []byte) bool {
	return bytes.Contains(raw, []byte("\x02CC")) || bytes.Contains(raw, []byte("\x03BCC"))
}

// applyRoutingHeaders reads CC and BCC (arrays of strings) into extraKeys
// and removes BCC from the properties. Another type for either is
// rabbit_basic:header_routes's unacceptable_type_in_header.
func (m *Message) applyRoutingHeaders() error {
	var p amqp.Properties
	if _, err := p.Decode(m.Props); err != nil {
		return nil // ScanProperties accepted them; nothing to route by
	}
	for _, name := range []string{"CC", "BCC"} {
		v, ok := p.Headers[name]
		if !ok {
			continue
		}
		a, ok := v.([]any)
		if !ok {
			return errorf(KindPreconditionFailed, "invalid message: {unacceptable_type_in_header,\"%s\",%s}", name, typeName(v))
		}
		for _, k := range a {
			if s, ok := k.(string); ok {
				m.extra().extraKeys = append(m.extra().extraKeys, s)
			}
		}
	}
	if _, ok := p.Headers["BCC"]; ok {
		h := cloneTable(p.Headers)
		delete(h, "BCC")
		p.Headers = h
		if props, err := amqp.AppendProperties(nil, &p); err == nil {
			m.Props = props
		}
	}
	return nil
}

// Size is the body size, which RabbitMQ counts for message_bytes.
func (m *Message) Size() int { return len(m.Body) }

// entry is a message's place in one queue: 40 bytes, the memory a queued
// message costs once its body is paged out.
type entry struct {
	msg        *Message  // nil while the body is paged out to the store
	seq        uint64    // enqueue order, so requeued messages return to their place
	ref        store.Ref // where the body is stored (durable or paged)
	expires    int64     // unix ms when it expires; 0 = never
	size       uint32    // body size
	deliveries uint16    // times returned to the queue (x-delivery-count), saturating
	prio       uint8     // priority lane (priority queues)
	flags      entryFlags
}

type entryFlags uint8

const (
	redelivered entryFlags = 1 << iota // delivered before (the redelivered flag)
	durable                            // the store holds a durable enqueue record for it
	hold                               // ref is a transient paging copy to release when done
)

func (e *entry) is(f entryFlags) bool { return e.flags&f != 0 }
func (e *entry) set(f entryFlags)     { e.flags |= f }

// Headers decodes the message's headers table; never nil, so callers can
// tell "decoded, empty" from "not decoded yet".
func (m *Message) Headers() amqp.Table {
	sum, err := amqp.ScanProperties(m.Props)
	if err != nil || len(sum.Headers) == 0 {
		return amqp.Table{}
	}
	t, _, err := amqp.ReadTable(sum.Headers)
	if err != nil || t == nil {
		return amqp.Table{}
	}
	return t
}
