package routing

import (
	"slices"
	"strings"

	"github.com/warrenmq/warren/internal/amqp"
)

// Topic matching, as RabbitMQ 3.10 does it (rabbit_exchange_type_topic.erl
// at v3.10.25; cases from unit_access_control_SUITE:topic_matching1):
//
//   - Binding and routing keys are split the same way (split_topic_key):
//     the empty key is zero words; any other key is split at every '.',
//     keeping empty words, so "a..b" is ["a" "" "b"], ".a" is ["" "a"],
//     "a." is ["a" ""] and "." is ["" ""].
//   - In a binding key the words "*" and "#" are wildcards: "*" matches
//     exactly one word (possibly empty), "#" zero or more. Any other word,
//     "a*" or "#b" included, matches only itself. In a routing key "*" and
//     "#" are plain words.
//   - So "#", "#.#" and "#.#.#" match every key, the empty one too; the
//     binding key "" matches only the routing key ""; "*" does not match
//     "" (zero words) but matches "x", and "*.*" matches ".".
//   - Binding args play no part; keys are not validated (validate_binding
//     is ok for anything), so there is no ValidateTopicKey.
//
// The trie has one node per binding-key prefix, with literal children and
// separate "*" and "#" children. Within a binding key, a run of wildcards
// is stored in canonical form, its stars first then a single "#" if it had
// any ("#.#" as "#", "#.*" as "*.#"): the run matches the same word
// sequences, so routing is unchanged, and the trie holds fewer "#" nodes.
// The binding keeps its own key for Unbind.

// topic is the matcher of a topic exchange.
type topic[D comparable] struct {
	root topicNode[D]
	n    int
}

// NewTopic returns an empty matcher for a topic exchange.
func NewTopic[D comparable]() Matcher[D] { return &topic[D]{} }

// kidMapAbove is the number of literal children beyond which a node looks
// them up in a map rather than by scanning.
const kidMapAbove = 8

type topicNode[D comparable] struct {
	parent *topicNode[D]
	word   string // label of the edge from parent
	kids   []topicEdge[D]
	kidMap map[string]*topicNode[D]
	star   *topicNode[D]
	hash   *topicNode[D]
	set    *destSet[D] // bindings whose key ends here
}

type topicEdge[D comparable] struct {
	word string
	node *topicNode[D]
}

func (n *topicNode[D]) child(w string) *topicNode[D] {
	if n.kidMap != nil {
		return n.kidMap[w]
	}
	for i := range n.kids {
		if n.kids[i].word == w {
			return n.kids[i].node
		}
	}
	return nil
}

// next returns the child for binding word w, or nil.
func (n *topicNode[D]) next(w string) *topicNode[D] {
	switch w {
	case "*":
		return n.star
	case "#":
		return n.hash
	}
	return n.child(w)
}

// nextOrNew returns the child for binding word w, creating it if needed.
func (n *topicNode[D]) nextOrNew(w string) *topicNode[D] {
	if c := n.next(w); c != nil {
		return c
	}
	c := &topicNode[D]{parent: n, word: w}
	switch {
	case w == "*":
		n.star = c
	case w == "#":
		n.hash = c
	case n.kidMap != nil:
		n.kidMap[w] = c
	case len(n.kids) < kidMapAbove:
		n.kids = append(n.kids, topicEdge[D]{w, c})
	default:
		n.kidMap = make(map[string]*topicNode[D], len(n.kids)+1)
		for _, e := range n.kids {
			n.kidMap[e.word] = e.node
		}
		n.kidMap[w] = c
		n.kids = nil
	}
	return c
}

