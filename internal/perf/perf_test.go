package perf_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/warrenmq/warren/internal/perf"
	"github.com/warrenmq/warren/internal/warrentest"
)

// runPerf runs `warren perf ARGS -h url` and returns the report and output.
func runPerf(t *testing.T, url string, args ...string) (*perf.Report, string, error) {
	t.Helper()
	cfg, err := perf.ParseArgs(append(args, "-h", url))
	if err != nil {
		t.Fatalf("ParseArgs(%q): %v", args, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var out bytes.Buffer
	rep, err := perf.Run(ctx, cfg, &out)
	t.Logf("warren perf %s\n%s", strings.Join(args, " "), out.String())
	return rep, out.String(), err
}

func TestCountRunSentEqualsReceived(t *testing.T) {
	node := warrentest.StartInProc(t, warrentest.InProcConfig{})
	tests := []struct {
		name    string
		args    []string
		perCons int64 // expected per consumer; 0: only the total is checked
		total   int64
	}{
		{"1to1 autoack", []string{"-x", "1", "-y", "1", "-u", "c1", "-C", "20000", "-a", "-s", "16"}, 20000, 20000},
		{"shared queue confirms manual acks", []string{"-x", "2", "-y", "2", "-u", "c2", "-C", "5000", "-c", "100", "-q", "50"}, 0, 10000},
		{"multi-ack-every", []string{"-x", "1", "-y", "1", "-u", "c3", "-C", "3000", "-A", "7", "-q", "20"}, 3000, 3000},
		{"queue pattern", []string{"-x", "4", "-y", "4", "-qp", "pc-%d", "-qpf", "1", "-qpt", "2", "-C", "1000", "-q", "10", "-s", "256"}, 0, 4000},
		{"persistent mandatory big", []string{"-x", "1", "-y", "1", "-u", "c5", "-C", "200", "-s", "300000", "-f", "persistent", "-f", "mandatory", "-c", "10"}, 200, 200},
		{"server-named default exchange type", []string{"-x", "1", "-y", "3", "-C", "1000", "-a"}, 1000, 3000},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rep, _, err := runPerf(t, node.URL(), tt.args...)
			if err != nil {
				t.Fatal(err)
			}
			s := rep.Summary
			if s.Received != tt.total {
				t.Errorf("received %d, want %d (sent %d)", s.Received, tt.total, s.Sent)
			}
			if tt.perCons > 0 {
				for i, n := range s.ReceivedPerConsumer {
					if n != tt.perCons {
						t.Errorf("consumer %d received %d, want %d", i, n, tt.perCons)
					}
				}
			}
			if strings.Contains(strings.Join(tt.args, " "), "-c ") && s.Confirmed != s.Sent {
				t.Errorf("confirmed %d of %d", s.Confirmed, s.Sent)
			}
			if s.LatencySample != uint64(s.Received) || s.P50Us <= 0 || s.P99Us < s.P50Us {
				t.Errorf("latency: %d samples, p50 %v µs, p99 %v µs", s.LatencySample, s.P50Us, s.P99Us)
			}
		})
	}
}

func TestFanoutReachesEveryQueue(t *testing.T) {
	node := warrentest.StartInProc(t, warrentest.InProcConfig{})
	rep, _, err := runPerf(t, node.URL(), "-t", "fanout", "-e", "fan", "-x", "1", "-y", "4", "-C", "5000", "-s", "256", "-a")
	if err != nil {
		t.Fatal(err)
	}
	s := rep.Summary
	if s.Sent != 5000 || s.Received != 4*5000 || len(s.ReceivedPerConsumer) != 4 {
		t.Fatalf("sent %d, received %d %v", s.Sent, s.Received, s.ReceivedPerConsumer)
	}
	for i, n := range s.ReceivedPerConsumer {
		if n != 5000 {
			t.Errorf("consumer %d received %d, want 5000", i, n)
		}
	}
}

