package warrentest

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/warrenmq/warren/internal/amqp"
)

// RabbitMQ is a private RabbitMQ node (the Debian rabbitmq-server package,
// 3.10.8 on Debian 12) started by StartRabbitMQ: its own node name, ports,
// data, logs, Erlang cookie and epmd, so it runs beside any other node on
// the machine, including a system service. The management plugin is on.
//
// The node is started the way systemd starts it (NOTIFY_SOCKET set), which
// makes rabbitmq-server exec the Erlang VM instead of staying as a shell
// wrapper: PID is beam.smp itself, the VM dies with the test process
// (Pdeathsig), and readiness comes as sd_notify READY=1.
//
// Scripts can start the same node without Go: see scripts/bench.sh, which
// sets the same environment.
type RabbitMQ struct {
	AMQPURL  string // amqp://guest:guest@127.0.0.1:PORT/
	AMQPAddr string // 127.0.0.1:PORT
	MgmtURL  string // http://127.0.0.1:PORT (guest/guest)
	Node     string // rabbit-<random>@localhost
	PID      int    // the beam.smp process, for /proc/PID CPU and RSS readings
	Dir      string // config, data, logs, cookie
	Env      []string

	cmd     *exec.Cmd
	exited  chan struct{}
	waitErr error
	out     *logBuffer
	epmd    *exec.Cmd
}

// RabbitMQStartTimeout bounds the node's boot (slow on a busy 2-core box).
const RabbitMQStartTimeout = 120 * time.Second

// rabbitmqServer finds the rabbitmq-server script that runs the node in the
// foreground as the current user. /usr/sbin/rabbitmq-server is a wrapper
// that switches to the rabbitmq user; the real script is under /usr/lib.
func rabbitmqServer() (string, error) {
	for _, p := range []string{"/usr/lib/rabbitmq/bin/rabbitmq-server"} {
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
	}
	if p, err := exec.LookPath("rabbitmq-server"); err == nil {
		if real, err := filepath.EvalSymlinks(p); err == nil && !strings.HasSuffix(real, "rabbitmq-script-wrapper") {
			return real, nil
		}
	}
	return "", errors.New("rabbitmq-server not installed (run scripts/test-deps.sh)")
}

// StartRabbitMQ starts a private RabbitMQ node for the test and stops it
// (and its epmd) when the test ends. The test is skipped if RabbitMQ is not
// installed. Startup takes several seconds.
func StartRabbitMQ(t testing.TB) *RabbitMQ {
	t.Helper()
	if _, err := rabbitmqServer(); err != nil {
		t.Skipf("warrentest: %v", err)
	}
	r, err := StartRabbitMQIn(t.TempDir())
	if err != nil {
		t.Fatalf("warrentest: %v", err)
	}
	t.Cleanup(func() {
		if err := r.Stop(); err != nil {
			t.Errorf("warrentest: %v", err)
		}
		if t.Failed() {
			t.Logf("--- rabbitmq node %s (pid %d, dir %s) output ---\n%s", r.Node, r.PID, r.Dir, r.Log())
		}
	})
	return r
}

