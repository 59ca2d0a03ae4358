package ctl_test

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/warrenmq/warren/internal/warrentest"
)

// ctlBin runs the built binary's `warren ctl` verbs against a node.
type ctlBin struct {
	t    *testing.T
	bin  string
	node string
}

func (c ctlBin) run(stdin string, args ...string) (code int, stdout, stderr string) {
	c.t.Helper()
	cmd := exec.Command(c.bin, append([]string{"ctl", "--node", c.node}, args...)...)
	cmd.Env = slices.DeleteFunc(os.Environ(), func(kv string) bool { return strings.HasPrefix(kv, "WARREN_") })
	cmd.Stdin = strings.NewReader(stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		code = ee.ExitCode()
	case err != nil:
		c.t.Fatalf("warren ctl %v: %v", args, err)
	}
	return code, out.String(), errb.String()
}

// expect runs a verb and checks its exit code and stdout (exactly, or a
// line-order-free comparison when want starts with "~").
func (c ctlBin) expect(code int, want string, args ...string) string {
	c.t.Helper()
	got, out, errOut := c.run("", args...)
	ok := got == code
	if s, unordered := strings.CutPrefix(want, "~"); unordered {
		ok = ok && sameLines(out, s)
	} else if want != "*" {
		ok = ok && out == want
	}
	if !ok {
		c.t.Errorf("warren ctl %s: exit %d, want %d\nstdout:\n%s\nwant:\n%s\nstderr:\n%s",
			strings.Join(args, " "), got, code, out, strings.TrimPrefix(want, "~"), errOut)
	}
	return out
}

func sameLines(a, b string) bool {
	la, lb := strings.Split(a, "\n"), strings.Split(b, "\n")
	slices.Sort(la)
	slices.Sort(lb)
	return slices.Equal(la, lb)
}

