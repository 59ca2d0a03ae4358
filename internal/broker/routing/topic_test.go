package routing

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/warrenmq/warren/internal/amqp"
)

func sortedRoute(m Matcher[string], key string, h amqp.Table) []string {
	out := m.Route(key, h, nil)
	slices.Sort(out)
	return out
}

func TestSplitTopicKey(t *testing.T) {
	tests := []struct {
		key  string
		want []string
	}{
		{"", nil},
		{"a", []string{"a"}},
		{"a.b", []string{"a", "b"}},
		{".", []string{"", ""}},
		{"a..b", []string{"a", "", "b"}},
		{".a", []string{"", "a"}},
		{"a.", []string{"a", ""}},
		{"..", []string{"", "", ""}},
	}
	for _, tt := range tests {
		if got := splitTopicKey(tt.key); !slices.Equal(got, tt.want) {
			t.Errorf("splitTopicKey(%q) = %q, want %q", tt.key, got, tt.want)
		}
	}
}

func TestCanonicalWords(t *testing.T) {
	tests := []struct {
		key     string
		want    string
		changed bool
	}{
		{"", "", false},
		{"#", "#", false},
		{"#.#", "#", true},
		{"#.#.#", "#", true},
		{"*.#", "*.#", false},
		{"#.*", "*.#", true},
		{"#.*.#", "*.#", true},
		{"a.#.#.b.*.*.#", "a.#.b.*.*.#", true},
		{"a.*.b", "a.*.b", false},
		{"a#.#a", "a#.#a", false},
	}
	for _, tt := range tests {
		got, changed := canonicalWords(tt.key)
		if strings.Join(got, ".") != tt.want || changed != tt.changed {
			t.Errorf("canonicalWords(%q) = %q, %v; want %q, %v", tt.key, strings.Join(got, "."), changed, tt.want, tt.changed)
		}
	}
}