// StartRabbitMQIn starts a private RabbitMQ node keeping its files in dir
// and waits until it accepts AMQP connections. Call Stop when done. It is
// StartRabbitMQ without a testing.TB.
func StartRabbitMQIn(dir string) (*RabbitMQ, error) {
	server, err := rabbitmqServer()
	if err != nil {
		return nil, err
	}
	ports, err := rabbitPorts()
	if err != nil {
		return nil, err
	}
	amqpPort, mgmtPort, distPort, epmdPort := ports[0], ports[1], ports[2], ports[3]
	var rnd [6]byte
	_, _ = rand.Read(rnd[:])
	r := &RabbitMQ{
		AMQPAddr: fmt.Sprintf("127.0.0.1:%d", amqpPort),
		MgmtURL:  fmt.Sprintf("http://127.0.0.1:%d", mgmtPort),
		Node:     "rabbit-" + hex.EncodeToString(rnd[:]) + "@localhost",
		Dir:      dir,
		exited:   make(chan struct{}),
		out:      newLogBuffer(),
	}
	r.AMQPURL = "amqp://guest:guest@" + r.AMQPAddr + "/"
	home := filepath.Join(dir, "home")
	for _, d := range []string{home, filepath.Join(dir, "mnesia"), filepath.Join(dir, "log")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return nil, err
		}
	}
	cookie := make([]byte, 20)
	_, _ = rand.Read(cookie)
	files := map[string]string{
		filepath.Join(home, ".erlang.cookie"): strings.ToUpper(hex.EncodeToString(cookie)),
		filepath.Join(dir, "enabled_plugins"): "[rabbitmq_management].\n",
		filepath.Join(dir, "rabbitmq.conf"): fmt.Sprintf(`listeners.tcp.default = 127.0.0.1:%d
management.tcp.ip = 127.0.0.1
management.tcp.port = %d
log.file.level = info
`, amqpPort, mgmtPort),
	}
	for name, content := range files {
		if err := os.WriteFile(name, []byte(content), 0o600); err != nil {
			return nil, err
		}
	}
	// The notify socket lives in a short directory of its own: a socket
	// path must fit in 108 bytes, and t.TempDir() paths can be longer.
	sockDir, err := os.MkdirTemp("", "rmq-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(sockDir) // only needed until READY=1
	notify := filepath.Join(sockDir, "notify.sock")
	ln, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: notify, Net: "unixgram"})
	if err != nil {
		return nil, fmt.Errorf("notify socket: %w", err)
	}
	defer ln.Close()

	r.Env = append(withoutRabbitEnv(os.Environ()),
		"HOME="+home,
		"RABBITMQ_NODENAME="+r.Node,
		"RABBITMQ_NODE_IP_ADDRESS=127.0.0.1",
		"RABBITMQ_NODE_PORT="+strconv.Itoa(amqpPort),
		"RABBITMQ_DIST_PORT="+strconv.Itoa(distPort),
		"ERL_EPMD_PORT="+strconv.Itoa(epmdPort),
		"ERL_EPMD_ADDRESS=127.0.0.1",
		"RABBITMQ_MNESIA_BASE="+filepath.Join(dir, "mnesia"),
		"RABBITMQ_LOG_BASE="+filepath.Join(dir, "log"),
		"RABBITMQ_CONFIG_FILE="+filepath.Join(dir, "rabbitmq.conf"),
		"RABBITMQ_ADVANCED_CONFIG_FILE="+filepath.Join(dir, "advanced.config"),
		"RABBITMQ_CONF_ENV_FILE="+filepath.Join(dir, "rabbitmq-env.conf"), // absent: skip /etc/rabbitmq's
		"RABBITMQ_ENABLED_PLUGINS_FILE="+filepath.Join(dir, "enabled_plugins"),
		"RABBITMQ_PID_FILE="+filepath.Join(dir, "rabbitmq.pid"),
	)

	// Our own epmd on a private port: it is ours to stop, and the node
	// does not depend on (or disturb) a system epmd on 4369.
	r.epmd = exec.Command("epmd", "-port", strconv.Itoa(epmdPort), "-address", "127.0.0.1")
	r.epmd.Env = r.Env
	r.epmd.SysProcAttr = sysProcAttr()
	if err := r.epmd.Start(); err != nil {
		return nil, fmt.Errorf("starting epmd: %w", err)
	}

	r.cmd = exec.Command(server)
	r.cmd.Dir = dir
	r.cmd.Env = append(r.Env, "NOTIFY_SOCKET="+notify)
	r.cmd.Stdout, r.cmd.Stderr = r.out, r.out
	r.cmd.SysProcAttr = sysProcAttr()
	r.cmd.WaitDelay = 5 * time.Second
	if err := r.cmd.Start(); err != nil {
		r.stopEpmd()
		return nil, fmt.Errorf("starting %s: %w", server, err)
	}
	r.PID = r.cmd.Process.Pid
	go func() {
		r.waitErr = r.cmd.Wait()
		close(r.exited)
	}()
	if err := r.awaitReady(ln); err != nil {
		_ = r.Stop()
		return r, fmt.Errorf("rabbitmq node %s: %w\n--- output ---\n%s", r.Node, err, r.Log())
	}
	return r, nil
}

