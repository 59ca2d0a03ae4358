package mgmt_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	amqp091 "github.com/rabbitmq/amqp091-go"
)

// scrape fetches and parses a metrics page with the Prometheus text parser.
func scrape(t testing.TB, url string) map[string]*dto.MetricFamily {
	t.Helper()
	res, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d", url, res.StatusCode)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	mfs, err := p.TextToMetricFamilies(res.Body)
	if err != nil {
		t.Fatalf("parse %s: %v", url, err)
	}
	return mfs
}

func value(m *dto.Metric) float64 {
	switch {
	case m.Counter != nil:
		return m.Counter.GetValue()
	case m.Gauge != nil:
		return m.Gauge.GetValue()
	case m.Untyped != nil:
		return m.Untyped.GetValue()
	}
	return 0
}

// single is the value of an aggregated (unlabelled) metric.
func single(t testing.TB, mfs map[string]*dto.MetricFamily, name string) float64 {
	t.Helper()
	mf := mfs[name]
	if mf == nil || len(mf.Metric) != 1 {
		t.Fatalf("metric %s: %v", name, mf)
	}
	return value(mf.Metric[0])
}

func labelled(mfs map[string]*dto.MetricFamily, name string, labels map[string]string) (float64, bool) {
	mf := mfs[name]
	if mf == nil {
		return 0, false
	}
next:
	for _, m := range mf.Metric {
		for k, v := range labels {
			found := false
			for _, lp := range m.Label {
				if lp.GetName() == k && lp.GetValue() == v {
					found = true
				}
			}
			if !found {
				continue next
			}
		}
		return value(m), true
	}
	return 0, false
}