// TestTopicRabbitSuite replays the bindings and expectations of RabbitMQ's
// unit_access_control_SUITE:topic_matching1 (v3.10.25).
func TestTopicRabbitSuite(t *testing.T) {
	type binding struct {
		key, dest string
		args      amqp.Table
	}
	bindings := []binding{
		{"a.b.c", "t1", nil}, {"a.*.c", "t2", nil}, {"a.#.b", "t3", nil},
		{"a.b.b.c", "t4", nil}, {"#", "t5", nil}, {"#.#", "t6", nil},
		{"#.b", "t7", nil}, {"*.*", "t8", nil}, {"a.*", "t9", nil},
		{"*.b.c", "t10", nil}, {"a.#", "t11", nil}, {"a.#.#", "t12", nil},
		{"b.b.c", "t13", nil}, {"a.b.b", "t14", nil}, {"a.b", "t15", nil},
		{"b.c", "t16", nil}, {"", "t17", nil}, {"*.*.*", "t18", nil},
		{"vodka.martini", "t19", nil}, {"a.b.c", "t20", nil}, {"*.#", "t21", nil},
		{"#.*.#", "t22", nil}, {"*.#.#", "t23", nil}, {"#.#.#", "t24", nil},
		{"*", "t25", nil}, {"#.b.#", "t26", nil},
		{"args-test", "t27", amqp.Table{"foo": "bar"}},
		{"args-test", "t27", amqp.Table{"foo": "baz"}},
	}
	m := NewTopic[string]()
	for _, b := range bindings {
		m.Bind(b.dest, b.key, b.args)
	}
	check := func(t *testing.T, want map[string]string) {
		t.Helper()
		for key, w := range want {
			var exp []string
			if w != "" {
				exp = strings.Fields(w)
			}
			slices.Sort(exp)
			if got := sortedRoute(m, key, nil); !slices.Equal(got, exp) {
				t.Errorf("Route(%q) = %v, want %v", key, got, exp)
			}
		}
	}
	check(t, map[string]string{
		"a.b.c":               "t1 t2 t5 t6 t10 t11 t12 t18 t20 t21 t22 t23 t24 t26",
		"a.b":                 "t3 t5 t6 t7 t8 t9 t11 t12 t15 t21 t22 t23 t24 t26",
		"a.b.b":               "t3 t5 t6 t7 t11 t12 t14 t18 t21 t22 t23 t24 t26",
		"":                    "t5 t6 t17 t24",
		"b.c.c":               "t5 t6 t18 t21 t22 t23 t24 t26",
		"a.a.a.a.a":           "t5 t6 t11 t12 t21 t22 t23 t24",
		"vodka.gin":           "t5 t6 t8 t21 t22 t23 t24",
		"vodka.martini":       "t5 t6 t8 t19 t21 t22 t23 t24",
		"b.b.c":               "t5 t6 t10 t13 t18 t21 t22 t23 t24 t26",
		"nothing.here.at.all": "t5 t6 t21 t22 t23 t24",
		"oneword":             "t5 t6 t21 t22 t23 t24 t25",
		"args-test":           "t5 t6 t21 t22 t23 t24 t25 t27",
	})
	for _, i := range []int{1, 5, 11, 19, 21, 28} { // 1-based, as in the suite
		b := bindings[i-1]
		if !m.Unbind(b.dest, b.key, b.args) {
			t.Fatalf("Unbind(%s, %q, %v) = false", b.dest, b.key, b.args)
		}
	}
	if got, want := m.Len(), len(bindings)-6; got != want {
		t.Fatalf("Len() = %d, want %d", got, want)
	}
	check(t, map[string]string{
		"a.b.c":               "t2 t6 t10 t12 t18 t20 t22 t23 t24 t26",
		"a.b":                 "t3 t6 t7 t8 t9 t12 t15 t22 t23 t24 t26",
		"a.b.b":               "t3 t6 t7 t12 t14 t18 t22 t23 t24 t26",
		"":                    "t6 t17 t24",
		"b.c.c":               "t6 t18 t22 t23 t24 t26",
		"a.a.a.a.a":           "t6 t12 t22 t23 t24",
		"vodka.gin":           "t6 t8 t22 t23 t24",
		"vodka.martini":       "t6 t8 t22 t23 t24",
		"b.b.c":               "t6 t10 t13 t18 t22 t23 t24 t26",
		"nothing.here.at.all": "t6 t22 t23 t24",
		"oneword":             "t6 t22 t23 t24 t25",
		"args-test":           "t6 t22 t23 t24 t25 t27",
	})
	for i, b := range bindings {
		switch i + 1 {
		case 1, 5, 11, 19, 21, 28:
			continue
		}
		if !m.Unbind(b.dest, b.key, b.args) {
			t.Fatalf("Unbind(%s, %q) = false", b.dest, b.key)
		}
	}
	check(t, map[string]string{"a.b.c": "", "b.b.c": "", "": ""})
	if m.Len() != 0 || !m.(*topic[string]).root.unused() {
		t.Fatalf("after removing every binding: Len() = %d, root unused = %v", m.Len(), m.(*topic[string]).root.unused())
	}
}

