package mgmt_test

import (
	"encoding/json"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// The load-test API against a real in-process node: runs of warren perf's
// generator over TCP, their live samples, stop, reports, caps, access and
// alarms.

const ltBase = "/api/warren/load-tests"

// ltWait polls a run until cond holds.
func ltWait(t *testing.T, n *node, id string, what string, cond func(run map[string]any) bool) map[string]any {
	t.Helper()
	var run map[string]any
	deadline := time.Now().Add(30 * time.Second)
	for {
		run = must(t, n.guest(t, "GET", ltBase+"/"+id, nil), http.StatusOK).obj(t)
		if cond(run) {
			return run
		}
		if time.Now().After(deadline) {
			t.Fatalf("load test %s: %s not reached: %v", id, what, run)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func samplesOf(run map[string]any) []map[string]any {
	var out []map[string]any
	for _, s := range run["samples"].([]any) {
		out = append(out, s.(map[string]any))
	}
	return out
}

func TestLoadTestRunStopReports(t *testing.T) {
	n := startNode(t)

	// Presets come with their verdict against the caps.
	presets := must(t, n.guest(t, "GET", ltBase+"/presets", nil), http.StatusOK).list(t)
	byName := map[string]map[string]any{}
	for _, p := range presets {
		byName[p["name"].(string)] = p
	}
	if p := byName["1p1c"]; p == nil || p["allowed"] != true || len(p["args"].([]any)) == 0 {
		t.Errorf("preset 1p1c = %v", p)
	}
	if p := byName["1000-queues"]; p == nil || p["allowed"] != false || !strings.Contains(p["reason"].(string), "cap") {
		t.Errorf("preset 1000-queues should exceed the caps: %v", p)
	}
	lim := must(t, n.guest(t, "GET", ltBase+"/limits", nil), http.StatusOK).obj(t)
	if lim["max_concurrent"] != 1.0 || lim["max_duration_s"] != 600.0 {
		t.Errorf("limits = %v", lim)
	}

	// A run against this node with the caller's credentials, on a named
	// queue, at a fixed rate.
	r := must(t, n.guest(t, "POST", ltBase, map[string]any{
		"producers": 1, "consumers": 1, "rate": 200, "duration": 60, "queue": "lt-named", "confirm": 10,
	}), http.StatusCreated)
	run := r.obj(t)
	id := run["id"].(string)
	if run["state"] != "running" || run["this_node"] != true || r.header.Get("Location") != ltBase+"/"+id {
		t.Fatalf("started run = %s (Location %q)", r.body, r.header.Get("Location"))
	}
	if tg := run["target"].(string); !strings.Contains(tg, "guest:xxxx@127.0.0.1:") {
		t.Errorf("target %q: the password must be masked", tg)
	}
	if cl := run["command_line"].(string); !strings.Contains(cl, "-z 60") || !strings.Contains(cl, "-u lt-named") || strings.Contains(cl, ":guest@") {
		t.Errorf("command line %q", cl)
	}

	// Samples arrive, with the queue's depth and the node's memory.
	run = ltWait(t, n, id, "3 samples with traffic", func(run map[string]any) bool {
		ss := samplesOf(run)
		return len(ss) >= 3 && ss[len(ss)-1]["sent"].(float64) > 0 && ss[len(ss)-1]["received"].(float64) > 0
	})
	ss := samplesOf(run)
	last := ss[len(ss)-1]
	if _, ok := last["queue_messages"].(float64); !ok || last["mem_used"].(float64) <= 0 || last["latency_p50_us"].(float64) <= 0 {
		t.Errorf("sample lacks node facts or latency: %v", last)
	}
	if qs := run["queues"].([]any); len(qs) != 1 || qs[0] != "lt-named" {
		t.Errorf("queues = %v", qs)
	}
	// ?since= returns only newer samples.
	more := must(t, n.guest(t, "GET", ltBase+"/"+id+"?since=2", nil), http.StatusOK).obj(t)
	if more["samples_from"] != 2.0 || len(more["samples"].([]any)) != int(more["sample_count"].(float64))-2 {
		t.Errorf("since=2: from %v, %d samples of %v", more["samples_from"], len(more["samples"].([]any)), more["sample_count"])
	}
	must(t, n.guest(t, "GET", ltBase+"/"+id+"?since=x", nil), http.StatusBadRequest)

	// One run at a time; reports only once it ended.
	busy := must(t, n.guest(t, "POST", ltBase, map[string]any{"duration": 5}), http.StatusConflict).obj(t)
	if !strings.Contains(busy["reason"].(string), id) {
		t.Errorf("conflict reason %v", busy)
	}
	must(t, n.guest(t, "GET", ltBase+"/"+id+"/report.json", nil), http.StatusConflict)

	// Stop: the answer comes once the run has ended.
	stopped := must(t, n.guest(t, "POST", ltBase+"/"+id+"/stop", nil), http.StatusOK).obj(t)
	if stopped["state"] != "stopped" || stopped["end_time"] == nil || stopped["summary"] == nil {
		t.Fatalf("stopped run = %v", stopped)
	}
	if sum := stopped["summary"].(map[string]any); sum["sent"].(float64) <= 0 || sum["received"].(float64) <= 0 {
		t.Errorf("summary = %v", sum)
	}

	rj := must(t, n.guest(t, "GET", ltBase+"/"+id+"/report.json", nil), http.StatusOK)
	if cd := rj.header.Get("Content-Disposition"); cd != `attachment; filename="warren-perf-`+id+`.json"` {
		t.Errorf("report.json Content-Disposition %q", cd)
	}
	var rep struct {
		Kind    string           `json:"kind"`
		ID      string           `json:"id"`
		URIs    []string         `json:"uris"`
		Samples []map[string]any `json:"samples"`
		Summary map[string]any   `json:"summary"`
	}
	if err := json.Unmarshal(rj.body, &rep); err != nil {
		t.Fatalf("report.json: %v", err)
	}
	if rep.Kind != "run" || rep.ID != id || len(rep.Samples) < 3 || rep.Summary["sent"].(float64) <= 0 {
		t.Errorf("report: kind %q id %q, %d samples, summary %v", rep.Kind, rep.ID, len(rep.Samples), rep.Summary)
	}
	if strings.Contains(string(rj.body), ":guest@") {
		t.Errorf("the report shows the password: %v", rep.URIs)
	}
	rh := must(t, n.guest(t, "GET", ltBase+"/"+id+"/report.html", nil), http.StatusOK)
	if ct, cd := rh.header.Get("Content-Type"), rh.header.Get("Content-Disposition"); !strings.HasPrefix(ct, "text/html") || !strings.HasPrefix(cd, "attachment;") {
		t.Errorf("report.html: Content-Type %q, Content-Disposition %q", ct, cd)
	}
	if html := string(rh.body); !strings.Contains(html, "<svg") || !strings.Contains(html, id) {
		t.Errorf("report.html has no chart or id (%d bytes)", len(html))
	}

	// A second run with server-named queues ends by itself; its queue is
	// found through its consumer's connection.
	run2 := must(t, n.guest(t, "POST", ltBase, map[string]any{"rate": 100, "duration": 2}), http.StatusCreated).obj(t)
	id2 := run2["id"].(string)
	if run2["rate_limit"] != 100.0 || run2["rate_capped"] != false {
		t.Errorf("rate limit of a 100 msg/s run: %v %v", run2["rate_limit"], run2["rate_capped"])
	}
	run2 = ltWait(t, n, id2, "finished", func(run map[string]any) bool { return run["state"] != "running" })
	if run2["state"] != "finished" || run2["reports"] == nil {
		t.Fatalf("second run = %v", run2)
	}
	if qs := run2["queues"].([]any); len(qs) != 1 || !strings.HasPrefix(qs[0].(string), "amq.gen-") {
		t.Errorf("server-named queue not found: %v", qs)
	}

	// A run against a URI: no node-side queue depth; an unlimited rate is
	// capped.
	run3 := must(t, n.guest(t, "POST", ltBase, map[string]any{"duration": 2, "consumers": 0,
		"uri": "amqp://guest:guest@" + n.amqp + "/%2F"}), http.StatusCreated).obj(t)
	id3 := run3["id"].(string)
	if run3["this_node"] != false || run3["rate_capped"] != true || run3["rate_limit"] != 50000.0 ||
		strings.Contains(run3["params"].(map[string]any)["uri"].(string), ":guest@") {
		t.Errorf("uri run = %v", run3)
	}
	run3 = ltWait(t, n, id3, "ended", func(run map[string]any) bool { return run["state"] != "running" })
	if run3["state"] != "finished" {
		t.Fatalf("uri run = %v", run3)
	}
	if ss := samplesOf(run3); len(ss) == 0 || ss[0]["queue_messages"] != nil {
		t.Errorf("uri run samples = %v", ss)
	}

	// The list is newest first, with summaries; DELETE forgets a finished run.
	list := must(t, n.guest(t, "GET", ltBase, nil), http.StatusOK).list(t)
	if len(list) != 3 || list[0]["id"] != id3 || list[2]["id"] != id || list[2]["summary"] == nil || list[2]["samples"] != nil {
		t.Errorf("list = %v", list)
	}
	must(t, n.guest(t, "DELETE", ltBase+"/"+id, nil), http.StatusNoContent)
	must(t, n.guest(t, "GET", ltBase+"/"+id, nil), http.StatusNotFound)
	must(t, n.guest(t, "GET", ltBase+"/"+id+"/report.json", nil), http.StatusNotFound)
}

func TestLoadTestCaps(t *testing.T) {
	n := startNode(t)
	for _, c := range []struct {
		name   string
		body   any
		reason string
	}{
		{"producers", map[string]any{"producers": 500}, "500 producers exceed the load test cap of 200"},
		{"consumers", map[string]any{"consumers": 101}, "101 consumers exceed"},
		{"connections", map[string]any{"producers": 200, "consumers": 100}, "300 connections"},
		{"long", map[string]any{"duration": 601}, "duration must be within 1..600"},
		{"endless", map[string]any{"duration": 0}, "every load test ends"},
		{"endless args", map[string]any{"args": []string{"-z", "100000"}}, "duration 100000 s exceeds"},
		{"rate", map[string]any{"rate": 60000}, "exceeds the load test cap of 50,000 msg/s"},
		{"rate × producers", map[string]any{"rate": 1000, "producers": 60}, "60 producers = 60,000 msg/s"},
		{"bytes/s", map[string]any{"rate": 1000, "size": 1 << 20}, "exceeds the load test cap of 64 msg/s"},
		{"size", map[string]any{"size": 2 << 20}, "message size 2097152 bytes exceeds"},
		{"queues", map[string]any{"queue_count": 5000}, "queue_count must be within"},
		{"preset over the caps", map[string]any{"preset": "1000-queues"}, "1000 producers exceed"},
		{"unknown preset", map[string]any{"preset": "nope"}, `no preset "nope"`},
		{"files", map[string]any{"args": []string{"--json", "/tmp/x.json"}}, "write files"},
		{"target in args", map[string]any{"args": []string{"-h", "amqp://elsewhere"}}, "target as uri"},
		{"compare", map[string]any{"args": []string{"--compare", "amqp://localhost:1"}}, "compare"},
		{"idle", map[string]any{"args": []string{"--idle-connections", "10"}}, "command line"},
		{"help", map[string]any{"args": []string{"--help"}}, "--help is not available"},
		{"bad flag", map[string]any{"args": []string{"--bogus"}}, "bogus"},
		{"unknown field", map[string]any{"producer": 1}, `unknown field "producer"`},
		{"wrong type", map[string]any{"producers": "many"}, "producers"},
		{"not json", "{", "load test request"},
		{"uri scheme", map[string]any{"uri": "http://localhost"}, "scheme must be amqp"},
		{"vhost", map[string]any{"vhost": "nope"}, `no vhost "nope"`},
	} {
		t.Run(c.name, func(t *testing.T) {
			e := must(t, n.guest(t, "POST", ltBase, c.body), http.StatusBadRequest).obj(t)
			if e["error"] != "bad_request" || !strings.Contains(e["reason"].(string), c.reason) {
				t.Errorf("error %v, want reason with %q", e, c.reason)
			}
		})
	}
	if l := must(t, n.guest(t, "GET", ltBase, nil), http.StatusOK).list(t); len(l) != 0 {
		t.Errorf("refused requests left runs: %v", l)
	}
}

func TestLoadTestAdministratorsOnly(t *testing.T) {
	n := startNode(t)
	n.addUser(t, "mgmt", "management", "/")
	n.addUser(t, "mon", "monitoring", "/")
	n.addUser(t, "pol", "policymaker", "/")
	// A real run, so that the paths name one.
	id := must(t, n.guest(t, "POST", ltBase, map[string]any{"duration": 30, "rate": 10}), http.StatusCreated).obj(t)["id"].(string)
	t.Cleanup(func() { n.guest(t, "POST", ltBase+"/"+id+"/stop", nil) })
	endpoints := []struct{ method, path string }{
		{"GET", ltBase}, {"POST", ltBase}, {"GET", ltBase + "/presets"}, {"GET", ltBase + "/limits"},
		{"GET", ltBase + "/" + id}, {"POST", ltBase + "/" + id + "/stop"}, {"DELETE", ltBase + "/" + id},
		{"GET", ltBase + "/" + id + "/report.json"}, {"GET", ltBase + "/" + id + "/report.html"},
	}
	for _, u := range []string{"mgmt", "mon", "pol"} {
		for _, e := range endpoints {
			var body any
			if e.method == "POST" {
				body = map[string]any{"duration": 1}
			}
			r := n.do(t, e.method, e.path, u, u, body)
			if r.code != http.StatusForbidden {
				t.Errorf("%s %s as %s: %d %s", e.method, e.path, u, r.code, r.body)
				continue
			}
			if o := r.obj(t); o["error"] != "not_authorised" || !strings.Contains(o["reason"].(string), "administrator") {
				t.Errorf("%s %s as %s: %s", e.method, e.path, u, r.body)
			}
		}
	}
	// Without credentials: 401, as every endpoint.
	must(t, n.do(t, "GET", ltBase, "", "", nil), http.StatusUnauthorized)
	// Still running: nobody else stopped it.
	if st := must(t, n.guest(t, "GET", ltBase+"/"+id, nil), http.StatusOK).obj(t)["state"]; st != "running" {
		t.Errorf("state after refused requests = %v", st)
	}
}

func TestLoadTestRefusedDuringAlarm(t *testing.T) {
	n := startNode(t)
	n.srv.SetAlarm("memory")
	e := must(t, n.guest(t, "POST", ltBase, map[string]any{"duration": 1}), http.StatusPreconditionFailed).obj(t)
	if e["error"] != "precondition_failed" || !strings.Contains(e["reason"].(string), "memory alarm in effect on warren@test") {
		t.Errorf("during alarm: %v", e)
	}
	n.srv.SetAlarm("")
	id := must(t, n.guest(t, "POST", ltBase, map[string]any{"duration": 1, "rate": 10}), http.StatusCreated).obj(t)["id"].(string)
	ltWait(t, n, id, "finished", func(run map[string]any) bool { return run["state"] == "finished" })
}

func TestLoadTestFailedRunsAndRetention(t *testing.T) {
	n := startNode(t)
	// A port nobody listens on: each run fails at once, with the reason.
	ln := freeClosedPort(t)
	var ids []string
	for i := 0; i < 21; i++ {
		id := must(t, n.guest(t, "POST", ltBase, map[string]any{"duration": 5, "rate": 10,
			"uri": "amqp://guest:guest@" + ln + "/"}), http.StatusCreated).obj(t)["id"].(string)
		run := ltWait(t, n, id, "ended", func(run map[string]any) bool { return run["state"] != "running" })
		if run["state"] != "failed" || !strings.Contains(run["error"].(string), ln) || run["reports"] != nil {
			t.Fatalf("run against a closed port = %v", run)
		}
		ids = append(ids, id)
	}
	must(t, n.guest(t, "GET", ltBase+"/"+ids[20]+"/report.json", nil), http.StatusNotFound)
	// Only the last 20 are kept.
	list := must(t, n.guest(t, "GET", ltBase, nil), http.StatusOK).list(t)
	if len(list) != 20 || list[0]["id"] != ids[20] || list[19]["id"] != ids[1] {
		t.Errorf("kept %d runs, newest %v, oldest %v", len(list), list[0]["id"], list[len(list)-1]["id"])
	}
	must(t, n.guest(t, "GET", ltBase+"/"+ids[0], nil), http.StatusNotFound)
}

// freeClosedPort is a loopback address nothing listens on.
func freeClosedPort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}
