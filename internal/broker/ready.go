package broker

import "sort"

// readyList holds a queue's ready messages. A plain queue has one lane; a
// priority queue (x-max-priority) has one lane per priority, and its head
// is the front of the highest non-empty lane, so messages leave highest
// priority first and FIFO within a priority, as rabbit_priority_queue.
type readyList struct {
	lanes []ring[entry]
	n     int
}

func newReadyList(maxPriority int) readyList {
	return readyList{lanes: make([]ring[entry], maxPriority+1)}
}

func (r *readyList) Len() int { return r.n }

// lane is where an entry of priority p goes: priorities above the maximum
// count as the maximum.
func (r *readyList) lane(p uint8) *ring[entry] {
	return &r.lanes[min(int(p), len(r.lanes)-1)]
}

// headLane is the lane holding the head; nil when empty.
func (r *readyList) headLane() *ring[entry] {
	for i := len(r.lanes) - 1; i >= 0; i-- {
		if r.lanes[i].Len() > 0 {
			return &r.lanes[i]
		}
	}
	return nil
}

// Head is the next message to deliver; the list must not be empty.
func (r *readyList) Head() *entry { return r.headLane().Ptr(0) }

// PopHead removes and returns the head.
func (r *readyList) PopHead() entry {
	r.n--
	return r.headLane().PopFront()
}

// Push appends e to its lane.
func (r *readyList) Push(e entry) {
	r.lane(e.prio).PushBack(e)
	r.n++
}

// Return puts a requeued e back in its place in its lane (by seq).
func (r *readyList) Return(e entry) {
	l := r.lane(e.prio)
	n := l.Len()
	if n == 0 || e.seq < l.Front().seq {
		l.PushFront(e)
	} else {
		l.Insert(sort.Search(n, func(k int) bool { return l.At(k).seq > e.seq }), e)
	}
	r.n++
}

// Each calls fn for every entry, head lane first.
func (r *readyList) Each(fn func(e *entry)) {
	for i := len(r.lanes) - 1; i >= 0; i-- {
		l := &r.lanes[i]
		for j := 0; j < l.Len(); j++ {
			fn(l.Ptr(j))
		}
	}
}

// Clear empties the list.
func (r *readyList) Clear() {
	for i := range r.lanes {
		r.lanes[i] = ring[entry]{}
	}
	r.n = 0
}
