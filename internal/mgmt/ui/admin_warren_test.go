package ui_test

// The admin pages against a real Warren node: vhost selector, policies,
// operator policies, limits, definitions export and import, connection
// close from its page.

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	amqp "github.com/rabbitmq/amqp091-go"
	"github.com/warrenmq/warren/internal/warrentest"
)

func TestUIAdminWithWarren(t *testing.T) {
	if testing.Short() {
		t.Skip("browser test")
	}
	chromiumPath(t)
	n := warrentest.Start(t, warrentest.WithWait("amqp", "http"))
	base := "http://" + n.Addr["http"]
	b := newBrowser(t, base, 1440, 900)
	b.do("open", chromedpNavigate(base+"/"))
	b.loginOK("guest", "guest")

	// Policies: add one, see it, edit it back into the form, delete it.
	b.goTo("#/policies", "policies")
	b.setField("#policy-name", "ui-ttl")
	b.setField("#policy-pattern", `^ui\.`)
	b.click("#policy-form .chip") // max-length
	b.setField("#policy-form .args-row .arg-value", "1000")
	b.click("#policy-form button[type=submit]")
	b.waitJS("policy listed", `document.querySelector('#policies-list').innerText.includes('ui-ttl') && document.querySelector('#policies-list').innerText.includes('max-length: 1000')`, 15*time.Second)
	b.screenshot("warren-admin-policies-added")
	b.click("#policies-list tr[data-key] td.actions button")
	if got := eval[string](b, `document.querySelector('#policy-name').value + ' ' + document.querySelector('#policy-form .arg-key').value`); got != "ui-ttl max-length" {
		t.Errorf("edit filled the form with %q", got)
	}

	// Operator policies: an administrator caps a queue holding 5 messages
	// at 2; a definition the API refuses shows its reason in the form.
	opConn, err := amqpDial(n.AMQPURL())
	if err != nil {
		t.Fatal(err)
	}
	ch, err := opConn.Channel()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ch.QueueDeclare("ui.op.q", true, false, false, false, nil); err != nil {
		t.Fatal(err)
	}
	if err := ch.Confirm(false); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 5; i++ {
		dc, err := ch.PublishWithDeferredConfirm("", "ui.op.q", false, false, amqp.Publishing{Body: []byte("m")})
		if err != nil {
			t.Fatal(err)
		}
		if !dc.Wait() {
			t.Fatal("publish nacked")
		}
	}
	opConn.Close()
	b.goTo("#/queues/%2F/ui.op.q", "queues-detail")
	b.waitJS("5 messages ready", `document.querySelector('[data-stat=ready] .stat-value').textContent === '5'`, 15*time.Second)
	if got := b.text("#queue-details"); !strings.Contains(got, "Operator policy") {
		t.Errorf("queue details without an operator policy row:\n%s", got)
	}

	b.goTo("#/policies", "policies")
	b.waitJS("operator policies section", `document.querySelector('#operator-policies-list tbody tr') !== null`, 15*time.Second)
	b.setField("#op-policy-name", "ui-cap")
	b.setField("#op-policy-pattern", `^ui\.op\.`)
	if got := eval[string](b, `[...document.querySelectorAll('#op-policy-form .chip')].map(c => c.textContent).join(',')`); got != "expires,message-ttl,max-length,max-length-bytes,max-in-memory-length,max-in-memory-bytes,delivery-limit" {
		t.Errorf("operator policy keys offered: %q", got)
	}
	b.do("add max-length", chromedpEval(`[...document.querySelectorAll('#op-policy-form .chip')].find(c => c.textContent === 'max-length').click()`))
	// A key operator policies may not set is refused before it is sent.
	b.setField("#op-policy-form .args-row .arg-key", "dead-letter-exchange")
	b.setField("#op-policy-form .args-row .arg-value", "2")
	b.click("#op-policy-form button[type=submit]")
	b.waitJS("key refused", `!document.querySelector('#op-policy-form .form-error').hidden`, 10*time.Second)
	if got := b.text("#op-policy-form .form-error"); !strings.Contains(got, "cannot set dead-letter-exchange") {
		t.Errorf("form error for a key = %q", got)
	}
	// A value the API refuses: its reason is shown.
	b.setField("#op-policy-form .args-row .arg-key", "max-length")
	b.setField("#op-policy-form .args-row .arg-value", "-1")
	b.click("#op-policy-form button[type=submit]")
	b.waitJS("API error shown", `document.querySelector('#op-policy-form .form-error').innerText.includes('max-length')
		&& !document.querySelector('#op-policy-form .form-error').innerText.includes('dead-letter-exchange')`, 10*time.Second)
	if got := b.text("#op-policy-form .form-error"); !strings.Contains(got, "-1 is not a valid value for max-length") {
		t.Errorf("form error from the API = %q", got)
	}
	b.screenshot("warren-admin-operator-policy-error")
	b.setField("#op-policy-form .args-row .arg-value", "2")
	b.click("#op-policy-form button[type=submit]")
	b.waitJS("operator policy listed", `document.querySelector('#operator-policies-list').innerText.includes('ui-cap') && document.querySelector('#operator-policies-list').innerText.includes('max-length: 2')`, 15*time.Second)
	if !eval[bool](b, `document.querySelector('#op-policy-form .form-error').hidden`) {
		t.Errorf("form error after saving: %q", b.text("#op-policy-form .form-error"))
	}
	b.screenshot("warren-admin-operator-policies")

	b.goTo("#/queues/%2F/ui.op.q", "queues-detail")
	b.waitJS("trimmed to 2", `document.querySelector('[data-stat=ready] .stat-value').textContent === '2' && document.querySelector('#queue-details').innerText.includes('ui-cap')`, 15*time.Second)
	if got := eval[string](b, `[...document.querySelectorAll('#queue-details dt')].find(dt => dt.textContent === 'Operator policy').nextElementSibling.textContent`); got != "ui-cap" {
		t.Errorf("operator policy shown = %q", got)
	}
	if got := b.text("#queue-details"); !strings.Contains(got, "max-length: 2") {
		t.Errorf("queue details without the effective max-length:\n%s", got)
	}
	b.screenshot("warren-queue-operator-policy")

	b.goTo("#/policies", "policies")
	b.waitJS("operator policy row", `document.querySelector('#operator-policies-list tr[data-key="/|ui-cap"]') !== null`, 15*time.Second)
	// The "saved" toast sits over the row's buttons until it fades.
	b.waitJS("toast gone", `document.querySelector('.toasts .toast') === null`, 10*time.Second)
	b.click(`#operator-policies-list tr[data-key="/|ui-cap"] button.danger`)
	b.waitJS("delete dialog", `document.querySelector('dialog[open]') !== null`, 5*time.Second)
	b.click("#dialog-ok")
	b.waitJS("operator policy gone", `!document.querySelector('#operator-policies-list').innerText.includes('ui-cap')`, 15*time.Second)
	if code, body := apiAs(t, base, "GET", "/api/operator-policies", "guest", "guest", nil); code != 200 || strings.Contains(string(body), "ui-cap") {
		t.Errorf("after deleting: GET /api/operator-policies = %d %s", code, body)
	}

	// Limits: a vhost limit.
	b.goTo("#/limits", "limits")
	b.setField("#vhost-limit-form select[name=limit]", "max-queues")
	b.setField("#vhost-limit-form input[name=value]", "500")
	b.click("#vhost-limit-form button[type=submit]")
	b.waitJS("limit listed", `document.querySelector('#vhost-limits tbody').innerText.includes('500')`, 15*time.Second)
	b.screenshot("warren-admin-limits-set")

	// Definitions: export (the notice counts what was exported), then
	// import a file with a new queue.
	b.goTo("#/definitions", "definitions")
	b.click("#export-form button[type=submit]")
	b.waitJS("exported", `document.querySelector('#export-result .notice') !== null`, 15*time.Second)
	if got := b.text("#export-result"); !strings.Contains(got, "exchange") || !strings.Contains(got, "user") {
		t.Errorf("export notice = %q", got)
	}
	defs := filepath.Join(t.TempDir(), "defs.json")
	os.WriteFile(defs, []byte(`{"queues":[{"name":"imported.q","vhost":"/","durable":true,"auto_delete":false,"arguments":{}}],"exchanges":[],"bindings":[]}`), 0o644)
	b.do("choose file", chromedp.SetUploadFiles(chromedp.CSS("#import-file"), []string{defs}))
	b.click("#import-form button[type=submit]")
	b.waitJS("imported", `document.querySelector('#import-result .notice') !== null || !document.querySelector('#import-form .form-error').hidden`, 15*time.Second)
	if got := b.text("#import-result"); !strings.Contains(got, "Imported 1 queue,") {
		t.Errorf("import result = %q, error %q", got, b.text("#import-form .form-error"))
	}
	b.screenshot("warren-admin-definitions-done")
	b.goTo("#/queues", "queues-list")
	b.waitJS("imported queue listed", `document.querySelector('#queues-list').innerText.includes('imported.q')`, 15*time.Second)

	// The vhost selector narrows the lists to one vhost.
	b.goTo("#/vhosts", "vhosts")
	b.setField("#new-vhost", "other")
	b.click("#add-vhost button[type=submit]")
	b.waitJS("vhost in selector", `[...document.querySelectorAll('#vhost-select option')].some(o => o.value === 'other')`, 15*time.Second)
	b.goTo("#/exchanges", "exchanges-list")
	b.waitJS("exchanges of all vhosts", `[...document.querySelectorAll('#exchanges-list tbody tr[data-key]')].some(tr => tr.dataset.key.startsWith('other/'))`, 15*time.Second)
	b.setField("#vhost-select", "other")
	b.waitJS("only vhost other", `document.querySelector('#exchanges-list tbody tr[data-key]') !== null && [...document.querySelectorAll('#exchanges-list tbody tr[data-key]')].every(tr => tr.dataset.key.startsWith('other/'))`, 15*time.Second)
	b.setField("#vhost-select", "")

	// Close a connection from its own page.
	conn, err := amqpDial(n.AMQPURL())
	if err != nil {
		t.Fatal(err)
	}
	closed := conn.NotifyClose(make(chan *amqpError, 1))
	b.goTo("#/connections", "connections-list")
	b.waitJS("connection", `document.querySelector('#connections-list tbody tr[data-key] td.name a') !== null`, 15*time.Second)
	b.click("#connections-list tbody tr[data-key] td.name a")
	b.waitJS("connection page", `document.querySelector('.page[data-page=connections-detail] dd') !== null`, 15*time.Second)
	b.screenshot("warren-connection")
	b.click("#close-connection")
	b.waitJS("close dialog", `document.querySelector('dialog[open]') !== null`, 5*time.Second)
	b.click("#dialog-ok")
	select {
	case e := <-closed:
		if e == nil || e.Code != 320 {
			t.Errorf("connection closed with %v, want 320 CONNECTION_FORCED", e)
		}
	case <-time.After(15 * time.Second):
		t.Errorf("connection was not closed")
	}
	b.waitJS("back on the list", `location.hash === '#/connections'`, 10*time.Second)

	// A policymaker manages policies but not operator policies: no section.
	if code, body := apiAs(t, base, "PUT", "/api/users/ui-pm", "guest", "guest", map[string]any{"password": "pm-secret", "tags": "policymaker"}); code/100 != 2 {
		t.Fatalf("create policymaker: %d %s", code, body)
	}
	if code, body := apiAs(t, base, "PUT", "/api/permissions/%2F/ui-pm", "guest", "guest", map[string]any{"configure": ".*", "write": ".*", "read": ".*"}); code/100 != 2 {
		t.Fatalf("grant policymaker: %d %s", code, body)
	}
	b.click("#logout")
	b.loginOK("ui-pm", "pm-secret")
	b.goTo("#/policies", "policies")
	b.waitJS("policies for a policymaker", `document.querySelector('#policies-list tbody tr[data-key]') !== null`, 15*time.Second)
	if eval[bool](b, `document.querySelector('#operator-policies') !== null || document.querySelector('#op-policy-form') !== null`) {
		t.Errorf("a policymaker sees the operator policies section")
	}
	b.screenshot("warren-policymaker-policies")
	b.checkProblems()
}