func (n *topicNode[D]) removeChild(c *topicNode[D]) {
	switch {
	case c == n.star:
		n.star = nil
	case c == n.hash:
		n.hash = nil
	case n.kidMap != nil:
		delete(n.kidMap, c.word)
		if len(n.kidMap) <= kidMapAbove/2 {
			n.kids = make([]topicEdge[D], 0, len(n.kidMap))
			for w, k := range n.kidMap {
				n.kids = append(n.kids, topicEdge[D]{w, k})
			}
			n.kidMap = nil
		}
	default:
		for i := range n.kids {
			if n.kids[i].node == c {
				last := len(n.kids) - 1
				n.kids[i] = n.kids[last]
				n.kids[last] = topicEdge[D]{}
				n.kids = n.kids[:last]
				break
			}
		}
	}
	if len(n.kids) == 0 {
		n.kids = nil
	}
}

func (n *topicNode[D]) unused() bool {
	return n.set == nil && n.kids == nil && n.kidMap == nil && n.star == nil && n.hash == nil
}

// splitTopicKey splits a key as RabbitMQ's split_topic_key does.
func splitTopicKey(key string) []string {
	if key == "" {
		return nil
	}
	return strings.Split(key, ".")
}

// canonicalWords returns the binding key's words with each run of
// wildcards rewritten as its stars followed by one "#" if it had any, and
// whether that changed anything.
func canonicalWords(key string) ([]string, bool) {
	words := splitTopicKey(key)
	out := make([]string, 0, len(words))
	for i := 0; i < len(words); {
		if !isWildcard(words[i]) {
			out = append(out, words[i])
			i++
			continue
		}
		hash := false
		for ; i < len(words) && isWildcard(words[i]); i++ {
			if words[i] == "#" {
				hash = true
			} else {
				out = append(out, "*")
			}
		}
		if hash {
			out = append(out, "#")
		}
	}
	return out, !slices.Equal(words, out)
}

func isWildcard(w string) bool { return w == "*" || w == "#" }

func (m *topic[D]) Bind(d D, key string, args amqp.Table) {
	words, changed := canonicalWords(key)
	n := &m.root
	for _, w := range words {
		n = n.nextOrNew(w)
	}
	if n.set == nil {
		n.set = &destSet[D]{}
	}
	plain, ref := topicRef(key, changed, args)
	n.set.add(d, plain, ref)
	m.n++
}

// topicRef says how a binding is identified within its trie node: the key
// is implicit unless canonicalisation changed it.
func topicRef(key string, changed bool, args amqp.Table) (plain bool, ref bindRef) {
	if changed {
		return false, bindRef{key: key, args: args}
	}
	return len(args) == 0, bindRef{args: args}
}

func (m *topic[D]) Unbind(d D, key string, args amqp.Table) bool {
	words, changed := canonicalWords(key)
	n := &m.root
	for _, w := range words {
		if n = n.next(w); n == nil {
			return false
		}
	}
	plain, ref := topicRef(key, changed, args)
	if n.set == nil || !n.set.remove(d, plain, ref) {
		return false
	}
	m.n--
	if n.set.len() == 0 {
		n.set = nil
	}
	for n != &m.root && n.unused() {
		p := n.parent
		p.removeChild(n)
		n.parent = nil
		n = p
	}
	return true
}

func (m *topic[D]) Len() int { return m.n }

// Route walks the trie over the routing key's words. A state is a node and
// a position in the key; positions are byte offsets of word starts, and
// len(key)+1 means "after the last word". Only "#" nodes can be reached in
// more than one way, so remembering, per "#" node, the smallest position it
// was entered at visits each state at most once: the work is bounded by
// nodes × words however many "#" a binding key has.
func (m *topic[D]) Route(key string, _ amqp.Table, out []D) []D {
	var w topicWalk[D]
	w.key = key
	w.end = len(key) + 1
	start := 0
	if key == "" {
		start = w.end
	}
	w.visit(&m.root, start)
	return w.collect(out)
}

// walkInline is how many "#" entries and matched nodes a walk holds
// without allocating.
const walkInline = 16

type topicWalk[D comparable] struct {
	key string
	end int

	hashes   [walkInline]hashEntry[D]
	nhash    int
	moreHash map[*topicNode[D]]int

	hits     [walkInline]*destSet[D]
	nhit     int
	moreHits []*destSet[D]
}

type hashEntry[D comparable] struct {
	node *topicNode[D]
	from int
}

