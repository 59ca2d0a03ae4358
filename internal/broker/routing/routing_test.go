package routing

import (
	"errors"
	"fmt"
	"slices"
	"testing"

	"github.com/warrenmq/warren/internal/amqp"
)

func TestNew(t *testing.T) {
	tests := []struct {
		kind string
		ok   bool
	}{
		{"direct", true}, {"fanout", true}, {"topic", true}, {"headers", true},
		{"Direct", false}, {"x-consistent-hash", false}, {"", false},
	}
	for _, tt := range tests {
		m, ok := New[string](tt.kind)
		if ok != tt.ok || (m != nil) != tt.ok {
			t.Errorf("New(%q) = %v, %v; want ok=%v", tt.kind, m, ok, tt.ok)
		}
	}
}

func TestBindingErrorIs(t *testing.T) {
	err := ValidateHeadersArgs(amqp.Table{"x-match": "foo"})
	if !errors.Is(err, ErrInvalidBinding) {
		t.Fatalf("errors.Is(%v, ErrInvalidBinding) = false", err)
	}
	var be *BindingError
	if !errors.As(err, &be) || be.Text != err.Error() {
		t.Fatalf("errors.As: %v", err)
	}
}

// TestCommonMultiset runs the binding-multiset rules every matcher shares,
// with keys and headers under which each kind matches.
func TestCommonMultiset(t *testing.T) {
	for _, kind := range []string{KindDirect, KindFanout, KindTopic, KindHeaders} {
		t.Run(kind, func(t *testing.T) {
			m, _ := New[string](kind)
			key1, key2 := "k1", "k2"
			route := func(key string) []string {
				out := m.Route(key, amqp.Table{"h": "v"}, []string{"pre"})
				if out[0] != "pre" {
					t.Fatalf("Route overwrote out: %v", out)
				}
				out = out[1:]
				slices.Sort(out)
				return out
			}
			if m.Unbind("q", key1, nil) {
				t.Fatal("Unbind on empty matcher = true")
			}
			m.Bind("q", key1, nil)
			m.Bind("q", key2, nil)
			m.Bind("q", key1, amqp.Table{"h": "v"})
			m.Bind("r", key1, nil)
			if m.Len() != 4 {
				t.Fatalf("Len() = %d, want 4", m.Len())
			}
			if got := route(key1); !slices.Equal(got, []string{"q", "r"}) {
				t.Fatalf("Route(%s) = %v, want [q r] (q once)", key1, got)
			}
			if m.Unbind("q", key1, amqp.Table{"h": "w"}) || m.Unbind("q", "k3", nil) || m.Unbind("s", key1, nil) {
				t.Fatal("Unbind of a missing binding = true")
			}
			if !m.Unbind("q", key1, nil) {
				t.Fatal("Unbind(q, k1) = false")
			}
			if got := route(key1); !slices.Equal(got, []string{"q", "r"}) {
				t.Fatalf("after unbinding one of q's bindings, Route(%s) = %v", key1, got)
			}
			if !m.Unbind("q", key1, amqp.Table{"h": "v"}) {
				t.Fatal("Unbind(q, k1, h=v) = false")
			}
			wantK1 := []string{"r"}
			if kind == KindFanout || kind == KindHeaders { // q's k2 binding still routes
				wantK1 = []string{"q", "r"}
			}
			if got := route(key1); !slices.Equal(got, wantK1) {
				t.Fatalf("Route(%s) = %v, want %v", key1, got, wantK1)
			}
			if got := route(key2); !slices.Contains(got, "q") {
				t.Fatalf("Route(%s) = %v, want q", key2, got)
			}
			if !m.Unbind("q", key2, amqp.Table{}) { // empty args equal nil args
				t.Fatal("Unbind(q, k2, {}) = false")
			}
			if !m.Unbind("r", key1, nil) || m.Len() != 0 {
				t.Fatalf("Len() = %d after removing everything", m.Len())
			}
			if got := route(key1); len(got) != 0 {
				t.Fatalf("empty matcher routed to %v", got)
			}
		})
	}
}

func TestDirect(t *testing.T) {
	m := NewDirect[string]()
	m.Bind("q1", "a", nil)
	m.Bind("q2", "", nil)
	m.Bind("q3", "a.b", nil)
	m.Bind("q4", "*", nil)
	m.Bind("q5", "#", nil)
	tests := []struct {
		key  string
		want []string
	}{
		{"a", []string{"q1"}},
		{"", []string{"q2"}},
		{"a.b", []string{"q3"}},
		{"A", nil},
		{"b", nil},
		{"*", []string{"q4"}},
		{"#", []string{"q5"}},
	}
	for _, tt := range tests {
		if got := sortedRoute(m, tt.key, nil); !slices.Equal(got, tt.want) {
			t.Errorf("Route(%q) = %v, want %v", tt.key, got, tt.want)
		}
	}
}

