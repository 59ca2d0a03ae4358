package amqpserver_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/warrenmq/warren/internal/auth"
	"github.com/warrenmq/warren/internal/warrentest"
)

// guest may connect only from loopback (loopback_users). The client must
// really come from elsewhere: it runs in a network namespace of its own,
// joined to ours by a veth pair with 10.x addresses. Without the rights to
// make one, the test falls back to a non-loopback address of this machine,
// and without that to the check itself.

const netnsHelperEnv = "WARREN_NETNS_HELPER_URL"

// TestNetnsHelperProcess is the client side, run by TestLoopbackUsers
// inside the namespace: it dials the URL and prints the outcome.
func TestNetnsHelperProcess(t *testing.T) {
	u := os.Getenv(netnsHelperEnv)
	if u == "" {
		t.Skip("runs only as TestLoopbackUsers' helper process")
	}
	conn, err := amqp.DialConfig(u, amqp.Config{Dial: amqp.DefaultDial(5 * time.Second)})
	if err != nil {
		var ae *amqp.Error
		if errors.As(err, &ae) {
			fmt.Printf("NETNS-RESULT: %d %s\n", ae.Code, ae.Reason)
			return
		}
		fmt.Printf("NETNS-RESULT: error %v\n", err)
		return
	}
	fmt.Printf("NETNS-RESULT: ok %s\n", conn.LocalAddr())
	conn.Close()
}

// netns is a namespace with a veth pair: hostIP on our side, nsIP inside.
type netns struct {
	name, hostIP, nsIP string
}

func run(args ...string) error {
	out, err := exec.Command(args[0], args[1:]...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s: %v: %s", strings.Join(args, " "), err, out)
	}
	return nil
}

// makeNetns creates the namespace, or says why it cannot.
func makeNetns(t *testing.T) (*netns, error) {
	if _, err := exec.LookPath("ip"); err != nil {
		return nil, err
	}
	pid := os.Getpid()
	n := &netns{name: fmt.Sprintf("warren-t%d", pid)}
	host, peer := fmt.Sprintf("wv%da", pid), fmt.Sprintf("wv%db", pid)
	a, b := 150+pid%64, (pid/64)%250
	n.hostIP, n.nsIP = fmt.Sprintf("10.%d.%d.1", a, b), fmt.Sprintf("10.%d.%d.2", a, b)
	if err := run("ip", "netns", "add", n.name); err != nil {
		return nil, err
	}
	t.Cleanup(func() {
		_ = run("ip", "netns", "del", n.name) // takes the veth pair with it
		_ = run("ip", "link", "del", host)
	})
	for _, cmd := range [][]string{
		{"ip", "link", "add", host, "type", "veth", "peer", "name", peer},
		{"ip", "link", "set", peer, "netns", n.name},
		{"ip", "addr", "add", n.hostIP + "/30", "dev", host},
		{"ip", "link", "set", host, "up"},
		{"ip", "netns", "exec", n.name, "ip", "addr", "add", n.nsIP + "/30", "dev", peer},
		{"ip", "netns", "exec", n.name, "ip", "link", "set", peer, "up"},
		{"ip", "netns", "exec", n.name, "ip", "link", "set", "lo", "up"},
	} {
		if err := run(cmd...); err != nil {
			return nil, err
		}
	}
	return n, nil
}

// dialFromNetns runs the helper in the namespace and returns its result
// line ("ok ADDR", "403 ...", "error ...").
func (n *netns) dial(t *testing.T, url string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "ip", "netns", "exec", n.name, os.Args[0], "-test.run=^TestNetnsHelperProcess$", "-test.count=1")
	cmd.Env = append(os.Environ(), netnsHelperEnv+"="+url)
	out, err := cmd.CombinedOutput()
	for _, line := range strings.Split(string(out), "\n") {
		if r, ok := strings.CutPrefix(line, "NETNS-RESULT: "); ok {
			return r
		}
	}
	t.Fatalf("helper process: %v\n%s", err, out)
	return ""
}

// nonLoopbackAddr is an address of this machine that is not loopback.
func nonLoopbackAddr() string {
	addrs, _ := net.InterfaceAddrs()
	for _, a := range addrs {
		if ipn, ok := a.(*net.IPNet); ok && ipn.IP.To4() != nil && !ipn.IP.IsLoopback() && !ipn.IP.IsLinkLocalUnicast() {
			return ipn.IP.String()
		}
	}
	return ""
}

func TestLoopbackUsers(t *testing.T) {
	if os.Getenv(netnsHelperEnv) != "" {
		t.Skip("helper process")
	}
	ns, nsErr := makeNetns(t)
	host, how := "", ""
	switch {
	case nsErr == nil:
		host, how = ns.hostIP, "client in network namespace "+ns.name+" ("+ns.nsIP+")"
	case nonLoopbackAddr() != "":
		host, how = nonLoopbackAddr(), "client bound to this machine's non-loopback address"
	}
	if host == "" {
		// Neither: exercise the check at its boundary.
		t.Logf("no network namespace (%v) and no non-loopback address: checking auth.LoopbackAllowed only", nsErr)
		remote := &net.TCPAddr{IP: net.IPv4(10, 1, 2, 3), Port: 5000}
		if auth.LoopbackAllowed("guest", []string{"guest"}, remote) || !auth.LoopbackAllowed("other", []string{"guest"}, remote) {
			t.Fatal("loopback_users check wrong")
		}
		return
	}
	t.Logf("remote client: %s", how)

	p := warrentest.StartInProc(t, warrentest.InProcConfig{ListenHost: host})
	azUser(t, p.Broker, "remote", "pw")
	azPerms(t, p.Broker, "remote", "/", ".*", ".*", ".*")
	open := warrentest.StartInProc(t, warrentest.InProcConfig{ListenHost: host, LoopbackUsers: []string{}})

	dial := func(url string) string {
		if ns != nil {
			return ns.dial(t, url)
		}
		cfg := amqp.Config{Dial: func(network, addr string) (net.Conn, error) {
			d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(host)}, Timeout: 5 * time.Second}
			return d.Dial(network, addr)
		}}
		conn, err := amqp.DialConfig(url, cfg)
		if err != nil {
			var ae *amqp.Error
			if errors.As(err, &ae) {
				return fmt.Sprintf("%d %s", ae.Code, ae.Reason)
			}
			return "error " + err.Error()
		}
		defer conn.Close()
		return "ok " + conn.LocalAddr().String()
	}

	got := dial(p.URL())
	if !strings.HasPrefix(got, fmt.Sprintf("%d ", amqp.AccessRefused)) {
		t.Errorf("guest from %s: %q, want 403 (loopback only)", how, got)
	}
	got = dial(azURL(p, "remote", "pw", "/"))
	if !strings.HasPrefix(got, "ok ") || strings.HasPrefix(strings.TrimPrefix(got, "ok "), "127.") {
		t.Errorf("user remote: %q, want ok from a non-loopback address", got)
	}
	if got := dial(open.URL()); !strings.HasPrefix(got, "ok ") {
		t.Errorf("guest with loopback_users = none: %q, want ok", got)
	}
}
