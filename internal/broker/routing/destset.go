package routing

import "github.com/warrenmq/warren/internal/amqp"

// indexAbove is the size beyond which a destSet keeps a map from
// destination to position; below it a linear scan is faster.
const indexAbove = 8

// destSet holds the bindings that share a routing decision (one direct key,
// one topic trie node, or all of a fanout exchange), grouped by
// destination. dests lists each destination once, so routing is a single
// append of the slice.
type destSet[D comparable] struct {
	dests []D
	refs  []destRefs  // refs[i] are the bindings of dests[i]
	index map[D]int32 // position in dests, only when len(dests) > indexAbove
}

// destRefs are the bindings of one destination within a destSet.
type destRefs struct {
	// plain counts bindings whose key is the set's own (implicit) key and
	// whose args are empty: the common case, stored without allocating.
	plain int32
	other []bindRef
}

// bindRef is what identifies a binding besides its destination, when it is
// not plain.
type bindRef struct {
	key  string
	args amqp.Table
}

func (s *destSet[D]) len() int { return len(s.dests) }

func (s *destSet[D]) find(d D) int {
	if s.index != nil {
		if i, ok := s.index[d]; ok {
			return int(i)
		}
		return -1
	}
	for i, x := range s.dests {
		if x == d {
			return i
		}
	}
	return -1
}

func (s *destSet[D]) contains(d D) bool { return s.find(d) >= 0 }

// add records one binding of d. plain says the binding is the plain kind;
// otherwise ref identifies it.
func (s *destSet[D]) add(d D, plain bool, ref bindRef) {
	i := s.find(d)
	if i < 0 {
		i = len(s.dests)
		s.dests = append(s.dests, d)
		s.refs = append(s.refs, destRefs{})
		if s.index != nil {
			s.index[d] = int32(i)
		} else if len(s.dests) > indexAbove {
			s.index = make(map[D]int32, len(s.dests))
			for j, x := range s.dests {
				s.index[x] = int32(j)
			}
		}
	}
	r := &s.refs[i]
	if plain {
		r.plain++
	} else {
		r.other = append(r.other, ref)
	}
}

// remove drops one binding of d equal to (plain, ref) and reports whether
// there was one.
func (s *destSet[D]) remove(d D, plain bool, ref bindRef) bool {
	i := s.find(d)
	if i < 0 {
		return false
	}
	r := &s.refs[i]
	if plain {
		if r.plain == 0 {
			return false
		}
		r.plain--
	} else {
		j := -1
		for k := range r.other {
			if r.other[k].key == ref.key && argsEqual(r.other[k].args, ref.args) {
				j = k
				break
			}
		}
		if j < 0 {
			return false
		}
		last := len(r.other) - 1
		r.other[j] = r.other[last]
		r.other[last] = bindRef{}
		r.other = r.other[:last]
		if last == 0 {
			r.other = nil
		}
	}
	if r.plain == 0 && len(r.other) == 0 {
		s.drop(i)
	}
	return true
}

// drop removes the destination at position i, moving the last one into its
// place.
func (s *destSet[D]) drop(i int) {
	last := len(s.dests) - 1
	d := s.dests[i]
	if i != last {
		s.dests[i] = s.dests[last]
		s.refs[i] = s.refs[last]
		if s.index != nil {
			s.index[s.dests[i]] = int32(i)
		}
	}
	var zero D
	s.dests[last] = zero
	s.refs[last] = destRefs{}
	s.dests = s.dests[:last]
	s.refs = s.refs[:last]
	if s.index != nil {
		delete(s.index, d)
		if len(s.dests) <= indexAbove/2 {
			s.index = nil
		}
	}
	if last == 0 {
		s.dests, s.refs = nil, nil
	} else if cap(s.dests) > 32 && len(s.dests) < cap(s.dests)/4 {
		// Give memory back after heavy churn.
		s.dests = append([]D(nil), s.dests...)
		s.refs = append([]destRefs(nil), s.refs...)
	}
}
