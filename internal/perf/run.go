package perf

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"regexp"
	"runtime/pprof"
	"strings"
	"sync"
	"time"

	"github.com/warrenmq/warren/internal/amqp"
)

const (
	consumerReadBuf = 256 << 10
	producerReadBuf = 16 << 10
	// drainIdle ends the drain of a -C run when nothing more arrives.
	drainIdle = 2 * time.Second
)

// Run runs the test cfg describes, printing PerfTest's lines to out every
// sampling interval and a summary at the end. It returns when the time
// limit (-z) passes, the message counts (-C, -D) are done, ctx is
// cancelled (an interrupt), or something fails; it always closes its
// connections. The report is also written to cfg.JSONFile and
// cfg.HTMLFile if set. Run is RunWith without a sample callback.
func Run(ctx context.Context, cfg *Config, out io.Writer) (*Report, error) {
	return RunWith(ctx, cfg, out, nil)
}

// RunWith is Run calling onSample (if not nil) with each sample as it is
// taken, once a sampling interval, from the run's sampling goroutine, one
// call at a time. In compare mode the samples of every run come in turn;
// each run restarts its time at 0. onSample must not block for long: it
// delays the next sample.
func RunWith(ctx context.Context, cfg *Config, out io.Writer, onSample func(Sample)) (*Report, error) {
	if cfg.CPUProfile != "" {
		f, err := os.Create(cfg.CPUProfile)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return nil, err
		}
		defer pprof.StopCPUProfile()
	}
	if cfg.IdleConnections > 0 || cfg.IdleQueues > 0 {
		return nil, runIdle(ctx, cfg, out)
	}
	var (
		rep *Report
		err error
	)
	if cfg.Compare != "" {
		rep, err = runCompare(ctx, cfg, out, onSample)
	} else {
		rep, err = runOne(ctx, cfg, out, onSample)
	}
	if rep != nil {
		if werr := writeReports(cfg, rep); werr != nil && err == nil {
			err = werr
		}
	}
	return rep, err
}

// runOne is one run (a load test or a connection churn), without reports.
func runOne(ctx context.Context, cfg *Config, out io.Writer, onSample func(Sample)) (*Report, error) {
	for _, pid := range []int{cfg.BrokerPID} {
		if pid > 0 {
			if _, err := procCPU(pid); err != nil {
				return nil, fmt.Errorf("--broker-pid: %w", err)
			}
		}
	}
	var uris []URI
	for _, s := range cfg.URIs {
		u, err := ParseURI(s)
		if err != nil {
			return nil, err
		}
		uris = append(uris, u)
	}
	if cfg.ConnectionChurn > 0 {
		return runConnChurn(ctx, cfg, uris, out)
	}
	r := &runner{cfg: cfg, out: out, uris: uris, stop: make(chan struct{}), failed: make(chan struct{}), onSample: onSample}
	return r.run(ctx)
}

var uriPassword = regexp.MustCompile(`(amqps?://[^:/@\s,]*):[^@\s,]*@`)

// maskPasswords hides the passwords of the amqp URIs in a command line:
// reports get shared.
func maskPasswords(s string) string { return uriPassword.ReplaceAllString(s, "${1}:xxxx@") }

// newReport fills in what every report has.
func newReport(cfg *Config, kind string, start time.Time) *Report {
	rep := &Report{
		Kind: kind, ID: cfg.ID, CommandLine: maskPasswords(strings.Join(append([]string{"warren", "perf"}, cfg.CommandLine...), " ")),
		StartTime: start, Environment: currentEnvironment(), Preset: cfg.Preset,
		IntervalS: cfg.Interval, Producers: cfg.Producers, Consumers: cfg.Consumers, Size: cfg.Size,
		Confirm: cfg.Confirm, Flags: append([]string{}, cfg.Flags...),
		Samples: []Sample{},
	}
	for _, u := range cfg.URIs {
		rep.URIs = append(rep.URIs, MaskURI(u))
	}
	return rep
}

