package ui_test

// UI tests against a real Warren node (warrentest.Start): the management
// API and this UI served by the warren binary, driven in headless Chromium
// while AMQP clients publish and consume.

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
	"github.com/warrenmq/warren/internal/warrentest"
)

var amqpDial = amqp.Dial

type amqpError = amqp.Error

// startLoad publishes to and consumes from queue q until the test ends (or
// stop is called), so the overview's rates move.
func startLoad(t *testing.T, url, q string) (stop func(), conn *amqp.Connection, published *atomic.Int64) {
	t.Helper()
	conn, err := amqp.DialConfig(url, amqp.Config{Properties: amqp.Table{"connection_name": "ui-test publisher"}})
	if err != nil {
		t.Fatal(err)
	}
	ch, err := conn.Channel()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ch.QueueDeclare(q, false, false, false, false, nil); err != nil {
		t.Fatal(err)
	}
	cch, err := conn.Channel()
	if err != nil {
		t.Fatal(err)
	}
	cch.Qos(50, 0, false)
	deliveries, err := cch.Consume(q, "ui-test-consumer", false, false, false, false, nil)
	if err != nil {
		t.Fatal(err)
	}
	published = new(atomic.Int64)
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		tick := time.NewTicker(5 * time.Millisecond)
		defer tick.Stop()
		// Bounded: at most 2 minutes of 200 msg/s.
		for i := 0; i < 24000; i++ {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			if err := ch.PublishWithContext(ctx, "", q, false, false, amqp.Publishing{Body: []byte(fmt.Sprintf("load %d", i))}); err != nil {
				return
			}
			published.Add(1)
		}
	}()
	go func() {
		defer wg.Done()
		for d := range deliveries {
			d.Ack(false)
		}
	}()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			conn.Close()
			wg.Wait()
		})
	}
	t.Cleanup(stop)
	return stop, conn, published
}

