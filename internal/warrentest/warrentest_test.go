package warrentest

import (
	"fmt"
	"net"
	"os"
	"strings"
	"testing"
	"time"
)

// TestNode exercises the whole harness against a node that listens.
func TestNode(t *testing.T) {
	n, err := TryStart(t)
	if err != nil {
		t.Fatal(err)
	}
	addr := n.Addr["amqp"]
	host, port, err := net.SplitHostPort(addr)
	if err != nil || host != "127.0.0.1" || port == "0" {
		t.Fatalf("Addr[amqp] = %q, want 127.0.0.1:<ephemeral>", addr)
	}
	if got, want := n.AMQPURL(), "amqp://guest:guest@"+addr+"/"; got != want {
		t.Errorf("AMQPURL() = %q, want %q", got, want)
	}
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatalf("dial %s: %v", addr, err)
	}
	conn.Close()
	if !strings.Contains(n.Log(), "amqp listening on "+addr) {
		t.Errorf("log lacks the listening line:\n%s", n.Log())
	}

	pid, dataDir := n.PID(), n.DataDir
	n.Kill()
	if n.Running() {
		t.Fatal("still running after Kill")
	}
	n.Restart(t)
	if n.PID() == pid || n.DataDir != dataDir {
		t.Errorf("Restart: pid %d→%d, data dir %q→%q; want a new pid, same dir", pid, n.PID(), dataDir, n.DataDir)
	}
	if _, ok := n.Addr["amqp"]; !ok {
		t.Errorf("Restart: no amqp address")
	}
	n.Restart(t) // from running: SIGTERM first
	n.Stop()
	if n.Running() {
		t.Fatal("still running after Stop")
	}
	if !strings.Contains(n.Log(), "warren stopped") {
		t.Errorf("no clean shutdown in log:\n%s", n.Log())
	}
}

// TestStartStopNoWait starts a node without waiting for listeners and
// checks that SIGTERM stops it cleanly.
func TestStartStopNoWait(t *testing.T) {
	n := Start(t, WithWait(), WithEnv("WARREN_LOG_LEVEL=debug"))
	if !n.Running() || n.PID() <= 0 {
		t.Fatalf("not running: pid %d", n.PID())
	}
	if !strings.Contains(n.Log(), "data_dir="+n.DataDir) {
		t.Errorf("log does not name the data dir %s:\n%s", n.DataDir, n.Log())
	}
	n.Stop()
	if n.Running() {
		t.Fatal("still running after Stop")
	}
	if !strings.Contains(n.Log(), `msg="warren stopped"`) {
		t.Errorf("no clean shutdown in log:\n%s", n.Log())
	}
	n.Stop() // stopping a stopped node is a no-op
}

func TestKill(t *testing.T) {
	n := Start(t, WithWait())
	n.Kill()
	if n.Running() {
		t.Fatal("still running after Kill")
	}
	if strings.Contains(n.Log(), "warren stopped") {
		t.Errorf("a killed node should not shut down cleanly:\n%s", n.Log())
	}
}

func TestWithDataDirAndArgs(t *testing.T) {
	dir := t.TempDir()
	n := Start(t, WithWait(), WithDataDir(dir), WithArgs("--node-name", "harness@test"))
	if n.DataDir != dir {
		t.Errorf("DataDir = %q, want %q", n.DataDir, dir)
	}
	if !strings.Contains(n.Log(), "node=harness@test") {
		t.Errorf("--node-name not passed:\n%s", n.Log())
	}
}

// TestStartFailsFast checks that a node that exits is reported at once,
// not after the start timeout.
func TestStartFailsFast(t *testing.T) {
	start := time.Now()
	n, err := TryStart(t, WithArgs("--no-such-flag"), WithStartTimeout(time.Minute))
	if err == nil {
		t.Fatal("TryStart succeeded with a bad flag")
	}
	if !strings.Contains(err.Error(), "exited") || !strings.Contains(n.Log(), "unknown flag") {
		t.Errorf("err = %v, log:\n%s", err, n.Log())
	}
	if d := time.Since(start); d > 30*time.Second {
		t.Errorf("took %v to notice the exit", d)
	}
	if n.Running() {
		t.Error("still running")
	}
}

