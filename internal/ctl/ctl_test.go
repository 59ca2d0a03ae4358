package ctl

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// run runs warren ctl in-process against the fixture with args after
// --node and returns the exit code, stdout and stderr.
func run(t *testing.T, f *fixtureAPI, args ...string) (int, string, string) {
	t.Helper()
	return runEnv(t, Env{}, append([]string{"--node", f.URL()}, args...)...)
}

func runEnv(t *testing.T, env Env, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	env.Stdout, env.Stderr = &out, &errb
	code := Run(context.Background(), args, env)
	return code, out.String(), errb.String()
}

// The expected outputs are rabbitmqctl 3.10.8's for the same node (rows in
// the API's order, which sorts by name).
func TestListOutput(t *testing.T) {
	f := newFixtureAPI(t)
	const queuesInfo = "Timeout: 60.0 seconds ...\nListing queues for vhost / ...\n"
	tests := []struct {
		args []string
		code int
		out  string
		err  string
	}{
		{[]string{"list_users"}, 0, "Listing users ...\nuser\ttags\nguest\t[administrator]\n", ""},
		{[]string{"list_users", "-q"}, 0, "user\ttags\nguest\t[administrator]\n", ""},
		{[]string{"-q", "list_users"}, 0, "user\ttags\nguest\t[administrator]\n", ""},
		{[]string{"list_users", "-s"}, 0, "guest\t[administrator]\n", ""},
		{[]string{"list_users", "--no-table-headers"}, 0, "Listing users ...\nguest\t[administrator]\n", ""},
		{[]string{"list_users", "--formatter", "json"}, 0, "[\n{\"user\":\"guest\",\"tags\":[\"administrator\"]}\n]\n", ""},
		{[]string{"list_users", "--formatter", "csv"}, 0, "\"user\",\"tags\"\n\"guest\",\"[administrator]\"\n", ""},
		{[]string{"list_users", "--formatter", "table"}, 0, "Listing users ...\nuser\ttags\nguest\t[administrator]\n", ""},
		{[]string{"list_users", "--formatter", "pretty_table"}, 0, "Listing users ...\n" +
			"┌───────┬─────────────────┐\n" +
			"│ user  │ tags            │\n" +
			"├───────┼─────────────────┤\n" +
			"│ guest │ [administrator] │\n" +
			"└───────┴─────────────────┘\n", ""},

		{[]string{"list_queues"}, 0, queuesInfo + "name\tmessages\nq1\t1\nq2\t0\n", ""},
		{[]string{"list_queues", "-q"}, 0, "name\tmessages\nq1\t1\nq2\t0\n", ""},
		{[]string{"list_queues", "-s"}, 0, "q1\t1\nq2\t0\n", ""},
		{[]string{"list_queues", "--timeout", "5"}, 0, "Timeout: 5.0 seconds ...\nListing queues for vhost / ...\nname\tmessages\nq1\t1\nq2\t0\n", ""},
		{[]string{"list_queues", "-t", "2.5", "-s"}, 0, "q1\t1\nq2\t0\n", ""},
		{[]string{"list_queues", "name", "messages", "consumers", "durable", "arguments"}, 0, queuesInfo +
			"name\tmessages\tconsumers\tdurable\targuments\n" +
			"q1\t1\t0\ttrue\t[]\n" +
			"q2\t0\t1\tfalse\t[{\"x-max-length\",10}]\n", ""},
		{[]string{"list_queues", "-q", "name,durable", "auto_delete"}, 0,
			"name\tdurable\tauto_delete\nq1\ttrue\tfalse\nq2\tfalse\tfalse\n", ""},
		{[]string{"list_queues", "-q", "name", "arguments", "durable", "auto_delete", "exclusive", "policy", "state", "type",
			"messages_ready", "messages_unacknowledged", "message_bytes", "consumers", "consumer_utilisation"}, 0,
			"name\targuments\tdurable\tauto_delete\texclusive\tpolicy\tstate\ttype\tmessages_ready\tmessages_unacknowledged\tmessage_bytes\tconsumers\tconsumer_utilisation\n" +
				"q1\t[]\ttrue\tfalse\tfalse\t\trunning\tclassic\t1\t0\t2\t0\t0\n" +
				"q2\t[{\"x-max-length\",10}]\tfalse\tfalse\tfalse\t\trunning\tclassic\t0\t0\t0\t1\t1.0\n", ""},
		{[]string{"list_queues", "--formatter", "json"}, 0, "[\n{\"name\":\"q1\",\"messages\":1}\n,{\"name\":\"q2\",\"messages\":0}\n]\n", ""},
		{[]string{"list_queues", "--formatter", "json", "name", "policy", "arguments"}, 0,
			"[\n{\"name\":\"q1\",\"policy\":\"\",\"arguments\":{}}\n,{\"name\":\"q2\",\"policy\":\"\",\"arguments\":{\"x-max-length\":10}}\n]\n", ""},
		{[]string{"list_queues", "--formatter", "csv", "name", "messages"}, 0, "\"name\",\"messages\"\n\"q1\",\"1\"\n\"q2\",\"0\"\n", ""},
		{[]string{"list_queues", "-p", "v1"}, 0, "Timeout: 60.0 seconds ...\nListing queues for vhost v1 ...\n", ""},
		{[]string{"list_queues", "-p", "v1", "--formatter", "json"}, 0, "[\n]\n", ""},
		{[]string{"list_queues", "--vhost", "nosuch"}, 0, "Timeout: 60.0 seconds ...\nListing queues for vhost nosuch ...\n", ""},
		{[]string{"--vhost", "v1", "list_queues", "-s"}, 0, "", ""},

		{[]string{"list_exchanges"}, 0, "Listing exchanges for vhost / ...\nname\ttype\n" +
			"\tdirect\namq.direct\tdirect\namq.fanout\tfanout\namq.headers\theaders\namq.match\theaders\n" +
			"amq.rabbitmq.trace\ttopic\namq.topic\ttopic\nex1\ttopic\n", ""},
		{[]string{"list_exchanges", "-s", "name", "type", "durable", "auto_delete", "internal", "arguments", "policy"}, 0,
			"\tdirect\ttrue\tfalse\tfalse\t[]\t\n" +
				"amq.direct\tdirect\ttrue\tfalse\tfalse\t[]\t\n" +
				"amq.fanout\tfanout\ttrue\tfalse\tfalse\t[]\t\n" +
				"amq.headers\theaders\ttrue\tfalse\tfalse\t[]\t\n" +
				"amq.match\theaders\ttrue\tfalse\tfalse\t[]\t\n" +
				"amq.rabbitmq.trace\ttopic\ttrue\tfalse\ttrue\t[]\t\n" +
				"amq.topic\ttopic\ttrue\tfalse\tfalse\t[]\t\n" +
				"ex1\ttopic\ttrue\tfalse\tfalse\t[]\t\n", ""},
		{[]string{"list_exchanges", "-p", "nosuch"}, 0, "Listing exchanges for vhost nosuch ...\n", ""},

		{[]string{"list_bindings"}, 0, "Listing bindings for vhost /...\n" +
			"source_name\tsource_kind\tdestination_name\tdestination_kind\trouting_key\targuments\n" +
			"\texchange\tq1\tqueue\tq1\t[]\n" +
			"\texchange\tq2\tqueue\tq2\t[]\n" +
			"ex1\texchange\tq1\tqueue\ta.#\t[{\"k\",\"v\"}]\n", ""},
		{[]string{"list_bindings", "--formatter", "json", "source_name", "routing_key"}, 0,
			"[\n{\"source_name\":\"\",\"routing_key\":\"q1\"}\n,{\"source_name\":\"\",\"routing_key\":\"q2\"}\n,{\"source_name\":\"ex1\",\"routing_key\":\"a.#\"}\n]\n", ""},

		{[]string{"list_connections"}, 0, "Listing connections ...\nuser\tpeer_host\tpeer_port\tstate\nguest\t127.0.0.1\t57448\trunning\n", ""},
		{[]string{"list_connections", "-q", "name", "protocol", "client_properties", "ssl", "ssl_protocol", "timeout", "frame_max", "channels"}, 0,
			"name\tprotocol\tclient_properties\tssl\tssl_protocol\ttimeout\tframe_max\tchannels\n" +
				"127.0.0.1:57448 -> 127.0.0.1:25700\t{0,9,1}\t" +
				`[{"capabilities",[{"basic.nack",true},{"connection.blocked",true},{"consumer_cancel_notify",true},{"publisher_confirms",true}]},{"platform","golang"},{"product","AMQP 0.9.1 Client"},{"version","1.16.0"}]` +
				"\tfalse\t\t10\t131072\t2\n", ""},
		{[]string{"list_channels"}, 0, "Listing channels ...\npid\tuser\tconsumer_count\tmessages_unacknowledged\n" +
			"127.0.0.1:57448 -> 127.0.0.1:25700 (1)\tguest\t0\t0\n" +
			"127.0.0.1:57448 -> 127.0.0.1:25700 (2)\tguest\t1\t0\n", ""},
		{[]string{"list_channels", "-s", "name", "connection", "number", "prefetch_count", "confirm", "transactional"}, 0,
			"127.0.0.1:57448 -> 127.0.0.1:25700 (1)\t127.0.0.1:57448 -> 127.0.0.1:25700\t1\t0\tfalse\tfalse\n" +
				"127.0.0.1:57448 -> 127.0.0.1:25700 (2)\t127.0.0.1:57448 -> 127.0.0.1:25700\t2\t7\tfalse\tfalse\n", ""},
		{[]string{"list_consumers"}, 0, "Listing consumers in vhost / ...\n" +
			"queue_name\tchannel_pid\tconsumer_tag\tack_required\tprefetch_count\tactive\targuments\n" +
			"q2\t127.0.0.1:57448 -> 127.0.0.1:25700 (2)\tctag1\ttrue\t7\ttrue\t[]\n", ""},
		{[]string{"list_consumers", "--formatter", "json", "queue_name", "consumer_tag", "activity_status"}, 0,
			"[\n{\"queue_name\":\"q2\",\"consumer_tag\":\"ctag1\",\"activity_status\":\"up\"}\n]\n", ""},
		{[]string{"list_consumers", "-p", "v1"}, 0, "Listing consumers in vhost v1 ...\n", ""},

		{[]string{"list_policies"}, 0, "Listing policies for vhost \"/\" ...\n" +
			"vhost\tname\tpattern\tapply-to\tdefinition\tpriority\n/\tp1\t^q\tqueues\t{\"max-length\":5}\t3\n", ""},
		{[]string{"list_policies", "--formatter", "json"}, 0,
			"[\n{\"vhost\":\"/\",\"name\":\"p1\",\"pattern\":\"^q\",\"apply-to\":\"queues\",\"definition\":\"{\\\"max-length\\\":5}\",\"priority\":3}\n]\n", ""},
		{[]string{"list_policies", "-p", "v1"}, 0, "Listing policies for vhost \"v1\" ...\n", ""},
		{[]string{"list_policies", "-p", "nosuch"}, 65, "Listing policies for vhost \"nosuch\" ...\n", "Virtual host 'nosuch' does not exist\n"},

		{[]string{"list_vhosts"}, 0, "Listing vhosts ...\nname\n/\nv1\n", ""},
		{[]string{"list_vhosts", "name", "tracing", "cluster_state", "description", "tags", "default_queue_type"}, 0,
			"Listing vhosts ...\nname\ttracing\tcluster_state\tdescription\ttags\tdefault_queue_type\n" +
				"/\tfalse\t[{'rabbit-cap@localhost', running}]\tDefault virtual host\t[]\tundefined\n" +
				"v1\tfalse\t[{'rabbit-cap@localhost', running}]\t\t[]\tundefined\n", ""},
		{[]string{"list_vhosts", "--formatter", "json", "name", "cluster_state", "tags"}, 0,
			"[\n{\"name\":\"/\",\"cluster_state\":{\"rabbit-cap@localhost\":\"running\"},\"tags\":[]}\n" +
				",{\"name\":\"v1\",\"cluster_state\":{\"rabbit-cap@localhost\":\"running\"},\"tags\":[]}\n]\n", ""},

		{[]string{"list_permissions"}, 0, "Listing permissions for vhost \"/\" ...\nuser\tconfigure\twrite\tread\nguest\t.*\t.*\t.*\n", ""},
		{[]string{"list_permissions", "-p", "v1"}, 0, "Listing permissions for vhost \"v1\" ...\nuser\tconfigure\twrite\tread\n" +
			"bob\t^a\t^b\t^c\nguest\t.*\t.*\t.*\n", ""},
		{[]string{"list_permissions", "-p", "v1", "--formatter", "json"}, 0,
			"[\n{\"user\":\"bob\",\"configure\":\"^a\",\"write\":\"^b\",\"read\":\"^c\"}\n,{\"user\":\"guest\",\"configure\":\".*\",\"write\":\".*\",\"read\":\".*\"}\n]\n", ""},
		{[]string{"list_permissions", "-p", "nosuch"}, 65, "Listing permissions for vhost \"nosuch\" ...\n", "Virtual host 'nosuch' does not exist\n"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			code, out, errOut := run(t, f, tt.args...)
			if code != tt.code || out != tt.out || errOut != tt.err {
				t.Errorf("exit %d, want %d\nstdout:\n%s\nwant:\n%s\nstderr:\n%s\nwant:\n%s", code, tt.code, out, tt.out, errOut, tt.err)
			}
		})
	}
}

