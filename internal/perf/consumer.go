package perf

import (
	"encoding/binary"
	"errors"
	"fmt"
	"sync/atomic"

	"github.com/warrenmq/warren/internal/amqp"
)

// maxChunk bounds how many messages a consumer processes before it
// publishes its count and acks, when its read buffer never runs empty.
const maxChunk = 1024

// consumer reads deliveries on its own connection, in big chunks: its one
// goroutine parses frames in place, records each message's latency from the
// send time in its body, and acks with one basic.ack(multiple) per chunk
// (or every -A messages). Nothing is allocated per message.
type consumer struct {
	id      int
	c       *conn
	autoAck bool
	nack    bool  // --nack: basic.nack instead of basic.ack
	requeue bool  // --requeue, with --nack
	every   int   // -A
	qos     int   // prefetch, to avoid holding back acks the broker waits for
	limit   int64 // -D
	lim     *limiter

	received atomic.Int64
	hist     Histogram
	lastTag  atomic.Uint64 // last delivery tag processed
	acked    uint64        // last tag acked; guarded by c.wmu
	finished atomic.Bool   // received its -D messages
	done     chan struct{}
	err      error // set before done closes
	ackBuf   []byte
}

func newConsumer(id int, c *conn, cfg *Config) *consumer {
	return &consumer{
		id: id, c: c,
		autoAck: cfg.AutoAck,
		nack:    cfg.Nack,
		requeue: cfg.Requeue,
		every:   cfg.MultiAckEvery,
		qos:     max(cfg.Qos, cfg.GlobalQos),
		limit:   int64(cfg.ConsumerMessages),
		lim:     newLimiter(cfg.ConsumerRate),
		done:    make(chan struct{}),
		ackBuf:  make([]byte, 0, 32),
	}
}

// run reads until the connection closes: after stop (close-ok), on -D, or
// on an error, which it returns.
func (k *consumer) run(stop <-chan struct{}) error {
	defer close(k.done)
	k.err = k.loop(stop)
	return k.err
}

func (k *consumer) loop(stop <-chan struct{}) error {
	const (
		awaitMethod = iota
		awaitHeader
		awaitBody
	)
	var (
		state     = awaitMethod
		tag       uint64
		remaining uint64
		first     bool
		ts        int64
		count     int64 // received but not yet added to k.received
		unacked   int
	)
	r := k.c.r
	var completed bool // a message was completed by the frame just read
	complete := func() {
		state = awaitMethod
		if k.finished.Load() {
			return // past -D: closing; the broker requeues it
		}
		completed = true
		if ts != 0 {
			k.hist.Record(k.c.tr.last - ts)
		}
		count++
		k.lastTag.Store(tag)
		unacked++
	}
	for {
		f, err := r.ReadFrame()
		if err != nil {
			k.received.Add(count)
			k.c.wmu.Lock()
			closing := k.c.closing
			k.c.wmu.Unlock()
			if closing {
				return nil
			}
			return fmt.Errorf("consumer %d: %s: %w", k.id, k.c.addr, err)
		}
		switch f.Type {
		case amqp.FrameMethod:
			cid, mid, args, err := amqp.ParseMethod(f.Payload)
			if err != nil {
				return err
			}
			if cid == amqp.ClassBasic && mid == amqp.MethodBasicDeliver {
				// consumer-tag (shortstr), delivery-tag (longlong), ...
				if len(args) < 1 || len(args) < 1+int(args[0])+8 {
					return errors.New("short basic.deliver")
				}
				tag = binary.BigEndian.Uint64(args[1+int(args[0]):])
				state = awaitHeader
				break
			}
			switch {
			case isCloseOk(cid, mid):
				k.received.Add(count)
				return nil
			case cid == amqp.ClassBasic && mid == amqp.MethodBasicCancel:
				k.received.Add(count)
				return fmt.Errorf("consumer %d: %s: consumer cancelled by the broker (queue deleted?)", k.id, k.c.addr)
			default:
				if err := k.c.handleClose(f.Channel, cid, mid, args); err != nil {
					k.received.Add(count)
					return err
				}
			}
		case amqp.FrameHeader:
			if state != awaitHeader {
				continue
			}
			_, size, _, err := amqp.ParseHeader(f.Payload)
			if err != nil {
				return err
			}
			ts, remaining, first = 0, size, true
			if size == 0 {
				complete()
			} else {
				state = awaitBody
			}
		case amqp.FrameBody:
			if state != awaitBody {
				continue
			}
			if first {
				first = false
				if len(f.Payload) >= 8 {
					ts = int64(binary.BigEndian.Uint64(f.Payload))
				}
			}
			remaining -= min(remaining, uint64(len(f.Payload)))
			if remaining == 0 {
				complete()
			}
		}
		limited := k.lim.rate > 0
		if completed {
			// After a whole message: -A, -D and -R.
			completed = false
			if !k.autoAck && k.every > 0 && unacked >= k.every {
				k.ack()
				unacked = 0
			}
			if k.limit > 0 && k.received.Load()+count >= k.limit {
				k.finished.Store(true)
				k.received.Add(count)
				count = 0
				k.close()
				continue
			}
			if limited && k.lim.take(1, stop) == 0 {
				continue
			}
		} else if state != awaitMethod {
			continue // inside a message
		}
		if r.Buffered() == 0 || limited || count >= maxChunk {
			// End of what one read brought in (or of a slow consumer's
			// message, or a long chunk): publish counts, ack the chunk.
			k.received.Add(count)
			count = 0
			if unacked > 0 && !k.autoAck && (k.every == 0 || (k.qos > 0 && unacked >= k.qos)) {
				k.ack()
				unacked = 0
			}
		}
	}
}

// ack acknowledges everything up to the last processed delivery.
func (k *consumer) ack() {
	tag := k.lastTag.Load()
	k.c.wmu.Lock()
	defer k.c.wmu.Unlock()
	if k.c.closing || tag <= k.acked {
		return
	}
	k.ackBuf = k.appendSettle(k.ackBuf[:0], tag)
	if _, err := k.c.nc.Write(k.ackBuf); err == nil {
		k.acked = tag
	}
}

// close acks what was processed (manual acks) and sends connection.close;
// the loop ends when close-ok arrives. Safe from any goroutine.
func (k *consumer) close() {
	k.c.sendClose(func(b []byte) []byte {
		if tag := k.lastTag.Load(); !k.autoAck && tag > k.acked {
			b = k.appendSettle(b, tag)
			k.acked = tag
		}
		return b
	})
}

// appendSettle appends the settlement of every delivery up to tag: a
// basic.ack(multiple), or with --nack a basic.nack(multiple, requeue).
func (k *consumer) appendSettle(dst []byte, tag uint64) []byte {
	if k.nack {
		return appendNack(dst, tag, true, k.requeue)
	}
	return appendAck(dst, tag, true)
}