func TestTimedRunAndJSONReport(t *testing.T) {
	node := warrentest.StartInProc(t, warrentest.InProcConfig{})
	file := filepath.Join(t.TempDir(), "report.json")
	start := time.Now()
	_, out, err := runPerf(t, node.URL(), "-x", "1", "-y", "1", "-u", "timed", "-a", "-z", "2", "-r", "5000", "-c", "1000", "-d", "timed-test", "--json", file,
		"--broker-pid", strconv.Itoa(os.Getpid())) // the in-process broker is this process
	if err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d < 2*time.Second || d > 6*time.Second {
		t.Errorf("a 2 s run took %v", d)
	}
	line := regexp.MustCompile(`(?m)^id: timed-test, time 1\.\d{3} s, sent: \d+ msg/s, confirmed: \d+ msg/s, nacked: 0 msg/s, received: \d+ msg/s, min/median/75th/95th/99th consumer latency: [\d.]+/[\d.]+/[\d.]+/[\d.]+/[\d.]+ µs$`)
	if !line.MatchString(out) {
		t.Errorf("no PerfTest-style line for second 1 in:\n%s", out)
	}
	for _, w := range []string{"id: timed-test, sending rate avg: ", "id: timed-test, receiving rate avg: ", "consumer latency min/median/75th/95th/99th: "} {
		if !strings.Contains(out, w) {
			t.Errorf("summary lacks %q", w)
		}
	}

	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var raw map[string]any
	if err := json.Unmarshal(b, &raw); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"id", "command_line", "start_time", "samples", "summary"} {
		if _, ok := raw[k]; !ok {
			t.Errorf("report lacks %q", k)
		}
	}
	var rep perf.Report
	if err := json.Unmarshal(b, &rep); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(rep.CommandLine, "-z 2 -r 5000") || time.Since(rep.StartTime) > time.Minute {
		t.Errorf("command line %q, start %v", rep.CommandLine, rep.StartTime)
	}
	if len(rep.Samples) < 1 || len(rep.Samples) > 3 {
		t.Fatalf("%d samples", len(rep.Samples))
	}
	smp := rep.Samples[0]
	if smp.T < 0.9 || smp.T > 1.5 || smp.Sent < 2500 || smp.Sent > 6000 || smp.Received < 2000 || smp.Confirmed < 2000 || smp.P50Us <= 0 || smp.P95Us < smp.P50Us || smp.P99Us < smp.P95Us {
		t.Errorf("first sample %+v", smp)
	}
	samples := raw["samples"].([]any)[0].(map[string]any)
	for _, k := range []string{"t", "sent", "confirmed", "received", "latency_p50_us", "latency_p95_us", "latency_p99_us"} {
		if _, ok := samples[k]; !ok {
			t.Errorf("sample lacks %q", k)
		}
	}
	s := rep.Summary
	if s.DurationS < 1.9 || s.DurationS > 2.5 || s.SendRate < 3000 || s.SendRate > 5600 || s.ReceiveRate < 3000 || s.P50Us <= 0 {
		t.Errorf("summary %+v", s)
	}
	if s.BrokerCPUS <= 0 || s.BrokerCPUPerMsg <= 0 || s.BrokerRSSKiB <= 0 || s.ClientCPUS <= 0 {
		t.Errorf("CPU and RSS readings: %+v", s)
	}
	if !strings.Contains(out, "id: timed-test, broker CPU ") {
		t.Errorf("no broker CPU line")
	}
}

func TestConsumerMessageCount(t *testing.T) {
	node := warrentest.StartInProc(t, warrentest.InProcConfig{})
	rep, _, err := runPerf(t, node.URL(), "-x", "1", "-y", "2", "-u", "dq", "-D", "300", "-r", "3000", "-q", "10")
	if err != nil {
		t.Fatal(err)
	}
	for i, n := range rep.Summary.ReceivedPerConsumer {
		if n != 300 {
			t.Errorf("consumer %d received %d, want 300", i, n)
		}
	}
}