type runner struct {
	cfg  *Config
	out  io.Writer
	uris []URI
	next int // round-robin over uris

	producers []*producer
	consumers []*consumer
	pq        []string // --queue-pattern queues

	stop    chan struct{} // closed to stop the producers
	failed  chan struct{} // closed by fail
	errOnce sync.Once
	err     error

	onSample func(Sample)
	broker   Broker // from the first connection's connection.start
	gotProps bool
}

func (r *runner) fail(err error) {
	r.errOnce.Do(func() {
		r.err = err
		close(r.failed)
	})
}

func (r *runner) dial(ctx context.Context, name string, readBuf int) (*conn, error) {
	u := r.uris[r.next%len(r.uris)]
	r.next++
	c, err := dial(ctx, dialOptions{
		uri: u, frameMax: uint32(r.cfg.FrameMax), heartbeat: uint16(r.cfg.Heartbeat),
		readBuf: readBuf, name: name,
	})
	if err == nil && !r.gotProps {
		r.broker, r.gotProps = brokerOf(c.props), true
	}
	return c, err
}

func (r *runner) run(ctx context.Context) (*Report, error) {
	cfg := r.cfg
	r.pq = cfg.patternQueues()
	// Connections are closed on every path out of here.
	defer r.teardown()

	if err := r.setupShared(ctx); err != nil {
		return nil, err
	}
	for i := range cfg.Consumers {
		k, err := r.startConsumer(ctx, i)
		if err != nil {
			return nil, fmt.Errorf("consumer %d: %w", i, err)
		}
		r.consumers = append(r.consumers, k)
	}
	for j := range cfg.Producers {
		p, err := r.newProducer(ctx, j)
		if err != nil {
			return nil, fmt.Errorf("producer %d: %w", j, err)
		}
		r.producers = append(r.producers, p)
	}

	cpu := startCPU(cfg.BrokerPID)
	start := time.Now()
	rep := newReport(cfg, "run", start)
	rep.Broker = r.broker
	pr := newPrinter(r.out, cfg)
	pr.start = start

	// Consumers first, so nothing is published before they read.
	var cwg sync.WaitGroup
	for _, k := range r.consumers {
		cwg.Add(1)
		go func() {
			defer cwg.Done()
			if err := k.run(r.stop); err != nil {
				r.fail(err)
			}
		}()
	}
	var pwg sync.WaitGroup
	for _, p := range r.producers {
		pwg.Add(1)
		go func() {
			defer pwg.Done()
			if err := p.run(r.stop); err != nil {
				r.fail(err)
			}
		}()
	}
	pDone := make(chan struct{})
	go func() { pwg.Wait(); close(pDone) }()
	cDone := make(chan struct{})
	go func() { cwg.Wait(); close(cDone) }()

	// Sampling runs until the end.
	rs := newReporter(r, pr, rep, start)
	repDone := make(chan struct{})
	stopSampling := make(chan time.Time, 1)
	go func() { defer close(repDone); rs.loop(stopSampling) }()

	end := r.wait(ctx, pDone, cDone)
	stopSampling <- end
	<-repDone
	// The summary is what happened until the end; deliveries while the
	// connections close (a broker may still flush a backlog) are not in it.
	rep.Summary = rs.summary(end.Sub(start))
	cpu.finish(&rep.Summary)

	r.stopAll()
	<-pDone
	<-cDone
	pr.summary(&rep.Summary)
	if r.err != nil {
		return rep, r.err
	}
	return rep, nil
}

// cpuMeter reads the client's and (with --broker-pid) the broker's CPU
// time at the start and end of the measured window.
type cpuMeter struct {
	pid           int
	client, broke time.Duration
	err           error
}

func startCPU(pid int) *cpuMeter {
	m := &cpuMeter{pid: pid, client: selfCPU()}
	if pid > 0 {
		m.broke, m.err = procCPU(pid)
	}
	return m
}