// awaitReady waits for sd_notify READY=1, then for an AMQP handshake
// (connection.start) and the management API.
func (r *RabbitMQ) awaitReady(ln *net.UnixConn) error {
	deadline := time.Now().Add(RabbitMQStartTimeout)
	ready := make(chan struct{})
	go func() {
		buf := make([]byte, 4096)
		for {
			n, _, err := ln.ReadFromUnix(buf)
			if err != nil {
				return
			}
			if bytes.Contains(buf[:n], []byte("READY=1")) {
				close(ready)
				return
			}
		}
	}()
	select {
	case <-ready:
	case <-r.exited:
		return fmt.Errorf("exited during startup: %v", r.waitErr)
	case <-time.After(time.Until(deadline)):
		return fmt.Errorf("not ready within %v", RabbitMQStartTimeout)
	}
	for {
		err := amqpProbe(r.AMQPAddr)
		if err == nil {
			err = httpProbe(r.MgmtURL + "/api/overview")
		}
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("not serving within %v: %w", RabbitMQStartTimeout, err)
		}
		select {
		case <-r.exited:
			return fmt.Errorf("exited during startup: %v", r.waitErr)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// amqpProbe checks that addr answers the AMQP protocol header with
// connection.start.
func amqpProbe(addr string) error {
	nc, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		return err
	}
	defer nc.Close()
	_ = nc.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := nc.Write(amqp.ProtocolHeader); err != nil {
		return err
	}
	f, err := amqp.NewReader(nc, 0).ReadFrame()
	if err != nil {
		return err
	}
	if c, m, _, err := amqp.ParseMethod(f.Payload); err != nil || c != amqp.ClassConnection || m != amqp.MethodConnectionStart {
		return fmt.Errorf("no connection.start from %s", addr)
	}
	return nil
}

func httpProbe(url string) error {
	req, err := http.NewRequest("GET", url, nil)
	if err != nil {
		return err
	}
	req.SetBasicAuth("guest", "guest")
	c := http.Client{Timeout: 5 * time.Second}
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	return nil
}

// Ctl runs rabbitmqctl against the node and returns its combined output.
// Each call boots an Erlang VM for the CLI: seconds, not milliseconds.
func (r *RabbitMQ) Ctl(args ...string) (string, error) {
	server, err := rabbitmqServer()
	if err != nil {
		return "", err
	}
	cmd := exec.Command(filepath.Join(filepath.Dir(server), "rabbitmqctl"), append([]string{"-n", r.Node}, args...)...)
	cmd.Env = r.Env
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// Log is what the node printed on stdout and stderr; the full log is in
// Dir/log.
func (r *RabbitMQ) Log() string { return r.out.String() }

// Running reports whether the node's VM is alive.
func (r *RabbitMQ) Running() bool {
	select {
	case <-r.exited:
		return false
	default:
		return true
	}
}

// Stop stops the node gracefully with SIGTERM (RabbitMQ's handler runs the
// same shutdown as `rabbitmqctl stop`, without booting a CLI VM), kills it
// if it has not exited within 30 s, then stops the node's private epmd.
// Stopping a stopped node does nothing.
func (r *RabbitMQ) Stop() error {
	defer r.stopEpmd()
	if r.cmd == nil || r.cmd.Process == nil || !r.Running() {
		return nil
	}
	_ = r.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-r.exited:
		return nil
	case <-time.After(stopTimeout):
		_ = r.cmd.Process.Kill()
		<-r.exited
		return fmt.Errorf("rabbitmq node %s (pid %d) did not stop within %v of SIGTERM; killed", r.Node, r.PID, stopTimeout)
	}
}

func (r *RabbitMQ) stopEpmd() {
	if r.epmd == nil || r.epmd.Process == nil {
		return
	}
	_ = r.epmd.Process.Kill()
	_ = r.epmd.Wait()
	r.epmd = nil
}

// rabbitPorts returns four distinct free loopback ports: AMQP, management,
// distribution and epmd. The distribution port stays below 55000 because
// the CLI tools use that port + 10000 and up.
func rabbitPorts() ([4]int, error) {
	var ports [4]int
	var lns []net.Listener
	defer func() {
		for _, l := range lns {
			l.Close()
		}
	}()
	for i := 0; i < len(ports); {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return ports, err
		}
		lns = append(lns, l) // held until all are picked, so they differ
		p := l.Addr().(*net.TCPAddr).Port
		if i == 2 && p >= 55000 {
			if len(lns) > 64 {
				return ports, errors.New("no free port below 55000 for Erlang distribution")
			}
			continue
		}
		ports[i] = p
		i++
	}
	return ports, nil
}

// withoutRabbitEnv drops inherited RABBITMQ_* and ERL_* variables so the
// node is hermetic.
func withoutRabbitEnv(env []string) []string {
	var out []string
	for _, kv := range env {
		if strings.HasPrefix(kv, "RABBITMQ_") || strings.HasPrefix(kv, "ERL_") || strings.HasPrefix(kv, "HOME=") || strings.HasPrefix(kv, "NOTIFY_SOCKET=") {
			continue
		}
		out = append(out, kv)
	}
	return out
}
