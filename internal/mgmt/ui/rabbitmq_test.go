package ui_test

// The UI against RabbitMQ 3.10.8's own management API (the Debian package
// that scripts/test-deps.sh installs), through a proxy that serves this UI
// and forwards /api/ to RabbitMQ: the reference for the JSON the UI reads,
// so a page that works here works with any API of RabbitMQ's shape.

import (
	"github.com/warrenmq/warren/internal/mgmt/ui"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
	"github.com/warrenmq/warren/internal/warrentest"
)

func TestUIWithRabbitMQ(t *testing.T) {
	if testing.Short() {
		t.Skip("browser test")
	}
	chromiumPath(t)
	r := warrentest.StartRabbitMQ(t)
	mgmt, _ := url.Parse(r.MgmtURL)
	mux := http.NewServeMux()
	mux.Handle("/api/", httputil.NewSingleHostReverseProxy(mgmt))
	mux.Handle("/", ui.Handler())
	ts := httptest.NewServer(mux)
	t.Cleanup(ts.Close)

	stop, _, _ := startLoad(t, r.AMQPURL, "rmq.load")
	defer stop()

	b := newBrowser(t, ts.URL, 1440, 900)
	b.do("open", chromedpNavigate(ts.URL+"/"))
	b.login("guest", "wrong")
	b.waitJS("login refused", `!document.querySelector('#login-form .form-error').hidden`, 10*time.Second)
	b.loginOK("guest", "guest")
	b.setField("#refresh-select", "2000")
	b.waitJS("rates from RabbitMQ's samples", `document.querySelector('#overview-rates .chart-line[data-series=publish]').getAttribute('d').includes('L')`, 30*time.Second)
	b.waitJS("publish rate", `parseFloat(document.querySelector('#overview-rates .lg-item[data-series=publish] .lg-value').textContent) > 0`, 30*time.Second)
	b.waitJS("node health", `document.querySelector('#nodes').innerText.includes('Healthy')`, 10*time.Second)
	b.screenshot("rabbitmq-overview")

	b.goTo("#/queues", "queues-list")
	b.waitJS("queue list", `document.querySelector('#queues-list').innerText.includes('rmq.load')`, 15*time.Second)
	b.click("#add-queue > summary")
	b.setField("#queue-name", "rmq.ui")
	b.click("#declare-queue button[type=submit]")
	b.waitJS("declared", `[...document.querySelectorAll('#queues-list tbody td.name')].some(td => td.textContent === 'rmq.ui')`, 15*time.Second)
	b.screenshot("rabbitmq-queues")

	b.goTo("#/exchanges/%2F/amq.default", "exchanges-detail")
	b.setField("#publish-form input[name=routing_key]", "rmq.ui")
	b.setField("#publish-form textarea[name=payload]", "hello RabbitMQ")
	b.click("#publish-form button[type=submit]")
	b.waitJS("published", `document.querySelector('#publish-result') !== null`, 15*time.Second)
	if got := b.text("#publish-result"); !strings.Contains(got, "Message published.") {
		t.Errorf("publish result = %q", got)
	}
	b.goTo("#/queues/%2F/rmq.ui", "queues-detail")
	b.click("#get-form button[type=submit]")
	b.waitJS("got message", `document.querySelector('#get-result').innerText.includes('hello RabbitMQ')`, 15*time.Second)
	b.screenshot("rabbitmq-queue")

	for _, p := range []struct{ hash, page, ready string }{
		{"#/connections", "connections-list", `document.querySelector('#connections-list tbody tr[data-key]') !== null`},
		{"#/channels", "channels-list", `document.querySelector('#channels-list tbody tr[data-key]') !== null`},
		{"#/exchanges", "exchanges-list", `document.querySelector('#exchanges-list').innerText.includes('amq.topic')`},
		{"#/users", "users", `document.querySelector('#users-list').innerText.includes('administrator')`},
		{"#/users/guest", "user", `document.querySelector('#user-permissions tbody tr[data-key]') !== null`},
		{"#/vhosts", "vhosts", `document.querySelector('#vhosts-list tbody tr[data-key]') !== null`},
		{"#/permissions", "permissions", `document.querySelector('#permissions-list tbody tr[data-key]') !== null`},
		{"#/policies", "policies", `document.querySelector('#policies-list tbody tr') !== null && document.querySelector('#operator-policies-list tbody tr') !== null`},
		{"#/limits", "limits", `document.querySelector('#vhost-limits tbody tr') !== null`},
		{"#/definitions", "definitions", `document.querySelector('#export-form') !== null`},
	} {
		b.goTo(p.hash, p.page)
		b.waitJS(p.page, p.ready, 15*time.Second)
		b.screenshot("rabbitmq-" + strings.TrimSuffix(p.page, "-list"))
	}
	// An operator policy through RabbitMQ's own /api/operator-policies.
	b.goTo("#/policies", "policies")
	b.setField("#op-policy-name", "rmq-cap")
	b.setField("#op-policy-pattern", `^rmq\.ui$`)
	b.do("add max-length", chromedpEval(`[...document.querySelectorAll('#op-policy-form .chip')].find(c => c.textContent === 'max-length').click()`))
	b.setField("#op-policy-form .args-row .arg-value", "2")
	b.click("#op-policy-form button[type=submit]")
	b.waitJS("operator policy listed", `document.querySelector('#operator-policies-list').innerText.includes('rmq-cap')`, 15*time.Second)
	b.goTo("#/queues/%2F/rmq.ui", "queues-detail")
	b.waitJS("operator policy on the queue", `document.querySelector('#queue-details').innerText.includes('rmq-cap')`, 30*time.Second)
	b.screenshot("rabbitmq-queue-operator-policy")

	b.goTo("#/connections", "connections-list")
	b.waitJS("connection", `document.querySelector('#connections-list tbody tr[data-key] a') !== null`, 15*time.Second)
	b.click("#connections-list tbody tr[data-key] a")
	b.waitJS("connection page", `document.querySelector('.page[data-page=connections-detail] dd') !== null`, 15*time.Second)
	b.screenshot("rabbitmq-connection")
	b.checkProblems()
	_ = amqp.Table{}
}
