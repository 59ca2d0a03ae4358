// Package routing holds the binding matchers of the four built-in exchange
// types: direct, fanout, topic and headers. Their semantics follow
// RabbitMQ 3.10 (deps/rabbit/src/rabbit_exchange_type_*.erl at v3.10.25);
// each file says what was checked and where.
//
// The package is pure: no I/O, no locks, no goroutines. The caller
// serialises Bind and Unbind; Route only reads, so any number of Route
// calls may run at once while no writer does.
package routing

import (
	"errors"

	"github.com/warrenmq/warren/internal/amqp"
)

// Matcher holds one exchange's bindings and routes a message to the
// destinations whose bindings match it. D is the broker's destination type
// (a pointer to a queue or an exchange).
//
// A binding is the triple (destination, key, args); the set of bindings is
// a multiset keyed on that triple, although the broker never adds the same
// triple twice. Args are compared with RabbitMQ's binding identity: same
// keys, same field types, same values (see argsEqual). The matcher keeps a
// reference to args; the caller must not modify them after Bind.
type Matcher[D comparable] interface {
	// Bind adds one binding.
	Bind(d D, key string, args amqp.Table)
	// Unbind removes one binding equal to (d, key, args) and reports
	// whether there was one.
	Unbind(d D, key string, args amqp.Table) bool
	// Route appends to out every destination with at least one matching
	// binding, each at most once, in no particular order. For direct,
	// fanout and topic it does not allocate when out has room.
	Route(key string, headers amqp.Table, out []D) []D
	// Len is the number of bindings.
	Len() int
}

// Exchange type names, as RabbitMQ spells them.
const (
	KindDirect  = "direct"
	KindFanout  = "fanout"
	KindTopic   = "topic"
	KindHeaders = "headers"
)

// New returns an empty matcher for the exchange type kind, or false when
// kind is not one of the built-in types (the name is case-sensitive, as in
// RabbitMQ's exchange type registry).
func New[D comparable](kind string) (Matcher[D], bool) {
	switch kind {
	case KindDirect:
		return NewDirect[D](), true
	case KindFanout:
		return NewFanout[D](), true
	case KindTopic:
		return NewTopic[D](), true
	case KindHeaders:
		return NewHeaders[D](), true
	}
	return nil, false
}

// ErrInvalidBinding is matched (errors.Is) by every error that rejects a
// binding's arguments. At the protocol edge it is a channel error, 406
// PRECONDITION_FAILED, with the error's text after "PRECONDITION_FAILED - "
// (rabbit_channel:binding_action maps binding_invalid that way).
var ErrInvalidBinding = errors.New("invalid binding")

// BindingError rejects a binding's arguments. Text is RabbitMQ's message,
// word for word.
type BindingError struct {
	Text string
}

func (e *BindingError) Error() string { return e.Text }

// Is makes errors.Is(err, ErrInvalidBinding) true.
func (e *BindingError) Is(target error) bool { return target == ErrInvalidBinding }
