// Package warrentest starts real `warren server` processes for
// integration tests: each node gets its own data directory and ephemeral
// loopback ports, which it reports in its log, so many nodes can run at
// once.
//
//	n := warrentest.Start(t)
//	conn, err := amqp091.Dial(n.AMQPURL())
//	...
//	n.Kill()       // kill -9
//	n.Restart(t)   // same data dir, new ports
//
// Wait for conditions with Eventually, never with time.Sleep.
package warrentest

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// DefaultStartTimeout bounds how long Start waits for a node's listeners.
const DefaultStartTimeout = 30 * time.Second

// stopTimeout bounds how long Stop and Kill wait for the process to exit.
const stopTimeout = 30 * time.Second

var build struct {
	once sync.Once
	path string
	err  error
}

// Build compiles ./cmd/warren once per test process and returns the path
// of the binary, in os.TempDir()/warren-test-<pid>. The module root is found
// with `go env GOMOD`. When the tests run with -race, so is the binary
// built. If WARREN_TEST_BINARY is set, that binary is used instead.
func Build(t testing.TB) string {
	t.Helper()
	build.once.Do(func() { build.path, build.err = buildBinary() })
	if build.err != nil {
		t.Fatalf("warrentest: %v", build.err)
	}
	return build.path
}

func buildBinary() (string, error) {
	if p := os.Getenv("WARREN_TEST_BINARY"); p != "" {
		abs, err := filepath.Abs(p)
		if err != nil {
			return "", err
		}
		if _, err := os.Stat(abs); err != nil {
			return "", fmt.Errorf("WARREN_TEST_BINARY: %w", err)
		}
		return abs, nil
	}
	goBin, err := exec.LookPath("go")
	if err != nil {
		return "", fmt.Errorf("building warren: %w", err)
	}
	out, err := exec.Command(goBin, "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	gomod := strings.TrimSpace(string(out))
	if gomod == "" || gomod == os.DevNull {
		return "", fmt.Errorf("go env GOMOD: not inside the warren module")
	}
	removeStaleBuilds()
	dir := filepath.Join(os.TempDir(), fmt.Sprintf("warren-test-%d", os.Getpid()))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "warren")
	args := []string{"build", "-o", bin}
	if raceEnabled {
		args = append(args, "-race")
	}
	cmd := exec.Command(goBin, append(args, "./cmd/warren")...)
	cmd.Dir = filepath.Dir(gomod)
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build ./cmd/warren: %v\n%s", err, out)
	}
	return bin, nil
}

// removeStaleBuilds deletes the warren-test-<pid> directories of test
// processes that are gone.
func removeStaleBuilds() {
	dirs, _ := filepath.Glob(filepath.Join(os.TempDir(), "warren-test-*"))
	for _, d := range dirs {
		pid, err := strconv.Atoi(strings.TrimPrefix(filepath.Base(d), "warren-test-"))
		if err != nil || pid == os.Getpid() || processAlive(pid) {
			continue
		}
		os.RemoveAll(d)
	}
}

// Option configures a node started by Start.
type Option func(*options)

type options struct {
	args    []string
	dataDir string
	env     []string
	wait    []string
	timeout time.Duration
}

// WithArgs appends arguments to `warren server`. They come after the
// harness's own, so --amqp-addr 127.0.0.1:5680 fixes a port that Restart
// then keeps.
func WithArgs(args ...string) Option {
	return func(o *options) { o.args = append(o.args, args...) }
}

// WithDataDir uses dir as the data directory instead of a fresh t.TempDir().
func WithDataDir(dir string) Option { return func(o *options) { o.dataDir = dir } }

// WithEnv adds KEY=VALUE environment variables, e.g. "WARREN_DEFAULT_USER=admin".
// The node does not inherit the test process's WARREN_* variables.
// Addresses are passed as flags, so WARREN_*_ADDR here has no effect.
func WithEnv(kv ...string) Option {
	return func(o *options) { o.env = append(o.env, kv...) }
}

// WithWait sets the listeners Start waits for (default: amqp), e.g.
// WithWait("amqp", "http"). WithWait() waits for none: Start returns once
// the node has logged that it is starting.
func WithWait(names ...string) Option {
	return func(o *options) { o.wait = names }
}

// WithStartTimeout replaces DefaultStartTimeout.
func WithStartTimeout(d time.Duration) Option { return func(o *options) { o.timeout = d } }

// Node is a running (or stopped) `warren server` process.
type Node struct {
	// Addr maps each listener name (amqp, http, metrics, cluster, amqps)
	// to the host:port it is bound to, as far as the node had logged when
	// Start returned; WaitAddr waits for one that came later.
	Addr map[string]string
	// DataDir is the node's data directory; it survives Restart.
	DataDir string

	t    testing.TB
	bin  string
	opts options
	p    *proc
}

