package perf

import (
	"encoding/binary"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/warrenmq/warren/internal/amqp"
)

const (
	// batchBytes is how much a producer writes per syscall when it is not
	// rate limited: many publish+header+body frame triples in one write.
	batchBytes = 64 << 10
	maxBatch   = 4096
	// unboundedWindow caps outstanding confirms with -c 0.
	unboundedWindow = 1 << 20
)

// producer publishes on its own connection. Its goroutine builds batches
// from a pre-encoded message template and writes each batch at once; a
// second goroutine (readLoop) takes confirms, returns, blocked and close.
type producer struct {
	id    int
	c     *conn
	tmpl  int    // bytes per message
	tsOff int    // offset of the timestamp in a message
	batch []byte // the template repeated maxN times
	maxN  int

	limit   int64 // -C; 0 = unlimited
	window  int64 // max outstanding confirms; 0 = no confirms
	timeout time.Duration
	lim     *limiter

	sent      atomic.Int64
	confirmed atomic.Int64
	nacked    atomic.Int64
	returned  atomic.Int64
	finished  atomic.Bool // sent its -C messages (and had them confirmed)

	waiting   atomic.Bool
	confirmCh chan struct{}
	unblockCh chan struct{}
	readDone  chan struct{}
	readErr   error // set before readDone closes

	track confirmTracker // owned by readLoop
}

func newProducer(id int, c *conn, cfg *Config, exchange, key string) *producer {
	p := &producer{
		id: id, c: c,
		limit:     int64(cfg.ProducerMessages),
		timeout:   time.Duration(cfg.ConfirmTimeout) * time.Second,
		lim:       newLimiter(cfg.ProducerRate),
		confirmCh: make(chan struct{}, 1),
		unblockCh: make(chan struct{}, 1),
		readDone:  make(chan struct{}),
	}
	if cfg.Confirm >= 0 {
		p.window = int64(cfg.Confirm)
		if p.window == 0 {
			p.window = unboundedWindow
		}
		p.track.init(int(p.window))
	}
	// One message: basic.publish, content header, body frames. Transient
	// messages carry no properties at all, as PerfTest's MINIMAL_BASIC.
	var props amqp.Properties
	if cfg.Persistent() {
		props.DeliveryMode = 2
	}
	raw, _ := amqp.AppendProperties(nil, &props)
	msg := amqp.AppendMethodFrame(nil, perfChannel, &amqp.BasicPublish{Exchange: exchange, RoutingKey: key, Mandatory: cfg.Mandatory()})
	msg = amqp.AppendHeaderFrame(msg, perfChannel, amqp.ClassBasic, uint64(cfg.Size), raw)
	p.tsOff = len(msg) + amqp.FrameHeaderSize
	msg = amqp.AppendBodyFrames(msg, perfChannel, make([]byte, cfg.Size), c.frameMax)
	p.tmpl = len(msg)
	p.maxN = min(maxBatch, max(1, batchBytes/p.tmpl))
	if p.window > 0 {
		p.maxN = int(min(int64(p.maxN), p.window))
	}
	if p.limit > 0 {
		p.maxN = int(min(int64(p.maxN), p.limit))
	}
	p.batch = make([]byte, 0, p.maxN*p.tmpl)
	for range p.maxN {
		p.batch = append(p.batch, msg...)
	}
	return p
}

// run publishes until stop closes, the -C count is sent (and confirmed), or
// the connection fails. It closes the connection before returning.
func (p *producer) run(stop <-chan struct{}) error {
	go p.readLoop()
	err := p.publish(stop)
	if err == nil && p.limit > 0 && p.window > 0 {
		err = p.awaitConfirms(stop)
	}
	if err == nil && p.limit > 0 && p.sent.Load() >= p.limit {
		p.finished.Store(true)
	}
	p.c.sendClose(nil)
	p.c.finish(p.readDone)
	if err == nil {
		if rerr := p.readErrIfDone(); rerr != nil {
			return rerr
		}
	}
	return err
}

func (p *producer) publish(stop <-chan struct{}) error {
	for {
		select {
		case <-stop:
			return nil
		case <-p.readDone:
			return p.readErr
		default:
		}
		n := int64(p.maxN)
		sent := p.sent.Load()
		if p.limit > 0 {
			if sent >= p.limit {
				return nil
			}
			n = min(n, p.limit-sent)
		}
		if p.window > 0 {
			room := p.window - (sent - p.confirmed.Load() - p.nacked.Load())
			if room <= 0 {
				if err := p.waitConfirm(stop, sent); err != nil {
					return err
				}
				continue
			}
			n = min(n, room)
		}
		if p.c.blocked.Load() {
			p.waitUnblocked(stop)
			continue
		}
		k := p.lim.take(int(n), stop)
		if k == 0 {
			return nil
		}
		ts := uint64(time.Now().UnixNano())
		for i := range k {
			binary.BigEndian.PutUint64(p.batch[i*p.tmpl+p.tsOff:], ts)
		}
		if err := p.c.write(p.batch[:k*p.tmpl]); err != nil {
			select {
			case <-p.readDone: // the reader knows why (e.g. connection.close)
				if p.readErr != nil {
					return p.readErr
				}
			case <-time.After(time.Second):
			}
			return fmt.Errorf("producer %d: %s: %w", p.id, p.c.addr, err)
		}
		p.sent.Add(int64(k))
	}
}