func TestUIWithWarren(t *testing.T) {
	if testing.Short() {
		t.Skip("browser test")
	}
	chromiumPath(t)
	n := warrentest.Start(t, warrentest.WithWait("amqp", "http"))
	base := "http://" + n.Addr["http"]
	_, loadConn, published := startLoad(t, n.AMQPURL(), "ui.load")
	closed := loadConn.NotifyClose(make(chan *amqp.Error, 1))

	b := newBrowser(t, base, 1440, 900)
	b.do("open", chromedpNavigate(base+"/"))
	// A wrong password is refused in the form (the fetch omits browser
	// credentials, so Warren's WWW-Authenticate opens no browser dialog).
	b.login("guest", "wrong")
	b.waitJS("login refused", `!document.querySelector('#login-form .form-error').hidden`, 10*time.Second)
	b.loginOK("guest", "guest")
	b.setField("#refresh-select", "2000")

	// Overview: totals and a rate chart that moves while the publisher runs.
	b.waitJS("overview stats", `document.querySelector('#overview-stats .stat') !== null`, 15*time.Second)
	d0 := b.text("#overview-rates") + eval[string](b, `document.querySelector('#overview-rates .chart-line[data-series=publish]').getAttribute('d')`)
	b.waitJS("publish rate above zero", `parseFloat(document.querySelector('#overview-rates .lg-item[data-series=publish] .lg-value').textContent) > 0`, 40*time.Second)
	b.waitJS("queue count", `document.querySelector('#overview-stats [data-stat=queues] .stat-value').textContent !== '0'`, 10*time.Second)
	// Refreshes update the same SVG in place (no flicker): the element
	// survives while its path changes.
	b.do("mark the chart", chromedpEval(`window.__svg = document.querySelector('#overview-rates svg'); window.__d = document.querySelector('#overview-rates .chart-line[data-series=publish]').getAttribute('d')`))
	b.waitJS("chart updated in place", `document.querySelector('#overview-rates svg') === window.__svg && document.querySelector('#overview-rates .chart-line[data-series=publish]').getAttribute('d') !== window.__d`, 15*time.Second)
	b.do("let the chart draw a few samples", chromedpSleep(4*time.Second))
	d1 := eval[string](b, `document.querySelector('#overview-rates .chart-line[data-series=publish]').getAttribute('d')`)
	if d1 == "" || strings.HasSuffix(d0, d1) {
		t.Errorf("publish line did not move: before %q, after %q", d0, d1)
	}
	if pts := strings.Count(d1, "L"); pts < 2 {
		t.Errorf("publish line has %d segments, want a line: %q", pts, d1)
	}
	t.Logf("published %d messages so far; overview publish rate shows %s", published.Load(), b.text("#overview-rates .lg-item[data-series=publish] .lg-value"))
	b.screenshot("warren-overview")

	// Connections and channels list the publisher.
	b.goTo("#/connections", "connections-list")
	b.waitJS("publisher connection", `document.querySelector('#connections-list tbody tr[data-key]') !== null`, 15*time.Second)
	b.screenshot("warren-connections")
	b.goTo("#/channels", "channels-list")
	b.waitJS("channels", `document.querySelectorAll('#channels-list tbody tr[data-key]').length >= 2`, 15*time.Second)
	b.screenshot("warren-channels")

	// Declare a queue from the queues page.
	b.goTo("#/queues", "queues-list")
	b.waitJS("queue list", `document.querySelector('#queues-list').innerText.includes('ui.load')`, 15*time.Second)
	b.click("#add-queue > summary")
	b.setField("#queue-name", "ui.test")
	b.click("#declare-queue button[type=submit]")
	b.waitJS("declared queue listed", `[...document.querySelectorAll('#queues-list tbody td.name')].some(td => td.textContent === 'ui.test')`, 15*time.Second)
	b.screenshot("warren-queues")

	// Bind amq.direct to it and publish from the exchange page.
	b.goTo("#/exchanges", "exchanges-list")
	b.waitJS("exchange list", `document.querySelector('#exchanges-list').innerText.includes('amq.direct')`, 15*time.Second)
	b.screenshot("warren-exchanges")
	b.goTo("#/exchanges/%2F/amq.direct", "exchanges-detail")
	b.waitJS("exchange details", `document.querySelector('#exchange-details dd') !== null`, 15*time.Second)
	b.setField(".bind-form input[name=other]", "ui.test")
	b.setField(".bind-form input[name=routing_key]", "ui.key")
	b.click(".bind-form button[type=submit]")
	b.waitJS("binding listed", `document.querySelector('#exchange-bindings').innerText.includes('ui.key')`, 15*time.Second)
	b.setField("#publish-form input[name=routing_key]", "ui.key")
	b.setField("#publish-form textarea[name=payload]", "hello from the Warren UI")
	b.click("#publish-form button[type=submit]")
	b.waitJS("published", `document.querySelector('#publish-result') !== null`, 15*time.Second)
	if got := b.text("#publish-result"); !strings.Contains(got, "Message published.") {
		t.Errorf("publish result = %q, want routed", got)
	}
	b.screenshot("warren-exchange")

	// Get it on the queue page.
	b.goTo("#/queues/%2F/ui.test", "queues-detail")
	b.waitJS("queue ready count", `document.querySelector('[data-stat=ready] .stat-value') && document.querySelector('[data-stat=ready] .stat-value').textContent === '1'`, 20*time.Second)
	b.click("#get-form button[type=submit]")
	b.waitJS("got message", `document.querySelector('#get-result') && document.querySelector('#get-result').innerText.includes('hello from the Warren UI')`, 15*time.Second)
	got := b.text("#get-result")
	for _, want := range []string{"amq.direct", "ui.key", "hello from the Warren UI"} {
		if !strings.Contains(got, want) {
			t.Errorf("get result %q lacks %q", got, want)
		}
	}
	b.screenshot("warren-queue")

	// A private vhost with a queue the new user must not see.
	b.goTo("#/vhosts", "vhosts")
	b.setField("#new-vhost", "ui-private")
	b.click("#add-vhost button[type=submit]")
	b.waitJS("vhost listed", `document.querySelector('#vhosts-list').innerText.includes('ui-private')`, 15*time.Second)
	b.screenshot("warren-admin-vhosts")
	b.goTo("#/queues", "queues-list")
	b.click("#add-queue > summary")
	b.setField("#declare-queue select[name=vhost]", "ui-private")
	b.setField("#queue-name", "private.q")
	b.click("#declare-queue button[type=submit]")
	b.waitJS("private queue listed", `[...document.querySelectorAll('#queues-list tbody td.name')].some(td => td.textContent === 'private.q')`, 15*time.Second)

	// Create a management user and grant it / only.
	b.goTo("#/users", "users")
	b.setField("#new-username", "ui-user")
	b.setField("#new-password", "ui-secret")
	b.click("#add-user .chip[data-tag=management]")
	b.click("#add-user button[type=submit]")
	b.waitJS("user listed", `document.querySelector('#users-list').innerText.includes('ui-user')`, 15*time.Second)
	b.goTo("#/users/ui-user", "user")
	b.setField("#set-permission select[name=vhost]", "/")
	b.click("#set-permission button[type=submit]")
	b.waitJS("permission listed", `document.querySelector('#user-permissions tbody tr[data-key]') !== null`, 15*time.Second)
	b.screenshot("warren-admin-user")
	b.goTo("#/users", "users")
	b.waitJS("user has access", `[...document.querySelectorAll('#users-list tbody tr')].some(tr => tr.innerText.includes('ui-user') && tr.innerText.includes('/'))`, 15*time.Second)
	b.screenshot("warren-admin-users")
	for _, p := range []struct{ hash, page string }{
		{"#/permissions", "permissions"}, {"#/policies", "policies"}, {"#/limits", "limits"}, {"#/definitions", "definitions"},
	} {
		b.goTo(p.hash, p.page)
		b.waitJS(p.page+" loaded", `document.querySelector('.page tbody tr, #export-form') !== null`, 15*time.Second)
		b.screenshot("warren-admin-" + p.page)
	}

	// Close the publisher's connection from the connections page.
	b.goTo("#/connections", "connections-list")
	b.waitJS("publisher connection", `document.querySelector('#connections-list tbody tr[data-key] td.actions button') !== null`, 15*time.Second)
	b.click("#connections-list tbody tr[data-key] td.actions button")
	b.waitJS("close dialog", `document.querySelector('dialog[open] input') !== null`, 5*time.Second)
	b.setField("dialog[open] input", "closed by the UI test")
	b.click("#dialog-ok")
	select {
	case e := <-closed:
		if e == nil || !strings.Contains(e.Reason, "closed by the UI test") {
			t.Errorf("publisher connection closed with %v, want the UI's reason", e)
		}
	case <-time.After(15 * time.Second):
		t.Errorf("publisher connection was not closed")
	}
	b.checkProblems()

	// Log in as the new user: only / is visible, no admin pages.
	b.click("#logout")
	b.loginOK("ui-user", "ui-secret")
	b.goTo("#/queues", "queues-list")
	b.waitJS("own queues", `[...document.querySelectorAll('#queues-list tbody td.name')].some(td => td.textContent === 'ui.test')`, 15*time.Second)
	if txt := b.text("#queues-list"); strings.Contains(txt, "private.q") {
		t.Errorf("ui-user sees private.q:\n%s", txt)
	}
	if opts := eval[string](b, `[...document.querySelectorAll('#vhost-select option')].map(o => o.value).join(',')`); strings.Contains(opts, "ui-private") {
		t.Errorf("ui-user's vhost selector offers %q", opts)
	}
	if hidden := eval[bool](b, `document.querySelector('.nav-link[data-nav=admin]').hidden`); !hidden {
		t.Errorf("ui-user sees the Admin link")
	}
	if who := b.text("#user-name"); who != "ui-user" {
		t.Errorf("user shown = %q", who)
	}
	b.screenshot("warren-management-user-queues")
	b.goTo("#/", "overview")
	b.waitJS("overview stats", `document.querySelector('#overview-stats .stat') !== null`, 15*time.Second)
	b.screenshot("warren-management-user-overview")
	b.checkProblems()
}
