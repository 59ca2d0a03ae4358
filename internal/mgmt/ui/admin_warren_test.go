package ui_test

// The admin pages against a real Warren node: vhost selector, policies,
// limits, definitions export and import, connection close from its page.

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
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
	b.checkProblems()
}
