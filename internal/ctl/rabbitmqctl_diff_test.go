package ctl

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/warrenmq/warren/internal/warrentest"
)

// TestDifferentialRabbitmqctl runs the same commands through rabbitmqctl
// and through warren ctl (over the management API) against one RabbitMQ
// node and compares exit codes, stdout and stderr. Opt-in: it boots
// RabbitMQ and each rabbitmqctl call starts an Erlang VM (a minute or two).
//
//	WARREN_CTL_DIFF=1 go test -run TestDifferentialRabbitmqctl -v ./internal/ctl
//
// Known, intended differences are not tested here: row order (rabbitmqctl
// lists in table order, the API sorts by name, so rows are compared as
// sets), pids (Warren has none), AMQP tables in JSON output (an object,
// not rabbitmqctl's [key, type, value] triples), ANSI bold in
// cluster_status and status, and the usage text of argument errors.
func TestDifferentialRabbitmqctl(t *testing.T) {
	if os.Getenv("WARREN_CTL_DIFF") == "" {
		t.Skip("set WARREN_CTL_DIFF=1 to compare warren ctl with rabbitmqctl on a RabbitMQ node")
	}
	ctlPath := "/usr/lib/rabbitmq/bin/rabbitmqctl"
	if _, err := os.Stat(ctlPath); err != nil {
		if ctlPath, err = exec.LookPath("rabbitmqctl"); err != nil {
			t.Skip("rabbitmqctl not installed")
		}
	}
	r := warrentest.StartRabbitMQ(t)

	conn, err := amqp.Dial(r.AMQPURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ch, _ := conn.Channel()
	ch.QueueDeclare("q1", true, false, false, false, nil)
	ch.QueueDeclare("q2", false, false, false, false, amqp.Table{"x-max-length": int32(10)})
	ch.Publish("", "q1", false, false, amqp.Publishing{Body: []byte("hi")})
	ch.ExchangeDeclare("ex1", "topic", true, false, false, false, nil)
	ch.QueueBind("q1", "a.#", "ex1", false, amqp.Table{"k": "v"})
	ch2, _ := conn.Channel()
	ch2.Qos(7, 0, false)
	ch2.Consume("q2", "ctag1", false, false, false, false, nil)

	rabbitmqctl := func(args []string) (int, string, string) {
		cmd := exec.Command(ctlPath, append([]string{"-n", r.Node}, args...)...)
		cmd.Env = r.Env
		var out, errb bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errb
		code := 0
		if err := cmd.Run(); err != nil {
			var ee *exec.ExitError
			if !errors.As(err, &ee) {
				t.Fatal(err)
			}
			code = ee.ExitCode()
		}
		return code, out.String(), errb.String()
	}
	warren := func(args []string) (int, string, string) {
		var out, errb bytes.Buffer
		code := Run(context.Background(), append([]string{"--node", r.MgmtURL}, args...),
			Env{Stdout: &out, Stderr: &errb, Prog: "rabbitmqctl"})
		return code, out.String(), errb.String()
	}

	dir := t.TempDir()
	// In each case {X} becomes rX for rabbitmqctl and wX for warren ctl, so
	// commands that change state run on separate objects.
	cases := []struct {
		cmd      string
		noStderr bool   // the message is worded differently on purpose
		only     string // compare only the stdout lines containing this
	}{
		{cmd: "list_users"},
		{cmd: "list_users -q"},
		{cmd: "list_users -s"},
		{cmd: "list_users --no-table-headers"},
		{cmd: "list_users --formatter json"},
		{cmd: "list_users --formatter csv"},
		{cmd: "list_vhosts name tracing cluster_state description tags default_queue_type"},
		{cmd: "add_user {u} secret"},
		{cmd: "add_user {u} secret"},
		{cmd: "-q add_user {u2} secret"},
		{cmd: "set_user_tags {u} administrator monitoring"},
		{cmd: "set_user_tags {u2}"},
		{cmd: "change_password {u} other"},
		{cmd: "change_password nobody x"},
		{cmd: "set_user_tags nobody x"},
		{cmd: "add_vhost {v}"},
		{cmd: "add_vhost {v}"},
		{cmd: "add_vhost {vd} --description desc --tags a,b --default-queue-type quorum"},
		{cmd: "list_vhosts -s name description tags default_queue_type", only: "{vd}\t"},
		{cmd: "list_permissions -p {v} -s", only: "{u}\t"}, // the API also grants the acting user (guest) on a new vhost
		{cmd: "list_vhosts name tracing cluster_state --formatter json"},
		{cmd: "set_permissions -p {v} {u} ^a ^b ^c"},
		{cmd: "set_permissions -p nosuch {u} .* .* .*"},
		{cmd: "set_permissions nobody .* .* .*"},
		{cmd: "list_permissions --formatter json"},
		{cmd: "list_permissions -p nosuch"},
		{cmd: "list_queues"},
		{cmd: "list_queues -q"},
		{cmd: "list_queues -s"},
		{cmd: "list_queues --timeout 5"},
		{cmd: "list_queues -p nosuch"},
		{cmd: "list_queues -p {v} --formatter json"},
		{cmd: "list_queues name messages consumers durable auto_delete exclusive policy state type arguments messages_ready messages_unacknowledged message_bytes"},
		{cmd: "list_queues name messages --formatter json"},
		{cmd: "list_queues name messages --formatter csv"},
		{cmd: "list_exchanges"},
		{cmd: "list_exchanges name type durable auto_delete internal arguments policy"},
		{cmd: "list_exchanges -p nosuch"},
		{cmd: "list_bindings"},
		{cmd: "list_bindings -p nosuch"},
		{cmd: "list_connections"},
		{cmd: "list_connections name user vhost peer_port host port state channels protocol auth_mechanism ssl timeout frame_max channel_max"},
		{cmd: "list_channels name user vhost number consumer_count messages_unacknowledged prefetch_count confirm transactional"},
		{cmd: "list_consumers queue_name consumer_tag ack_required prefetch_count active arguments"},
		{cmd: "list_consumers --formatter json queue_name consumer_tag ack_required prefetch_count active"},
		{cmd: `set_policy {p} ^q {"max-length":5} --apply-to queues --priority 3`},
		{cmd: `set_policy {p2} ^q notjson`, noStderr: true},
		{cmd: `set_policy {p2} ^q {"max-length":5} --apply-to bogus`},
		{cmd: "list_policies"},
		{cmd: "list_policies --formatter json"},
		{cmd: "list_policies -p nosuch"},
		{cmd: "clear_policy {p}"},
		{cmd: "clear_policy {p}"},
		{cmd: `set_operator_policy {p} ^q {"max-length":5} --apply-to queues --priority 3`},
		{cmd: "list_operator_policies"},
		{cmd: "list_operator_policies --formatter json"},
		{cmd: "clear_operator_policy {p}"},
		{cmd: "clear_operator_policy {p}"},
		{cmd: "purge_queue nosuch", noStderr: true},
		{cmd: "delete_queue nosuch"},
		{cmd: "delete_queue q1 --if-empty"},
		{cmd: "export_definitions " + filepath.Join(dir, "no", "x.json"), noStderr: true},
		{cmd: "import_definitions " + filepath.Join(dir, "missing.json"), noStderr: true},
		{cmd: "delete_vhost {v}"},
		{cmd: "delete_vhost {v}"},
		{cmd: "delete_user {u}"},
		{cmd: "delete_user {u}"},
		{cmd: "list_users extra", noStderr: true},
		{cmd: "add_user", noStderr: true},
		{cmd: "list_queues bogus_col", noStderr: true},
		{cmd: "change_cluster_node_type bogus", noStderr: true},
	}
	subst := regexp.MustCompile(`\{(\w+)\}`)
	for _, tc := range cases {
		rArgs := strings.Fields(subst.ReplaceAllString(tc.cmd, "r$1"))
		wArgs := strings.Fields(subst.ReplaceAllString(tc.cmd, "w$1"))
		rc, rOut, rErr := rabbitmqctl(rArgs)
		wc, wOut, wErr := warren(wArgs)
		// Compare with the names swapped back.
		norm := func(s string) string {
			for _, m := range subst.FindAllStringSubmatch(tc.cmd+tc.only, -1) {
				s = strings.ReplaceAll(s, "w"+m[1], "r"+m[1])
			}
			return s
		}
		if tc.only != "" {
			rOut = keepLines(rOut, subst.ReplaceAllString(tc.only, "r$1"))
			wOut = keepLines(wOut, subst.ReplaceAllString(tc.only, "w$1"))
		}
		wOut, wErr = norm(wOut), norm(wErr)
		if rc != wc {
			t.Errorf("%s: exit %d, rabbitmqctl %d\nwarren stderr: %s\nrabbitmqctl stderr: %s", tc.cmd, wc, rc, wErr, rErr)
		}
		if !sameRows(rOut, wOut) {
			t.Errorf("%s: stdout differs\nwarren ctl:\n%s\nrabbitmqctl:\n%s", tc.cmd, wOut, rOut)
		}
		if !tc.noStderr && rErr != wErr {
			t.Errorf("%s: stderr differs\nwarren ctl:\n%s\nrabbitmqctl:\n%s", tc.cmd, wErr, rErr)
		}
	}
}

func keepLines(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// sameRows compares outputs line by line as sets, with a JSON list's
// leading commas dropped, since only the row order may differ.
func sameRows(a, b string) bool {
	lines := func(s string) []string {
		l := strings.Split(s, "\n")
		for i := range l {
			l[i] = strings.TrimPrefix(l[i], ",")
		}
		slices.Sort(l)
		return l
	}
	return slices.Equal(lines(a), lines(b))
}
