package perf

import (
	"fmt"
	"html/template"
	"io"
	"time"
)

// WriteHTML writes r as one self-contained HTML page: the charts are inline
// SVG drawn here, the style is inline, and there is no script, so the page
// works offline and passes any content security policy.
func WriteHTML(w io.Writer, r *Report) error {
	return reportTmpl.Execute(w, newHTMLView(r))
}

type kv struct{ K, V string }

type section struct {
	Title  string
	Tiles  []kv // headline numbers
	Charts []template.HTML
	Rows   []kv
}

type roundRow struct {
	Round int
	Cells []string
}

type htmlView struct {
	R        *Report
	Title    string
	Subtitle string
	Sections []section
	Env      []kv
	// compare mode
	Ratios     []RatioStat
	RoundRows  []roundRow
	CompareTop []template.HTML
}

func newHTMLView(r *Report) *htmlView {
	v := &htmlView{R: r, Title: "warren perf: " + r.ID}
	v.Subtitle = fmt.Sprintf("%s · started %s", r.Broker, r.StartTime.Format("2006-01-02 15:04:05 MST"))
	v.Env = []kv{
		{"started", r.StartTime.Format(time.RFC3339)},
		{"broker", brokerLine(r.Broker)},
		{"URIs", joinOr(r.URIs, "-")},
		{"preset", orDash(r.Preset)},
		{"host", r.Environment.Host},
		{"OS / arch", r.Environment.OS + " / " + r.Environment.Arch},
		{"CPUs", fmt.Sprint(r.Environment.CPUs)},
		{"Go", r.Environment.GoVersion},
	}
	switch r.Kind {
	case "compare":
		v.addCompare(r)
	default:
		v.Sections = append(v.Sections, runSection(r, "Results"))
	}
	return v
}

