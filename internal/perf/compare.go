package perf

import (
	"context"
	"fmt"
	"io"
	"math"
	"slices"
	"strings"
	"time"
)

// Compare is a compare-mode run: the same workload alternately against
// broker A (--uri) and B (--compare), A B A B ..., and the B/A ratio of
// each metric per round, with its spread over the rounds. On a shared
// machine only such ratios, measured side by side, are to be trusted.
type Compare struct {
	A       string         `json:"a"` // URI, password masked
	B       string         `json:"b"`
	BrokerA Broker         `json:"broker_a"`
	BrokerB Broker         `json:"broker_b"`
	Ratio   string         `json:"ratio"` // always "B/A"
	Rounds  []CompareRound `json:"rounds"`
	Ratios  []RatioStat    `json:"ratios"`
}

// CompareRound is one A run and the B run after it.
type CompareRound struct {
	Round  int                `json:"round"`
	A      *Report            `json:"a"`
	B      *Report            `json:"b"`
	Ratios map[string]float64 `json:"ratios"` // metric key -> B/A
}

// RatioStat is one metric over the rounds: the medians of A's and B's
// values and the min, median and max of the per-round B/A ratios.
type RatioStat struct {
	Metric      string  `json:"metric"`
	Label       string  `json:"label"`
	HigherIsBet bool    `json:"higher_is_better"`
	MedianA     float64 `json:"median_a"`
	MedianB     float64 `json:"median_b"`
	Min         float64 `json:"min"`
	Median      float64 `json:"median"`
	Max         float64 `json:"max"`
}

type metricDef struct {
	key, label string
	higher     bool
	get        func(*Report) float64
}

// metricsOf lists the metrics compared for runs like rep.
func metricsOf(rep *Report) []metricDef {
	if rep.Kind == "connection-churn" {
		return []metricDef{
			{"connections_per_s", "connections/s", true, func(r *Report) float64 { return r.ConnChurn.Rate }},
			{"open_latency_p50_us", "open latency p50 (µs)", false, func(r *Report) float64 { return r.ConnChurn.OpenLatency.P50Us }},
			{"open_latency_p99_us", "open latency p99 (µs)", false, func(r *Report) float64 { return r.ConnChurn.OpenLatency.P99Us }},
			{"broker_cpu_us_per_connection", "broker CPU per connection (µs)", false, func(r *Report) float64 { return r.ConnChurn.BrokerCPUPerConn }},
			{"broker_rss_kib", "broker RSS (KiB)", false, func(r *Report) float64 { return float64(r.ConnChurn.BrokerRSSKiB) }},
		}
	}
	delivered := func(r *Report) float64 {
		if r.Consumers > 0 {
			return r.Summary.ReceiveRate
		}
		return r.Summary.SendRate
	}
	return []metricDef{
		{"delivered_msg_per_s", "delivered msg/s", true, delivered},
		{"latency_p50_us", "latency p50 (µs)", false, func(r *Report) float64 { return r.Summary.P50Us }},
		{"latency_p99_us", "latency p99 (µs)", false, func(r *Report) float64 { return r.Summary.P99Us }},
		{"broker_cpu_us_per_msg", "broker CPU per message (µs)", false, func(r *Report) float64 { return r.Summary.BrokerCPUPerMsg }},
		{"broker_rss_kib", "broker RSS (KiB)", false, func(r *Report) float64 { return float64(r.Summary.BrokerRSSKiB) }},
	}
}

