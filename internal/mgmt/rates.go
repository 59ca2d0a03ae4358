package mgmt

import (
	"sync"
	"time"

	"github.com/warrenmq/warren/internal/amqpserver"
	"github.com/warrenmq/warren/internal/mgmt/apitypes"
)

// rates keeps, per object, the counter values of the last sample and the
// per-second rates between the last two samples. The sampler (Run) reads
// every object's counters every SampleInterval; requests only look rates
// up. An object not seen in a sweep (deleted) is forgotten.
type rates struct {
	mu     sync.RWMutex
	series map[any]*series
	sweep  uint64
}

type series struct {
	at    time.Time
	vals  []float64
	rates []float64
	sweep uint64
}

func newRates() *rates { return &rates{series: map[any]*series{}} }

// Keys for objects without a pointer identity.
type (
	connKey  string
	chanKey  string
	vhostKey string
	totalKey struct{}
)

// observe records the current values of key's counters.
func (r *rates) observe(key any, now time.Time, vals ...float64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	s := r.series[key]
	if s == nil {
		s = &series{at: now, vals: vals, rates: make([]float64, len(vals))}
		r.series[key] = s
		s.sweep = r.sweep
		return
	}
	dt := now.Sub(s.at).Seconds()
	if dt > 0 && len(s.vals) == len(vals) {
		// A new slice: readers keep the one get handed them.
		rs := make([]float64, len(vals))
		for i, v := range vals {
			rs[i] = (v - s.vals[i]) / dt
		}
		s.rates = rs
	}
	s.at, s.vals, s.sweep = now, vals, r.sweep
}

// begin starts a sweep; end forgets the objects the sweep did not see.
func (r *rates) begin() {
	r.mu.Lock()
	r.sweep++
	r.mu.Unlock()
}

func (r *rates) end() {
	r.mu.Lock()
	for k, s := range r.series {
		if s.sweep != r.sweep {
			delete(r.series, k)
		}
	}
	r.mu.Unlock()
}

// get returns key's rates (nil when not sampled yet); the slice is never
// written after it is handed out.
func (r *rates) get(key any) []float64 {
	r.mu.RLock()
	defer r.mu.RUnlock()
	if s := r.series[key]; s != nil {
		return s.rates
	}
	return nil
}

func rateAt(rs []float64, i int) *apitypes.Rate {
	if i < len(rs) {
		return &apitypes.Rate{Rate: round1(rs[i])}
	}
	return &apitypes.Rate{}
}

func round1(f float64) float64 {
	if f < 0 {
		return -round1(-f)
	}
	return float64(int64(f*10+0.5)) / 10
}

// Series layouts.
const (
	qPublish = iota
	qDeliverGet
	qAck
	qRedeliver
	qMessages
	qReady
	qUnacked
	qLen
)

const (
	xIn = iota
	xOut
)

const (
	cRecv = iota
	cSend
)

// Channel counters, also used for the overview (then followed by
// tMessages, tReady, tUnacked and the churn counters).
const (
	chPublish = iota
	chConfirm
	chReturn
	chDrop
	chDeliver
	chDeliverNoAck
	chGet
	chGetNoAck
	chGetEmpty
	chDeliverGet
	chRedeliver
	chAck
	chLen
)

const (
	tMessages = chLen + iota
	tReady
	tUnacked
	tConnCreated
	tConnClosed
	tChanCreated
	tChanClosed
	tRecv
	tSend
)

func counterVals(c amqpserver.ChannelCounters) []float64 {
	return []float64{
		float64(c.Published), float64(c.Confirmed), float64(c.ReturnUnroutable), float64(c.DropUnroutable),
		float64(c.DeliverAck), float64(c.DeliverNoAck), float64(c.GetAck), float64(c.GetNoAck), float64(c.GetEmpty),
		float64(c.DeliverAck + c.DeliverNoAck + c.GetAck + c.GetNoAck), float64(c.Redelivered), float64(c.Acked),
	}
}

func u64(v uint64) *uint64 { return &v }

