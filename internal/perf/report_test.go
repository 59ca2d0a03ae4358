package perf_test

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"github.com/warrenmq/warren/internal/perf"
	"github.com/warrenmq/warren/internal/warrentest"
)

// runArgs parses args as `warren perf` does and runs them.
func runArgs(t *testing.T, args ...string) (*perf.Report, string, error) {
	t.Helper()
	cfg, err := perf.ParseArgs(args)
	if err != nil {
		t.Fatalf("ParseArgs(%q): %v", args, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var out bytes.Buffer
	rep, err := perf.Run(ctx, cfg, &out)
	t.Logf("warren perf %s\n%s", strings.Join(args, " "), out.String())
	return rep, out.String(), err
}

// keyPaths lists every key of a JSON document as a path (a.b, a[].c),
// array elements merged, so two reports can be compared field by field.
func keyPaths(t *testing.T, file string) []string {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	set := map[string]bool{}
	var walk func(prefix string, v any)
	walk = func(prefix string, v any) {
		switch x := v.(type) {
		case map[string]any:
			for k, e := range x {
				p := k
				if prefix != "" {
					p = prefix + "." + k
				}
				set[p] = true
				walk(p, e)
			}
		case []any:
			for _, e := range x {
				walk(prefix+"[]", e)
			}
		}
	}
	walk("", v)
	var keys []string
	for k := range set {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// TestWarrenAndRabbitMQReports runs the same short workload against Warren
// (the real binary) and a private RabbitMQ 3.10.8, checks that the JSON
// reports carry the same fields, then compares the two brokers in compare
// mode (A = Warren, B = RabbitMQ) and checks the ratios and both reports.
func TestWarrenAndRabbitMQReports(t *testing.T) {
	rmq := warrentest.StartRabbitMQ(t)
	t.Run("client", func(t *testing.T) { checkAgainstRabbitMQ(t, rmq) })
	node := warrentest.Start(t)
	dir := t.TempDir()
	brokers := []struct {
		name, url string
		pid       int
	}{{"warren", node.AMQPURL(), node.PID()}, {"rabbitmq", rmq.AMQPURL, rmq.PID}}
	var keys [][]string
	for _, b := range brokers {
		file := filepath.Join(dir, b.name+".json")
		rep, _, err := runArgs(t, "-h", b.url, "-x", "1", "-y", "1", "-u", "perf-xrun", "-c", "100", "-q", "200", "-r", "3000",
			"-z", "2", "-d", b.name, "--broker-pid", strconv.Itoa(b.pid), "--json", file)
		if err != nil {
			t.Fatalf("%s: %v", b.name, err)
		}
		s := rep.Summary
		if s.Sent == 0 || s.Received == 0 || s.Confirmed == 0 || s.P99Us < s.P50Us || s.BrokerCPUPerMsg <= 0 || s.BrokerRSSKiB <= 0 {
			t.Errorf("%s: summary %+v", b.name, s)
		}
		if len(rep.Samples) == 0 {
			t.Errorf("%s: no samples", b.name)
		}
		keys = append(keys, keyPaths(t, file))
	}
	if !slices.Equal(keys[0], keys[1]) {
		t.Errorf("the reports differ in their fields:\nwarren:   %q\nrabbitmq: %q", keys[0], keys[1])
	}
	for _, k := range []string{"kind", "broker.product", "broker.version", "environment.go_version", "environment.cpus",
		"samples[].received", "samples[].latency_p99_us", "summary.receiving_rate_avg", "summary.broker_cpu_us_per_msg", "command_line"} {
		if !slices.Contains(keys[0], k) {
			t.Errorf("report lacks %s", k)
		}
	}
	var reps [2]perf.Report
	for i, b := range brokers {
		raw, _ := os.ReadFile(filepath.Join(dir, b.name+".json"))
		if err := json.Unmarshal(raw, &reps[i]); err != nil {
			t.Fatal(err)
		}
	}
	if reps[0].Broker.Product != "Warren" || reps[1].Broker.Product != "RabbitMQ" || reps[1].Broker.Version != "3.10.8" {
		t.Errorf("brokers from connection.start: %+v, %+v", reps[0].Broker, reps[1].Broker)
	}

	// Compare mode, A = Warren, B = RabbitMQ, two rounds of a second each.
	jsonFile, htmlFile := filepath.Join(dir, "compare.json"), filepath.Join(dir, "compare.html")
	rep, out, err := runArgs(t, "-h", node.AMQPURL(), "--compare", rmq.AMQPURL, "--rounds", "2", "-z", "1",
		"-x", "1", "-y", "1", "-u", "perf-cmp", "-r", "2000", "-a", "-d", "cmp",
		"--broker-pid", strconv.Itoa(node.PID()), "--compare-pid", strconv.Itoa(rmq.PID), "--json", jsonFile, "--html", htmlFile)
	if err != nil {
		t.Fatal(err)
	}
	c := rep.Compare
	if rep.Kind != "compare" || c == nil || len(c.Rounds) != 2 || c.Ratio != "B/A" {
		t.Fatalf("compare report: %+v", rep)
	}
	if c.BrokerA.Product != "Warren" || c.BrokerB.Product != "RabbitMQ" {
		t.Errorf("compare brokers: %+v / %+v", c.BrokerA, c.BrokerB)
	}
	for _, cr := range c.Rounds {
		if cr.A == nil || cr.B == nil || cr.A.Broker.Product != "Warren" || cr.B.Broker.Product != "RabbitMQ" {
			t.Fatalf("round %d: runs %+v / %+v", cr.Round, cr.A, cr.B)
		}
		for _, m := range []string{"delivered_msg_per_s", "latency_p50_us", "latency_p99_us", "broker_cpu_us_per_msg", "broker_rss_kib"} {
			want := float64(0)
			switch m {
			case "delivered_msg_per_s":
				want = cr.B.Summary.ReceiveRate / cr.A.Summary.ReceiveRate
			case "broker_cpu_us_per_msg":
				want = cr.B.Summary.BrokerCPUPerMsg / cr.A.Summary.BrokerCPUPerMsg
			case "latency_p99_us":
				want = cr.B.Summary.P99Us / cr.A.Summary.P99Us
			}
			got, ok := cr.Ratios[m]
			if !ok || got <= 0 {
				t.Errorf("round %d: ratio %s missing (%v)", cr.Round, m, cr.Ratios)
			} else if want > 0 && (got < want*0.99-0.001 || got > want*1.01+0.001) {
				t.Errorf("round %d: ratio %s = %v, want B/A = %v", cr.Round, m, got, want)
			}
		}
	}
	if len(c.Ratios) != 5 {
		t.Errorf("ratio stats: %+v", c.Ratios)
	}
	for _, s := range c.Ratios {
		if !(s.Min <= s.Median && s.Median <= s.Max && s.Min > 0) {
			t.Errorf("spread of %s: %+v", s.Metric, s)
		}
	}
	for _, w := range []string{"compare: round 1/2, A (", "compare: round 2/2, B (", "compare: B/A ratios over 2 rounds", "delivered msg/s", "broker CPU per message (µs)"} {
		if !strings.Contains(out, w) {
			t.Errorf("output lacks %q", w)
		}
	}
	ck := keyPaths(t, jsonFile)
	for _, k := range []string{"compare.rounds[].a.summary.receiving_rate_avg", "compare.rounds[].b.broker.version", "compare.rounds[].ratios.delivered_msg_per_s", "compare.ratios[].median"} {
		if !slices.Contains(ck, k) {
			t.Errorf("compare JSON lacks %s", k)
		}
	}
	checkHTMLInChromium(t, htmlFile, "perf-compare-warren-rabbitmq", 2*5+1)
}

// TestHTMLReport runs a short load against Warren with --html and opens the
// report in headless Chromium: the charts must be drawn with data.
func TestHTMLReport(t *testing.T) {
	node := warrentest.StartInProc(t, warrentest.InProcConfig{})
	file := filepath.Join(t.TempDir(), "report.html")
	rep, _, err := runArgs(t, "-h", node.URL(), "--preset", "confirm-1", "-z", "3", "-d", "html-test", "--html", file)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Preset != "confirm-1" || rep.Confirm != 1 {
		t.Errorf("preset not applied: %q, -c %d", rep.Preset, rep.Confirm)
	}
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	html := string(b)
	// Self-contained: nothing is fetched, nothing runs.
	for _, bad := range []string{"<script", "src=", "href=", "@import", "url("} {
		if strings.Contains(html, bad) {
			t.Errorf("report contains %q", bad)
		}
	}
	for _, w := range []string{"--preset confirm-1 -z 3 -d html-test", "Message rates", "Consumer latency percentiles", "Environment", "Warren"} {
		if !strings.Contains(html, w) {
			t.Errorf("report lacks %q", w)
		}
	}
	// sent, confirmed, received; p50, p75, p95, p99
	checkHTMLInChromium(t, file, "perf-report", 3+4)
}

// checkHTMLInChromium loads file in headless Chromium, checks that it has
// wantLines or more data polylines or bar groups, each with points and a
// nonzero size on the page, and saves a screenshot.
func checkHTMLInChromium(t *testing.T, file, name string, wantLines int) {
	t.Helper()
	ctx := newChromium(t)
	type result struct {
		Charts, Lines, Bars, EmptyLines, FlatBoxes int
		Titles                                     []string
	}
	err := chromedp.Do(ctx,
		chromedp.EmulateViewport(1100, 900),
		chromedp.Navigate("file://"+file),
		chromedp.WaitReady("#environment"),
	)
	if err != nil {
		t.Fatalf("chromium: %v", err)
	}
	res, err := chromedp.Run(ctx, chromedp.Evaluate[result](`(() => {
			const r = {Charts: 0, Lines: 0, Bars: 0, EmptyLines: 0, FlatBoxes: 0, Titles: []};
			for (const svg of document.querySelectorAll('svg.chart')) {
				r.Charts++;
				r.Titles.push(svg.querySelector('.title').textContent);
				const b = svg.getBoundingClientRect();
				if (b.width < 100 || b.height < 100) r.FlatBoxes++;
			}
			for (const p of document.querySelectorAll('svg.chart polyline.series')) {
				r.Lines++;
				if (p.points.numberOfItems < 1) r.EmptyLines++;
				const b = p.getBBox();
				if (p.points.numberOfItems > 1 && b.width <= 0) r.FlatBoxes++;
			}
			for (const b of document.querySelectorAll('svg.chart rect.bar')) {
				r.Bars++;
				if (b.getBBox().width <= 0) r.FlatBoxes++;
			}
			return r;
		})()`))
	if err != nil {
		t.Fatalf("chromium: %v", err)
	}
	shot, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	t.Logf("%s: %d charts %q, %d lines, %d bars", name, res.Charts, res.Titles, res.Lines, res.Bars)
	if res.Charts < 2 || res.Lines+res.Bars/2 < wantLines || res.EmptyLines > 0 || res.FlatBoxes > 0 {
		t.Errorf("charts not drawn as expected: %+v (want %d or more series)", res, wantLines)
	}
	saveArtifact(t, name+".png", shot)
}

func newChromium(t *testing.T) context.Context {
	t.Helper()
	path := ""
	for _, p := range []string{os.Getenv("WARREN_CHROMIUM"), "/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome"} {
		if p != "" {
			if _, err := os.Stat(p); err == nil {
				path = p
				break
			}
		}
	}
	if path == "" {
		if p, err := exec.LookPath("chromium"); err == nil {
			path = p
		} else {
			t.Fatal("chromium not installed (run scripts/test-deps.sh; `make test` does)")
		}
	}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(path), chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.NoFirstRun, chromedp.NoDefaultBrowserCheck, chromedp.UserDataDir(t.TempDir()),
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true), chromedp.Flag("disable-extensions", true),
		chromedp.Flag("disable-dev-shm-usage", true), chromedp.Flag("no-pings", true),
	}
	actx, cancelA := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelC := chromedp.NewContext(actx)
	tctx, cancelT := context.WithTimeout(ctx, 60*time.Second)
	t.Cleanup(func() { cancelT(); cancelC(); cancelA() })
	// A script error would mean the page is not what WriteHTML meant.
	if err := chromedp.Listen(tctx, func(ev any) {
		if e, ok := ev.(*runtime.EventExceptionThrown); ok {
			t.Errorf("javascript exception: %s", e.ExceptionDetails.Text)
		}
	}); err != nil {
		t.Fatalf("chromium: %v", err)
	}
	return tctx
}

// saveArtifact writes b to $WARREN_ARTIFACTS, or artifacts/ at the root
// of the repository (git-ignored).
func saveArtifact(t *testing.T, name string, b []byte) {
	t.Helper()
	dir := os.Getenv("WARREN_ARTIFACTS")
	if dir == "" {
		dir = filepath.Join("..", "..", "artifacts")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	abs, _ := filepath.Abs(p)
	t.Logf("screenshot: %s", abs)
}
