package main

import (
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
			"-i, --interval", "-p, --predeclared", "-h, --uri", "--queue-pattern", "--json", "--auto-delete"} {
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
