package ui_test

// UI tests against the fake API (fake_test.go): every page is drawn with
// realistic data, exercised a little, and screenshotted at laptop and phone
// sizes. Any JavaScript exception, console error or CSP violation fails.

import (
	"strings"
	"testing"
	"time"
)

func TestUIPagesWithFakeAPI(t *testing.T) {
	if testing.Short() {
		t.Skip("browser test")
	}
	fake := newFakeAPI()
	ts := fake.server(t)
	b := newBrowser(t, ts.URL, 1440, 900)
	b.do("open", chromedpNavigate(ts.URL+"/"))
	b.waitJS("login form", `document.querySelector('#login-form') !== null`, 15*time.Second)
	b.screenshot("fake-login")

	// A wrong password shows the refusal in the form.
	b.login("guest", "wrong")
	b.waitJS("login error", `!document.querySelector('#login-form .form-error').hidden`, 10*time.Second)
	if got := b.text("#login-form .form-error"); !strings.Contains(got, "Login failed") {
		t.Errorf("login error = %q", got)
	}
	b.screenshot("fake-login-failed")
	b.loginOK("guest", "guest")

	// Overview: totals, charts seeded from the API's samples, node, listeners.
	b.waitJS("overview stats", `document.querySelector('#overview-stats .stat') !== null`, 10*time.Second)
	b.waitJS("rates chart drawn", `document.querySelector('#overview-rates .chart-line').getAttribute('d').length > 50`, 10*time.Second)
	b.waitJS("nodes", `document.querySelector('#nodes td') && document.querySelector('#nodes').innerText.includes('warren@fake')`, 10*time.Second)
	// Hovering the chart shows the values at that time.
	b.do("hover chart", chromedpEval(`(() => {
		const o = document.querySelector('#overview-rates .chart-overlay');
		const r = o.getBoundingClientRect();
		o.dispatchEvent(new PointerEvent('pointermove', {clientX: r.left + r.width * 0.6, clientY: r.top + r.height / 2, bubbles: true}));
	})()`))
	b.waitJS("tooltip", `!document.querySelector('#overview-rates .chart-tip').hidden && document.querySelector('#overview-rates .chart-tip').innerText.includes('Publish')`, 5*time.Second)
	b.screenshot("fake-overview")
	// The legend hides a series.
	b.click("#overview-rates .lg-item[data-series=confirm]")
	if d := eval[string](b, `document.querySelector('#overview-rates .chart-line[data-series=confirm]').getAttribute('d')`); d != "" {
		t.Errorf("hidden series still drawn: %q", d)
	}
	b.click("#overview-rates .lg-item[data-series=confirm]")

	b.goTo("#/connections", "connections-list")
	b.waitJS("connections", `document.querySelectorAll('#connections-list tbody tr').length === 3`, 10*time.Second)
	b.screenshot("fake-connections")
	b.goTo("#/channels", "channels-list")
	b.waitJS("channels", `document.querySelectorAll('#channels-list tbody tr').length === 6`, 10*time.Second)
	b.screenshot("fake-channels")
	b.goTo("#/exchanges", "exchanges-list")
	b.waitJS("exchanges", `document.querySelectorAll('#exchanges-list tbody tr').length > 10`, 10*time.Second)
	b.screenshot("fake-exchanges")
	b.goTo("#/exchanges/%2F/orders", "exchanges-detail")
	b.waitJS("exchange bindings", `document.querySelector('#exchange-bindings').innerText.includes('orders.paid')`, 10*time.Second)
	b.screenshot("fake-exchange")
	b.goTo("#/queues", "queues-list")
	b.waitJS("queues", `document.querySelectorAll('#queues-list tbody tr').length === 8`, 10*time.Second)
	b.screenshot("fake-queues")
	b.goTo("#/queues/%2F/orders.paid", "queues-detail")
	b.waitJS("queue stats", `document.querySelector('.stat') !== null`, 10*time.Second)
	b.click("#get-form button[type=submit]")
	b.waitJS("got message", `document.querySelector('#get-result .message') !== null`, 10*time.Second)
	b.screenshot("fake-queue")

	for _, p := range []struct{ hash, page, ready string }{
		{"#/users", "users", `document.querySelectorAll('#users-list tbody tr').length >= 2`},
		{"#/users/guest", "user", `document.querySelector('#user-permissions tbody tr[data-key]') !== null`},
		{"#/vhosts", "vhosts", `document.querySelectorAll('#vhosts-list tbody tr').length >= 2`},
		{"#/permissions", "permissions", `document.querySelectorAll('#permissions-list tbody tr').length >= 2`},
		{"#/policies", "policies", `document.querySelectorAll('#policies-list tbody tr[data-key]').length >= 1 && document.querySelector('#operator-policies-list').innerText.includes('max-length: 100000')`},
		{"#/limits", "limits", `document.querySelector('#vhost-limits tbody tr[data-key]') !== null`},
		{"#/definitions", "definitions", `document.querySelector('#export-form') !== null`},
	} {
		b.goTo(p.hash, p.page)
		b.waitJS(p.page, p.ready, 10*time.Second)
		b.screenshot("fake-admin-" + p.page)
	}

	// Phone size.
	b.viewport(390, 844)
	b.goTo("#/", "overview")
	b.waitJS("rates chart drawn", `document.querySelector('#overview-rates .chart-line').getAttribute('d').length > 50`, 10*time.Second)
	b.screenshot("fake-phone-overview")
	b.goTo("#/queues", "queues-list")
	b.waitJS("queues", `document.querySelectorAll('#queues-list tbody tr').length === 8`, 10*time.Second)
	b.screenshot("fake-phone-queues")
	b.goTo("#/queues/%2F/orders.paid", "queues-detail")
	b.waitJS("queue stats", `document.querySelector('.stat') !== null`, 10*time.Second)
	b.screenshot("fake-phone-queue")

	// Dark scheme.
	b.viewport(1440, 900)
	b.colorScheme("dark")
	b.goTo("#/", "overview")
	b.waitJS("rates chart drawn", `document.querySelector('#overview-rates .chart-line').getAttribute('d').length > 50`, 10*time.Second)
	b.screenshot("fake-dark-overview")
	b.goTo("#/queues", "queues-list")
	b.waitJS("queues", `document.querySelectorAll('#queues-list tbody tr').length === 8`, 10*time.Second)
	b.screenshot("fake-dark-queues")

	b.checkProblems()
}