// proc is one run of the binary.
type proc struct {
	cmd    *exec.Cmd
	out    *logBuffer
	exited chan struct{} // closed when the process has exited and its output is read
	err    error         // from cmd.Wait, valid once exited is closed
}

func (p *proc) running() bool {
	select {
	case <-p.exited:
		return false
	default:
		return true
	}
}

// Start builds warren (once), starts
//
//	warren server --amqp-addr 127.0.0.1:0 --http-addr 127.0.0.1:0
//	    --metrics-addr 127.0.0.1:0 --cluster-addr 127.0.0.1:0 --data-dir <t.TempDir()> [WithArgs...]
//
// and waits until the node has logged `amqp listening on ADDR` (see
// WithWait). It fails the test if the node exits or does not listen in
// time. When the test ends the process is killed, and if the test failed
// its log is copied into the test log.
func Start(t testing.TB, opts ...Option) *Node {
	t.Helper()
	n, err := TryStart(t, opts...)
	if err != nil {
		t.Fatalf("warrentest: %v\n--- node log ---\n%s", err, n.Log())
	}
	return n
}

// TryStart is Start returning the error instead of failing the test. The
// Node is never nil, so its Log can be inspected; the process may still be
// running (cleanup kills it).
func TryStart(t testing.TB, opts ...Option) (*Node, error) {
	t.Helper()
	o := options{wait: []string{"amqp"}, timeout: DefaultStartTimeout}
	for _, opt := range opts {
		opt(&o)
	}
	n := &Node{bin: Build(t), opts: o, DataDir: o.dataDir}
	if n.DataDir == "" {
		n.DataDir = t.TempDir() // before start's cleanup, so it is removed after the kill
	}
	return n, n.start(t)
}

func (n *Node) start(t testing.TB) error {
	n.t = t
	n.Addr = map[string]string{}
	args := []string{"server",
		"--amqp-addr", "127.0.0.1:0",
		"--http-addr", "127.0.0.1:0",
		"--metrics-addr", "127.0.0.1:0",
		"--cluster-addr", "127.0.0.1:0",
		"--data-dir", n.DataDir,
	}
	args = append(args, n.opts.args...)
	cmd := exec.Command(n.bin, args...)
	// Small store segments: each node preallocates one, and tests start
	// many nodes (options can override it).
	cmd.Env = append(append(withoutWarrenEnv(os.Environ()), "WARREN_MSG_STORE_FILE_SIZE_LIMIT=4MiB"), n.opts.env...)
	out := newLogBuffer()
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = sysProcAttr()
	cmd.WaitDelay = 5 * time.Second
	p := &proc{cmd: cmd, out: out, exited: make(chan struct{})}
	n.p = p
	if err := cmd.Start(); err != nil {
		close(p.exited)
		p.err = err
		return fmt.Errorf("starting %s: %w", n.bin, err)
	}
	go func() {
		p.err = cmd.Wait()
		close(p.exited)
	}()
	t.Cleanup(func() {
		if p.running() {
			p.cmd.Process.Kill()
			<-p.exited
		}
		if t.Failed() {
			t.Logf("--- warren node (pid %d, data dir %s) log ---\n%s", p.cmd.Process.Pid, n.DataDir, p.out.String())
		}
	})

	addrs, err := waitListening(p, n.opts.wait, n.opts.timeout)
	n.Addr = addrs
	return err
}

// withoutWarrenEnv drops inherited WARREN_* variables so nodes are hermetic.
func withoutWarrenEnv(env []string) []string {
	return slices.DeleteFunc(slices.Clone(env), func(kv string) bool { return strings.HasPrefix(kv, "WARREN_") })
}

var (
	listeningRE  = regexp.MustCompile(`msg="?([a-z][a-z0-9_-]*) listening on ([^\s"]+)`)
	notStartedRE = regexp.MustCompile(`msg="?([a-z][a-z0-9_-]*) listener not started`)
	startingRE   = regexp.MustCompile(`msg="?warren starting`)
)

// listening returns the addresses of the `<name> listening on <addr>` lines.
func listening(log string) map[string]string {
	m := map[string]string{}
	for _, sm := range listeningRE.FindAllStringSubmatch(log, -1) {
		m[sm[1]] = sm[2]
	}
	return m
}

