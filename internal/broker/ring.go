package broker

// ring is a growable FIFO ring buffer. The zero value is empty and usable.
type ring[T any] struct {
	buf  []T
	head int
	n    int
}

func (r *ring[T]) Len() int { return r.n }

func (r *ring[T]) grow() {
	size := len(r.buf) * 2
	if size < 16 {
		size = 16
	}
	nb := make([]T, size)
	for i := 0; i < r.n; i++ {
		nb[i] = r.buf[(r.head+i)%len(r.buf)]
	}
	r.buf, r.head = nb, 0
}

func (r *ring[T]) PushBack(v T) {
	if r.n == len(r.buf) {
		r.grow()
	}
	r.buf[(r.head+r.n)%len(r.buf)] = v
	r.n++
}

func (r *ring[T]) PushFront(v T) {
	if r.n == len(r.buf) {
		r.grow()
	}
	r.head = (r.head - 1 + len(r.buf)) % len(r.buf)
	r.buf[r.head] = v
	r.n++
}

// At returns the i-th element from the front.
func (r *ring[T]) At(i int) T { return r.buf[(r.head+i)%len(r.buf)] }

// Ptr returns a pointer to the i-th element from the front.
func (r *ring[T]) Ptr(i int) *T { return &r.buf[(r.head+i)%len(r.buf)] }

func (r *ring[T]) Front() T { return r.buf[r.head] }

func (r *ring[T]) PopFront() T {
	var zero T
	v := r.buf[r.head]
	r.buf[r.head] = zero
	r.head = (r.head + 1) % len(r.buf)
	r.n--
	if r.n == 0 {
		r.head = 0
		if len(r.buf) > 1024 {
			r.buf = nil // let a drained big queue give its memory back
		}
	}
	return v
}

// Insert puts v at position i (0 = front), shifting the shorter side.
func (r *ring[T]) Insert(i int, v T) {
	if i <= 0 {
		r.PushFront(v)
		return
	}
	if i >= r.n {
		r.PushBack(v)
		return
	}
	r.PushBack(v) // make room at the back, then shift [i, n-1) right by one
	for j := r.n - 1; j > i; j-- {
		*r.Ptr(j) = r.At(j - 1)
	}
	*r.Ptr(i) = v
}

// Clear drops everything.
func (r *ring[T]) Clear() {
	r.buf, r.head, r.n = nil, 0, 0
}