// waitConfirm waits until some outstanding publish is confirmed.
func (p *producer) waitConfirm(stop <-chan struct{}, sent int64) error {
	p.waiting.Store(true)
	defer p.waiting.Store(false)
	t := time.NewTimer(p.timeout)
	defer t.Stop()
	for sent-p.confirmed.Load()-p.nacked.Load() >= p.window {
		select {
		case <-p.confirmCh:
		case <-stop:
			return nil
		case <-p.readDone:
			return p.readErr
		case <-t.C:
			return fmt.Errorf("producer %d: no confirm within %v (confirm timeout)", p.id, p.timeout)
		}
	}
	return nil
}

// awaitConfirms waits, at the end of a -C run, for every publish's confirm.
func (p *producer) awaitConfirms(stop <-chan struct{}) error {
	p.waiting.Store(true)
	defer p.waiting.Store(false)
	t := time.NewTimer(p.timeout)
	defer t.Stop()
	for p.sent.Load() > p.confirmed.Load()+p.nacked.Load() {
		select {
		case <-p.confirmCh:
		case <-stop:
			return nil
		case <-p.readDone:
			return p.readErr
		case <-t.C:
			return fmt.Errorf("producer %d: %d publishes unconfirmed after %v (confirm timeout)", p.id,
				p.sent.Load()-p.confirmed.Load()-p.nacked.Load(), p.timeout)
		}
	}
	return nil
}

func (p *producer) waitUnblocked(stop <-chan struct{}) {
	t := time.NewTimer(100 * time.Millisecond) // in case unblocked raced the check
	defer t.Stop()
	select {
	case <-p.unblockCh:
	case <-stop:
	case <-p.readDone:
	case <-t.C:
	}
}

func (p *producer) readErrIfDone() error {
	select {
	case <-p.readDone:
		return p.readErr
	default:
		return nil
	}
}

// readLoop handles what the broker sends a producer: confirms (basic.ack,
// basic.nack), returned messages, connection.blocked/unblocked and close.
func (p *producer) readLoop() {
	defer close(p.readDone)
	for {
		f, err := p.c.r.ReadFrame()
		if err != nil {
			p.c.wmu.Lock()
			closing := p.c.closing
			p.c.wmu.Unlock()
			if !closing {
				p.readErr = fmt.Errorf("producer %d: %s: %w", p.id, p.c.addr, err)
			}
			return
		}
		switch f.Type {
		case amqp.FrameMethod:
			cid, mid, args, err := amqp.ParseMethod(f.Payload)
			if err != nil {
				p.readErr = err
				return
			}
			switch {
			case cid == amqp.ClassBasic && (mid == amqp.MethodBasicAck || mid == amqp.MethodBasicNack):
				if len(args) < 9 {
					p.readErr = errors.New("short basic.ack")
					return
				}
				tag := binary.BigEndian.Uint64(args)
				multiple := args[8]&1 != 0
				n := p.track.confirm(tag, multiple)
				if mid == amqp.MethodBasicAck {
					p.confirmed.Add(n)
				} else {
					p.nacked.Add(n)
				}
				if p.waiting.Load() {
					select {
					case p.confirmCh <- struct{}{}:
					default:
					}
				}
			case cid == amqp.ClassBasic && mid == amqp.MethodBasicReturn:
				p.returned.Add(1) // its header and body frames are ignored below
			case isCloseOk(cid, mid):
				return
			case cid == amqp.ClassConnection && mid == amqp.MethodConnectionUnblocked:
				p.c.blocked.Store(false)
				select {
				case p.unblockCh <- struct{}{}:
				default:
				}
			default:
				if err := p.c.handleClose(f.Channel, cid, mid, args); err != nil {
					p.readErr = err
					return
				}
			}
		}
	}
}

// confirmTracker counts confirmed publishes from basic.ack/nack, which may
// be multiple (everything up to the tag) or single and out of order. It
// keeps a bitmap of single confirms above the lowest unconfirmed tag.
type confirmTracker struct {
	low  uint64   // lowest unconfirmed delivery tag
	bits []uint64 // ring bitmap of tags confirmed out of order
	mask uint64
}

func (t *confirmTracker) init(window int) {
	size := uint64(64)
	for size < uint64(window)+1 {
		size <<= 1
	}
	t.low = 1
	t.bits = make([]uint64, size/64)
	t.mask = size - 1
}

func (t *confirmTracker) isSet(tag uint64) bool {
	i := tag & t.mask
	return t.bits[i/64]&(1<<(i%64)) != 0
}

func (t *confirmTracker) set(tag uint64, on bool) {
	i := tag & t.mask
	if on {
		t.bits[i/64] |= 1 << (i % 64)
	} else {
		t.bits[i/64] &^= 1 << (i % 64)
	}
}

// confirm records a confirm and returns how many publishes it newly confirms.
func (t *confirmTracker) confirm(tag uint64, multiple bool) int64 {
	if t.bits == nil || tag < t.low {
		return 0
	}
	var n int64
	if multiple {
		for ; t.low <= tag; t.low++ {
			if t.isSet(t.low) {
				t.set(t.low, false)
			} else {
				n++
			}
		}
	} else {
		if t.isSet(tag) {
			return 0
		}
		t.set(tag, true)
		n = 1
	}
	for t.isSet(t.low) {
		t.set(t.low, false)
		t.low++
	}
	return n
}