func TestTopicEdgeCases(t *testing.T) {
	tests := []struct {
		pattern string
		match   []string
		noMatch []string
	}{
		{"", []string{""}, []string{".", "a", "*", "#"}},
		{"#", []string{"", ".", "a", "a.b.c", "..", "#", "*"}, nil},
		{"#.#", []string{"", ".", "a", "a.b.c"}, nil},
		{"#.#.#.#.#", []string{"", "a", "a.b.c.d.e.f.g"}, nil},
		{"*", []string{"a", "*", "#", "x"}, []string{"", ".", "a.b"}},
		{"*.*", []string{".", "a.b", "a.", ".b"}, []string{"", "a", "a.b.c"}},
		{"*.#", []string{"a", ".", "a.b.c"}, []string{""}},
		{"#.*", []string{"a", ".", "a.b.c"}, []string{""}},
		{"a.#", []string{"a", "a.", "a.b", "a.b.c"}, []string{"", "b", "b.a", ".a"}},
		{"#.a", []string{"a", ".a", "b.a", "x.y.a"}, []string{"", "a.", "a.b"}},
		{"a.#.b", []string{"a.b", "a.x.b", "a.x.y.b", "a..b"}, []string{"a", "b", "a.b.c", "ab"}},
		{"a..b", []string{"a..b"}, []string{"a.b", "a.x.b", "a...b"}},
		{".a", []string{".a"}, []string{"a", "..a"}},
		{"a.", []string{"a."}, []string{"a", "a.."}},
		{".", []string{"."}, []string{"", "..", "a"}},
		{"a.*.b", []string{"a.x.b", "a..b"}, []string{"a.b", "a.x.y.b"}},
		{"a*", []string{"a*"}, []string{"a", "ab"}},
		{"#a", []string{"#a"}, []string{"a", "ba", "b.a"}},
		{"a.*", []string{"a.", "a.b"}, []string{"a", "a.b.c"}},
		{"#.b.#", []string{"b", "a.b", "b.c", "a.b.c", "b.b"}, []string{"", "a", "ab"}},
	}
	for _, tt := range tests {
		t.Run(tt.pattern, func(t *testing.T) {
			m := NewTopic[string]()
			m.Bind("q", tt.pattern, nil)
			for _, k := range tt.match {
				if got := m.Route(k, nil, nil); !slices.Equal(got, []string{"q"}) {
					t.Errorf("pattern %q, key %q: got %v, want [q]", tt.pattern, k, got)
				}
			}
			for _, k := range tt.noMatch {
				if got := m.Route(k, nil, nil); len(got) != 0 {
					t.Errorf("pattern %q, key %q: got %v, want none", tt.pattern, k, got)
				}
			}
		})
	}
}

func TestTopicMultisetAndDedup(t *testing.T) {
	m := NewTopic[string]()
	m.Bind("q1", "a.*", nil)
	m.Bind("q1", "a.b", nil)
	m.Bind("q1", "#", nil)
	m.Bind("q1", "#.#", nil) // same trie node as "#", another binding
	m.Bind("q2", "a.b", amqp.Table{"x": int32(1)})
	m.Bind("q2", "a.b", amqp.Table{"x": int32(2)})
	if got := sortedRoute(m, "a.b", nil); !slices.Equal(got, []string{"q1", "q2"}) {
		t.Fatalf("Route(a.b) = %v", got)
	}
	if m.Len() != 6 {
		t.Fatalf("Len() = %d, want 6", m.Len())
	}
	// Unbinding with a different args type is not the same binding.
	if m.Unbind("q2", "a.b", amqp.Table{"x": int64(1)}) {
		t.Fatal("Unbind with int64 args removed an int32-args binding")
	}
	if m.Unbind("q3", "a.b", nil) || m.Unbind("q1", "a.c", nil) || m.Unbind("q1", "a.b.c", nil) || m.Unbind("q1", "a.b", amqp.Table{"k": "v"}) {
		t.Fatal("Unbind of a missing binding returned true")
	}
	if !m.Unbind("q1", "#", nil) || m.Unbind("q1", "#", nil) {
		t.Fatal("Unbind(q1, #) twice: want true then false")
	}
	if !m.Unbind("q2", "a.b", amqp.Table{"x": int32(1)}) {
		t.Fatal("Unbind(q2, a.b, x=1) = false")
	}
	if got := sortedRoute(m, "a.b", nil); !slices.Equal(got, []string{"q1", "q2"}) {
		t.Fatalf("after one unbind each, Route(a.b) = %v", got)
	}
	if got := sortedRoute(m, "z", nil); !slices.Equal(got, []string{"q1"}) {
		t.Fatalf("Route(z) = %v, want [q1] through #.#", got)
	}
	m.Unbind("q1", "#.#", nil)
	if got := sortedRoute(m, "z", nil); len(got) != 0 {
		t.Fatalf("Route(z) = %v, want none", got)
	}
	if m.Len() != 3 {
		t.Fatalf("Len() = %d, want 3", m.Len())
	}
}