func TestDirectManyDestinations(t *testing.T) {
	m := NewDirect[int]()
	for i := 0; i < 100; i++ {
		m.Bind(i, "k", nil)
		m.Bind(i, "k", amqp.Table{"i": int32(i)})
	}
	for i := 0; i < 100; i += 2 {
		if !m.Unbind(i, "k", nil) || !m.Unbind(i, "k", amqp.Table{"i": int32(i)}) {
			t.Fatalf("Unbind %d = false", i)
		}
	}
	got := m.Route("k", nil, nil)
	slices.Sort(got)
	if len(got) != 50 {
		t.Fatalf("Route = %d destinations, want 50", len(got))
	}
	for j, d := range got {
		if d != 2*j+1 {
			t.Fatalf("Route = %v", got)
		}
	}
	for i := 1; i < 100; i += 2 {
		m.Unbind(i, "k", nil)
		m.Unbind(i, "k", amqp.Table{"i": int32(i)})
	}
	if m.Len() != 0 || len(m.(*direct[int]).keys) != 0 {
		t.Fatalf("direct matcher not empty: Len=%d keys=%d", m.Len(), len(m.(*direct[int]).keys))
	}
}

func TestFanout(t *testing.T) {
	m := NewFanout[string]()
	m.Bind("q1", "", nil)
	m.Bind("q2", "whatever", nil)
	m.Bind("q2", "other", nil)
	for _, key := range []string{"", "x", "whatever", "a.b.#"} {
		if got := sortedRoute(m, key, nil); !slices.Equal(got, []string{"q1", "q2"}) {
			t.Errorf("Route(%q) = %v", key, got)
		}
	}
	if m.Unbind("q2", "", nil) {
		t.Fatal("fanout Unbind with another key = true; the key is part of the binding")
	}
	m.Unbind("q2", "whatever", nil)
	if got := sortedRoute(m, "", nil); !slices.Equal(got, []string{"q1", "q2"}) {
		t.Fatalf("Route = %v", got)
	}
}

func TestRouteNoAllocs(t *testing.T) {
	for _, kind := range []string{KindDirect, KindFanout, KindTopic, KindHeaders} {
		t.Run(kind, func(t *testing.T) {
			m, _ := New[*int](kind)
			dests := make([]*int, 20)
			for i := range dests {
				dests[i] = new(int)
				m.Bind(dests[i], "a.b", amqp.Table{"h": int32(1), "x-match": "any"})
				m.Bind(dests[i], fmt.Sprint("k", i), nil)
			}
			h := amqp.Table{"h": int64(1)}
			out := make([]*int, 0, 64)
			allocs := testing.AllocsPerRun(100, func() {
				out = m.Route("a.b", h, out[:0])
			})
			if allocs != 0 {
				t.Fatalf("Route allocated %v times", allocs)
			}
			if len(out) != 20 {
				t.Fatalf("Route = %d destinations, want 20", len(out))
			}
		})
	}
}

// TestConcurrentRoute runs Route from several goroutines at once; under
// -race it shows Route writes nothing shared.
func TestConcurrentRoute(t *testing.T) {
	for _, kind := range []string{KindDirect, KindFanout, KindTopic, KindHeaders} {
		t.Run(kind, func(t *testing.T) {
			m, _ := New[int](kind)
			for i := 0; i < 200; i++ {
				m.Bind(i, fmt.Sprintf("a.%d.#.#.*", i%7), amqp.Table{"h": int32(i % 3)})
				m.Bind(i%20, "#", nil)
			}
			done := make(chan []int)
			for g := 0; g < 4; g++ {
				go func() {
					var out []int
					for i := 0; i < 200; i++ {
						out = m.Route(fmt.Sprintf("a.%d.x.y.z", i%7), amqp.Table{"h": int64(i % 3)}, out[:0])
					}
					done <- out
				}()
			}
			first := <-done
			for g := 1; g < 4; g++ {
				if got := <-done; len(got) != len(first) {
					t.Fatalf("goroutines disagree: %d vs %d destinations", len(got), len(first))
				}
			}
		})
	}
}
