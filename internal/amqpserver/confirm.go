package amqpserver

import (
	"sync"

	"github.com/warrenmq/warren/internal/amqp"
)

// confirms tracks publisher confirms of one channel. A publish is
// confirmable once the store has made its durable writes safe (its LSN is
// at or below the synced LSN; 0 means nothing to wait for). Acks go out in
// publish order, batched as one multiple-ack, as RabbitMQ does; nacks
// (refused publishes) interrupt the batch.
//
// It is driven by the channel's reader goroutine (publish, flush at the end
// of a read batch) and by the store's sync callback (flush), hence the lock.
type confirms struct {
	mu      sync.Mutex
	ch      *channel
	seq     uint64 // last publish sequence number assigned
	acked   uint64 // every publish up to here has been acked or nacked
	waiting ring[lsnWait]
	nacks   []uint64 // sequence numbers to nack, ascending
	stopped bool     // the channel is closing: nothing more is sent
}

// stop ends confirming (channel closed or failed).
func (cf *confirms) stop() {
	cf.mu.Lock()
	cf.stopped = true
	cf.waiting = ring[lsnWait]{}
	cf.nacks = nil
	cf.mu.Unlock()
}

type lsnWait struct {
	seq, lsn uint64
}

// add records one publish needing lsn to be durable, or refused (nack).
func (cf *confirms) add(lsn uint64, nack bool) {
	cf.mu.Lock()
	cf.seq++
	if nack {
		cf.nacks = append(cf.nacks, cf.seq)
	} else if lsn > 0 {
		cf.waiting.push(lsnWait{seq: cf.seq, lsn: lsn})
	}
	cf.mu.Unlock()
}

// pendingDurable reports whether some publish still waits for the store.
func (cf *confirms) pendingDurable() bool {
	cf.mu.Lock()
	defer cf.mu.Unlock()
	return cf.waiting.len() > 0
}

// flush sends every confirm that is now due, given the synced LSN.
func (cf *confirms) flush(synced uint64) {
	cf.mu.Lock()
	defer cf.mu.Unlock()
	if cf.stopped {
		return
	}
	// Everything before the first publish still waiting is confirmable.
	upto := cf.seq
	for cf.waiting.len() > 0 {
		w := cf.waiting.front()
		if w.lsn > synced {
			upto = w.seq - 1
			break
		}
		cf.waiting.pop()
	}
	for cf.acked < upto {
		end := upto
		nack := len(cf.nacks) > 0 && cf.nacks[0] <= upto
		if nack {
			end = cf.nacks[0] - 1
		}
		if end > cf.acked {
			cf.ch.send(&amqp.BasicAck{DeliveryTag: end, Multiple: end-cf.acked > 1})
			cf.acked = end
		}
		if nack {
			cf.ch.send(&amqp.BasicNack{DeliveryTag: cf.nacks[0]})
			cf.acked = cf.nacks[0]
			cf.nacks = cf.nacks[1:]
		}
	}
}

// ring is a minimal FIFO for lsnWait (the broker's ring is unexported).
type ring[T any] struct {
	buf  []T
	head int
}

func (r *ring[T]) len() int { return len(r.buf) - r.head }
func (r *ring[T]) push(v T) { r.buf = append(r.buf, v) }
func (r *ring[T]) front() T { return r.buf[r.head] }
func (r *ring[T]) pop() {
	r.head++
	if r.head == len(r.buf) {
		r.buf, r.head = r.buf[:0], 0
	} else if r.head > 1024 && r.head*2 > len(r.buf) {
		r.buf = append(r.buf[:0], r.buf[r.head:]...)
		r.head = 0
	}
}