// runCompare runs cfg against A and B in turn, cfg.Rounds times.
func runCompare(ctx context.Context, cfg *Config, out io.Writer, onSample func(Sample)) (*Report, error) {
	start := time.Now()
	rep := newReport(cfg, "compare", start)
	cmp := &Compare{A: strings.Join(rep.URIs, ","), B: MaskURI(cfg.Compare), Ratio: "B/A"}
	rep.Compare = cmp
	side := func(round int, b bool) *Config {
		c := *cfg
		c.Compare, c.JSONFile, c.HTMLFile, c.CPUProfile = "", "", "", ""
		c.ComparePID = 0
		name := "A"
		if b {
			name = "B"
			c.URIs = []string{cfg.Compare}
			c.BrokerPID = cfg.ComparePID
		}
		c.ID = fmt.Sprintf("%s-r%d-%s", cfg.ID, round, name)
		return &c
	}
	for round := 1; round <= cfg.Rounds; round++ {
		cr := CompareRound{Round: round, Ratios: map[string]float64{}}
		for _, b := range []bool{false, true} {
			c := side(round, b)
			which, uri := "A", cmp.A
			if b {
				which, uri = "B", cmp.B
			}
			fmt.Fprintf(out, "compare: round %d/%d, %s (%s)\n", round, cfg.Rounds, which, uri)
			r, err := runOne(ctx, c, out, onSample)
			if r != nil {
				if b {
					cr.B = r
				} else {
					cr.A = r
				}
			}
			if err != nil {
				if r != nil || cr.A != nil {
					cmp.Rounds = append(cmp.Rounds, cr)
				}
				return rep, fmt.Errorf("compare round %d, %s: %w", round, which, err)
			}
			if ctx.Err() != nil {
				return rep, nil // interrupted: what was measured so far
			}
		}
		cmp.BrokerA, cmp.BrokerB = cr.A.Broker, cr.B.Broker
		for _, m := range metricsOf(cr.A) {
			if a, b := m.get(cr.A), m.get(cr.B); a > 0 && b > 0 {
				cr.Ratios[m.key] = round3(b / a)
			}
		}
		cmp.Rounds = append(cmp.Rounds, cr)
		printRound(out, cr)
	}
	rep.Broker = cmp.BrokerA
	cmp.Ratios = ratioStats(cmp.Rounds)
	printRatios(out, cmp)
	return rep, nil
}

func round3(v float64) float64 { return math.Round(v*1000) / 1000 }

func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := slices.Clone(v)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// ratioStats summarises each metric's per-round ratios; a metric missing
// from any round (no --broker-pid, say) is left out.
func ratioStats(rounds []CompareRound) []RatioStat {
	if len(rounds) == 0 {
		return []RatioStat{}
	}
	out := []RatioStat{}
	for _, m := range metricsOf(rounds[0].A) {
		var rs, as, bs []float64
		for _, r := range rounds {
			v, ok := r.Ratios[m.key]
			if !ok {
				break
			}
			rs, as, bs = append(rs, v), append(as, m.get(r.A)), append(bs, m.get(r.B))
		}
		if len(rs) != len(rounds) {
			continue
		}
		out = append(out, RatioStat{
			Metric: m.key, Label: m.label, HigherIsBet: m.higher,
			MedianA: round3(median(as)), MedianB: round3(median(bs)),
			Min: slices.Min(rs), Median: round3(median(rs)), Max: slices.Max(rs),
		})
	}
	return out
}

func printRound(out io.Writer, cr CompareRound) {
	var parts []string
	for _, m := range metricsOf(cr.A) {
		if v, ok := cr.Ratios[m.key]; ok {
			parts = append(parts, fmt.Sprintf("%s A %s B %s B/A %.3f", m.label, fmtNum(m.get(cr.A)), fmtNum(m.get(cr.B)), v))
		}
	}
	fmt.Fprintf(out, "compare: round %d: %s\n", cr.Round, strings.Join(parts, "; "))
}

func printRatios(out io.Writer, cmp *Compare) {
	fmt.Fprintf(out, "compare: B/A ratios over %d rounds; A = %s (%s), B = %s (%s)\n", len(cmp.Rounds), cmp.A, cmp.BrokerA, cmp.B, cmp.BrokerB)
	w := len("metric")
	for _, s := range cmp.Ratios {
		w = max(w, len([]rune(s.Label)))
	}
	pad := func(s string) string { return s + strings.Repeat(" ", w-len([]rune(s))) }
	fmt.Fprintf(out, "%s  %10s  %10s  %8s  %10s  %8s\n", pad("metric"), "A (median)", "B (median)", "B/A min", "B/A median", "B/A max")
	for _, s := range cmp.Ratios {
		fmt.Fprintf(out, "%s  %10s  %10s  %8.3f  %10.3f  %8.3f\n", pad(s.Label), fmtNum(s.MedianA), fmtNum(s.MedianB), s.Min, s.Median, s.Max)
	}
}

// fmtNum prints a measurement: integers from 100 up, else 3 significant digits.
func fmtNum(v float64) string {
	if math.Abs(v) >= 100 {
		return fmt.Sprintf("%.0f", v)
	}
	return fmt.Sprintf("%.3g", v)
}
