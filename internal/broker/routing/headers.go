package routing

import (
	"strings"

	"github.com/warrenmq/warren/internal/amqp"
)

// Headers matching, as RabbitMQ 3.10 does it (rabbit_exchange_type_headers
// at v3.10.25):
//
//   - The binding's "x-match" argument picks the mode: "all" (also when
//     absent), "any", "all-with-x" or "any-with-x". Any other value is
//     refused at bind time (ValidateHeadersArgs); a binding that has one
//     anyway matches as "all" (parse_x_match's legacy fallback).
//   - "x-match" itself never takes part. Other arguments whose names start
//     with "x-" take part only in the -with-x modes.
//   - A participating argument is satisfied when the message has a header
//     of that name whose value is equal (looseEqual in values.go), or, if
//     the argument's value is void (nil), whatever the header's value:
//     void means "present".
//   - all: every participating argument is satisfied; with none, every
//     message matches, one without headers too. any: at least one is; with
//     none, nothing matches.
//   - A message without headers is matched as one with an empty table.
//   - The routing key and the binding key play no part.

// headers is the matcher of a headers exchange. Bindings are grouped by
// destination, so routing appends a destination as soon as one of its
// bindings matches and never needs to remove duplicates.
type headers[D comparable] struct {
	dests []headersDest[D]
	index map[D]int
	n     int
}

type headersDest[D comparable] struct {
	d     D
	binds []headersBinding
}

type headersBinding struct {
	key  string
	args amqp.Table
	spec headerSpec
}

// headerSpec is a binding's arguments compiled for matching.
type headerSpec struct {
	any   bool
	terms []headerTerm
}

type headerTerm struct {
	key      string
	presence bool // void in the binding: the header need only be present
	val      any
}

// NewHeaders returns an empty matcher for a headers exchange.
func NewHeaders[D comparable]() Matcher[D] {
	return &headers[D]{index: make(map[D]int)}
}

// ValidateHeadersArgs checks a headers-exchange binding's arguments as
// RabbitMQ's validate_binding does: "x-match", when present, must be the
// string "all", "any", "all-with-x" or "any-with-x". The error's text is
// RabbitMQ's.
func ValidateHeadersArgs(args amqp.Table) error {
	v, ok := args["x-match"]
	if !ok {
		return nil
	}
	s, ok := v.(string)
	if !ok {
		text := []byte("Invalid x-match field type ")
		text = append(text, typeOf(v).String()...)
		text = append(text, " (value "...)
		text = appendTerm(text, v)
		text = append(text, "); expected longstr"...)
		return &BindingError{Text: string(text)}
	}
	switch s {
	case "all", "any", "all-with-x", "any-with-x":
		return nil
	}
	text := []byte("Invalid x-match field value ")
	text = appendBinaryTerm(text, s)
	text = append(text, "; expected all, any, all-with-x, or any-with-x"...)
	return &BindingError{Text: string(text)}
}

func compileHeaderSpec(args amqp.Table) headerSpec {
	var spec headerSpec
	withX := false
	if s, ok := args["x-match"].(string); ok {
		switch s {
		case "any":
			spec.any = true
		case "all-with-x":
			withX = true
		case "any-with-x":
			spec.any, withX = true, true
		}
	}
	for k, v := range args {
		if k == "x-match" || !withX && strings.HasPrefix(k, "x-") {
			continue
		}
		spec.terms = append(spec.terms, headerTerm{key: k, presence: v == nil, val: v})
	}
	return spec
}

func (s *headerSpec) match(h amqp.Table) bool {
	if s.any {
		for i := range s.terms {
			t := &s.terms[i]
			if v, ok := h[t.key]; ok && (t.presence || looseEqual(t.val, v)) {
				return true
			}
		}
		return false
	}
	for i := range s.terms {
		t := &s.terms[i]
		v, ok := h[t.key]
		if !ok || !t.presence && !looseEqual(t.val, v) {
			return false
		}
	}
	return true
}

func (m *headers[D]) Bind(d D, key string, args amqp.Table) {
	i, ok := m.index[d]
	if !ok {
		i = len(m.dests)
		m.dests = append(m.dests, headersDest[D]{d: d})
		m.index[d] = i
	}
	hd := &m.dests[i]
	hd.binds = append(hd.binds, headersBinding{key: key, args: args, spec: compileHeaderSpec(args)})
	m.n++
}

func (m *headers[D]) Unbind(d D, key string, args amqp.Table) bool {
	i, ok := m.index[d]
	if !ok {
		return false
	}
	hd := &m.dests[i]
	j := -1
	for k := range hd.binds {
		if hd.binds[k].key == key && argsEqual(hd.binds[k].args, args) {
			j = k
			break
		}
	}
	if j < 0 {
		return false
	}
	last := len(hd.binds) - 1
	hd.binds[j] = hd.binds[last]
	hd.binds[last] = headersBinding{}
	hd.binds = hd.binds[:last]
	m.n--
	if last > 0 {
		return true
	}
	// No bindings left for d: move the last destination into its place.
	end := len(m.dests) - 1
	if i != end {
		m.dests[i] = m.dests[end]
		m.index[m.dests[i].d] = i
	}
	m.dests[end] = headersDest[D]{}
	m.dests = m.dests[:end]
	delete(m.index, d)
	return true
}

func (m *headers[D]) Route(_ string, h amqp.Table, out []D) []D {
	for i := range m.dests {
		hd := &m.dests[i]
		for j := range hd.binds {
			if hd.binds[j].spec.match(h) {
				out = append(out, hd.d)
				break
			}
		}
	}
	return out
}

func (m *headers[D]) Len() int { return m.n }