func (m *cpuMeter) finish(s *Summary) {
	n := s.Received
	if n == 0 {
		n = s.Sent
	}
	perMsg := func(d time.Duration) float64 {
		if n == 0 {
			return 0
		}
		return math.Round(float64(d.Nanoseconds())/float64(n)) / 1000
	}
	round := func(d time.Duration) float64 { return math.Round(d.Seconds()*1000) / 1000 }
	c := selfCPU() - m.client
	s.ClientCPUS, s.ClientCPUPerMsg = round(c), perMsg(c)
	if m.pid > 0 && m.err == nil {
		if b, err := procCPU(m.pid); err == nil {
			s.BrokerCPUS, s.BrokerCPUPerMsg = round(b-m.broke), perMsg(b-m.broke)
		}
		if rss, err := procRSS(m.pid); err == nil {
			s.BrokerRSSKiB = rss
		}
	}
}

// wait blocks until the run should end and returns when it ended.
func (r *runner) wait(ctx context.Context, pDone, cDone <-chan struct{}) time.Time {
	cfg := r.cfg
	var limit <-chan time.Time
	if cfg.Time > 0 {
		t := time.NewTimer(time.Duration(cfg.Time) * time.Second)
		defer t.Stop()
		limit = t.C
	}
	countedP := cfg.ProducerMessages > 0 && len(r.producers) > 0
	countedC := cfg.ConsumerMessages > 0 && len(r.consumers) > 0
	if !countedP {
		pDone = nil // producers without -C end only on stop or failure
	}
	if !countedC {
		cDone = nil
	}
	var drain <-chan time.Time
	var lastRecv int64
	lastChange := time.Now()
	// drained tells, once the producers are done (-C), whether the
	// consumers got everything, or deliveries stopped.
	drained := func(now time.Time) bool {
		t := r.totals()
		if exp, ok := r.expected(t.sent); ok && t.received >= exp {
			return true
		}
		if countedC && r.consumersFinished() {
			return true
		}
		if t.received != lastRecv {
			lastRecv, lastChange = t.received, now
		}
		return now.Sub(lastChange) >= drainIdle
	}
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return time.Now()
		case <-limit:
			return time.Now()
		case <-r.failed:
			return time.Now()
		case <-pDone:
			pDone = nil
			if len(r.consumers) == 0 || !r.producersFinished() {
				return time.Now()
			}
			lastChange = time.Now()
			if drained(lastChange) {
				return lastChange
			}
			drain = tick.C
		case <-cDone:
			cDone = nil
			if !countedP || pDone == nil {
				return time.Now()
			}
		case <-drain:
			if now := time.Now(); drained(now) { // not the tick's time: a tick may wait in the channel
				return now
			}
		}
	}
}

func (r *runner) producersFinished() bool {
	for _, p := range r.producers {
		if !p.finished.Load() {
			return false
		}
	}
	return true
}

func (r *runner) consumersFinished() bool {
	for _, k := range r.consumers {
		if !k.finished.Load() {
			return false
		}
	}
	return true
}

// expected is how many deliveries the consumers should see for sent
// messages, when the topology tells: a server-named queue per consumer
// gets every message; fixed queues bound with the same key each get every
// message; pattern queues get their producers' messages once.
func (r *runner) expected(sent int64) (int64, bool) {
	cfg := r.cfg
	if cfg.ConsumerMessages > 0 || cfg.Exchange == "" || cfg.SkipBindingQueues || cfg.ExchangeType == "headers" {
		return 0, false
	}
	switch {
	case len(r.pq) > 0:
		has := make([]bool, len(r.pq))
		for i := range r.consumers {
			has[i%len(r.pq)] = true
		}
		var n int64
		for j, p := range r.producers {
			if has[j%len(r.pq)] {
				n += p.sent.Load()
			}
		}
		return n, true
	case len(cfg.Queues) > 0:
		return sent * int64(len(cfg.Queues)), true
	case !cfg.Predeclared:
		return sent * int64(len(r.consumers)), true
	}
	return 0, false
}