func TestBrokerErrors(t *testing.T) {
	node := warrentest.StartInProc(t, warrentest.InProcConfig{})
	host := strings.TrimPrefix(node.URL(), "amqp://guest:guest@")
	tests := []struct {
		name, url string
		args      []string
		want      string
	}{
		{"bad password", "amqp://guest:wrong@" + host, []string{"-C", "1"}, "ACCESS_REFUSED"},
		{"no vhost", "amqp://guest:guest@" + host + "nope", []string{"-C", "1"}, "NOT_ALLOWED"},
		{"unknown exchange type", node.URL(), []string{"-e", "clash", "-t", "nosuchtype", "-y", "0", "-C", "1"}, "closed by the broker"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := runPerf(t, tt.url, tt.args...)
			var be *perf.BrokerError
			if err == nil || !strings.Contains(err.Error(), tt.want) || !errors.As(err, &be) {
				t.Errorf("err = %v, want a BrokerError with %q", err, tt.want)
			}
		})
	}
}

func TestBlockedPausesPublishing(t *testing.T) {
	node := warrentest.StartInProc(t, warrentest.InProcConfig{})
	go func() {
		time.Sleep(300 * time.Millisecond)
		node.Server.SetAlarm("memory")
		time.Sleep(700 * time.Millisecond)
		node.Server.SetAlarm("")
	}()
	start := time.Now()
	rep, _, err := runPerf(t, node.URL(), "-x", "1", "-y", "1", "-u", "bq", "-C", "2000", "-r", "2000", "-a")
	if err != nil {
		t.Fatal(err)
	}
	if rep.Summary.Received != 2000 {
		t.Errorf("received %d of 2000", rep.Summary.Received)
	}
	if d := time.Since(start); d < 1500*time.Millisecond {
		t.Errorf("2000 messages at 2000/s with a 0.7 s alarm took only %v", d)
	}
}

func TestIdleModes(t *testing.T) {
	node := warrentest.StartInProc(t, warrentest.InProcConfig{})
	_, out, err := runPerf(t, node.URL(), "--idle-connections", "50", "--connection-rate", "1000", "-z", "1")
	if err != nil || !strings.Contains(out, "idle: ready, 50 connections open") {
		t.Errorf("idle connections: %v\n%s", err, out)
	}
	warrentest.Eventually(t, 5*time.Second, func() bool { return node.Server.ConnectionCount() == 0 })
	_, out, err = runPerf(t, node.URL(), "--idle-queues", "300", "--connection-rate", "5000", "-z", "1")
	if err != nil || !strings.Contains(out, "idle: ready, 300 queues declared") {
		t.Errorf("idle queues: %v\n%s", err, out)
	}
}

// checkAgainstRabbitMQ runs the client's workloads against a private
// RabbitMQ node (TestWarrenAndRabbitMQReports boots it once, as booting
// takes 10-30 s).
func checkAgainstRabbitMQ(t *testing.T, rmq *warrentest.RabbitMQ) {
	runs := []struct {
		args  []string
		total int64
	}{
		{[]string{"-x", "1", "-y", "1", "-u", "r1", "-C", "20000", "-a", "-s", "16"}, 20000},
		{[]string{"-x", "2", "-y", "2", "-u", "r2", "-C", "5000", "-c", "100", "-q", "50", "-f", "persistent"}, 10000},
		{[]string{"-t", "fanout", "-e", "rfan", "-x", "1", "-y", "4", "-C", "2000", "-s", "256", "-a"}, 8000},
		{[]string{"-x", "4", "-y", "4", "-qp", "rp-%d", "-qpf", "1", "-qpt", "2", "-C", "1000", "-q", "10", "-A", "5"}, 4000},
	}
	for _, r := range runs {
		rep, _, err := runPerf(t, rmq.AMQPURL, r.args...)
		if err != nil {
			t.Fatal(err)
		}
		if rep.Summary.Received != r.total {
			t.Errorf("%v: received %d, want %d", r.args, rep.Summary.Received, r.total)
		}
	}
	_, _, err := runPerf(t, strings.TrimSuffix(rmq.AMQPURL, "/")+"/nope", "-C", "1")
	if err == nil || !strings.Contains(err.Error(), "NOT_ALLOWED") {
		t.Errorf("unknown vhost: err = %v", err)
	}
	_, out, err := runPerf(t, rmq.AMQPURL, "--idle-connections", "20", "-z", "1")
	if err != nil || !strings.Contains(out, "idle: ready, 20 connections open") {
		t.Errorf("idle: %v", err)
	}
}