// The list verbs ask for only the fields they print (columns=).
func TestListColumnsQuery(t *testing.T) {
	f := newFixtureAPI(t)
	for _, tt := range []struct {
		args []string
		req  string
	}{
		{[]string{"list_queues"}, "GET /api/queues/%2F?columns=name%2Cmessages"},
		{[]string{"list_queues", "-p", "a/b", "name", "owner_pid"}, "GET /api/queues/a%2Fb?columns=name%2Cowner_pid_details.name"},
		{[]string{"list_consumers"}, "GET /api/consumers/%2F?columns=queue.name%2Cchannel_details.name%2Cconsumer_tag%2Cack_required%2Cprefetch_count%2Cactive%2Carguments"},
		{[]string{"list_channels", "pid", "connection"}, "GET /api/channels?columns=name%2Cconnection_details.name"},
		{[]string{"list_bindings", "source_kind"}, "GET /api/bindings/%2F"},
	} {
		before := len(f.requests())
		if code, _, errOut := run(t, f, tt.args...); code != 0 && !strings.Contains(tt.req, "a%2Fb") {
			t.Fatalf("%v: exit %d: %s", tt.args, code, errOut)
		}
		if got := f.requests()[before]; got != tt.req {
			t.Errorf("%v: request %q, want %q", tt.args, got, tt.req)
		}
	}
}