func (r *runner) totals() totals {
	var t totals
	for _, p := range r.producers {
		t.sent += p.sent.Load()
		t.confirmed += p.confirmed.Load()
		t.nacked += p.nacked.Load()
		t.returned += p.returned.Load()
	}
	for _, k := range r.consumers {
		t.received += k.received.Load()
	}
	return t
}

// stopAll stops the producers (they close their connections) and closes
// the consumers' connections, acking what they processed, and waits
// (bounded) for the broker's close-ok on each.
func (r *runner) stopAll() {
	select {
	case <-r.stop:
	default:
		close(r.stop)
	}
	for _, k := range r.consumers {
		k.close()
	}
	for _, p := range r.producers {
		<-p.readDone
	}
	for _, k := range r.consumers {
		k.c.finish(k.done)
	}
}

// teardown closes whatever is still open after a failed setup.
func (r *runner) teardown() {
	select {
	case <-r.stop:
		return // stopAll ran
	default:
		close(r.stop)
	}
	for _, p := range r.producers {
		p.c.sendClose(nil)
		p.c.finish(nil)
	}
	for _, k := range r.consumers {
		k.c.sendClose(nil)
		k.c.finish(nil)
	}
}

// --- topology, PerfTest's way ---

// setupShared declares, on a short-lived connection, the queues that are
// not a single consumer's: the --queue-pattern queues, and the -u queues
// when there are no consumers to declare them.
func (r *runner) setupShared(ctx context.Context) error {
	cfg := r.cfg
	var queues []string
	var keys []string
	switch {
	case len(r.pq) > 0 && !cfg.Exclusive:
		queues, keys = r.pq, r.pq
	case len(r.pq) == 0 && cfg.Consumers == 0 && len(cfg.Queues) > 0:
		queues = cfg.Queues
		for range queues {
			keys = append(keys, cfg.RoutingKey)
		}
	default:
		return nil
	}
	c, err := r.dial(ctx, cfg.ID+"-setup", 0)
	if err != nil {
		return err
	}
	defer func() {
		c.sendClose(nil)
		c.finish(nil)
	}()
	if err := r.declareExchange(c); err != nil {
		return err
	}
	for i, q := range queues {
		if _, err := r.declareQueue(c, q, keys[i]); err != nil {
			return err
		}
	}
	return nil
}

func (r *runner) declareExchange(c *conn) error {
	x := r.cfg.Exchange
	if x == "" || strings.HasPrefix(x, "amq.") {
		return nil // the default exchange and amq.* always exist
	}
	if r.cfg.Predeclared {
		if ok, err := c.exists("exchange", x); ok || err != nil {
			return err
		}
	}
	_, err := c.rpc(perfChannel, &amqp.ExchangeDeclare{Exchange: x, Type: r.cfg.ExchangeType}, amqp.MethodExchangeDeclareOk)
	return err
}

// declareQueue declares queue name ("" for a server-named one) as PerfTest
// does (durable with -f persistent, exclusive with -E, auto-delete unless
// -ad false) and binds it to the exchange with key. It returns the name.
func (r *runner) declareQueue(c *conn, name, key string) (string, error) {
	cfg := r.cfg
	declare := true
	if cfg.Predeclared && name != "" {
		ok, err := c.exists("queue", name)
		if err != nil {
			return "", err
		}
		declare = !ok
	}
	if declare {
		m, err := c.rpc(perfChannel, &amqp.QueueDeclare{
			Queue: name, Durable: cfg.Persistent(), Exclusive: cfg.Exclusive, AutoDelete: cfg.AutoDelete,
			Arguments: amqp.Table(cfg.QueueArgs),
		}, amqp.MethodQueueDeclareOk)
		if err != nil {
			return "", err
		}
		name = m.(*amqp.QueueDeclareOk).Queue
	}
	if cfg.Exchange != "" && !cfg.SkipBindingQueues {
		_, err := c.rpc(perfChannel, &amqp.QueueBind{Queue: name, Exchange: cfg.Exchange, RoutingKey: key}, amqp.MethodQueueBindOk)
		if err != nil {
			return "", err
		}
	}
	return name, nil
}