func TestEnvIsHermetic(t *testing.T) {
	t.Setenv("WARREN_NODE_NAME", "leaked@env")
	n := Start(t, WithWait())
	if strings.Contains(n.Log(), "leaked@env") {
		t.Errorf("inherited WARREN_NODE_NAME reached the node:\n%s", n.Log())
	}
}

func TestListening(t *testing.T) {
	log := `time=2026-01-01T00:00:00Z level=INFO msg="warren starting" version=dev
time=2026-01-01T00:00:00Z level=INFO msg="amqp listening on 127.0.0.1:41234"
time=2026-01-01T00:00:00Z level=INFO msg="http listening on [::1]:15672" extra=1
time=2026-01-01T00:00:00Z level=INFO msg="cluster listener not started: not built yet" addr=:0
`
	got := listening(log)
	want := map[string]string{"amqp": "127.0.0.1:41234", "http": "[::1]:15672"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("listening() = %v, want %v", got, want)
	}
}

func TestWaitListening(t *testing.T) {
	tests := []struct {
		name    string
		log     string
		exited  bool
		wait    []string
		wantErr string
	}{
		{name: "ready", log: `msg="amqp listening on 127.0.0.1:1"` + "\n", wait: []string{"amqp"}},
		{name: "not started", log: `msg="amqp listener not started: not built yet"` + "\n", wait: []string{"amqp"}, wantErr: "amqp listener not started"},
		{name: "other not started is fine while waiting", log: `msg="http listener not started"` + "\n" + `msg="amqp listening on 127.0.0.1:1"` + "\n", wait: []string{"amqp"}},
		{name: "exited", exited: true, wait: []string{"amqp"}, wantErr: "exited before listening"},
		{name: "timeout", wait: []string{"amqp"}, wantErr: "within"},
		{name: "no wait needs starting line", log: `msg="warren starting"` + "\n", wait: nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := &proc{out: newLogBuffer(), exited: make(chan struct{})}
			p.out.Write([]byte(tt.log))
			if tt.exited {
				close(p.exited)
			}
			_, err := waitListening(p, tt.wait, 50*time.Millisecond)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("err = %v, want containing %q", err, tt.wantErr)
			}
		})
	}
}

func TestWaitListeningWakesOnWrite(t *testing.T) {
	p := &proc{out: newLogBuffer(), exited: make(chan struct{})}
	go p.out.Write([]byte(`msg="amqp listening on 127.0.0.1:7"` + "\n"))
	addrs, err := waitListening(p, []string{"amqp"}, 10*time.Second)
	if err != nil || addrs["amqp"] != "127.0.0.1:7" {
		t.Fatalf("got %v, %v", addrs, err)
	}
}

func TestEventually(t *testing.T) {
	calls := 0
	Eventually(t, 5*time.Second, func() bool { calls++; return calls == 3 })
	if calls != 3 {
		t.Errorf("calls = %d, want 3", calls)
	}

	ft := &fatalTB{TB: t}
	func() {
		defer func() {
			if r := recover(); r != nil && r != errFatal {
				panic(r)
			}
		}()
		Eventually(ft, 20*time.Millisecond, func() bool { return false })
	}()
	if !strings.Contains(ft.msg, "not met within") {
		t.Errorf("Eventually on timeout: Fatalf(%q)", ft.msg)
	}
}

var errFatal = fmt.Errorf("fatal")

type fatalTB struct {
	testing.TB
	msg string
}

func (f *fatalTB) Helper() {}
func (f *fatalTB) Fatalf(format string, args ...any) {
	f.msg = fmt.Sprintf(format, args...)
	panic(errFatal)
}

func TestFreePort(t *testing.T) {
	p := FreePort(t)
	if p <= 0 || p > 65535 {
		t.Fatalf("FreePort() = %d", p)
	}
	l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", p))
	if err != nil {
		t.Fatalf("port %d not usable: %v", p, err)
	}
	l.Close()
}

func TestBuildOnce(t *testing.T) {
	a, b := Build(t), Build(t)
	if a != b {
		t.Errorf("Build returned %q then %q", a, b)
	}
	if fi, err := os.Stat(a); err != nil || fi.Mode()&0o111 == 0 {
		t.Errorf("binary %s: %v", a, err)
	}
	if want := fmt.Sprintf("warren-test-%d", os.Getpid()); !strings.Contains(a, want) && os.Getenv("WARREN_TEST_BINARY") == "" {
		t.Errorf("binary %s not in %s", a, want)
	}
}