func TestUserVhostPermissionVerbs(t *testing.T) {
	f := newFixtureAPI(t)
	steps := []struct {
		args []string
		code int
		out  string
		err  string
		req  string // the last request, if checked
	}{
		{[]string{"add_user", "bob", "secret"}, 0, "Adding user \"bob\" ...\n" +
			"Done. Don't forget to grant the user permissions to some virtual hosts! See 'warren ctl help set_permissions' to learn more.\n", "",
			`PUT /api/users/bob {"password":"secret","tags":[]}`},
		{[]string{"add_user", "bob", "other"}, 70, "Adding user \"bob\" ...\n", "Error:\nUser \"bob\" already exists\n", "GET /api/users/bob"},
		{[]string{"-q", "add_user", "nopw", ""}, 0, "", "", `PUT /api/users/nopw {"password_hash":"","tags":[]}`},
		{[]string{"set_user_tags", "bob", "administrator", "monitoring"}, 0, "Setting tags for user \"bob\" to [administrator, monitoring] ...\n", "",
			`PUT /api/users/bob {"password_hash":"hash-of-secret","hashing_algorithm":"rabbit_password_hashing_sha256","tags":["administrator","monitoring"]}`},
		{[]string{"set_user_tags", "nopw"}, 0, "Setting tags for user \"nopw\" to [] ...\n", "", ""},
		{[]string{"list_users", "-s"}, 0, "bob\t[administrator, monitoring]\nguest\t[administrator]\nnopw\t[]\n", "", ""},
		{[]string{"change_password", "bob", "newpw"}, 0, "Changing password for user \"bob\" ...\n", "",
			`PUT /api/users/bob {"password":"newpw","tags":["administrator","monitoring"]}`},
		{[]string{"change_password", "nobody", "x"}, 67, "Changing password for user \"nobody\" ...\n", "Error:\nUser \"nobody\" does not exist\n", ""},
		{[]string{"set_user_tags", "nobody", "x"}, 67, "Setting tags for user \"nobody\" to [x] ...\n", "Error:\nUser \"nobody\" does not exist\n", ""},
		{[]string{"delete_user", "nobody"}, 67, "Deleting user \"nobody\" ...\n", "Error:\nUser \"nobody\" does not exist\n", ""},
		{[]string{"delete_user", "nopw"}, 0, "Deleting user \"nopw\" ...\n", "", "DELETE /api/users/nopw"},

		{[]string{"add_vhost", "v2", "--description", "second", "--tags", "a,b", "--default-queue-type", "quorum"}, 0, "Adding vhost \"v2\" ...\n", "",
			`PUT /api/vhosts/v2 {"description":"second","tags":["a","b"],"default_queue_type":"quorum","defaultqueuetype":"quorum"}`},
		{[]string{"add_vhost", "v2", "--description", "changed"}, 0, "Adding vhost \"v2\" ...\n", "", "GET /api/vhosts/v2"}, // exists: left as it is
		{[]string{"add_vhost", "a/b"}, 0, "Adding vhost \"a/b\" ...\n", "", `PUT /api/vhosts/a%2Fb {}`},
		{[]string{"list_vhosts", "-s", "name", "description", "tags", "default_queue_type"}, 0,
			"/\tDefault virtual host\t[]\tundefined\nv1\t\t[]\tundefined\nv2\tsecond\t[a, b]\tquorum\na/b\t\t[]\tundefined\n", "", ""},
		{[]string{"set_permissions", "-p", "v2", "bob", "^a", "^b", "^c"}, 0, "Setting permissions for user \"bob\" in vhost \"v2\" ...\n", "",
			`PUT /api/permissions/v2/bob {"configure":"^a","read":"^c","write":"^b"}`},
		{[]string{"set_permissions", "bob", ".*", ".*", ".*"}, 0, "Setting permissions for user \"bob\" in vhost \"/\" ...\n", "",
			`PUT /api/permissions/%2F/bob {"configure":".*","read":".*","write":".*"}`},
		{[]string{"set_permissions", "--vhost", "nosuch", "bob", ".*", ".*", ".*"}, 69, "Setting permissions for user \"bob\" in vhost \"nosuch\" ...\n",
			"Error:\nVirtual host nosuch does not exist\n", ""},
		{[]string{"set_permissions", "nobody", ".*", ".*", ".*"}, 67, "Setting permissions for user \"nobody\" in vhost \"/\" ...\n",
			"Error:\nUser nobody does not exist\n", ""},
		{[]string{"list_permissions", "-p", "v2", "-q"}, 0, "user\tconfigure\twrite\tread\nbob\t^a\t^b\t^c\n", "", ""},
		{[]string{"delete_vhost", "v2"}, 0, "Deleting vhost \"v2\" ...\n", "", "DELETE /api/vhosts/v2"},
		{[]string{"delete_vhost", "v2"}, 65, "Deleting vhost \"v2\" ...\n", "Virtual host 'v2' does not exist\n", ""},
		{[]string{"delete_user", "bob"}, 0, "Deleting user \"bob\" ...\n", "", ""},
	}
	for _, s := range steps {
		code, out, errOut := run(t, f, s.args...)
		if code != s.code || out != s.out || errOut != s.err {
			t.Errorf("%v: exit %d, want %d\nstdout:\n%s\nwant:\n%s\nstderr:\n%s\nwant:\n%s", s.args, code, s.code, out, s.out, errOut, s.err)
		}
		if s.req != "" {
			reqs := f.requests()
			if got := reqs[len(reqs)-1]; got != s.req {
				t.Errorf("%v: last request\n%s\nwant\n%s", s.args, got, s.req)
			}
		}
	}
}

