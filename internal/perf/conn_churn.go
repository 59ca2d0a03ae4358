package perf

import (
	"context"
	"fmt"
	"io"
	"math"
	"sync"
	"sync/atomic"
	"time"

	"github.com/warrenmq/warren/internal/amqp"
)

// ConnChurn is what --connection-churn measured: connections opened
// (protocol header to channel.open-ok) and closed (close to close-ok), -x
// at a time, and what each cost the broker.
type ConnChurn struct {
	Connections int64   `json:"connections"`
	Parallel    int     `json:"parallel"`
	DurationS   float64 `json:"duration_s"`
	Rate        float64 `json:"connections_per_s"`
	// OpenLatency is the time from dialing to channel.open-ok, in µs.
	OpenLatency      Latency       `json:"open_latency"`
	BrokerCPUS       float64       `json:"broker_cpu_s,omitempty"`
	BrokerCPUPerConn float64       `json:"broker_cpu_us_per_connection,omitempty"`
	BrokerRSSKiB     int64         `json:"broker_rss_kib,omitempty"`
	ClientCPUS       float64       `json:"client_cpu_s"`
	ClientCPUPerConn float64       `json:"client_cpu_us_per_connection"`
	Samples          []ChurnSample `json:"samples"`
}

// ChurnSample is one sampling interval of a connection churn.
type ChurnSample struct {
	T    float64 `json:"t"`
	Rate float64 `json:"connections_per_s"`
}

// runConnChurn opens and closes cfg.ConnectionChurn connections with
// cfg.Producers workers, round-robin over uris, until done, -z passes, ctx
// ends or a connection fails.
func runConnChurn(ctx context.Context, cfg *Config, uris []URI, out io.Writer) (*Report, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	if cfg.Time > 0 {
		var c2 context.CancelFunc
		ctx, c2 = context.WithTimeout(ctx, time.Duration(cfg.Time)*time.Second)
		defer c2()
	}
	par := max(cfg.Producers, 1)
	n := int64(cfg.ConnectionChurn)
	var (
		next, done atomic.Int64
		errOnce    sync.Once
		firstErr   error
		histMu     sync.Mutex
		hist       HistSnapshot
		brokerMu   sync.Mutex
		broker     Broker
		gotBroker  bool
		wg         sync.WaitGroup
	)
	cpu := startCPU(cfg.BrokerPID)
	start := time.Now()
	rep := newReport(cfg, "connection-churn", start)
	rep.Producers, rep.Consumers = 0, 0
	ch := &ConnChurn{Parallel: par, Samples: []ChurnSample{}}
	rep.ConnChurn = ch
	for range par {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := next.Add(1) - 1
				if i >= n || ctx.Err() != nil {
					return
				}
				t0 := time.Now()
				c, err := dial(ctx, dialOptions{uri: uris[int(i)%len(uris)], readBuf: 4096, name: fmt.Sprintf("%s-churn-%d", cfg.ID, i)})
				if err != nil {
					if ctx.Err() == nil {
						errOnce.Do(func() { firstErr = fmt.Errorf("connection %d: %w", i, err); cancel() })
					}
					return
				}
				open := time.Since(t0)
				brokerMu.Lock()
				if !gotBroker {
					broker, gotBroker = brokerOf(c.props), true
				}
				brokerMu.Unlock()
				closeAndWait(c)
				histMu.Lock()
				hist.Record(open.Nanoseconds())
				histMu.Unlock()
				done.Add(1)
			}
		}()
	}
	finished := make(chan struct{})
	go func() { wg.Wait(); close(finished) }()
	tick := time.NewTicker(time.Duration(cfg.Interval) * time.Second)
	defer tick.Stop()
	lastT, last := start, int64(0)
loop:
	for {
		select {
		case <-finished:
			break loop
		case now := <-tick.C:
			d := done.Load()
			smp := ChurnSample{T: math.Round(now.Sub(start).Seconds()*1000) / 1000, Rate: math.Round(float64(d-last)/now.Sub(lastT).Seconds()*10) / 10}
			ch.Samples = append(ch.Samples, smp)
			fmt.Fprintf(out, "id: %s, time %.3f s, connections opened and closed: %s/s (%d of %d)\n", cfg.ID, smp.T, formatRate(smp.Rate), d, n)
			lastT, last = now, d
		}
	}
	d := time.Since(start)
	ch.Connections = done.Load()
	ch.DurationS = math.Round(d.Seconds()*1000) / 1000
	if d > 0 {
		ch.Rate = math.Round(float64(ch.Connections)/d.Seconds()*10) / 10
	}
	ch.OpenLatency = latencyOf(&hist)
	rep.Broker = broker
	// The CPU meter divides by messages; here a connection is the unit.
	var s Summary
	s.Received = ch.Connections
	cpu.finish(&s)
	ch.BrokerCPUS, ch.BrokerCPUPerConn, ch.BrokerRSSKiB = s.BrokerCPUS, s.BrokerCPUPerMsg, s.BrokerRSSKiB
	ch.ClientCPUS, ch.ClientCPUPerConn = s.ClientCPUS, s.ClientCPUPerMsg
	rep.Summary.DurationS = ch.DurationS
	fmt.Fprintf(out, "id: %s, %d connections opened and closed in %.3f s, %s connections/s, %d at a time\n",
		cfg.ID, ch.Connections, ch.DurationS, formatRate(ch.Rate), par)
	fmt.Fprintf(out, "id: %s, open latency min/median/75th/95th/99th: %s µs\n", cfg.ID, latencyString(ch.OpenLatency))
	if cfg.BrokerPID > 0 {
		fmt.Fprintf(out, "id: %s, broker CPU %.2f s, %.1f µs per connection, VmRSS %d KiB\n",
			cfg.ID, ch.BrokerCPUS, ch.BrokerCPUPerConn, ch.BrokerRSSKiB)
	}
	fmt.Fprintf(out, "id: %s, client CPU %.2f s, %.1f µs per connection\n", cfg.ID, ch.ClientCPUS, ch.ClientCPUPerConn)
	return rep, firstErr
}

// closeAndWait sends connection.close, reads (bounded) until close-ok and
// closes the socket, so the broker tears the connection down cleanly.
func closeAndWait(c *conn) {
	c.sendClose(nil)
	_ = c.nc.SetReadDeadline(time.Now().Add(closeTimeout))
	r := c.r
	if r == nil {
		r = amqp.NewReader(c.nc, 512) // an idle connection freed its reader
	}
	for {
		f, err := r.ReadFrame()
		if err != nil {
			break
		}
		if f.Type == amqp.FrameMethod {
			if cid, mid, _, err := amqp.ParseMethod(f.Payload); err != nil || isCloseOk(cid, mid) {
				break
			}
		}
	}
	c.finish(nil)
}
