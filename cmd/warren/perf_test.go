package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/warrenmq/warren/internal/warrentest"
)

func TestPerfHelp(t *testing.T) {
	for _, args := range [][]string{{"perf", "--help"}, {"perf", "-?"}, {"help", "perf"}} {
		code, out, errOut := execute(args...)
		if code != exitOK {
			t.Fatalf("%v: exit %d, stderr %q", args, code, errOut)
		}
		for _, w := range []string{"-x, --producers", "-y, --consumers", "-u, --queue", "-s, --size", "-f, --flag",
			"-c, --confirm", "-q, --qos", "-r, --rate", "-z, --time", "-C, --pmessages", "-D, --cmessages",
			"-e, --exchange", "-t, --type", "-k, --routing-key", "-a, --autoack", "-A, --multi-ack-every",
			"-i, --interval", "-p, --predeclared", "-h, --uri", "--queue-pattern", "--json", "--auto-delete",
			"--html", "--preset", "--list-presets", "--compare", "--rounds", "--compare-pid", "--connection-churn",
			"--quorum-queue", "--nack", "--requeue", "-R, --consumer-rate", "--queue-args", "warren perf presets"} {
			if !strings.Contains(out, w) {
				t.Errorf("%v: help lacks %q", args, w)
			}
		}
	}
}

func TestPerfCommand(t *testing.T) {
	node := warrentest.StartInProc(t, warrentest.InProcConfig{})
	// -h is the URI, as in PerfTest; -ad false is PerfTest's two-letter option.
	code, out, errOut := execute("perf", "-h", node.URL(), "-x", "1", "-y", "1", "-u", "cli", "-C", "100", "-ad", "false", "-d", "cli")
	if code != exitOK {
		t.Fatalf("exit %d: %s%s", code, out, errOut)
	}
	if !strings.Contains(out, "id: cli, sent 100, confirmed 0, returned 0, received 100 messages") {
		t.Errorf("output:\n%s", out)
	}
	for _, args := range [][]string{{"perf", "--nope"}, {"perf", "-f", "bogus"}, {"perf", "stray"}} {
		if code, _, errOut := execute(args...); code != exitUsage {
			t.Errorf("%v: exit %d (want %d), stderr %q", args, code, exitUsage, errOut)
		}
	}
	if code, _, errOut := execute("perf", "-h", "amqp://guest:guest@127.0.0.1:1/", "-C", "1"); code != exitError || !strings.Contains(errOut, "127.0.0.1:1") {
		t.Errorf("unreachable broker: exit %d, stderr %q", code, errOut)
	}
}

func TestPerfPresets(t *testing.T) {
	for _, args := range [][]string{{"perf", "presets"}, {"perf", "--list-presets"}} {
		code, out, errOut := execute(args...)
		if code != exitOK {
			t.Fatalf("%v: exit %d, %s", args, code, errOut)
		}
		for _, w := range []string{"1p1c", "publish-only", "drain", "fanout-10", "confirm-1", "many-publishers", "1000-queues", "multi-ack", "ttl", "nack", "connection-churn", "-t fanout -e perf-fanout"} {
			if !strings.Contains(out, w) {
				t.Errorf("%v: no %q in\n%s", args, w, out)
			}
		}
	}
	if code, _, errOut := execute("perf", "--preset", "nosuch"); code != exitUsage || !strings.Contains(errOut, `"nosuch": no such preset`) {
		t.Errorf("unknown preset: exit %d, %q", code, errOut)
	}
}

// TestPerfCompareAndReports: a preset, overridden, in compare mode between
// two Warren nodes, with both reports written.
func TestPerfCompareAndReports(t *testing.T) {
	a := warrentest.StartInProc(t, warrentest.InProcConfig{})
	b := warrentest.StartInProc(t, warrentest.InProcConfig{})
	dir := t.TempDir()
	jsonFile, htmlFile := filepath.Join(dir, "c.json"), filepath.Join(dir, "c.html")
	code, out, errOut := execute("perf", "-h", a.URL(), "--compare", b.URL(), "--rounds", "2", "--preset", "1p1c", "-r", "1000", "-z", "1",
		"-d", "cli-cmp", "--json", jsonFile, "--html", htmlFile)
	if code != exitOK {
		t.Fatalf("exit %d: %s%s", code, out, errOut)
	}
	for _, w := range []string{"compare: round 1/2, A (", "compare: round 2/2, B (", "id: cli-cmp-r2-B, sending rate avg:", "compare: B/A ratios over 2 rounds", "delivered msg/s"} {
		if !strings.Contains(out, w) {
			t.Errorf("output lacks %q:\n%s", w, out)
		}
	}
	raw, err := os.ReadFile(jsonFile)
	if err != nil {
		t.Fatal(err)
	}
	var rep struct {
		Kind, Preset string
		Compare      struct {
			Ratio  string
			Rounds []struct {
				Ratios map[string]float64
			}
		}
	}
	if err := json.Unmarshal(raw, &rep); err != nil {
		t.Fatal(err)
	}
	if rep.Kind != "compare" || rep.Preset != "1p1c" || rep.Compare.Ratio != "B/A" || len(rep.Compare.Rounds) != 2 || rep.Compare.Rounds[1].Ratios["delivered_msg_per_s"] <= 0 {
		t.Errorf("compare report: %s", raw)
	}
	html, err := os.ReadFile(htmlFile)
	if err != nil || !strings.Contains(string(html), "B/A ratios over 2 rounds") || !strings.Contains(string(html), "<svg") {
		t.Errorf("HTML report: %v", err)
	}
	// A compare run needs an end.
	if code, _, errOut := execute("perf", "-h", a.URL(), "--compare", b.URL()); code != exitUsage || !strings.Contains(errOut, "-z") {
		t.Errorf("compare without -z: exit %d, %q", code, errOut)
	}
}