func TestQueueAndPolicyVerbs(t *testing.T) {
	f := newFixtureAPI(t)
	steps := []struct {
		args []string
		code int
		out  string
		err  string
		req  string
	}{
		{[]string{"set_policy", "p2", "^x", `{"max-length":5, "ha-mode":"all"}`, "--apply-to", "exchanges", "--priority", "2"}, 0,
			`Setting policy "p2" for pattern "^x" to "{"max-length":5, "ha-mode":"all"}" with priority "2" for vhost "/" ...` + "\n", "",
			`PUT /api/policies/%2F/p2 {"pattern":"^x","definition":{"max-length":5,"ha-mode":"all"},"priority":2,"apply-to":"exchanges"}`},
		{[]string{"set_policy", "-p", "v1", "p3", ".*", `{}`}, 0,
			`Setting policy "p3" for pattern ".*" to "{}" with priority "0" for vhost "v1" ...` + "\n", "",
			`PUT /api/policies/v1/p3 {"pattern":".*","definition":{},"priority":0,"apply-to":"all"}`},
		{[]string{"set_policy", "p4", "^q", "notjson"}, 69,
			`Setting policy "p4" for pattern "^q" to "notjson" with priority "0" for vhost "/" ...` + "\n",
			"Error:\nJSON decoding error. Reason: invalid character 'o' in literal null (expecting 'u')\n", ""},
		{[]string{"set_policy", "p4", "^q", `{"max-length":5}`, "--apply-to", "bogus"}, 69,
			`Setting policy "p4" for pattern "^q" to "{"max-length":5}" with priority "0" for vhost "/" ...` + "\n",
			"Error:\nValidation failed\n\napply-to 'bogus' unrecognised; should be 'queues', 'exchanges' or 'all'\n\n", ""},
		{[]string{"set_policy", "-p", "nosuch", "p4", "^q", `{}`}, 69,
			`Setting policy "p4" for pattern "^q" to "{}" with priority "0" for vhost "nosuch" ...` + "\n",
			"Error:\nVirtual host nosuch does not exist\n", ""},
		{[]string{"set_policy", "p4", "^q", `{}`, "--priority", "high"}, 64, "", "", ""},
		{[]string{"list_policies", "-s"}, 0, "/\tp1\t^q\tqueues\t{\"max-length\":5}\t3\n/\tp2\t^x\texchanges\t{\"ha-mode\":\"all\",\"max-length\":5}\t2\n", "", ""},
		{[]string{"clear_policy", "p2"}, 0, "Clearing policy \"p2\" on vhost \"/\" ...\n", "", "DELETE /api/policies/%2F/p2"},
		{[]string{"clear_policy", "p2"}, 69, "Clearing policy \"p2\" on vhost \"/\" ...\n", "Error:\nParameter does not exist\n", ""},

		{[]string{"purge_queue", "q1"}, 0, "Purging queue 'q1' in vhost '/' ...\n", "", "DELETE /api/queues/%2F/q1/contents"},
		{[]string{"purge_queue", "nosuch"}, 69, "Purging queue 'nosuch' in vhost '/' ...\n", "Error:\nnot_found: no queue 'nosuch' in vhost '/'\n", ""},
		{[]string{"delete_queue", "q2", "--if-unused"}, 64, "Deleting queue 'q2' on vhost '/' if queue is unused ...\n", "Error:\nQueue is in use\n",
			"DELETE /api/queues/%2F/q2?if-unused=true"},
		{[]string{"delete_queue", "-e", "q1"}, 64, "Deleting queue 'q1' on vhost '/' if queue is empty ...\n", "Error:\nQueue is not empty\n", ""},
		{[]string{"delete_queue", "q1", "-e", "-u"}, 64, "Deleting queue 'q1' on vhost '/' if queue is empty and if queue is unused ...\n", "Error:\nQueue is not empty\n",
			"DELETE /api/queues/%2F/q1?if-empty=true&if-unused=true"},
		{[]string{"delete_queue", "q1"}, 0, "Deleting queue 'q1' on vhost '/' ...\nQueue was successfully deleted with 1 ready messages\n", "",
			"DELETE /api/queues/%2F/q1"},
		{[]string{"-q", "delete_queue", "q2"}, 0, "Queue was successfully deleted with 0 ready messages\n", "", ""},
		{[]string{"delete_queue", "q1"}, 64, "Deleting queue 'q1' on vhost '/' ...\n", "Error:\nQueue not found\n", ""},
		{[]string{"list_queues", "-s"}, 0, "", "", ""},
	}
	for _, s := range steps {
		code, out, errOut := run(t, f, s.args...)
		if code != s.code || out != s.out || (errOut != s.err && s.code != 64) {
			t.Errorf("%v: exit %d, want %d\nstdout:\n%s\nwant:\n%s\nstderr:\n%s\nwant:\n%s", s.args, code, s.code, out, s.out, errOut, s.err)
		}
		if s.req != "" {
			reqs := f.requests()
			if got := reqs[len(reqs)-1]; got != s.req {
				t.Errorf("%v: last request\n%s\nwant\n%s", s.args, got, s.req)
			}
		}
	}
}

