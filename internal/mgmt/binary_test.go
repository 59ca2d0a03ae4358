package mgmt_test

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/warrenmq/warren/internal/warrentest"
)

// TestBinaryListeners starts the real binary and checks that it serves the
// API, the UI and the metrics on the addresses it logs.
func TestBinaryListeners(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and starts the binary")
	}
	n := warrentest.Start(t, warrentest.WithWait("amqp", "http", "metrics"))
	get := func(url string, auth bool) (int, string) {
		req, _ := http.NewRequest("GET", url, nil)
		if auth {
			req.SetBasicAuth("guest", "guest")
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, string(b)
	}
	api := "http://" + n.Addr["http"]
	if code, body := get(api+"/api/overview", true); code != 200 || !strings.Contains(body, `"rabbitmq_version"`) {
		t.Errorf("overview: %d %s", code, body)
	}
	if code, _ := get(api+"/api/overview", false); code != 401 {
		t.Errorf("overview without credentials: %d", code)
	}
	if code, body := get(api+"/api/health/checks/port-listener/"+n.Addr["amqp"][strings.LastIndexByte(n.Addr["amqp"], ':')+1:], true); code != 200 {
		t.Errorf("port-listener: %d %s", code, body)
	}
	if code, body := get(api+"/", false); code != 200 || !strings.Contains(body, "<html") {
		t.Errorf("UI: %d %.200s", code, body)
	}
	if code, body := get("http://"+n.Addr["metrics"]+"/metrics", false); code != 200 ||
		!strings.Contains(body, "rabbitmq_queues ") || !strings.Contains(body, "go_goroutines") {
		t.Errorf("metrics: %d %.300s", code, body)
	}
}
