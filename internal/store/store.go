// Package store holds the small types and interfaces shared by Warren's
// message stores: the durable segment log (package store/segment) and any
// in-memory twin. The broker talks to a store through MessageLog and keeps,
// per queued message, only an Entry (a Ref, a sequence and a size), never
// the body.
package store

import "errors"

// Message is what the store keeps of a published message.
type Message struct {
	Exchange   string // at most 255 bytes (AMQP shortstr)
	RoutingKey string // at most 255 bytes
	Props      []byte // raw AMQP basic properties, opaque to the store
	Body       []byte
}

// Ref says where a message body lives: a segment and the byte offset of its
// record. It is 8 bytes, and valid for Read until the message is dropped.
type Ref struct {
	Segment uint32
	Offset  uint32
}

// IsZero reports whether r is the zero Ref (no message).
func (r Ref) IsZero() bool { return r == Ref{} }

// EntryMeta is what a queue entry carries besides its body: when it
// expires and its priority. The zero value means no expiry, priority 0.
type EntryMeta struct {
	Expires  int64 // unix milliseconds; 0 = never
	Priority uint8
}

// Entry is one message held by a queue, as recovered at open: its position
// in the queue, where its body is, the body size, whether it may have been
// delivered before, and its EntryMeta. It is 32 bytes.
type Entry struct {
	Seq         uint64
	Ref         Ref
	Expires     int64  // unix milliseconds; 0 = never
	Size        uint32 // body size in bytes
	Redelivered bool   // a delivery was recorded (or cannot be ruled out)
	Priority    uint8
}

// Meta returns e's EntryMeta.
func (e Entry) Meta() EntryMeta { return EntryMeta{Expires: e.Expires, Priority: e.Priority} }

// MessageLog is the seam between the broker's queues and a message store.
// Durable calls return a log sequence number (LSN); the store reports, by
// its own means (segment.Options.OnSync), when every LSN up to some value is
// on disk.
type MessageLog interface {
	// WriteMessage stores a body once, however many queues it is routed to.
	WriteMessage(m *Message, durable bool) (ref Ref, lsn uint64, err error)
	// Enqueue records that queue holds ref at position seq, with meta
	// (kept, and recovered, only for durable entries).
	Enqueue(queue string, seq uint64, ref Ref, durable bool, meta EntryMeta) (lsn uint64, err error)
	// Delivered records that the message at seq went to a consumer.
	Delivered(queue string, seq uint64)
	// Ack records that queue no longer holds seq.
	Ack(queue string, seq uint64) (lsn uint64)
	// DeleteQueue drops every entry of queue.
	DeleteQueue(queue string) (lsn uint64)
	// Read returns a stored message.
	Read(ref Ref) (*Message, error)
	// Release drops the writer's hold on a transient body.
	Release(ref Ref)
}

// Errors shared by store implementations. Implementations wrap them with
// detail; test with errors.Is.
var (
	ErrClosed    = errors.New("store: closed")
	ErrNotFound  = errors.New("store: message not found")
	ErrTooLarge  = errors.New("store: message too large")
	ErrSeqOrder  = errors.New("store: sequence not above the queue's last sequence")
	ErrCorrupt   = errors.New("store: corrupt record")
	ErrVersion   = errors.New("store: unsupported on-disk version")
	ErrReclaimed = errors.New("store: message body already reclaimed")
)
