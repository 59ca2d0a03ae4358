package perf

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/url"
	"os"
	"runtime"
	"strings"
	"time"
)

// Report is what a run measured; --json writes it, --html draws it.
// Kind tells which parts are filled: "run" (Samples, Summary),
// "connection-churn" (ConnChurn) or "compare" (Compare, whose rounds are
// reports of their own).
type Report struct {
	Kind        string      `json:"kind"`
	ID          string      `json:"id"`
	CommandLine string      `json:"command_line"`
	StartTime   time.Time   `json:"start_time"`
	Environment Environment `json:"environment"`
	Broker      Broker      `json:"broker"`
	URIs        []string    `json:"uris"` // passwords masked
	Preset      string      `json:"preset,omitempty"`
	IntervalS   int         `json:"interval_s"`
	Producers   int         `json:"producers"`
	Consumers   int         `json:"consumers"`
	Size        int         `json:"size"`
	Confirm     int         `json:"confirm"` // -c: -1 = no confirms
	Flags       []string    `json:"flags"`
	Samples     []Sample    `json:"samples"`
	Summary     Summary     `json:"summary"`
	ConnChurn   *ConnChurn  `json:"connection_churn,omitempty"`
	Compare     *Compare    `json:"compare,omitempty"`
}

// Environment is where warren perf ran.
type Environment struct {
	GoVersion string `json:"go_version"`
	OS        string `json:"os"`
	Arch      string `json:"arch"`
	CPUs      int    `json:"cpus"`
	Host      string `json:"host"`
}

func currentEnvironment() Environment {
	host, _ := os.Hostname()
	return Environment{GoVersion: runtime.Version(), OS: runtime.GOOS, Arch: runtime.GOARCH, CPUs: runtime.NumCPU(), Host: host}
}

// Broker is what the broker said about itself in connection.start.
type Broker struct {
	Product     string `json:"product"`
	Version     string `json:"version"`
	Platform    string `json:"platform"`
	ClusterName string `json:"cluster_name"`
}

func brokerOf(props map[string]any) Broker {
	str := func(k string) string {
		switch v := props[k].(type) {
		case string:
			return v
		case []byte:
			return string(v)
		}
		return ""
	}
	return Broker{Product: str("product"), Version: str("version"), Platform: str("platform"), ClusterName: str("cluster_name")}
}

// String is "RabbitMQ 3.10.8", or "unknown broker".
func (b Broker) String() string {
	if s := strings.TrimSpace(b.Product + " " + b.Version); s != "" {
		return s
	}
	return "unknown broker"
}

// MaskURI hides the password of an amqp URI.
func MaskURI(s string) string {
	u, err := url.Parse(s)
	if err != nil || u.User == nil {
		return s
	}
	if _, ok := u.User.Password(); ok {
		u.User = url.UserPassword(u.User.Username(), "xxxx")
	}
	return u.String()
}

// WriteJSON writes the report as indented JSON.
func (r *Report) WriteJSON(w io.Writer) error {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	_, err = w.Write(append(b, '\n'))
	return err
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

// printer formats PerfTest's lines. On a terminal it also keeps a
// progress bar for -z and -C runs on the last line, redrawn under each
// new line; elsewhere (a file, a pipe, a test) it prints plain lines.
type printer struct {
	out                           io.Writer
	id                            string
	send, recv, confirms, returns bool
	tty                           bool
	start                         time.Time
	bar                           bool // a progress bar is on the last line
}

func newPrinter(out io.Writer, cfg *Config) *printer {
	return &printer{out: out, id: cfg.ID, send: cfg.Producers > 0, recv: cfg.Consumers > 0,
		confirms: cfg.Confirm >= 0, returns: cfg.Mandatory(), tty: isTerminal(out), start: time.Now()}
}

// isTerminal reports whether w is a character device (a terminal).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// clearBar erases the progress bar line before other output.
func (p *printer) clearBar() {
	if p.bar {
		fmt.Fprint(p.out, "\r\033[K")
		p.bar = false
	}
}

// drawBar draws the progress bar (frac 0..1) without a newline.
func (p *printer) drawBar(frac float64) {
	if !p.tty || frac < 0 {
		return
	}
	const width = 40
	n := int(frac*width + 0.5)
	el := time.Since(p.start).Truncate(time.Second)
	fmt.Fprintf(p.out, "[%s%s] %3.0f%% %v", strings.Repeat("#", n), strings.Repeat("-", width-n), frac*100, el)
	p.bar = true
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

// sample prints one interval's line; progress is 0..1 for runs with an
// end (-z, -C, -D), -1 otherwise.
func (p *printer) sample(s *Sample, latCount uint64, progress float64) {
	p.clearBar()
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
	p.drawBar(progress)
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
	p.clearBar()
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

// writeFile writes a report to file with write, atomically (temp file
// and rename), so a reader never sees half a report.
func writeFile(file string, write func(io.Writer) error) error {
	tmp := file + ".tmp"
	f, err := os.Create(tmp)
	if err != nil {
		return err
	}
	err = write(f)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(tmp)
		return err
	}
	return os.Rename(tmp, file)
}

// writeReports writes --json and --html, if set.
func writeReports(cfg *Config, r *Report) error {
	if cfg.JSONFile != "" {
		if err := writeFile(cfg.JSONFile, r.WriteJSON); err != nil {
			return fmt.Errorf("--json: %w", err)
		}
	}
	if cfg.HTMLFile != "" {
		if err := writeFile(cfg.HTMLFile, func(w io.Writer) error { return WriteHTML(w, r) }); err != nil {
			return fmt.Errorf("--html: %w", err)
		}
	}
	return nil
}