func brokerLine(b Broker) string {
	s := b.String()
	if b.Platform != "" {
		s += " (" + b.Platform + ")"
	}
	if b.ClusterName != "" {
		s += ", cluster " + b.ClusterName
	}
	return s
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func joinOr(ss []string, empty string) string {
	if len(ss) == 0 {
		return empty
	}
	out := ss[0]
	for _, s := range ss[1:] {
		out += ", " + s
	}
	return out
}

// latencyScale picks µs or ms for latencies up to maxUs.
func latencyScale(maxUs float64) (string, float64) {
	if maxUs >= 20000 {
		return "ms", 1000
	}
	return "µs", 1
}

// runSection is the charts and summary of one run (or churn).
func runSection(r *Report, title string) section {
	sec := section{Title: title}
	if r.Kind == "connection-churn" && r.ConnChurn != nil {
		ch := r.ConnChurn
		s := series{Name: "connections/s"}
		for _, x := range ch.Samples {
			s.X, s.Y = append(s.X, x.T), append(s.Y, x.Rate)
		}
		sec.Charts = append(sec.Charts, lineChart{Title: "Connections opened and closed per second", XLabel: "time (s)", YLabel: "connections/s", Series: []series{s}}.SVG())
		sec.Tiles = []kv{{"connections/s", fmtNum(ch.Rate)}, {"open p50", fmtNum(ch.OpenLatency.P50Us) + " µs"}, {"open p99", fmtNum(ch.OpenLatency.P99Us) + " µs"}}
		if ch.BrokerCPUPerConn > 0 {
			sec.Tiles = append(sec.Tiles, kv{"broker CPU / connection", fmtNum(ch.BrokerCPUPerConn) + " µs"})
		}
		sec.Rows = []kv{
			{"connections", fmt.Sprint(ch.Connections)},
			{"at a time (-x)", fmt.Sprint(ch.Parallel)},
			{"duration", fmt.Sprintf("%.3f s", ch.DurationS)},
			{"connections/s", fmtNum(ch.Rate)},
			{"open latency min/p50/p75/p95/p99", latencyString(ch.OpenLatency) + " µs"},
			{"broker CPU", cpuLine(ch.BrokerCPUS, ch.BrokerCPUPerConn, "connection")},
			{"broker RSS", rssLine(ch.BrokerRSSKiB)},
			{"client CPU", cpuLine(ch.ClientCPUS, ch.ClientCPUPerConn, "connection")},
		}
		return sec
	}
	rates := []series{{Name: "sent"}, {Name: "confirmed"}, {Name: "received"}, {Name: "nacked"}, {Name: "returned"}}
	maxLat := 0.0
	for _, x := range r.Samples {
		for i, y := range []float64{x.Sent, x.Confirmed, x.Received, x.Nacked, x.Returned} {
			rates[i].X, rates[i].Y = append(rates[i].X, x.T), append(rates[i].Y, y)
		}
		maxLat = max(maxLat, x.P99Us)
	}
	var shown []series
	for i, s := range rates {
		use := map[string]bool{"sent": r.Producers > 0, "confirmed": r.Producers > 0 && r.Confirm >= 0,
			"received": r.Consumers > 0, "nacked": r.Summary.Nacked > 0, "returned": r.Summary.Returned > 0}[s.Name]
		if use {
			s.Color = palette[i]
			shown = append(shown, s)
		}
	}
	sec.Charts = append(sec.Charts, lineChart{Title: "Message rates", XLabel: "time (s)", YLabel: "msg/s", Series: shown}.SVG())
	if r.Consumers > 0 {
		unit, div := latencyScale(maxLat)
		lat := []series{{Name: "p50"}, {Name: "p75"}, {Name: "p95"}, {Name: "p99"}}
		for _, x := range r.Samples {
			if x.P50Us == 0 && x.P99Us == 0 {
				continue // nothing received in this interval
			}
			for i, y := range []float64{x.P50Us, x.P75Us, x.P95Us, x.P99Us} {
				lat[i].X, lat[i].Y = append(lat[i].X, x.T), append(lat[i].Y, y/div)
			}
		}
		for i := range lat {
			lat[i].Color = []string{"#009E73", "#56B4E9", "#E69F00", "#D55E00"}[i]
		}
		sec.Charts = append(sec.Charts, lineChart{Title: "Consumer latency percentiles", XLabel: "time (s)", YLabel: "latency (" + unit + ")", Series: lat}.SVG())
	}
	s := r.Summary
	if r.Producers > 0 {
		sec.Tiles = append(sec.Tiles, kv{"sent msg/s", formatRate(s.SendRate)})
	}
	if r.Consumers > 0 {
		unit, div := latencyScale(s.P99Us)
		sec.Tiles = append(sec.Tiles, kv{"received msg/s", formatRate(s.ReceiveRate)},
			kv{"latency p50", fmtNum(s.P50Us/div) + " " + unit}, kv{"latency p99", fmtNum(s.P99Us/div) + " " + unit})
	}
	if s.BrokerCPUPerMsg > 0 {
		sec.Tiles = append(sec.Tiles, kv{"broker CPU / msg", fmtNum(s.BrokerCPUPerMsg) + " µs"})
	}
	confirm := "off"
	if r.Confirm == 0 {
		confirm = "on, unbounded"
	} else if r.Confirm > 0 {
		confirm = fmt.Sprintf("on, %d in flight", r.Confirm)
	}
	sec.Rows = []kv{
		{"duration", fmt.Sprintf("%.3f s", s.DurationS)},
		{"producers / consumers", fmt.Sprintf("%d / %d", r.Producers, r.Consumers)},
		{"message size", fmt.Sprintf("%d bytes", r.Size)},
		{"confirms", confirm},
		{"flags", joinOr(r.Flags, "-")},
		{"sent / confirmed / nacked / returned", fmt.Sprintf("%d / %d / %d / %d", s.Sent, s.Confirmed, s.Nacked, s.Returned)},
		{"received", fmt.Sprint(s.Received)},
		{"sending rate avg", formatRate(s.SendRate) + " msg/s"},
		{"receiving rate avg", formatRate(s.ReceiveRate) + " msg/s"},
		{"latency min/p50/p75/p95/p99", latencyString(s.Latency) + " µs"},
		{"latency max", formatRate(s.MaxUs) + " µs"},
		{"broker CPU", cpuLine(s.BrokerCPUS, s.BrokerCPUPerMsg, "message")},
		{"broker RSS", rssLine(s.BrokerRSSKiB)},
		{"client CPU", cpuLine(s.ClientCPUS, s.ClientCPUPerMsg, "message")},
	}
	return sec
}

func cpuLine(s, per float64, unit string) string {
	if s == 0 && per == 0 {
		return "- (no --broker-pid)"
	}
	return fmt.Sprintf("%.2f s, %.2f µs per %s", s, per, unit)
}

func rssLine(kib int64) string {
	if kib == 0 {
		return "-"
	}
	return fmt.Sprintf("%.1f MiB", float64(kib)/1024)
}

func (v *htmlView) addCompare(r *Report) {
	c := r.Compare
	v.Subtitle = fmt.Sprintf("compare: A = %s, B = %s · started %s", c.BrokerA, c.BrokerB, r.StartTime.Format("2006-01-02 15:04:05 MST"))
	v.Env = append(v.Env[:1], append([]kv{{"broker A", c.A + " · " + brokerLine(c.BrokerA)}, {"broker B", c.B + " · " + brokerLine(c.BrokerB)}}, v.Env[3:]...)...)
	v.Ratios = c.Ratios
	if len(c.Rounds) == 0 || c.Rounds[0].A == nil {
		return
	}
	metrics := metricsOf(c.Rounds[0].A)
	var groups []string
	for _, cr := range c.Rounds {
		if cr.A == nil || cr.B == nil {
			continue
		}
		groups = append(groups, fmt.Sprintf("round %d", cr.Round))
		for _, m := range metrics {
			if ratio, ok := cr.Ratios[m.key]; ok {
				v.RoundRows = append(v.RoundRows, roundRow{Round: cr.Round, Cells: []string{m.label, fmtNum(m.get(cr.A)), fmtNum(m.get(cr.B)), fmt.Sprintf("%.3f", ratio)}})
			}
		}
	}
	// One bar chart per compared metric: A and B side by side per round.
	for _, m := range metrics {
		if _, ok := c.Rounds[0].Ratios[m.key]; !ok {
			continue
		}
		a, b := series{Name: "A " + c.BrokerA.String(), Color: palette[0]}, series{Name: "B " + c.BrokerB.String(), Color: palette[1]}
		for _, cr := range c.Rounds {
			if cr.A != nil && cr.B != nil {
				a.Y, b.Y = append(a.Y, m.get(cr.A)), append(b.Y, m.get(cr.B))
			}
		}
		v.CompareTop = append(v.CompareTop, barChart{Title: m.label, YLabel: m.label, Groups: groups, Series: []series{a, b}}.SVG())
	}
	// The delivered rate of every run over time, A solid and B dashed.
	if c.Rounds[0].A.Kind == "run" {
		var ss []series
		for _, cr := range c.Rounds {
			for _, side := range []struct {
				r     *Report
				name  string
				color string
				dash  bool
			}{{cr.A, "A", palette[0], false}, {cr.B, "B", palette[1], true}} {
				if side.r == nil {
					continue
				}
				s := series{Name: fmt.Sprintf("%s round %d", side.name, cr.Round), Color: side.color, Dash: side.dash}
				for _, x := range side.r.Samples {
					y := x.Received
					if side.r.Consumers == 0 {
						y = x.Sent
					}
					s.X, s.Y = append(s.X, x.T), append(s.Y, y)
				}
				ss = append(ss, s)
			}
		}
		v.Sections = append(v.Sections, section{Title: "Delivered msg/s of every run",
			Charts: []template.HTML{lineChart{Title: "Delivered msg/s per run (A solid, B dashed)", XLabel: "time into the run (s)", YLabel: "msg/s", Series: ss}.SVG()}})
	}
	for _, cr := range c.Rounds {
		if cr.A != nil {
			v.Sections = append(v.Sections, runSection(cr.A, fmt.Sprintf("Round %d, A: %s", cr.Round, cr.A.Broker)))
		}
		if cr.B != nil {
			v.Sections = append(v.Sections, runSection(cr.B, fmt.Sprintf("Round %d, B: %s", cr.Round, cr.B.Broker)))
		}
	}
}

var htmlFuncs = template.FuncMap{
	"num": fmtNum,
	// verdict colours a B/A median: green when B is better than A.
	"verdict": func(s RatioStat) string {
		switch {
		case s.Median == 1:
			return ""
		case (s.Median > 1) == s.HigherIsBet:
			return "better"
		}
		return "worse"
	},
}

var reportTmpl = template.Must(template.New("report").Funcs(htmlFuncs).Parse(`<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{.Title}}</title>
<style>
:root { --fg: #1d2530; --muted: #5b6776; --line: #d9dee5; --bg: #f5f7fa; --card: #fff; --accent: #0072B2; }
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; color: var(--fg); background: var(--bg); }
header { background: #1d2530; color: #fff; padding: 18px 32px; }
header h1 { margin: 0; font-size: 22px; font-weight: 600; }
header p { margin: 4px 0 0; color: #c5cdd8; }
main { max-width: 1040px; margin: 0 auto; padding: 20px 24px 40px; }
.card { background: var(--card); border: 1px solid var(--line); border-radius: 8px; padding: 16px 20px; margin: 0 0 18px; }
h2 { font-size: 17px; margin: 0 0 12px; }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; padding: 5px 10px 5px 0; border-bottom: 1px solid var(--line); vertical-align: top; }
th { color: var(--muted); font-weight: 500; white-space: nowrap; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
table.kv th { width: 260px; }
pre { margin: 0; padding: 10px 12px; background: #f0f2f5; border-radius: 6px; white-space: pre-wrap; word-break: break-all; font: 13px/1.4 ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; }
.charts { display: flex; flex-wrap: wrap; gap: 8px; }
svg.chart { max-width: 100%; height: auto; background: #fff; }
svg .title { font-size: 15px; font-weight: 600; fill: var(--fg); }
svg .legend { font-size: 12px; fill: var(--fg); }
svg .grid { stroke: #e6e9ee; stroke-width: 1; }
svg .axis { stroke: #7a8594; stroke-width: 1; }
svg .ref { stroke: #7a8594; stroke-width: 1; stroke-dasharray: 4 3; }
svg .xtick { font-size: 11px; fill: var(--muted); text-anchor: middle; }
svg .ytick { font-size: 11px; fill: var(--muted); text-anchor: end; }
svg .xlabel, svg .ylabel { font-size: 12px; fill: var(--muted); text-anchor: middle; }
svg .empty { font-size: 13px; fill: var(--muted); text-anchor: middle; }
svg polyline.series { fill: none; stroke-linejoin: round; stroke-linecap: round; }
.better { color: #0a7d45; font-weight: 600; }
.worse { color: #b3261e; font-weight: 600; }
.tiles { display: flex; flex-wrap: wrap; gap: 12px; margin: 0 0 12px; }
.tile { flex: 1 1 150px; border: 1px solid var(--line); border-radius: 6px; padding: 10px 14px; background: #fafbfc; }
.tile .v { font-size: 22px; font-weight: 600; font-variant-numeric: tabular-nums; }
.tile .k { color: var(--muted); font-size: 12px; }
.note { color: var(--muted); font-size: 13px; margin: 8px 0 0; }
</style>
</head>
<body>
<header><h1>{{.Title}}</h1><p>{{.Subtitle}}</p></header>
<main>
{{if .R.Compare}}
<section class="card" id="ratios">
<h2>B/A ratios over {{len .R.Compare.Rounds}} rounds</h2>
<table>
<tr><th>metric</th><th class="num">A (median)</th><th class="num">B (median)</th><th class="num">B/A min</th><th class="num">B/A median</th><th class="num">B/A max</th></tr>
{{range .Ratios}}<tr><td>{{.Label}}</td><td class="num">{{num .MedianA}}</td><td class="num">{{num .MedianB}}</td><td class="num">{{printf "%.3f" .Min}}</td><td class="num {{verdict .}}">{{printf "%.3f" .Median}}</td><td class="num">{{printf "%.3f" .Max}}</td></tr>
{{end}}</table>
<p class="note">Runs alternate A B A B …; each ratio is B's value over A's in the same round. Green: B better, red: B worse.</p>
</section>
<section class="card" id="rounds">
<h2>Rounds</h2>
<table>
<tr><th>round</th><th>metric</th><th class="num">A</th><th class="num">B</th><th class="num">B/A</th></tr>
{{range .RoundRows}}<tr><td>{{.Round}}</td>{{range $i, $c := .Cells}}<td{{if $i}} class="num"{{end}}>{{$c}}</td>{{end}}</tr>
{{end}}</table>
<div class="charts">{{range .CompareTop}}{{.}}{{end}}</div>
</section>
{{end}}
{{range .Sections}}
<section class="card">
{{if .Title}}<h2>{{.Title}}</h2>{{end}}
{{if .Tiles}}<div class="tiles">{{range .Tiles}}<div class="tile"><div class="v">{{.V}}</div><div class="k">{{.K}}</div></div>{{end}}</div>{{end}}
<div class="charts">{{range .Charts}}{{.}}{{end}}</div>
{{if .Rows}}<table class="kv">{{range .Rows}}<tr><th>{{.K}}</th><td>{{.V}}</td></tr>{{end}}</table>{{end}}
</section>
{{end}}
<section class="card" id="command">
<h2>Command line</h2>
<pre>{{.R.CommandLine}}</pre>
</section>
<section class="card" id="environment">
<h2>Environment</h2>
<table class="kv">{{range .Env}}<tr><th>{{.K}}</th><td>{{.V}}</td></tr>{{end}}</table>
</section>
</main>
</body>
</html>
`))
