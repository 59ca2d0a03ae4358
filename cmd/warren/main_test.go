package main

import (
	"bufio"
	"bytes"
	"os/exec"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/spf13/pflag"

	"github.com/warrenmq/warren/internal/warrentest"
)

// execute runs the command line in-process.
func execute(args ...string) (code int, stdout, stderr string) {
	var out, errb bytes.Buffer
	code = run(args, &out, &errb)
	return code, out.String(), errb.String()
}

func TestHelp(t *testing.T) {
	tests := []struct {
		args []string
		want []string
	}{
		{nil, []string{"server", "version", "Usage:"}},
		{[]string{"--help"}, []string{"server", "version"}},
		{[]string{"help"}, []string{"server", "version"}},
		{[]string{"server", "--help"}, []string{"--amqp-addr", "--data-dir", "WARREN_AMQP_ADDR", "WARREN_DEFAULT_USER", "listening on"}},
		{[]string{"version", "--help"}, []string{"Print Warren's version"}},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			code, out, errOut := execute(tt.args...)
			if code != exitOK {
				t.Fatalf("exit %d, stderr %q", code, errOut)
			}
			for _, w := range tt.want {
				if !strings.Contains(out, w) {
					t.Errorf("output lacks %q:\n%s", w, out)
				}
			}
		})
	}
}

// TestServerFlags pins the flags to the command-line contract in DESIGN.md.
func TestServerFlags(t *testing.T) {
	var got []string
	newServerCmd().Flags().VisitAll(func(f *pflag.Flag) { got = append(got, f.Name) })
	want := []string{"data-dir", "amqp-addr", "http-addr", "metrics-addr", "cluster-addr", "node-name",
		"config", "amqps-addr", "tls-cert", "tls-key", "tls-ca", "join", "cookie", "cookie-file", "ram", "log-level"}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("server flags = %v\nwant %v", got, want)
	}
}

func TestVersion(t *testing.T) {
	for _, args := range [][]string{{"version"}, {"--version"}} {
		code, out, _ := execute(args...)
		if code != exitOK || !strings.HasPrefix(out, "warren ") || !strings.Contains(out, "go1") {
			t.Errorf("%v: exit %d, output %q", args, code, out)
		}
	}
}

func TestBadCommandLines(t *testing.T) {
	tests := []struct {
		args []string
		code int
		want string
	}{
		{[]string{"server", "--bogus"}, exitUsage, "unknown flag: --bogus"},
		{[]string{"server", "-x"}, exitUsage, "unknown shorthand flag"},
		{[]string{"server", "extra"}, exitUsage, "unknown command"},
		{[]string{"nosuchcmd"}, exitUsage, "unknown command"},
		{[]string{"version", "extra"}, exitUsage, "unknown command"},
		{[]string{"server", "--amqp-addr", "nohost"}, exitUsage, "host:port"},
		{[]string{"server", "--ram=maybe"}, exitUsage, "true or false"},
		{[]string{"server", "--log-level", "loud"}, exitUsage, "log-level"},
		{[]string{"server", "--tls-cert", "c.pem"}, exitError, "tls-cert and tls-key"},
		{[]string{"server", "--cookie", "a", "--cookie-file", "b"}, exitError, "mutually exclusive"},
		{[]string{"server", "--config", "/nonexistent/warren.conf"}, exitError, "/nonexistent/warren.conf"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			code, _, errOut := execute(tt.args...)
			if code != tt.code || !strings.Contains(errOut, tt.want) {
				t.Errorf("exit %d (want %d), stderr %q (want containing %q)", code, tt.code, errOut, tt.want)
			}
		})
	}
}

func TestSettingFlag(t *testing.T) {
	fs := newServerCmd().Flags()
	if err := fs.Parse([]string{"--join", "a:1", "--join", "b:2,c:3", "--ram", "--amqp-addr", "5673"}); err != nil {
		t.Fatal(err)
	}
	if got := fs.Lookup("join").Value.String(); got != "a:1,b:2,c:3" {
		t.Errorf("--join repeated = %q", got)
	}
	if got := fs.Lookup("ram").Value.String(); got != "true" {
		t.Errorf("--ram = %q", got)
	}
	if got := fs.Lookup("http-addr").Value.String(); got != ":15672" {
		t.Errorf("unset --http-addr = %q, want the default", got)
	}
}

// TestSignals runs the real binary and checks that SIGTERM and SIGINT
// shut it down cleanly (exit status 0).
func TestSignals(t *testing.T) {
	bin := warrentest.Build(t)
	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGINT} {
		t.Run(sig.String(), func(t *testing.T) {
			cmd := exec.Command(bin, "server", "--data-dir", t.TempDir(),
				"--amqp-addr", "127.0.0.1:0", "--http-addr", "127.0.0.1:0",
				"--metrics-addr", "127.0.0.1:0", "--cluster-addr", "127.0.0.1:0")
			stderr, err := cmd.StderrPipe()
			if err != nil {
				t.Fatal(err)
			}
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })

			lines := make(chan string, 100)
			go func() {
				sc := bufio.NewScanner(stderr)
				for sc.Scan() {
					lines <- sc.Text()
				}
				close(lines)
			}()
			var log strings.Builder
			waitFor := func(s string) {
				t.Helper()
				timeout := time.After(30 * time.Second)
				for {
					select {
					case l, ok := <-lines:
						if !ok {
							t.Fatalf("output ended before %q:\n%s", s, log.String())
						}
						log.WriteString(l + "\n")
						if strings.Contains(l, s) {
							return
						}
					case <-timeout:
						t.Fatalf("no %q within 30s:\n%s", s, log.String())
					}
				}
			}
			waitFor(`msg="warren starting"`)
			cmd.Process.Signal(sig)
			waitFor(`msg="warren stopped"`)
			for range lines {
			}
			if err := cmd.Wait(); err != nil {
				t.Fatalf("exit after %v: %v\n%s", sig, err, log.String())
			}
		})
	}
}
