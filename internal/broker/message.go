package broker

import (
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
}

// Size is the body size, which RabbitMQ counts for message_bytes.
func (m *Message) Size() int { return len(m.Body) }

// entry is a message's place in one queue.
type entry struct {
	msg         *Message  // nil while the body is paged out to the store
	seq         uint64    // enqueue order, so requeued messages return to their place
	ref         store.Ref // where the body is stored (durable or paged)
	size        uint32    // body size
	redelivered bool
	durable     bool // the store holds a durable enqueue record for it
	hold        bool // ref is a transient paging copy to release when done
}

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
