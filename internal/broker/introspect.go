package broker

// Read-only views for management and metrics. Nothing here walks messages:
// counts come from counters the queues keep anyway.

// ConsumerInfo describes one consumer of a session.
type ConsumerInfo struct {
	Tag       string
	Queue     *Queue
	NoAck     bool
	Exclusive bool
	Args      map[string]any
	Prefetch  uint32
}

// Consumers lists the session's consumers.
func (s *Session) Consumers() []ConsumerInfo {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]ConsumerInfo, 0, len(s.consumers))
	for _, c := range s.consumers {
		out = append(out, ConsumerInfo{Tag: c.Tag, Queue: c.Queue, NoAck: c.NoAck, Exclusive: c.Exclusive,
			Args: c.Args, Prefetch: c.prefetch})
	}
	return out
}

// Prefetch reports the basic.qos limits: per consumer (for consumers
// created from now on) and channel-wide.
func (s *Session) Prefetch() (perConsumer, global uint32) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.prefetch, s.globalPrefetch
}

// QueueInfo is a consistent reading of a queue's counts.
type QueueInfo struct {
	Ready, Unacked, Consumers int
	ReadyBytes                int
	ExclusiveConsumer         string // tag of the exclusive consumer, if any
	Idle                      bool   // no consumers
}

// Info reads the queue's counts under one lock.
func (q *Queue) Info() QueueInfo {
	q.mu.Lock()
	defer q.mu.Unlock()
	i := QueueInfo{Ready: q.ready.Len(), Unacked: q.unacked, Consumers: len(q.consumers), ReadyBytes: q.readyBytes}
	if q.exclusiveUsed {
		for _, c := range q.consumers {
			if c.Exclusive {
				i.ExclusiveConsumer = c.Tag
			}
		}
	}
	return i
}

// Bindings lists the bindings whose destination is the queue.
func (q *Queue) Bindings() []*Binding {
	q.Vhost.mu.RLock()
	defer q.Vhost.mu.RUnlock()
	return append([]*Binding(nil), q.bindings...)
}

// IncomingBindings lists the exchange-to-exchange bindings whose
// destination is x.
func (x *Exchange) IncomingBindings() []*Binding {
	x.Vhost.mu.RLock()
	defer x.Vhost.mu.RUnlock()
	return append([]*Binding(nil), x.incoming...)
}

// Bindings lists every binding of the vhost, exchange by exchange.
func (v *Vhost) Bindings() []*Binding {
	v.mu.RLock()
	defer v.mu.RUnlock()
	var out []*Binding
	for _, x := range v.exchanges {
		out = append(out, x.bindings...)
	}
	return out
}

// Counts reports how many exchanges and queues the vhost has.
func (v *Vhost) Counts() (exchanges, queues int) {
	v.mu.RLock()
	defer v.mu.RUnlock()
	return len(v.exchanges), len(v.queues)
}

// AckCount is Ack that also reports how many deliveries it settled, for
// the channel's ack counter.
func (s *Session) AckCount(tag uint64, multiple bool) (int, error) {
	s.mu.Lock()
	out, err := s.collectLocked(tag, multiple)
	s.mu.Unlock()
	if err != nil {
		return 0, err
	}
	n := len(out)
	s.settle(out, SettleAck)
	return n, nil
}
