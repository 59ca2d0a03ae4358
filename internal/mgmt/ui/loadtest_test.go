package ui_test

// The Load test page against a real Warren node (warrentest.Start): an
// administrator starts a preset, watches the charts move, stops the run
// and downloads its reports; a non-administrator has no Load test entry
// and gets 403 from its API.

import (
	"bytes"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	cdpbrowser "github.com/chromedp/cdproto/browser"
	"github.com/chromedp/chromedp"
	"github.com/warrenmq/warren/internal/warrentest"
)

// apiAs calls the node's HTTP API as user.
func apiAs(t *testing.T, base, method, path, user, pass string, body any) (int, []byte) {
	t.Helper()
	var rd *bytes.Reader
	if body != nil {
		raw, _ := json.Marshal(body)
		rd = bytes.NewReader(raw)
	} else {
		rd = bytes.NewReader(nil)
	}
	req, err := http.NewRequest(method, base+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	req.SetBasicAuth(user, pass)
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var b bytes.Buffer
	b.ReadFrom(res.Body)
	return res.StatusCode, b.Bytes()
}

// waitFile waits for a finished download (Chromium writes .crdownload
// first) and returns its content.
func waitFile(t *testing.T, path string) []byte {
	t.Helper()
	var data []byte
	warrentest.Eventually(t, 20*time.Second, func() bool {
		b, err := os.ReadFile(path)
		if err != nil || len(b) == 0 {
			return false
		}
		data = b
		return true
	})
	return data
}

func TestUILoadTest(t *testing.T) {
	if testing.Short() {
		t.Skip("browser test")
	}
	chromiumPath(t)
	n := warrentest.Start(t, warrentest.WithWait("amqp", "http"))
	base := "http://" + n.Addr["http"]
	if code, body := apiAs(t, base, "PUT", "/api/users/lt-viewer", "guest", "guest",
		map[string]any{"password": "lt-viewer", "tags": "management"}); code != http.StatusCreated {
		t.Fatalf("create user: %d %s", code, body)
	}

	b := newBrowser(t, base, 1440, 1000)
	downloads := t.TempDir()
	if _, err := chromedp.CallBrowser(b.ctx, cdpbrowser.SetDownloadBehavior, cdpbrowser.SetDownloadBehaviorParams{
		Behavior: cdpbrowser.SetDownloadBehaviorBehaviorAllow, DownloadPath: downloads}); err != nil {
		t.Fatalf("download behaviour: %v", err)
	}
	b.do("open", chromedpNavigate(base+"/"))
	b.loginOK("guest", "guest")

	// The administrator has the entry; it opens the page.
	b.waitJS("Load test in the nav", `!document.querySelector('.nav-link[data-nav=loadtest]').hidden`, 15*time.Second)
	b.click(".nav-link[data-nav=loadtest]")
	b.waitJS("load test page", `document.querySelector('.page[data-page=loadtest] #lt-form') !== null`, 15*time.Second)
	b.waitJS("presets", `document.querySelectorAll('#lt-preset option').length > 5`, 10*time.Second)
	if dis := eval[bool](b, `document.querySelector('#lt-preset option[value="1000-queues"]').disabled`); !dis {
		t.Errorf("the 1000-queues preset (over the caps) can be chosen")
	}
	b.screenshot("warren-loadtest-empty")

	// Start a preset: 1 producer at a fixed 2,000 msg/s, 1 consumer.
	b.setField("#lt-preset", "fixed-rate")
	if info := b.text("#lt-preset-info"); !strings.Contains(info, "2,000 msg/s") || !strings.Contains(info, "-r 2000") {
		t.Errorf("preset info = %q", info)
	}
	b.setField("#lt-duration", "120")
	b.click("#lt-start")
	b.waitJS("running", `document.querySelector('#lt-state') && document.querySelector('#lt-state').innerText === 'running'`, 15*time.Second)
	if !eval[bool](b, `document.querySelector('#lt-start').disabled`) {
		t.Errorf("Start is enabled while a run is running")
	}

	// The charts move: samples arrive each second and redraw the same SVG.
	rate := `document.querySelector('#lt-rates .chart-line[data-series=sent]').getAttribute('d')`
	b.waitJS("two samples", `Number(document.querySelector('#lt-rates').dataset.samples) >= 2`, 20*time.Second)
	b.do("mark the chart", chromedpEval(`window.__svg = document.querySelector('#lt-rates svg'); window.__d = `+rate+`; window.__n = Number(document.querySelector('#lt-rates').dataset.samples)`))
	b.waitJS("more samples, new path", `Number(document.querySelector('#lt-rates').dataset.samples) >= window.__n + 2 && document.querySelector('#lt-rates svg') === window.__svg && `+rate+` !== window.__d`, 20*time.Second)
	b.waitJS("publish rate shown", `parseFloat(document.querySelector('#lt-rates .lg-item[data-series=sent] .lg-value').textContent.replace(/,/g, '')) > 100`, 10*time.Second)
	for _, sel := range []string{
		"#lt-latency .chart-line[data-series=p50]", "#lt-latency .chart-line[data-series=p99]",
		"#lt-depth .chart-line[data-series=total]", "#lt-memory .chart-line[data-series=mem]",
	} {
		if d := eval[string](b, `document.querySelector('`+sel+`').getAttribute('d') || ''`); strings.Count(d, "L") < 1 {
			t.Errorf("%s has no line: %q", sel, d)
		}
	}
	if q := b.text("#lt-status"); !strings.Contains(q, "perf-fixed-rate") || !strings.Contains(q, "--preset fixed-rate") {
		t.Errorf("status lacks the queue or the command line:\n%s", q)
	}
	b.screenshot("warren-loadtest-running")

	// Stop it: the reports can be downloaded.
	b.click("#lt-stop")
	b.waitJS("stopped", `document.querySelector('#lt-state').innerText === 'stopped' && document.querySelector('#lt-status .lt-dl[data-kind=html]') !== null`, 20*time.Second)
	id := b.text("#lt-id")
	b.waitJS("listed as stopped", `[...document.querySelectorAll('#lt-runs tbody tr')].some(tr => tr.innerText.includes('`+id+`') && tr.innerText.includes('stopped'))`, 15*time.Second)
	b.click("#lt-status .lt-dl[data-kind=html]")
	html := waitFile(t, filepath.Join(downloads, "warren-perf-"+id+".html"))
	if s := string(html); !strings.Contains(s, "<svg") || !strings.Contains(s, id) {
		t.Errorf("downloaded HTML report (%d bytes) has no chart or id", len(html))
	}
	b.click("#lt-status .lt-dl[data-kind=json]")
	var rep struct {
		Kind    string           `json:"kind"`
		Preset  string           `json:"preset"`
		Samples []map[string]any `json:"samples"`
	}
	if err := json.Unmarshal(waitFile(t, filepath.Join(downloads, "warren-perf-"+id+".json")), &rep); err != nil {
		t.Fatalf("downloaded JSON report: %v", err)
	}
	if rep.Kind != "run" || rep.Preset != "fixed-rate" || len(rep.Samples) < 4 {
		t.Errorf("JSON report: kind %q preset %q, %d samples", rep.Kind, rep.Preset, len(rep.Samples))
	}
	b.screenshot("warren-loadtest-stopped")
	// The finished run in the dark scheme and on a phone.
	b.colorScheme("dark")
	b.screenshot("warren-loadtest-dark")
	b.colorScheme("light")
	b.viewport(390, 844)
	b.screenshot("warren-loadtest-phone")
	b.viewport(1440, 1000)
	b.checkProblems()

	// A non-administrator: no entry, a notice on the page, 403 from the API.
	b.click("#logout")
	b.loginOK("lt-viewer", "lt-viewer")
	b.goTo("#/", "overview")
	if eval[bool](b, `document.querySelector('.nav-link[data-nav=loadtest]') !== null`) {
		t.Errorf("a management user has the Load test entry")
	}
	status := eval[float64](b, `fetch('api/warren/load-tests', {headers: {Authorization: 'Basic ' + sessionStorage.getItem('warren.auth')}}).then(r => r.status)`)
	if status != http.StatusForbidden {
		t.Errorf("the API answered the management user %v, want 403", status)
	}
	b.goTo("#/load-test", "loadtest")
	b.waitJS("forbidden notice", `document.querySelector('#lt-forbidden') !== null`, 10*time.Second)
	b.screenshot("warren-loadtest-forbidden")
	if code, body := apiAs(t, base, "POST", "/api/warren/load-tests", "lt-viewer", "lt-viewer", map[string]any{"preset": "fixed-rate"}); code != http.StatusForbidden || !strings.Contains(string(body), "not_authorised") {
		t.Errorf("POST as a management user: %d %s", code, body)
	}
	b.checkProblems()
}
