package routing

import "github.com/warrenmq/warren/internal/amqp"

// direct routes on exact equality of binding key and routing key, the empty
// key included; args play no part in matching (rabbit_exchange_type_direct
// and rabbit_router:match_routing_key, v3.10.25).
type direct[D comparable] struct {
	keys map[string]*destSet[D]
	n    int
}

// NewDirect returns an empty matcher for a direct exchange.
func NewDirect[D comparable]() Matcher[D] {
	return &direct[D]{keys: make(map[string]*destSet[D])}
}

func (m *direct[D]) Bind(d D, key string, args amqp.Table) {
	s := m.keys[key]
	if s == nil {
		s = &destSet[D]{}
		m.keys[key] = s
	}
	s.add(d, len(args) == 0, bindRef{args: args})
	m.n++
}

func (m *direct[D]) Unbind(d D, key string, args amqp.Table) bool {
	s := m.keys[key]
	if s == nil || !s.remove(d, len(args) == 0, bindRef{args: args}) {
		return false
	}
	if s.len() == 0 {
		delete(m.keys, key)
	}
	m.n--
	return true
}

func (m *direct[D]) Route(key string, _ amqp.Table, out []D) []D {
	if s := m.keys[key]; s != nil {
		out = append(out, s.dests...)
	}
	return out
}

func (m *direct[D]) Len() int { return m.n }