// TestTopicDedupLarge covers the ways Route removes duplicates: by
// scanning, by asking earlier nodes, and by a map when many nodes match.
func TestTopicDedupLarge(t *testing.T) {
	for _, nodes := range []int{2, 5, 8, 9, 40} {
		for _, perNode := range []int{1, 10, 100} {
			t.Run(fmt.Sprintf("nodes=%d/dests=%d", nodes, perNode), func(t *testing.T) {
				m := NewTopic[int]()
				patterns := []string{"#", "a.#", "#.z", "a.*.*.z", "*.b.#", "#.c.#", "a.b.c.z", "*.*.*.*", "#.#.z", "a.#.c.#"}
				for len(patterns) < nodes {
					patterns = append(patterns, fmt.Sprintf("a.#.%d", len(patterns))) // never match
				}
				patterns = patterns[:nodes]
				for i, p := range patterns {
					for d := 0; d < perNode; d++ {
						m.Bind((i*7+d)%(perNode+3), p, nil)
					}
				}
				want := map[int]bool{}
				for i, p := range patterns {
					if topicRefMatch(splitTopicKey(p), splitTopicKey("a.b.c.z")) {
						for d := 0; d < perNode; d++ {
							want[(i*7+d)%(perNode+3)] = true
						}
					}
				}
				got := m.Route("a.b.c.z", nil, nil)
				seen := map[int]bool{}
				for _, d := range got {
					if seen[d] {
						t.Fatalf("destination %d routed twice: %v", d, got)
					}
					seen[d] = true
				}
				if len(seen) != len(want) {
					t.Fatalf("got %d destinations, want %d", len(seen), len(want))
				}
				for d := range want {
					if !seen[d] {
						t.Fatalf("destination %d missing", d)
					}
				}
			})
		}
	}
}

// topicRefMatch is the obvious recursive matcher over words, the reference
// for the trie.
func topicRefMatch(pattern, words []string) bool {
	if len(pattern) == 0 {
		return len(words) == 0
	}
	switch pattern[0] {
	case "#":
		for i := 0; i <= len(words); i++ {
			if topicRefMatch(pattern[1:], words[i:]) {
				return true
			}
		}
		return false
	case "*":
		return len(words) > 0 && topicRefMatch(pattern[1:], words[1:])
	}
	return len(words) > 0 && words[0] == pattern[0] && topicRefMatch(pattern[1:], words[1:])
}

func randomTopicKey(r *rand.Rand, alphabet []string, maxWords int) string {
	n := r.IntN(maxWords + 1)
	if n == 0 {
		return ""
	}
	w := make([]string, n)
	for i := range w {
		w[i] = alphabet[r.IntN(len(alphabet))]
	}
	return strings.Join(w, ".")
}

func TestTopicRandomAgainstReference(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	patternWords := []string{"a", "b", "", "*", "#", "#", "*"}
	keyWords := []string{"a", "b", "", "*", "#", "c"}
	for round := 0; round < 20; round++ {
		m := NewTopic[int]()
		type binding struct {
			dest int
			key  string
		}
		var live []binding
		for i := 0; i < 300; i++ {
			b := binding{r.IntN(60), randomTopicKey(r, patternWords, 6)}
			m.Bind(b.dest, b.key, nil)
			live = append(live, b)
		}
		compare := func(stage string) {
			for i := 0; i < 300; i++ {
				key := randomTopicKey(r, keyWords, 8)
				want := map[int]bool{}
				for _, b := range live {
					if topicRefMatch(splitTopicKey(b.key), splitTopicKey(key)) {
						want[b.dest] = true
					}
				}
				got := m.Route(key, nil, nil)
				seen := map[int]bool{}
				for _, d := range got {
					if seen[d] {
						t.Fatalf("%s: key %q: destination %d twice", stage, key, d)
					}
					seen[d] = true
				}
				if len(seen) != len(want) {
					t.Fatalf("%s: key %q: got %v, want %v", stage, key, seen, want)
				}
				for d := range want {
					if !seen[d] {
						t.Fatalf("%s: key %q: got %v, want %v", stage, key, seen, want)
					}
				}
			}
		}
		compare("after bind")
		r.Shuffle(len(live), func(i, j int) { live[i], live[j] = live[j], live[i] })
		for _, b := range live[:len(live)/2] {
			if !m.Unbind(b.dest, b.key, nil) {
				t.Fatalf("Unbind(%d, %q) = false", b.dest, b.key)
			}
		}
		live = live[len(live)/2:]
		compare("after unbind")
		for _, b := range live {
			if !m.Unbind(b.dest, b.key, nil) {
				t.Fatalf("Unbind(%d, %q) = false", b.dest, b.key)
			}
		}
		if m.Len() != 0 || !m.(*topic[int]).root.unused() {
			t.Fatalf("round %d: trie not empty after removing every binding", round)
		}
	}
}