// TestProducerOnlyThenConsumerOnly: with -y 0 the -u queue is declared up
// front (PerfTest's configureAllQueues); -p then uses it as it is, though a
// plain declare would clash (durable vs transient).
func TestProducerOnlyThenConsumerOnly(t *testing.T) {
	node := warrentest.StartInProc(t, warrentest.InProcConfig{})
	rep, _, err := runPerf(t, node.URL(), "-x", "1", "-y", "0", "-u", "pq", "-ad", "false", "-f", "persistent", "-C", "500")
	if err != nil || rep.Summary.Sent != 500 {
		t.Fatalf("producer-only run: %v, %+v", err, rep)
	}
	rep, _, err = runPerf(t, node.URL(), "-x", "0", "-y", "1", "-u", "pq", "-p", "-D", "500", "-q", "100")
	if err != nil || rep.Summary.Received != 500 {
		t.Fatalf("consumer-only run: %v, %+v", err, rep)
	}
	_, _, err = runPerf(t, node.URL(), "-x", "0", "-y", "1", "-u", "pq", "-D", "1", "-z", "1")
	if err == nil || !strings.Contains(err.Error(), "PRECONDITION_FAILED") {
		t.Errorf("redeclaring a durable queue as transient without -p: err = %v", err)
	}
}

// TestHeartbeats: with -b the client sends heartbeats, so an autoack
// consumer, which otherwise sends nothing, outlives the broker's timeout.
func TestHeartbeats(t *testing.T) {
	node := warrentest.StartInProc(t, warrentest.InProcConfig{Heartbeat: time.Second})
	rep, _, err := runPerf(t, node.URL(), "-x", "1", "-y", "1", "-u", "hb", "-a", "-b", "1", "-r", "20", "-z", "4")
	if err != nil {
		t.Fatal(err)
	}
	if s := rep.Summary; s.Received < 60 || s.Received != s.Sent {
		t.Errorf("sent %d, received %d", s.Sent, s.Received)
	}
}

func TestRateLimits(t *testing.T) {
	node := warrentest.StartInProc(t, warrentest.InProcConfig{})
	rep, _, err := runPerf(t, node.URL(), "-x", "2", "-y", "1", "-u", "rl", "-r", "500", "-R", "300", "-z", "2")
	if err != nil {
		t.Fatal(err)
	}
	s := rep.Summary
	if s.SendRate < 700 || s.SendRate > 1150 {
		t.Errorf("2 producers at -r 500 sent %v msg/s", s.SendRate)
	}
	if s.ReceiveRate < 200 || s.ReceiveRate > 350 {
		t.Errorf("a consumer at -R 300 received %v msg/s", s.ReceiveRate)
	}
}

// TestNack: with --nack --requeue false every delivery is dropped once;
// with requeue the same messages come back again and again.
func TestNack(t *testing.T) {
	node := warrentest.StartInProc(t, warrentest.InProcConfig{})
	rep, _, err := runPerf(t, node.URL(), "-x", "1", "-y", "1", "-u", "rejected", "-C", "500", "-q", "10", "--nack", "--requeue", "false")
	if err != nil {
		t.Fatal(err)
	}
	if s := rep.Summary; s.Sent != 500 || s.Received != 500 {
		t.Errorf("reject: sent %d, received %d", s.Sent, s.Received)
	}
	rep, _, err = runPerf(t, node.URL(), "-x", "1", "-y", "1", "-u", "requeued", "-C", "50", "-q", "10", "-na", "-z", "1")
	if err != nil {
		t.Fatal(err)
	}
	if s := rep.Summary; s.Sent != 50 || s.Received <= 2*s.Sent {
		t.Errorf("nack with requeue: sent %d, received only %d (no redeliveries?)", s.Sent, s.Received)
	}
}