func (r *runner) startConsumer(ctx context.Context, i int) (*consumer, error) {
	cfg := r.cfg
	c, err := r.dial(ctx, fmt.Sprintf("%s-consumer-%d", cfg.ID, i), consumerReadBuf)
	if err != nil {
		return nil, err
	}
	k := newConsumer(i, c, cfg)
	if err := r.setupConsumer(c, i); err != nil {
		c.sendClose(nil)
		c.finish(nil)
		return nil, err
	}
	return k, nil
}

func (r *runner) setupConsumer(c *conn, i int) error {
	cfg := r.cfg
	if err := r.declareExchange(c); err != nil {
		return err
	}
	var queues []string
	switch {
	case len(r.pq) > 0:
		q := r.pq[i%len(r.pq)]
		if cfg.Exclusive {
			if _, err := r.declareQueue(c, q, q); err != nil {
				return err
			}
		}
		queues = []string{q}
	default:
		names := cfg.Queues
		if len(names) == 0 {
			if cfg.Predeclared {
				return errors.New("--predeclared without --queue: no queue to consume from")
			}
			names = []string{""} // server-named
		}
		for _, q := range names {
			name, err := r.declareQueue(c, q, cfg.RoutingKey)
			if err != nil {
				return err
			}
			queues = append(queues, name)
		}
	}
	if cfg.Qos > 0 {
		if _, err := c.rpc(perfChannel, &amqp.BasicQos{PrefetchCount: uint16(cfg.Qos)}, amqp.MethodBasicQosOk); err != nil {
			return err
		}
	}
	if cfg.GlobalQos > 0 {
		if _, err := c.rpc(perfChannel, &amqp.BasicQos{PrefetchCount: uint16(cfg.GlobalQos), Global: true}, amqp.MethodBasicQosOk); err != nil {
			return err
		}
	}
	// The last consume waits for its consume-ok; the others use no-wait,
	// so no delivery can arrive before the loop runs. Errors come back as
	// channel.close.
	for qi, q := range queues {
		last := qi == len(queues)-1
		m := &amqp.BasicConsume{Queue: q, ConsumerTag: fmt.Sprintf("%s-%d-%d", cfg.ID, i, qi), NoAck: cfg.AutoAck, NoWait: !last}
		if last && len(queues) == 1 {
			if _, err := c.rpc(perfChannel, m, amqp.MethodBasicConsumeOk); err != nil {
				return err
			}
		} else if err := c.send(perfChannel, m); err != nil {
			return err
		}
	}
	return nil
}

func (r *runner) newProducer(ctx context.Context, j int) (*producer, error) {
	cfg := r.cfg
	c, err := r.dial(ctx, fmt.Sprintf("%s-producer-%d", cfg.ID, j), producerReadBuf)
	if err != nil {
		return nil, err
	}
	err = r.declareExchange(c)
	if err == nil && cfg.Confirm >= 0 {
		_, err = c.rpc(perfChannel, &amqp.ConfirmSelect{}, amqp.MethodConfirmSelectOk)
	}
	if err != nil {
		c.sendClose(nil)
		c.finish(nil)
		return nil, err
	}
	key := cfg.RoutingKey
	if len(r.pq) > 0 {
		key = r.pq[j%len(r.pq)]
	}
	return newProducer(j, c, cfg, cfg.Exchange, key), nil
}

// --- sampling ---

type reporter struct {
	r     *runner
	pr    *printer
	rep   *Report
	start time.Time
	prev  []HistSnapshot // per consumer, the counts already taken
	total HistSnapshot
	last  totals
	lastT time.Time
}

