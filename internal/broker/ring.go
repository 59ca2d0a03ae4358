package broker

// ring is a FIFO deque kept in fixed-size blocks: a queue of millions of
// entries never needs one huge array (nor the old and new copies side by
// side while growing), and drained blocks go back to the runtime at once.
// The zero value is empty and usable.
type ring[T any] struct {
	blocks []*[blockSize]T
	head   int // index of the front element in blocks[0]
	n      int
	spare  *[blockSize]T // one drained block kept for reuse
}

const blockSize = 512

func (r *ring[T]) Len() int { return r.n }

func (r *ring[T]) newBlock() *[blockSize]T {
	if b := r.spare; b != nil {
		r.spare = nil
		return b
	}
	return new([blockSize]T)
}

// PushBack appends v.
func (r *ring[T]) PushBack(v T) {
	end := r.head + r.n
	if end == len(r.blocks)*blockSize {
		r.blocks = append(r.blocks, r.newBlock())
	}
	r.blocks[end/blockSize][end%blockSize] = v
	r.n++
}

// PushFront prepends v.
func (r *ring[T]) PushFront(v T) {
	if r.head == 0 {
		r.blocks = append(r.blocks, nil)
		copy(r.blocks[1:], r.blocks)
		r.blocks[0] = r.newBlock()
		r.head = blockSize
	}
	r.head--
	r.blocks[0][r.head] = v
	r.n++
}

// Ptr returns a pointer to the i-th element from the front.
func (r *ring[T]) Ptr(i int) *T {
	j := r.head + i
	return &r.blocks[j/blockSize][j%blockSize]
}

// At returns the i-th element from the front.
func (r *ring[T]) At(i int) T { return *r.Ptr(i) }

// Front returns the first element.
func (r *ring[T]) Front() T { return r.blocks[0][r.head] }

// PopFront removes and returns the first element.
func (r *ring[T]) PopFront() T {
	var zero T
	b := r.blocks[0]
	v := b[r.head]
	b[r.head] = zero
	r.head++
	r.n--
	if r.head == blockSize || r.n == 0 {
		if r.n == 0 {
			r.head = 0
			if len(r.blocks) == 1 {
				return v // keep the only block
			}
		} else {
			r.head = 0
		}
		r.blocks[0] = nil
		r.blocks = r.blocks[1:]
		if r.spare == nil {
			r.spare = b
		}
	}
	return v
}

// Insert puts v at position i (0 = front), shifting later elements back.
// It is O(n) and used only for requeues into the middle of a queue.
func (r *ring[T]) Insert(i int, v T) {
	if i <= 0 {
		r.PushFront(v)
		return
	}
	if i >= r.n {
		r.PushBack(v)
		return
	}
	r.PushBack(v)
	for j := r.n - 1; j > i; j-- {
		*r.Ptr(j) = r.At(j - 1)
	}
	*r.Ptr(i) = v
}

// Clear drops everything.
func (r *ring[T]) Clear() {
	*r = ring[T]{}
}
