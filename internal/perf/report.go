package perf

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"strings"
	"time"
)

// Report is what a run measured; --json writes it.
type Report struct {
	ID          string    `json:"id"`
	CommandLine string    `json:"command_line"`
	StartTime   time.Time `json:"start_time"`
	IntervalS   int       `json:"interval_s"`
	Producers   int       `json:"producers"`
	Consumers   int       `json:"consumers"`
	Size        int       `json:"size"`
	Samples     []Sample  `json:"samples"`
	Summary     Summary   `json:"summary"`
}

// Sample is one sampling interval: rates in msg/s over the interval and
// consumer latency percentiles in µs of the messages received in it.
type Sample struct {
	T         float64 `json:"t"` // seconds since the start (end of the interval)
	Sent      float64 `json:"sent"`
	Confirmed float64 `json:"confirmed"`
	Nacked    float64 `json:"nacked"`
	Returned  float64 `json:"returned"`
	Received  float64 `json:"received"`
	Latency
}

// Latency holds latency percentiles in microseconds.
type Latency struct {
	MinUs float64 `json:"latency_min_us"`
	P50Us float64 `json:"latency_p50_us"`
	P75Us float64 `json:"latency_p75_us"`
	P95Us float64 `json:"latency_p95_us"`
	P99Us float64 `json:"latency_p99_us"`
}

// Summary is the whole run: message totals, average rates and the latency
// percentiles over every received message.
type Summary struct {
	DurationS float64 `json:"duration_s"`
	Sent      int64   `json:"sent"`
	Confirmed int64   `json:"confirmed"`
	Nacked    int64   `json:"nacked"`
	Returned  int64   `json:"returned"`
	Received  int64   `json:"received"`
	// ReceivedPerConsumer is each consumer's count, in consumer order.
	ReceivedPerConsumer []int64 `json:"received_per_consumer,omitempty"`
	SendRate            float64 `json:"sending_rate_avg"`   // msg/s
	ReceiveRate         float64 `json:"receiving_rate_avg"` // msg/s
	LatencySample       uint64  `json:"latency_samples"`
	Latency
	MaxUs float64 `json:"latency_max_us"`

	// CPU per delivered message (per sent one without consumers) over the
	// run: the broker's with --broker-pid, and warren perf's own.
	BrokerCPUS      float64 `json:"broker_cpu_s,omitempty"`
	BrokerCPUPerMsg float64 `json:"broker_cpu_us_per_msg,omitempty"`
	BrokerRSSKiB    int64   `json:"broker_rss_kib,omitempty"`
	ClientCPUS      float64 `json:"client_cpu_s"`
	ClientCPUPerMsg float64 `json:"client_cpu_us_per_msg"`
}

func latencyOf(h *HistSnapshot) Latency {
	us := func(q float64) float64 { return math.Round(float64(h.Quantile(q))/100) / 10 }
	return Latency{MinUs: us(0), P50Us: us(0.5), P75Us: us(0.75), P95Us: us(0.95), P99Us: us(0.99)}
}

// totals is a reading of every counter of a run.
type totals struct {
	sent, confirmed, nacked, returned, received int64
}

// printer formats PerfTest's lines.
type printer struct {
	out                           io.Writer
	id                            string
	send, recv, confirms, returns bool
}

// formatRate is PerfTest's: integers from 10 msg/s up.
func formatRate(r float64) string {
	switch {
	case r == 0:
		return "0"
	case r < 1:
		return fmt.Sprintf("%.2f", r)
	case r < 10:
		return fmt.Sprintf("%.1f", r)
	}
	return fmt.Sprintf("%d", int64(r))
}

func (p *printer) sample(s *Sample, latCount uint64) {
	var b strings.Builder
	fmt.Fprintf(&b, "id: %s, time %.3f s", p.id, s.T)
	rate := func(name string, v float64, show bool) {
		if show {
			fmt.Fprintf(&b, ", %s: %s msg/s", name, formatRate(v))
		}
	}
	rate("sent", s.Sent, p.send)
	rate("returned", s.Returned, p.send && p.returns)
	rate("confirmed", s.Confirmed, p.send && p.confirms)
	rate("nacked", s.Nacked, p.send && p.confirms)
	rate("received", s.Received, p.recv)
	if p.recv && latCount > 0 {
		fmt.Fprintf(&b, ", min/median/75th/95th/99th consumer latency: %s µs", latencyString(s.Latency))
	}
	fmt.Fprintln(p.out, b.String())
}

func latencyString(l Latency) string {
	f := func(v float64) string {
		if v < 10 {
			return fmt.Sprintf("%.1f", v)
		}
		return fmt.Sprintf("%d", int64(math.Round(v)))
	}
	return f(l.MinUs) + "/" + f(l.P50Us) + "/" + f(l.P75Us) + "/" + f(l.P95Us) + "/" + f(l.P99Us)
}

func (p *printer) summary(s *Summary) {
	if p.send {
		fmt.Fprintf(p.out, "id: %s, sending rate avg: %s msg/s\n", p.id, formatRate(s.SendRate))
	}
	if p.recv {
		fmt.Fprintf(p.out, "id: %s, receiving rate avg: %s msg/s\n", p.id, formatRate(s.ReceiveRate))
		if s.LatencySample > 0 {
			fmt.Fprintf(p.out, "id: %s, consumer latency min/median/75th/95th/99th: %s µs (max %s µs)\n",
				p.id, latencyString(s.Latency), formatRate(s.MaxUs))
		}
	}
	if s.BrokerCPUS > 0 || s.BrokerRSSKiB > 0 {
		fmt.Fprintf(p.out, "id: %s, broker CPU %.2f s, %.2f µs per message, VmRSS %d KiB\n",
			p.id, s.BrokerCPUS, s.BrokerCPUPerMsg, s.BrokerRSSKiB)
	}
	fmt.Fprintf(p.out, "id: %s, client CPU %.2f s, %.2f µs per message\n", p.id, s.ClientCPUS, s.ClientCPUPerMsg)
	fmt.Fprintf(p.out, "id: %s, sent %d, confirmed %d, returned %d, received %d messages in %.3f s\n",
		p.id, s.Sent, s.Confirmed, s.Returned, s.Received, s.DurationS)
}

// writeJSON writes the report to file, atomically (temp file and rename).
func (r *Report) writeJSON(file string) error {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	tmp := file + ".tmp"
	if err := os.WriteFile(tmp, append(b, '\n'), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, file)
}
