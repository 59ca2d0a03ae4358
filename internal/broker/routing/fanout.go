package routing

import "github.com/warrenmq/warren/internal/amqp"

// fanout routes to every bound destination; key and args are part of a
// binding's identity but play no part in matching
// (rabbit_exchange_type_fanout, v3.10.25).
type fanout[D comparable] struct {
	set destSet[D]
	n   int
}

// NewFanout returns an empty matcher for a fanout exchange.
func NewFanout[D comparable]() Matcher[D] { return &fanout[D]{} }

func (m *fanout[D]) Bind(d D, key string, args amqp.Table) {
	m.set.add(d, key == "" && len(args) == 0, bindRef{key: key, args: args})
	m.n++
}

func (m *fanout[D]) Unbind(d D, key string, args amqp.Table) bool {
	if !m.set.remove(d, key == "" && len(args) == 0, bindRef{key: key, args: args}) {
		return false
	}
	m.n--
	return true
}

func (m *fanout[D]) Route(_ string, _ amqp.Table, out []D) []D {
	return append(out, m.set.dests...)
}

func (m *fanout[D]) Len() int { return m.n }