// channelMessageStats is message_stats of a channel or the overview.
func channelMessageStats(c amqpserver.ChannelCounters, rs []float64) *apitypes.MessageStats {
	return &apitypes.MessageStats{
		Publish: u64(c.Published), PublishDetails: rateAt(rs, chPublish),
		Confirm: u64(c.Confirmed), ConfirmDetails: rateAt(rs, chConfirm),
		ReturnUnroutable: u64(c.ReturnUnroutable), ReturnUnroutableDetails: rateAt(rs, chReturn),
		DropUnroutable: u64(c.DropUnroutable), DropUnroutableDetails: rateAt(rs, chDrop),
		Deliver: u64(c.DeliverAck), DeliverDetails: rateAt(rs, chDeliver),
		DeliverNoAck: u64(c.DeliverNoAck), DeliverNoAckDetails: rateAt(rs, chDeliverNoAck),
		Get: u64(c.GetAck), GetDetails: rateAt(rs, chGet),
		GetNoAck: u64(c.GetNoAck), GetNoAckDetails: rateAt(rs, chGetNoAck),
		GetEmpty: u64(c.GetEmpty), GetEmptyDetails: rateAt(rs, chGetEmpty),
		DeliverGet: u64(c.DeliverAck + c.DeliverNoAck + c.GetAck + c.GetNoAck), DeliverGetDetails: rateAt(rs, chDeliverGet),
		Redeliver: u64(c.Redelivered), RedeliverDetails: rateAt(rs, chRedeliver),
		Ack: u64(c.Acked), AckDetails: rateAt(rs, chAck),
	}
}

// sample reads every object's counters once.
func (s *Server) sample(now time.Time) {
	r := s.rates
	r.begin()
	var tot struct{ msgs, ready, unacked int }
	for _, v := range s.cfg.Broker.Vhosts() {
		var vs struct {
			msgs, ready, unacked int
			pub, dg, ack         uint64
		}
		for _, q := range v.Queues() {
			i := q.Info()
			p, d, a, rd := q.Stats.Published.Load(), q.Stats.Delivered.Load(), q.Stats.Acked.Load(), q.Stats.Redelivered.Load()
			r.observe(q, now, float64(p), float64(d), float64(a), float64(rd),
				float64(i.Ready+i.Unacked), float64(i.Ready), float64(i.Unacked))
			vs.msgs += i.Ready + i.Unacked
			vs.ready += i.Ready
			vs.unacked += i.Unacked
			vs.pub += p
			vs.dg += d
			vs.ack += a
		}
		for _, x := range v.Exchanges() {
			r.observe(x, now, float64(x.Stats.PublishIn.Load()), float64(x.Stats.PublishOut.Load()))
		}
		r.observe(vhostKey(v.Name), now, float64(vs.pub), float64(vs.dg), float64(vs.ack), 0,
			float64(vs.msgs), float64(vs.ready), float64(vs.unacked))
		tot.msgs += vs.msgs
		tot.ready += vs.ready
		tot.unacked += vs.unacked
	}
	if a := s.cfg.AMQP; a != nil {
		for _, c := range a.Connections() {
			r.observe(connKey(c.Name), now, float64(c.RecvOct), float64(c.SendOct))
		}
		for _, ch := range a.Channels() {
			r.observe(chanKey(ch.Name), now, counterVals(ch.Counters)...)
		}
		t := a.Totals()
		vals := append(counterVals(t.Counters), float64(tot.msgs), float64(tot.ready), float64(tot.unacked),
			float64(t.ConnectionsOpened), float64(t.ConnectionsClosed), float64(t.ChannelsOpened), float64(t.ChannelsClosed),
			float64(t.RecvOct), float64(t.SendOct))
		r.observe(totalKey{}, now, vals...)
	}
	r.end()
}

// values returns key's counter values of the last sample.
func (r *rates) values(key any) []float64 {
	r.mu.RLock()
	defer r.mu.RUnlock()
	if s := r.series[key]; s != nil {
		return s.vals
	}
	return nil
}