func TestDefinitions(t *testing.T) {
	f := newFixtureAPI(t)
	dir := t.TempDir()
	file := filepath.Join(dir, "defs.json")

	code, out, errOut := run(t, f, "export_definitions", file)
	if code != 0 || out != "Exporting definitions in JSON to a file at \""+file+"\" ...\n" || errOut != "" {
		t.Fatalf("export: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	got, _ := os.ReadFile(file)
	if !bytes.Equal(got, fixtureFile(t, "definitions.json")) {
		t.Errorf("exported file differs from GET /api/definitions:\n%s", got)
	}
	if st, _ := os.Stat(file); st.Mode().Perm() != 0o600 {
		t.Errorf("exported file mode %v, want 0600 (it holds password hashes)", st.Mode().Perm())
	}
	code, out, _ = run(t, f, "export_definitions", "-")
	if code != 0 || out != string(fixtureFile(t, "definitions.json")) {
		t.Errorf("export to stdout: exit %d, %q", code, out)
	}
	code, _, errOut = run(t, f, "export_definitions", filepath.Join(dir, "no", "such", "x.json"))
	if code != 65 || !strings.Contains(errOut, "Bad argument: Directory "+filepath.Join(dir, "no", "such")+" does not exist") {
		t.Errorf("export to a missing dir: exit %d, %q", code, errOut)
	}
	code, _, errOut = run(t, f, "export_definitions", file, "--format", "erlang")
	if code != 64 || !strings.Contains(errOut, "not supported") {
		t.Errorf("--format erlang: exit %d, %q", code, errOut)
	}

	code, out, errOut = run(t, f, "import_definitions", file)
	if code != 0 || out != "Importing definitions in JSON from a file at \""+file+"\" ...\nSuccessfully imported definitions.\n" || errOut != "" {
		t.Errorf("import: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	var stdinOut bytes.Buffer
	code = Run(context.Background(), []string{"--node", f.URL(), "-q", "import_definitions"},
		Env{Stdin: strings.NewReader(`{"vhosts":[{"name":"from-stdin"}]}`), Stdout: &stdinOut, Stderr: &stdinOut})
	if code != 0 || stdinOut.String() != "" {
		t.Errorf("import from stdin: exit %d, %q", code, stdinOut.String())
	}
	f.mu.Lock()
	imported := slices.Clone(f.imported)
	f.mu.Unlock()
	if len(imported) != 2 || !bytes.Equal(imported[0], fixtureFile(t, "definitions.json")) ||
		string(imported[1]) != `{"vhosts":[{"name":"from-stdin"}]}` {
		t.Errorf("imported bodies: %q", imported)
	}

	bad := filepath.Join(dir, "bad.json")
	os.WriteFile(bad, []byte("list_users\n"), 0o644)
	before := len(f.requests())
	code, _, errOut = run(t, f, "import_definitions", bad)
	if code != 65 || !strings.Contains(errOut, "Failed to deserialise input (format: JSON)") {
		t.Errorf("import of a non-JSON file: exit %d, %q", code, errOut)
	}
	if len(f.requests()) != before {
		t.Errorf("a non-JSON file was sent: %v", f.requests()[before:])
	}
	code, _, errOut = run(t, f, "import_definitions", filepath.Join(dir, "missing.json"))
	if code != 65 || !strings.Contains(errOut, "does not exist") {
		t.Errorf("import of a missing file: exit %d, %q", code, errOut)
	}
}

func TestStatusAndClusterStatus(t *testing.T) {
	f := newFixtureAPI(t)
	code, out, errOut := run(t, f, "status")
	for _, want := range []string{"Status of node rabbit-cap@localhost ...\n", "OS PID: 22354\n", "RabbitMQ version: 3.10.8\n",
		"Total memory used: 0.1385 gb\n", "Free disk space: 84.0222 gb\n", "Virtual host count: 2\n",
		"Interface: 127.0.0.1, port: 25700, protocol: amqp, purpose: AMQP 0-9-1 and AMQP 1.0\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("status lacks %q:\n%s", want, out)
		}
	}
	if code != 0 || errOut != "" {
		t.Errorf("status: exit %d, stderr %q", code, errOut)
	}
	code, out, _ = run(t, f, "status", "--unit", "mb", "-q")
	if code != 0 || !strings.Contains(out, "Total memory used: 138.5144 mb\n") || strings.Contains(out, "Status of node") {
		t.Errorf("status --unit mb -q: exit %d:\n%s", code, out)
	}
	code, out, _ = run(t, f, "status", "--formatter", "json")
	var st map[string]any
	if err := json.Unmarshal([]byte(out), &st); err != nil || code != 0 {
		t.Fatalf("status json: exit %d, %v: %s", code, err, out)
	}
	if st["pid"] != 22354.0 || st["rabbitmq_version"] != "3.10.8" || st["disk_free_limit"] != 5e7 {
		t.Errorf("status json: %v", st)
	}

	code, out, _ = run(t, f, "cluster_status")
	want := `Cluster status of node rabbit-cap@localhost ...
Basics

Cluster name: rabbit-cap@vm

Disk Nodes

rabbit-cap@localhost

Running Nodes

rabbit-cap@localhost

Versions

rabbit-cap@localhost: RabbitMQ 3.10.8 on Erlang 25.2.3

Maintenance status

Node: rabbit-cap@localhost, status: not under maintenance

Alarms

(none)

Network Partitions

(none)

Listeners

Node: rabbit-cap@localhost, interface: 127.0.0.1, port: 25700, protocol: amqp, purpose: AMQP 0-9-1 and AMQP 1.0
Node: rabbit-cap@localhost, interface: [::], port: 25702, protocol: clustering, purpose: inter-node and CLI tool communication
Node: rabbit-cap@localhost, interface: [::], port: 25701, protocol: http, purpose: HTTP API

Feature flags

(none)
`
	if code != 0 || out != want {
		t.Errorf("cluster_status: exit %d:\n%s\nwant:\n%s", code, out, want)
	}
	code, out, _ = run(t, f, "cluster_status", "--formatter", "json")
	var cs struct {
		ClusterName  string         `json:"cluster_name"`
		DiskNodes    []string       `json:"disk_nodes"`
		RAMNodes     []string       `json:"ram_nodes"`
		RunningNodes []string       `json:"running_nodes"`
		Alarms       []any          `json:"alarms"`
		Partitions   map[string]any `json:"partitions"`
	}
	if err := json.Unmarshal([]byte(out), &cs); err != nil || code != 0 {
		t.Fatalf("cluster_status json: exit %d, %v: %s", code, err, out)
	}
	if cs.ClusterName != "rabbit-cap@vm" || !slices.Equal(cs.DiskNodes, []string{"rabbit-cap@localhost"}) ||
		cs.RAMNodes == nil || len(cs.RAMNodes) != 0 || !slices.Equal(cs.RunningNodes, []string{"rabbit-cap@localhost"}) {
		t.Errorf("cluster_status json: %+v", cs)
	}
}

// The node operations RabbitMQ's HTTP API lacks fail with 69 and say so,
// never pretending to succeed.
func TestUnsupportedVerbs(t *testing.T) {
	f := newFixtureAPI(t)
	for _, tt := range []struct {
		args []string
		info string
	}{
		{[]string{"stop_app"}, "Stopping rabbit application on node rabbit-cap@localhost ...\n"},
		{[]string{"start_app"}, "Starting node rabbit-cap@localhost ...\n"},
		{[]string{"reset"}, "Resetting node rabbit-cap@localhost ...\n"},
		{[]string{"join_cluster", "--ram", "rabbit@other"}, "Clustering node rabbit-cap@localhost with rabbit@other\n"},
		{[]string{"forget_cluster_node", "rabbit@other"}, "Removing node rabbit@other from the cluster\n"},
		{[]string{"change_cluster_node_type", "disc"}, "Turning rabbit-cap@localhost into a disc node\n"},
	} {
		code, out, errOut := run(t, f, tt.args...)
		wantErr := "Error:\nnode " + f.URL() + " does not support " + tt.args[0] + " over the HTTP API yet\n"
		if code != ExitUnavailable || out != tt.info || errOut != wantErr {
			t.Errorf("%v: exit %d, stdout %q, stderr %q", tt.args, code, out, errOut)
		}
	}
	for _, tt := range []struct {
		args []string
		code int
		err  string
	}{
		{[]string{"change_cluster_node_type", "bogus"}, 65, "Bad argument: The node type must be either disc or ram."},
		{[]string{"join_cluster", "--ram", "--disc", "rabbit@x"}, 64, "mutually exclusive"},
		{[]string{"join_cluster"}, 64, "not enough arguments"},
		{[]string{"stop_app", "now"}, 64, "too many arguments"},
	} {
		code, _, errOut := run(t, f, tt.args...)
		if code != tt.code || !strings.Contains(errOut, tt.err) {
			t.Errorf("%v: exit %d, stderr %q", tt.args, code, errOut)
		}
	}
	// An unreachable node is reported as such, not as unsupported.
	f.srv.Close()
	code, _, errOut := run(t, f, "stop_app")
	if code != ExitUnavailable || !strings.Contains(errOut, "unable to perform an operation on node") {
		t.Errorf("stop_app on a dead node: exit %d, %q", code, errOut)
	}
}

func TestErrors(t *testing.T) {
	f := newFixtureAPI(t)
	code, _, errOut := runEnv(t, Env{}, "--node", f.URL(), "-u", "guest", "-p", "wrong", "list_users")
	if code != ExitNoPerm || !strings.Contains(errOut, `refused user "guest": Login failed (HTTP 401)`) {
		t.Errorf("bad password: exit %d, %q", code, errOut)
	}

	var mu sync.Mutex
	var mode string
	f.setIntercept(func(w http.ResponseWriter, r *http.Request) bool {
		mu.Lock()
		m := mode
		mu.Unlock()
		switch m {
		case "500":
			http.Error(w, `{"error":"internal_server_error","reason":"boom"}`, http.StatusInternalServerError)
		case "html":
			w.Write([]byte("<html>not the API</html>"))
		case "slow":
			<-r.Context().Done()
		case "404":
			f.notFound(w)
		case "503":
			http.Error(w, `{"error":"unavailable","reason":"booting"}`, http.StatusServiceUnavailable)
		default:
			return false
		}
		return true
	})
	for _, tt := range []struct {
		mode string
		args []string
		code int
		err  string
	}{
		{"500", []string{"list_users"}, ExitSoftware, "500 boom"},
		{"html", []string{"list_users"}, ExitProtocol, "unexpected answer to GET /api/users"},
		{"html", []string{"status"}, ExitProtocol, "unexpected answer to GET /api/overview"},
		{"slow", []string{"list_users", "--timeout", "0.2"}, ExitTempFail, "operation list_users on node " + f.URL() + " timed out. Timeout value used: 200"},
		{"slow", []string{"-t", "0.1", "list_queues", "-q"}, ExitTempFail, "timed out. Timeout value used: 100"},
		{"404", []string{"list_connections"}, ExitUnavailable, "does not support list_connections over the HTTP API yet (GET /api/connections answered 404 Not Found)"},
		{"503", []string{"list_channels"}, ExitUnavailable, "booting"},
	} {
		mu.Lock()
		mode = tt.mode
		mu.Unlock()
		code, _, errOut := run(t, f, tt.args...)
		if code != tt.code || !strings.Contains(errOut, tt.err) {
			t.Errorf("%s %v: exit %d, want %d, stderr %q", tt.mode, tt.args, code, tt.code, errOut)
		}
	}
	f.setIntercept(nil)

	f.srv.Close()
	code, out, errOut := run(t, f, "list_users")
	if code != ExitUnavailable || !strings.Contains(errOut, "Error: unable to perform an operation on node '"+f.URL()+"'") ||
		!strings.Contains(errOut, "connection refused") || out != "Listing users ...\n" {
		t.Errorf("dead node: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
}

// Options, their positions and their defaults from the environment.
func TestGlobalOptions(t *testing.T) {
	f := newFixtureAPI(t)
	f.mu.Lock()
	f.users["admin"] = map[string]any{"name": "admin", "tags": []any{}}
	f.mu.Unlock()
	var mu sync.Mutex
	var gotAuth []string
	auths := func() []string {
		mu.Lock()
		defer mu.Unlock()
		return slices.Clone(gotAuth)
	}
	reset := func() {
		mu.Lock()
		defer mu.Unlock()
		gotAuth = nil
	}
	f.setIntercept(func(w http.ResponseWriter, r *http.Request) bool {
		u, p, _ := r.BasicAuth()
		mu.Lock()
		gotAuth = append(gotAuth, u+":"+p)
		mu.Unlock()
		return false
	})
	env := func(kv ...string) Env {
		return Env{Getenv: func(k string) string {
			for i := 0; i < len(kv); i += 2 {
				if kv[i] == k {
					return kv[i+1]
				}
			}
			return ""
		}}
	}
	for _, tt := range []struct {
		env  Env
		args []string
		auth string
	}{
		{Env{}, []string{"--node", f.URL(), "list_users"}, "guest:guest"},
		{Env{}, []string{"-n", f.URL(), "-u", "u1", "-p", "p1", "list_users"}, "u1:p1"},
		{Env{}, []string{"--node", f.URL(), "--username", "u2", "--password", "p2", "list_users"}, "u2:p2"},
		{Env{}, []string{"list_users", "--node", f.URL(), "--username", "u3", "--password", "p3"}, "u3:p3"},
		{env(EnvNode, f.URL(), EnvUser, "u4", EnvPassword, "p4"), []string{"list_users"}, "u4:p4"},
		{env(EnvNode, f.URL(), EnvUser, "u4", EnvPassword, "p4"), []string{"-u", "u5", "-p", "p5", "list_users"}, "u5:p5"},
		{Env{}, []string{"--node", strings.Replace(f.URL(), "http://", "http://u6:p6@", 1), "list_users"}, "u6:p6"},
		{Env{}, []string{"--node", strings.Replace(f.URL(), "http://", "http://u6:p6@", 1), "-p", "p7", "list_users"}, "u6:p7"},
	} {
		reset()
		runEnv(t, tt.env, tt.args...)
		if got := auths(); len(got) == 0 || got[0] != tt.auth {
			t.Errorf("%v: auth %v, want %s", tt.args, got, tt.auth)
		}
	}
	// -p after the verb is the vhost; before it, the password.
	reset()
	code, out, _ := runEnv(t, Env{}, "--node", f.URL(), "-p", "guest", "list_permissions", "-p", "v1", "-s")
	if got := auths(); code != 0 || out != "bob\t^a\t^b\t^c\nguest\t.*\t.*\t.*\n" || len(got) == 0 || got[0] != "guest:guest" {
		t.Errorf("-p before and after the verb: exit %d, %q, auth %v", code, out, got)
	}
	// A path prefix in the URL is kept.
	f.setIntercept(func(w http.ResponseWriter, r *http.Request) bool {
		if p, ok := strings.CutPrefix(r.URL.Path, "/prefix"); ok {
			r.URL.Path = p
			r.URL.RawPath = strings.TrimPrefix(r.URL.RawPath, "/prefix")
			return false
		}
		f.notFound(w)
		return true
	})
	if code, out, errOut := runEnv(t, Env{}, "--node", f.URL()+"/prefix/", "list_users", "-s"); code != 0 || out != "admin\t[]\nguest\t[administrator]\n" {
		t.Errorf("path prefix: exit %d, %q %q", code, out, errOut)
	}
}

func TestNodeURL(t *testing.T) {
	for _, tt := range []struct{ in, want, user, err string }{
		{"", "http://localhost:15672", "", ""},
		{"http://127.0.0.1:15672", "http://127.0.0.1:15672", "", ""},
		{"http://127.0.0.1:15672/", "http://127.0.0.1:15672", "", ""},
		{"http://127.0.0.1:15672/api", "http://127.0.0.1:15672", "", ""},
		{"https://mq.example.com/rabbitmq/", "https://mq.example.com/rabbitmq", "", ""},
		{"http://admin:s3cret@h:1", "http://h:1", "admin:s3cret", ""},
		{"rabbit@broker1", "http://broker1:15672", "", ""},
		{"warren@10.0.0.5", "http://10.0.0.5:15672", "", ""},
		{"rabbit@[::1]", "http://[::1]:15672", "", ""},
		{"broker1", "http://broker1:15672", "", ""},
		{"broker1:8080", "http://broker1:8080", "", ""},
		{"ftp://h", "", "", "scheme must be http or https"},
		{"rabbit@", "", "", "no host after @"},
		{"http://", "", "", "no host"},
	} {
		u, ui, err := nodeURL(tt.in)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("%q: error %v, want %q", tt.in, err, tt.err)
			}
			continue
		}
		if err != nil || u.String() != tt.want || (ui != nil) != (tt.user != "") || (ui != nil && ui.String() != tt.user) {
			t.Errorf("%q: %v %v %v, want %s %s", tt.in, u, ui, err, tt.want, tt.user)
		}
	}
}

func TestUsage(t *testing.T) {
	for _, tt := range []struct {
		args []string
		code int
		out  string // in stdout
		err  string // in stderr
	}{
		{nil, 64, "", "Available commands:"},
		{[]string{"--help"}, 0, "Available commands:", ""},
		{[]string{"-?"}, 0, "Exit codes", ""},
		{[]string{"help"}, 0, "list_queues", ""},
		{[]string{"help", "list_queues"}, 0, "must be one of arguments, auto_delete,", ""},
		{[]string{"list_queues", "--help"}, 0, "[--vhost <vhost>] [--online]", ""},
		{[]string{"-h", "set_permissions"}, 0, "set_permissions [--vhost <vhost>] <username> <conf> <write> <read>", ""},
		{[]string{"add_user", "-?"}, 0, "add_user <username> <password>", ""},
		{[]string{"help", "nosuch"}, 64, "", "Command 'nosuch' not found."},
		{[]string{"help", "a", "b"}, 64, "", "too many arguments"},
		{[]string{"frobnicate"}, 64, "", "Command 'frobnicate' not found."},
		{[]string{"list_queus"}, 64, "", "Did you mean 'list_queues'?"},
		{[]string{"add_user"}, 64, "", "Error (argument validation): not enough arguments.\nArguments given:\n\tadd_user\n\nUsage\n\nwarren ctl [--node <node>] [-u <user> -p <password>] [--quiet] add_user <username> <password>\n"},
		{[]string{"add_user", "a", "b", "c"}, 64, "", "too many arguments."},
		{[]string{"list_users", "extra"}, 64, "", "too many arguments."},
		{[]string{"list_queues", "bogus_col", "name", "nope"}, 64, "", "Info key(s) bogus_col,nope are not supported"},
		{[]string{"list_queues", "-p"}, 64, "", "flag needs an argument"},
		{[]string{"list_users", "--formatter", "erlang"}, 64, "", `unknown formatter "erlang"`},
		{[]string{"list_users", "-u", "admin"}, 64, "", "credentials go before the verb"},
		{[]string{"--bogus", "list_users"}, 64, "", "unknown flag: --bogus"},
		{[]string{"--node", "ftp://x", "list_users"}, 64, "", "scheme must be http or https"},
		{[]string{"list_users", "--timeout", "-1"}, 64, "", "positive number"},
		{[]string{"status", "--unit", "kb", "--node", "http://127.0.0.1:1"}, 64, "", "unit must be one of"},
	} {
		code, out, errOut := runEnv(t, Env{}, tt.args...)
		if code != tt.code || !strings.Contains(out, tt.out) || !strings.Contains(errOut, tt.err) {
			t.Errorf("%v: exit %d, want %d\nstdout:\n%s\nstderr:\n%s", tt.args, code, tt.code, out, errOut)
		}
	}
}

// DESIGN.md's verbs all exist, each with help.
func TestVerbsOfTheContract(t *testing.T) {
	contract := []string{"status", "add_user", "delete_user", "change_password", "set_user_tags", "list_users",
		"add_vhost", "delete_vhost", "list_vhosts", "set_permissions", "list_permissions", "list_queues",
		"list_exchanges", "list_bindings", "list_connections", "list_channels", "list_consumers", "set_policy",
		"clear_policy", "list_policies", "purge_queue", "delete_queue", "cluster_status", "join_cluster",
		"forget_cluster_node", "change_cluster_node_type", "stop_app", "start_app", "reset",
		"export_definitions", "import_definitions"}
	table := verbTable()
	for _, name := range contract {
		v := table[name]
		if v == nil {
			t.Errorf("verb %s missing", name)
			continue
		}
		code, out, _ := runEnv(t, Env{}, name, "--help")
		if code != 0 || !strings.Contains(out, "Usage\n\nwarren ctl [--node <node>] [-u <user> -p <password>] [--quiet] "+name) ||
			!strings.Contains(out, "General Options") {
			t.Errorf("%s --help: exit %d\n%s", name, code, out)
		}
		if v.group == "" || v.short == "" || v.run == nil {
			t.Errorf("verb %s incomplete", name)
		}
		if v.vhost != strings.Contains(v.usage, "--vhost") {
			t.Errorf("%s: vhost-scoped %v, usage %q", name, v.vhost, v.usage)
		}
	}
	for _, v := range table {
		if v.columns != nil {
			for _, d := range v.defaults {
				if !slices.ContainsFunc(v.columns, func(c column) bool { return c.name == d }) {
					t.Errorf("%s: default column %s is not a column", v.name, d)
				}
			}
		}
	}
	// The general help lists every verb.
	_, out, _ := runEnv(t, Env{}, "help")
	for name := range table {
		if !strings.Contains(out, "   "+name+" ") {
			t.Errorf("general help lacks %s", name)
		}
	}
}

func TestCellText(t *testing.T) {
	v, err := decodeValue([]byte(`{"a":"x\"y","n":1.50,"b":true,"z":null,"l":["p",2],"t":{"k":{"e":[]}}}`))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := cellText(v), `[{"a","x\"y"},{"n",1.50},{"b",true},{"z",undefined},{"l",["p",2]},{"t",[{"k",[{"e",[]}]}]}]`; got != want {
		t.Errorf("cellText = %s\nwant      %s", got, want)
	}
	for _, tt := range []struct {
		in   string
		want string
	}{
		{`["administrator","monitoring"]`, "[administrator, monitoring]"},
		{`[]`, "[]"},
		{`{}`, "[]"},
		{`null`, ""},
		{`"é\tx"`, "é\tx"},
		{`12345678901234567890`, "12345678901234567890"},
	} {
		v, _ := decodeValue([]byte(tt.in))
		if got := cellText(v); got != tt.want {
			t.Errorf("cellText(%s) = %q, want %q", tt.in, got, tt.want)
		}
	}
	if erlAtom("rabbit@localhost") != "rabbit@localhost" || erlAtom("rabbit-1@h") != "'rabbit-1@h'" {
		t.Error("erlAtom")
	}
	if protocolTuple("AMQP 0-9-1") != "{0,9,1}" || protocolTuple("MQTT 3.1.1") != "MQTT 3.1.1" {
		t.Error("protocolTuple")
	}
	if secs(60*time.Second) != "60.0" || secs(2500*time.Millisecond) != "2.5" {
		t.Error("secs")
	}
}
