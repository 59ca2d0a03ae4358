package broker

import (
	"math/rand/v2"
	"slices"
	"testing"
)

// TestRingMatchesSlice runs random operations against the block deque and
// a plain slice, crossing block boundaries in both directions.
func TestRingMatchesSlice(t *testing.T) {
	var r ring[int]
	var model []int
	rng := rand.New(rand.NewPCG(1, 2))
	next := 0
	for step := 0; step < 200000; step++ {
		switch op := rng.IntN(10); {
		case op < 4:
			r.PushBack(next)
			model = append(model, next)
		case op < 5:
			r.PushFront(next)
			model = slices.Insert(model, 0, next)
		case op < 6 && len(model) > 0:
			i := rng.IntN(len(model) + 1)
			r.Insert(i, next)
			model = slices.Insert(model, i, next)
		case op < 9 && len(model) > 0:
			if got, want := r.PopFront(), model[0]; got != want {
				t.Fatalf("step %d: PopFront = %d, want %d", step, got, want)
			}
			model = model[1:]
		case op == 9 && rng.IntN(1000) == 0:
			r.Clear()
			model = nil
		}
		next++
		if r.Len() != len(model) {
			t.Fatalf("step %d: Len = %d, want %d", step, r.Len(), len(model))
		}
		if len(model) > 0 {
			if r.Front() != model[0] || r.At(len(model)-1) != model[len(model)-1] {
				t.Fatalf("step %d: ends differ", step)
			}
			i := rng.IntN(len(model))
			if r.At(i) != model[i] {
				t.Fatalf("step %d: At(%d) = %d, want %d", step, i, r.At(i), model[i])
			}
		}
	}
}