// word returns the word starting at p (< end) and the position after it.
func (w *topicWalk[D]) word(p int) (string, int) {
	rest := w.key[p:]
	if i := strings.IndexByte(rest, '.'); i >= 0 {
		return rest[:i], p + i + 1
	}
	return rest, w.end
}

func (w *topicWalk[D]) visit(n *topicNode[D], p int) {
	if p == w.end {
		if n.set != nil {
			w.hit(n.set)
		}
		if n.hash != nil {
			w.enterHash(n.hash, p)
		}
		return
	}
	word, q := w.word(p)
	if c := n.child(word); c != nil {
		w.visit(c, q)
	}
	if n.star != nil {
		w.visit(n.star, q)
	}
	if n.hash != nil {
		w.enterHash(n.hash, p)
	}
}

// enterHash lets "#" node h absorb zero or more words from p: the walk
// continues from h at p and at every later position.
func (w *topicWalk[D]) enterHash(h *topicNode[D], p int) {
	stop, seen := w.hashSeen(h, p)
	if seen {
		return
	}
	for q := p; q < stop; {
		w.visit(h, q)
		if q == w.end {
			break
		}
		_, q = w.word(q)
	}
}

// hashSeen records that h is entered at p. It reports whether h was
// already entered at p or earlier; otherwise it returns the position where
// the walk from p may stop because an earlier entry covered the rest.
func (w *topicWalk[D]) hashSeen(h *topicNode[D], p int) (stop int, seen bool) {
	for i := 0; i < w.nhash; i++ {
		e := &w.hashes[i]
		if e.node == h {
			if p >= e.from {
				return 0, true
			}
			stop, e.from = e.from, p
			return stop, false
		}
	}
	if from, ok := w.moreHash[h]; ok {
		if p >= from {
			return 0, true
		}
		w.moreHash[h] = p
		return from, false
	}
	if w.nhash < walkInline {
		w.hashes[w.nhash] = hashEntry[D]{h, p}
		w.nhash++
	} else {
		if w.moreHash == nil {
			w.moreHash = make(map[*topicNode[D]]int)
		}
		w.moreHash[h] = p
	}
	return w.end + 1, false
}

func (w *topicWalk[D]) hit(s *destSet[D]) {
	if w.nhit < walkInline {
		w.hits[w.nhit] = s
	} else {
		w.moreHits = append(w.moreHits, s)
	}
	w.nhit++
}

func (w *topicWalk[D]) hitAt(i int) *destSet[D] {
	if i < walkInline {
		return w.hits[i]
	}
	return w.moreHits[i-walkInline]
}

// dedupScanMax is the result size up to which duplicates are found by
// scanning what was appended so far.
const dedupScanMax = 32

// collect appends the destinations of the matched nodes, each once. Every
// node lists a destination at most once, so only overlaps between nodes
// need removing.
func (w *topicWalk[D]) collect(out []D) []D {
	switch w.nhit {
	case 0:
		return out
	case 1:
		return append(out, w.hits[0].dests...)
	}
	total := 0
	for i := 0; i < w.nhit; i++ {
		total += w.hitAt(i).len()
	}
	start := len(out)
	switch {
	case total <= dedupScanMax:
		for i := 0; i < w.nhit; i++ {
			for _, d := range w.hitAt(i).dests {
				if !slices.Contains(out[start:], d) {
					out = append(out, d)
				}
			}
		}
	case w.nhit <= 8:
		for i := 0; i < w.nhit; i++ {
		dests:
			for _, d := range w.hitAt(i).dests {
				for j := 0; j < i; j++ {
					if w.hitAt(j).contains(d) {
						continue dests
					}
				}
				out = append(out, d)
			}
		}
	default:
		seen := make(map[D]struct{}, total)
		for i := 0; i < w.nhit; i++ {
			for _, d := range w.hitAt(i).dests {
				if _, dup := seen[d]; !dup {
					seen[d] = struct{}{}
					out = append(out, d)
				}
			}
		}
	}
	return out
}