// TestConnectionChurn opens and closes connections and measures what the
// broker (this process, in-process) spent on each.
func TestConnectionChurn(t *testing.T) {
	node := warrentest.StartInProc(t, warrentest.InProcConfig{})
	rep, out, err := runPerf(t, node.URL(), "--connection-churn", "300", "-x", "3", "-d", "churn", "--broker-pid", strconv.Itoa(os.Getpid()))
	if err != nil {
		t.Fatal(err)
	}
	ch := rep.ConnChurn
	if rep.Kind != "connection-churn" || ch == nil || ch.Connections != 300 || ch.Parallel != 3 || ch.Rate <= 0 {
		t.Fatalf("report: %+v", rep)
	}
	if ch.BrokerCPUPerConn <= 0 || ch.BrokerRSSKiB <= 0 || ch.OpenLatency.P50Us <= 0 || ch.OpenLatency.P99Us < ch.OpenLatency.P50Us {
		t.Errorf("churn: %+v", *ch)
	}
	if rep.Broker.Product != "Warren" {
		t.Errorf("broker %+v", rep.Broker)
	}
	if !strings.Contains(out, "id: churn, 300 connections opened and closed in ") || !strings.Contains(out, "µs per connection") {
		t.Errorf("output:\n%s", out)
	}
	warrentest.Eventually(t, 5*time.Second, func() bool { return node.Server.ConnectionCount() == 0 })
	// A broker that refuses the connection fails the run with its reason.
	host := strings.TrimPrefix(node.URL(), "amqp://guest:guest@")
	_, _, err = runPerf(t, "amqp://guest:wrong@"+host, "--connection-churn", "10")
	if err == nil || !strings.Contains(err.Error(), "ACCESS_REFUSED") {
		t.Errorf("bad password: err = %v", err)
	}
}

// TestRunWithSamples: the callback gets each sample of the report, in order.
func TestRunWithSamples(t *testing.T) {
	node := warrentest.StartInProc(t, warrentest.InProcConfig{})
	cfg, err := perf.ParseArgs([]string{"-h", node.URL(), "-x", "1", "-y", "1", "-u", "cb", "-r", "500", "-a", "-z", "2"})
	if err != nil {
		t.Fatal(err)
	}
	var got []perf.Sample
	rep, err := perf.RunWith(context.Background(), cfg, io.Discard, func(s perf.Sample) { got = append(got, s) })
	if err != nil {
		t.Fatal(err)
	}
	if len(got) == 0 || !slices.Equal(got, rep.Samples) {
		t.Errorf("callback samples %+v, report samples %+v", got, rep.Samples)
	}
	if last := got[len(got)-1]; last.T < 1.9 || last.Received <= 0 {
		t.Errorf("the last sample does not cover the end of the run: %+v", last)
	}
}

// TestSeveralURIs: connections go round-robin over the --uri values.
func TestSeveralURIs(t *testing.T) {
	a := warrentest.StartInProc(t, warrentest.InProcConfig{})
	b := warrentest.StartInProc(t, warrentest.InProcConfig{})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cfg, err := perf.ParseArgs([]string{"-H", a.URL() + "," + b.URL(), "--idle-connections", "6"})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { _, err := perf.Run(ctx, cfg, io.Discard); done <- err }()
	warrentest.Eventually(t, 10*time.Second, func() bool {
		return a.Server.ConnectionCount() == 3 && b.Server.ConnectionCount() == 3
	})
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	// A load run spreads producers and consumers the same way.
	rep, _, err := runPerf(t, a.URL(), "-h", b.URL(), "-x", "2", "-y", "2", "-u", "spread", "-C", "100", "-a")
	if err != nil {
		t.Fatal(err)
	}
	// Each broker has its own queue "spread": each consumer gets the
	// messages of the producer on its broker.
	if s := rep.Summary; s.Sent != 200 || s.Received != 200 || !slices.Equal(s.ReceivedPerConsumer, []int64{100, 100}) {
		t.Errorf("sent %d, received %d %v", s.Sent, s.Received, s.ReceivedPerConsumer)
	}
}