func countTopicNodes[D comparable](n *topicNode[D]) int {
	c := 1
	for _, e := range n.kids {
		c += countTopicNodes(e.node)
	}
	for _, k := range n.kidMap {
		c += countTopicNodes(k)
	}
	if n.star != nil {
		c += countTopicNodes(n.star)
	}
	if n.hash != nil {
		c += countTopicNodes(n.hash)
	}
	return c
}

func TestTopicUnbindPrunes(t *testing.T) {
	m := NewTopic[int]()
	tp := m.(*topic[int])
	m.Bind(0, "keep.this", nil)
	base := countTopicNodes(&tp.root)
	for round := 0; round < 3; round++ {
		for i := 0; i < 1000; i++ {
			m.Bind(i, fmt.Sprintf("r%d.*.s%d.#.x", i%37, i), nil)
		}
		for i := 0; i < 1000; i++ {
			if !m.Unbind(i, fmt.Sprintf("r%d.*.s%d.#.x", i%37, i), nil) {
				t.Fatalf("Unbind %d = false", i)
			}
		}
		if got := countTopicNodes(&tp.root); got != base {
			t.Fatalf("round %d: %d nodes after churn, want %d", round, got, base)
		}
	}
	if tp.root.kidMap != nil || len(tp.root.kids) != 1 {
		t.Fatalf("root children not shrunk back: kids=%d map=%v", len(tp.root.kids), tp.root.kidMap != nil)
	}
	if got := m.Route("keep.this", nil, nil); !slices.Equal(got, []int{0}) {
		t.Fatalf("Route(keep.this) = %v", got)
	}
}

// TestTopicNoBlowup routes long keys through patterns that would take
// exponential time without remembering visited states.
func TestTopicNoBlowup(t *testing.T) {
	m := NewTopic[int]()
	patterns := []string{
		"#.#.#.#.#.#.#.#.#.#.#.#",
		"#.a.#.a.#.a.#.a.#.a.#.a.#.a.#.b",
		"#.*.#.*.#.*.#.*.#.*.#.*.#",
		"*.#.a.#.a.#.a.#.a.#.a.#.a.#.a.#.a.#",
	}
	for i, p := range patterns {
		m.Bind(i, p, nil)
	}
	key := strings.TrimSuffix(strings.Repeat("a.", 120), ".")
	start := time.Now()
	got := m.Route(key, nil, nil)
	slices.Sort(got)
	if el := time.Since(start); el > time.Second {
		t.Fatalf("Route took %v", el)
	}
	if !slices.Equal(got, []int{0, 2, 3}) {
		t.Fatalf("Route = %v, want [0 2 3]", got)
	}
}

func TestTopicRouteAllocs(t *testing.T) {
	m := NewTopic[int]()
	m.Bind(1, "a.#", nil)
	m.Bind(2, "*.b.*", nil)
	m.Bind(3, "#.c", nil)
	m.Bind(1, "a.b.c", nil)
	out := make([]int, 0, 16)
	allocs := testing.AllocsPerRun(100, func() {
		out = m.Route("a.b.c", nil, out[:0])
	})
	if allocs != 0 {
		t.Fatalf("Route allocated %v times", allocs)
	}
	if len(out) != 3 {
		t.Fatalf("Route = %v", out)
	}
}