func newReporter(r *runner, pr *printer, rep *Report, start time.Time) *reporter {
	return &reporter{r: r, pr: pr, rep: rep, start: start, lastT: start, prev: make([]HistSnapshot, len(r.consumers))}
}

// loop takes a sample every interval until stop delivers the run's end
// time; then it takes a last sample for the rest of the run, if that is
// at least half an interval, so short runs are charted to their end.
func (s *reporter) loop(stop <-chan time.Time) {
	iv := time.Duration(s.r.cfg.Interval) * time.Second
	t := time.NewTicker(iv)
	defer t.Stop()
	for {
		select {
		case end := <-stop:
			if end.Sub(s.lastT) >= iv/2 {
				s.take(end)
			}
			return
		case now := <-t.C:
			s.take(now)
		}
	}
}

// take records, prints and hands out the sample of the interval ending now.
func (s *reporter) take(now time.Time) {
	var iv HistSnapshot
	for i, k := range s.r.consumers {
		iv.AddDelta(&k.hist, &s.prev[i])
	}
	s.total.Merge(&iv)
	cur := s.r.totals()
	dt := now.Sub(s.lastT).Seconds()
	rate := func(a, b int64) float64 { return math.Round(float64(a-b)/dt*10) / 10 }
	smp := Sample{
		T:         math.Round(now.Sub(s.start).Seconds()*1000) / 1000,
		Sent:      rate(cur.sent, s.last.sent),
		Confirmed: rate(cur.confirmed, s.last.confirmed),
		Nacked:    rate(cur.nacked, s.last.nacked),
		Returned:  rate(cur.returned, s.last.returned),
		Received:  rate(cur.received, s.last.received),
		Latency:   latencyOf(&iv),
	}
	s.last, s.lastT = cur, now
	s.rep.Samples = append(s.rep.Samples, smp)
	s.pr.sample(&smp, iv.Count(), s.progress(now))
	if s.r.onSample != nil {
		s.r.onSample(smp)
	}
}

// progress is how far a -z or -C run is, 0..1, or -1 when it cannot tell.
func (s *reporter) progress(now time.Time) float64 {
	cfg := s.r.cfg
	p := -1.0
	if cfg.Time > 0 {
		p = now.Sub(s.start).Seconds() / float64(cfg.Time)
	}
	if cfg.ProducerMessages > 0 && len(s.r.producers) > 0 {
		var sent int64
		for _, x := range s.r.producers {
			sent += x.sent.Load()
		}
		p = max(p, float64(sent)/float64(cfg.ProducerMessages*len(s.r.producers)))
	} else if cfg.ConsumerMessages > 0 && len(s.r.consumers) > 0 {
		p = max(p, float64(s.r.totals().received)/float64(cfg.ConsumerMessages*len(s.r.consumers)))
	}
	return min(p, 1)
}

// summary totals the run after it stopped; d is its duration.
func (s *reporter) summary(d time.Duration) Summary {
	var iv HistSnapshot
	for i, k := range s.r.consumers {
		iv.AddDelta(&k.hist, &s.prev[i])
	}
	s.total.Merge(&iv)
	t := s.r.totals()
	sec := d.Seconds()
	sum := Summary{
		DurationS: math.Round(sec*1000) / 1000,
		Sent:      t.sent, Confirmed: t.confirmed, Nacked: t.nacked, Returned: t.returned, Received: t.received,
		LatencySample: s.total.Count(),
		Latency:       latencyOf(&s.total),
		MaxUs:         math.Round(float64(s.total.Quantile(1))/100) / 10,
	}
	for _, k := range s.r.consumers {
		sum.ReceivedPerConsumer = append(sum.ReceivedPerConsumer, k.received.Load())
	}
	if sec > 0 {
		sum.SendRate = math.Round(float64(t.sent) / sec)
		sum.ReceiveRate = math.Round(float64(t.received) / sec)
	}
	return sum
}