// waitListening waits until every listener in names has logged its address,
// failing early when the process exits or logs that one will not start.
func waitListening(p *proc, names []string, timeout time.Duration) (map[string]string, error) {
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	for {
		log, changed := p.out.snapshot()
		addrs := listening(log)
		ready := true
		for _, name := range names {
			if _, ok := addrs[name]; !ok {
				ready = false
			}
		}
		if len(names) == 0 {
			ready = startingRE.MatchString(log)
		}
		if ready {
			return addrs, nil
		}
		for _, sm := range notStartedRE.FindAllStringSubmatch(log, -1) {
			if slices.Contains(names, sm[1]) {
				return addrs, fmt.Errorf("%s listener not started", sm[1])
			}
		}
		select {
		case <-changed:
		case <-p.exited:
			if log2, _ := p.out.snapshot(); log2 != log {
				continue // look at the last lines first
			}
			return addrs, fmt.Errorf("warren exited before listening on %v: %v", names, p.err)
		case <-timer.C:
			return addrs, fmt.Errorf("warren did not listen on %v within %v", names, timeout)
		}
	}
}

// WaitAddr waits (up to the start timeout) until the node has logged the
// address of listener name, records it in n.Addr and returns it.
func (n *Node) WaitAddr(name string) string {
	n.t.Helper()
	addrs, err := waitListening(n.p, []string{name}, n.opts.timeout)
	if err != nil {
		n.t.Fatalf("warrentest: %v\n--- node log ---\n%s", err, n.Log())
	}
	n.Addr[name] = addrs[name]
	return addrs[name]
}

// AMQPURL is amqp://guest:guest@<amqp addr>/ (the default vhost, /).
func (n *Node) AMQPURL() string {
	return "amqp://guest:guest@" + n.Addr["amqp"] + "/"
}

// PID is the process id of the node's current process.
func (n *Node) PID() int { return n.p.cmd.Process.Pid }

// Log returns everything the current process has written to stderr and stdout.
func (n *Node) Log() string {
	if n.p == nil {
		return ""
	}
	return n.p.out.String()
}

// Running reports whether the node's process is alive.
func (n *Node) Running() bool { return n.p != nil && n.p.running() }

// Stop sends SIGTERM and waits for the process to exit. It fails the test
// if the exit is not clean (status 0) or takes longer than 30s (then the
// process is killed). Stopping a stopped node does nothing.
func (n *Node) Stop() {
	n.t.Helper()
	p := n.p
	if !p.running() {
		return
	}
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.exited:
	case <-time.After(stopTimeout):
		p.cmd.Process.Kill()
		<-p.exited
		n.t.Errorf("warrentest: node pid %d did not stop within %v of SIGTERM; killed", p.cmd.Process.Pid, stopTimeout)
		return
	}
	if p.err != nil {
		n.t.Errorf("warrentest: node pid %d did not exit cleanly after SIGTERM: %v", p.cmd.Process.Pid, p.err)
	}
}

// Kill sends SIGKILL (kill -9) and waits for the process to exit.
func (n *Node) Kill() {
	p := n.p
	if !p.running() {
		return
	}
	p.cmd.Process.Kill()
	<-p.exited
}

// Restart stops the node if it runs (SIGTERM) and starts it again with the
// same data directory and arguments: listeners on port 0 get new ports,
// fixed ones keep theirs. t owns the new process.
func (n *Node) Restart(t testing.TB) {
	t.Helper()
	if n.Running() {
		n.Stop()
	}
	if err := n.start(t); err != nil {
		t.Fatalf("warrentest: restart: %v\n--- node log ---\n%s", err, n.Log())
	}
}

// Eventually calls fn until it returns true, polling with a short backoff,
// and fails the test if that does not happen within timeout.
func Eventually(t testing.TB, timeout time.Duration, fn func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	backoff := time.Millisecond
	for !fn() {
		if time.Now().After(deadline) {
			t.Fatalf("warrentest: condition not met within %v", timeout)
		}
		time.Sleep(backoff)
		backoff = min(2*backoff, 50*time.Millisecond)
	}
}

// FreePort returns a TCP port on 127.0.0.1 that was free a moment ago.
// Prefer 127.0.0.1:0 and the logged address where you can: another
// process may take the port before you use it.
func FreePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("warrentest: FreePort: %v", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// logBuffer collects a process's output and wakes waiters on every write.
type logBuffer struct {
	mu      sync.Mutex
	buf     bytes.Buffer
	changed chan struct{}
}

func newLogBuffer() *logBuffer { return &logBuffer{changed: make(chan struct{})} }

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf.Write(p)
	close(b.changed)
	b.changed = make(chan struct{})
	return len(p), nil
}

// snapshot returns the output so far and a channel closed by the next write.
func (b *logBuffer) snapshot() (string, <-chan struct{}) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String(), b.changed
}

func (b *logBuffer) String() string {
	s, _ := b.snapshot()
	return s
}