func TestMetricsMatchAPI(t *testing.T) {
	n := startNode(t)
	conn, err := amqp091.Dial(n.amqpURL("guest", "guest", "/"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ch, err := conn.Channel()
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{"m1", "m2"} {
		if _, err := ch.QueueDeclare(q, false, false, false, false, nil); err != nil {
			t.Fatal(err)
		}
	}
	for i := 0; i < 5; i++ {
		if err := ch.Publish("", "m1", false, false, amqp091.Publishing{Body: []byte("hello")}); err != nil {
			t.Fatal(err)
		}
	}
	if err := ch.Publish("", "m2", false, false, amqp091.Publishing{Body: []byte("x")}); err != nil {
		t.Fatal(err)
	}
	if err := ch.Publish("", "nowhere", false, false, amqp091.Publishing{Body: []byte("x")}); err != nil {
		t.Fatal(err)
	}
	// Two deliveries left unacknowledged on a consumer, one acked.
	if err := ch.Qos(3, 0, false); err != nil {
		t.Fatal(err)
	}
	ds, err := ch.Consume("m1", "c1", false, false, false, false, nil)
	if err != nil {
		t.Fatal(err)
	}
	d := <-ds
	if err := d.Ack(false); err != nil {
		t.Fatal(err)
	}
	eventually(t, 3*time.Second, func() bool {
		q := must(t, n.guest(t, "GET", "/api/queues/%2F/m1", nil), http.StatusOK).obj(t)
		return q["messages_unacknowledged"] == 3.0 && q["messages_ready"] == 1.0
	})
	eventually(t, 3*time.Second, func() bool {
		st, _ := must(t, n.guest(t, "GET", "/api/overview", nil), http.StatusOK).obj(t)["message_stats"].(map[string]any)
		return st["ack"] == 1.0 && st["publish"] == 7.0
	})

	mfs := scrape(t, n.metrics)
	o := must(t, n.guest(t, "GET", "/api/overview", nil), http.StatusOK).obj(t)
	qt := o["queue_totals"].(map[string]any)
	ot := o["object_totals"].(map[string]any)
	st := o["message_stats"].(map[string]any)
	for _, c := range []struct {
		metric string
		api    any
	}{
		{"rabbitmq_queue_messages_ready", qt["messages_ready"]},
		{"rabbitmq_queue_messages_unacked", qt["messages_unacknowledged"]},
		{"rabbitmq_queue_messages", qt["messages"]},
		{"rabbitmq_queues", ot["queues"]},
		{"rabbitmq_connections", ot["connections"]},
		{"rabbitmq_channels", ot["channels"]},
		{"rabbitmq_consumers", ot["consumers"]},
		{"rabbitmq_queue_consumers", ot["consumers"]},
		{"rabbitmq_channel_messages_published_total", st["publish"]},
		{"rabbitmq_channel_messages_confirmed_total", st["confirm"]},
		{"rabbitmq_channel_messages_delivered_ack_total", st["deliver"]},
		{"rabbitmq_channel_messages_delivered_total", st["deliver_no_ack"]},
		{"rabbitmq_channel_messages_acked_total", st["ack"]},
		{"rabbitmq_channel_messages_redelivered_total", st["redeliver"]},
		{"rabbitmq_channel_messages_unroutable_dropped_total", st["drop_unroutable"]},
		{"rabbitmq_channel_get_empty_total", st["get_empty"]},
	} {
		if got := single(t, mfs, c.metric); got != c.api.(float64) {
			t.Errorf("%s = %v, API says %v", c.metric, got, c.api)
		}
	}
	if got := single(t, mfs, "rabbitmq_queue_messages"); got != 5 {
		t.Errorf("rabbitmq_queue_messages = %v, want 5", got)
	}
	if got := single(t, mfs, "rabbitmq_channel_messages_unroutable_dropped_total"); got != 1 {
		t.Errorf("dropped = %v, want 1", got)
	}
	nd := must(t, n.guest(t, "GET", "/api/nodes/warren@test", nil), http.StatusOK).obj(t)
	if got := single(t, mfs, "rabbitmq_process_max_fds"); got != nd["fd_total"].(float64) {
		t.Errorf("max fds %v vs %v", got, nd["fd_total"])
	}
	for _, name := range []string{"go_goroutines", "go_memstats_alloc_bytes", "process_resident_memory_bytes",
		"rabbitmq_identity_info", "rabbitmq_process_resident_memory_bytes", "rabbitmq_connections_opened_total",
		"rabbitmq_connection_incoming_bytes_total", "rabbitmq_erlang_uptime_seconds"} {
		if mfs[name] == nil {
			t.Errorf("no %s", name)
		}
	}
	if mfs["rabbitmq_queue_messages"].GetType() != dto.MetricType_GAUGE ||
		mfs["rabbitmq_channel_messages_published_total"].GetType() != dto.MetricType_COUNTER {
		t.Error("metric types")
	}

	// Per object: labelled as RabbitMQ's /metrics/per-object.
	per := scrape(t, strings.TrimSuffix(n.metrics, "/metrics")+"/metrics/per-object")
	for _, q := range must(t, n.guest(t, "GET", "/api/queues", nil), http.StatusOK).list(t) {
		l := map[string]string{"vhost": "/", "queue": q["name"].(string)}
		for metric, field := range map[string]string{"rabbitmq_queue_messages_ready": "messages_ready",
			"rabbitmq_queue_messages_unacked": "messages_unacknowledged", "rabbitmq_queue_messages": "messages",
			"rabbitmq_queue_consumers": "consumers"} {
			if got, ok := labelled(per, metric, l); !ok || got != q[field].(float64) {
				t.Errorf("%s%v = %v (%v), API says %v", metric, l, got, ok, q[field])
			}
		}
	}
	chs := must(t, n.guest(t, "GET", "/api/channels", nil), http.StatusOK).list(t)
	if len(chs) != 1 {
		t.Fatalf("channels = %v", chs)
	}
	chst := chs[0]["message_stats"].(map[string]any)
	if got, ok := labelled(per, "rabbitmq_channel_messages_published_total", map[string]string{"channel": chs[0]["name"].(string)}); !ok || got != chst["publish"].(float64) {
		t.Errorf("per-channel published = %v, API %v", got, chst["publish"])
	}
	cs := must(t, n.guest(t, "GET", "/api/connections", nil), http.StatusOK).list(t)
	if _, ok := labelled(per, "rabbitmq_connection_incoming_bytes_total", map[string]string{"connection": cs[0]["name"].(string)}); !ok {
		t.Error("no per-connection incoming bytes")
	}
	if got, _ := labelled(per, "rabbitmq_queue_messages", map[string]string{"queue": "m2"}); got != 1 {
		t.Errorf("m2 messages = %v", got)
	}

	// Counters survive the channel's end.
	conn.Close()
	eventually(t, 2*time.Second, func() bool {
		return single(t, scrape(t, n.metrics), "rabbitmq_connections") == 0
	})
	mfs = scrape(t, n.metrics)
	if got := single(t, mfs, "rabbitmq_channel_messages_published_total"); got != 7 {
		t.Errorf("published after close = %v", got)
	}
	if got := single(t, mfs, "rabbitmq_connections_closed_total"); got != 1 {
		t.Errorf("connections closed = %v", got)
	}
	if fmt.Sprint(single(t, mfs, "rabbitmq_queue_messages")) != "5" { // m1: 3 unacked requeued + 1 ready; m2: 1
		t.Errorf("queue messages after close = %v", single(t, mfs, "rabbitmq_queue_messages"))
	}
}

// TestRates checks that *_details.rate moves while a publisher runs and
// falls back to 0 when it stops.
func TestRates(t *testing.T) {
	n := startNode(t)
	conn, err := amqp091.Dial(n.amqpURL("guest", "guest", "/"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ch, err := conn.Channel()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ch.QueueDeclare("rq", false, false, false, false, nil); err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case <-stop:
				return
			default:
			}
			_ = ch.Publish("", "rq", false, false, amqp091.Publishing{Body: []byte("r")})
			time.Sleep(time.Millisecond)
		}
	}()
	rate := func(path string, keys ...string) float64 {
		var v any = must(t, n.guest(t, "GET", path, nil), http.StatusOK).obj(t)
		for _, k := range keys {
			m, _ := v.(map[string]any)
			v = m[k]
		}
		f, _ := v.(float64)
		return f
	}
	eventually(t, 5*time.Second, func() bool {
		return rate("/api/overview", "message_stats", "publish_details", "rate") > 10 &&
			rate("/api/queues/%2F/rq", "message_stats", "publish_details", "rate") > 10 &&
			rate("/api/queues/%2F/rq", "messages_details", "rate") > 10 &&
			rate("/api/exchanges/%2F/amq.default", "message_stats", "publish_in_details", "rate") > 10
	})
	close(stop)
	<-done
	eventually(t, 5*time.Second, func() bool {
		return rate("/api/overview", "message_stats", "publish_details", "rate") == 0
	})
}