// TestEndToEnd runs the built binary's ctl verbs against a real Warren node
// over its HTTP listener.
func TestEndToEnd(t *testing.T) {
	n := warrentest.Start(t, warrentest.WithWait("amqp", "http"))
	c := ctlBin{t: t, bin: warrentest.Build(t), node: "http://" + n.Addr["http"]}

	c.expect(0, "Adding vhost \"prod\" ...\n", "add_vhost", "prod", "--description", "production")
	c.expect(0, "Adding vhost \"prod\" ...\n", "add_vhost", "prod")
	c.expect(0, "Listing vhosts ...\nname\tdescription\n/\tDefault virtual host\nprod\tproduction\n", "list_vhosts", "name", "description")
	c.expect(0, "[\n{\"name\":\"/\"}\n,{\"name\":\"prod\"}\n]\n", "list_vhosts", "--formatter", "json")

	c.expect(0, "Adding user \"alice\" ...\nDone. Don't forget to grant the user permissions to some virtual hosts! See 'warren ctl help set_permissions' to learn more.\n",
		"add_user", "alice", "s3cret")
	c.expect(70, "Adding user \"alice\" ...\n", "add_user", "alice", "other")
	c.expect(0, "Setting tags for user \"alice\" to [management, policymaker] ...\n", "set_user_tags", "alice", "management", "policymaker")
	c.expect(0, "~user\ttags\nalice\t[management, policymaker]\nguest\t[administrator]\n", "list_users", "-q")
	c.expect(0, "*", "list_users", "--formatter", "json")

	c.expect(0, "Setting permissions for user \"alice\" in vhost \"prod\" ...\n", "set_permissions", "-p", "prod", "alice", "^alice-.*", ".*", ".*")
	c.expect(69, "Setting permissions for user \"alice\" in vhost \"nosuch\" ...\n", "set_permissions", "-p", "nosuch", "alice", ".*", ".*", ".*")
	c.expect(67, "Setting permissions for user \"nobody\" in vhost \"prod\" ...\n", "set_permissions", "-p", "prod", "nobody", ".*", ".*", ".*")
	perms := c.expect(0, "*", "list_permissions", "-p", "prod", "-s")
	if !slices.Contains(strings.Split(perms, "\n"), "alice\t^alice-.*\t.*\t.*") {
		t.Errorf("list_permissions -p prod lacks alice's:\n%s", perms)
	}
	c.expect(65, "Listing permissions for vhost \"nosuch\" ...\n", "list_permissions", "-p", "nosuch")

	// Queues made over AMQP, listed with columns.
	conn, err := amqp.Dial(n.AMQPURL())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ch, err := conn.Channel()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ch.QueueDeclare("q1", true, false, false, false, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := ch.QueueDeclare("q2", false, false, false, false, amqp.Table{"x-max-length": int32(10)}); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if err := ch.Publish("", "q1", false, false, amqp.Publishing{Body: []byte("hello")}); err != nil {
			t.Fatal(err)
		}
	}
	want := "Timeout: 60.0 seconds ...\nListing queues for vhost / ...\nname\tmessages\tdurable\targuments\nq1\t3\ttrue\t[]\nq2\t0\tfalse\t[{\"x-max-length\",10}]\n"
	warrentest.Eventually(t, 10*time.Second, func() bool {
		_, out, _ := c.run("", "list_queues", "name", "messages", "durable", "arguments")
		return out == want
	})
	c.expect(0, want, "list_queues", "name", "messages", "durable", "arguments")
	c.expect(0, "q1\t3\nq2\t0\n", "list_queues", "-s")
	c.expect(0, "[\n{\"name\":\"q1\",\"messages_ready\":3,\"consumers\":0}\n,{\"name\":\"q2\",\"messages_ready\":0,\"consumers\":0}\n]\n",
		"list_queues", "--formatter", "json", "name", "messages_ready", "consumers")
	c.expect(0, "Timeout: 60.0 seconds ...\nListing queues for vhost prod ...\n", "list_queues", "-p", "prod")
	c.expect(64, "", "list_queues", "bogus_column")
	c.expect(0, "Listing bindings for vhost /...\nsource_name\tsource_kind\tdestination_name\tdestination_kind\trouting_key\targuments\n"+
		"\texchange\tq1\tqueue\tq1\t[]\n\texchange\tq2\tqueue\tq2\t[]\n", "list_bindings")
	c.expect(0, "*", "list_exchanges", "name", "type", "durable")
	c.expect(0, "*", "list_connections", "user", "peer_host", "state", "protocol")
	c.expect(0, "*", "list_channels")
	c.expect(0, "*", "list_consumers")

	c.expect(0, "Purging queue 'q1' in vhost '/' ...\n", "purge_queue", "q1")
	warrentest.Eventually(t, 10*time.Second, func() bool {
		_, out, _ := c.run("", "list_queues", "-s")
		return out == "q1\t0\nq2\t0\n"
	})
	c.expect(69, "Purging queue 'nosuch' in vhost '/' ...\n", "purge_queue", "nosuch")
	c.expect(0, "Deleting queue 'q2' on vhost '/' ...\nQueue was successfully deleted with 0 ready messages\n", "delete_queue", "q2")
	c.expect(64, "Deleting queue 'q2' on vhost '/' ...\n", "delete_queue", "q2")

	c.expect(0, `Setting policy "lim" for pattern "^q" to "{"max-length":5}" with priority "1" for vhost "/" ...`+"\n",
		"set_policy", "lim", "^q", `{"max-length":5}`, "--apply-to", "queues", "--priority", "1")
	c.expect(0, "/\tlim\t^q\tqueues\t{\"max-length\":5}\t1\n", "list_policies", "-s")
	c.expect(0, "Clearing policy \"lim\" on vhost \"/\" ...\n", "clear_policy", "lim")
	c.expect(69, "Clearing policy \"lim\" on vhost \"/\" ...\n", "clear_policy", "lim")

	// change_password: the new password logs in over AMQP, the old one no more.
	c.expect(0, "Changing password for user \"alice\" ...\n", "change_password", "alice", "n3w")
	c.expect(67, "Changing password for user \"nobody\" ...\n", "change_password", "nobody", "x")
	amqpAddr := n.Addr["amqp"]
	if ac, err := amqp.Dial("amqp://alice:n3w@" + amqpAddr + "/prod"); err != nil {
		t.Errorf("alice with the new password: %v", err)
	} else {
		ac.Close()
	}
	if ac, err := amqp.Dial("amqp://alice:s3cret@" + amqpAddr + "/prod"); err == nil {
		ac.Close()
		t.Error("alice's old password still works")
	}

	// Definitions out, objects deleted, definitions back in.
	defs := filepath.Join(t.TempDir(), "defs.json")
	c.expect(0, "Exporting definitions in JSON to a file at \""+defs+"\" ...\n", "export_definitions", defs)
	data, err := os.ReadFile(defs)
	if err != nil || !bytes.Contains(data, []byte(`"alice"`)) || !bytes.Contains(data, []byte(`"prod"`)) {
		t.Fatalf("exported definitions (%v):\n%s", err, data)
	}
	c.expect(0, "Deleting user \"alice\" ...\n", "delete_user", "alice")
	c.expect(67, "Deleting user \"alice\" ...\n", "delete_user", "alice")
	c.expect(0, "Deleting vhost \"prod\" ...\n", "delete_vhost", "prod")
	c.expect(65, "Deleting vhost \"prod\" ...\n", "delete_vhost", "prod")
	c.expect(0, "guest\t[administrator]\n", "list_users", "-s")
	c.expect(0, "Importing definitions in JSON from a file at \""+defs+"\" ...\nSuccessfully imported definitions.\n", "import_definitions", defs)
	c.expect(0, "~alice\t[management, policymaker]\nguest\t[administrator]\n", "list_users", "-s")
	c.expect(0, "/\nprod\n", "list_vhosts", "-s")
	if ac, err := amqp.Dial("amqp://alice:n3w@" + amqpAddr + "/prod"); err != nil {
		t.Errorf("alice after the import: %v", err)
	} else {
		ac.Close()
	}
	if code, _, errOut := c.run("{not json", "import_definitions", "-"); code != 65 || !strings.Contains(errOut, "Failed to deserialise input") {
		t.Errorf("import of bad JSON from stdin: exit %d, %s", code, errOut)
	}

	// Node verbs.
	out := c.expect(0, "*", "status")
	if !strings.HasPrefix(out, "Status of node ") || !strings.Contains(out, "Listeners\n\nInterface: 127.0.0.1, port: ") {
		t.Errorf("status:\n%s", out)
	}
	out = c.expect(0, "*", "cluster_status")
	if !strings.Contains(out, "Disk Nodes\n\n") || !strings.Contains(out, "Running Nodes\n\n") {
		t.Errorf("cluster_status:\n%s", out)
	}
	for _, verb := range [][]string{{"stop_app"}, {"start_app"}, {"reset"}, {"join_cluster", "rabbit@elsewhere"},
		{"forget_cluster_node", "rabbit@elsewhere"}, {"change_cluster_node_type", "ram"}} {
		code, _, errOut := c.run("", verb...)
		if code != 69 || !strings.Contains(errOut, "does not support "+verb[0]) {
			t.Errorf("%v: exit %d, %s", verb, code, errOut)
		}
	}

	// Exit codes scripts rely on.
	if code, _, errOut := c.run("", "-u", "guest", "-p", "wrong", "list_users"); code != 77 {
		t.Errorf("wrong password: exit %d, %s", code, errOut)
	}
	if code, _, _ := c.run("", "no_such_verb"); code != 64 {
		t.Errorf("unknown verb: exit %d", code)
	}
	if code, out, _ := c.run("", "list_queues", "--help"); code != 0 || !strings.Contains(out, "Usage") {
		t.Errorf("list_queues --help: exit %d\n%s", code, out)
	}
	dead := ctlBin{t: t, bin: c.bin, node: "http://127.0.0.1:1"}
	if code, _, _ := dead.run("", "list_users"); code != 69 {
		t.Errorf("unreachable node: exit %d", code)
	}
}
