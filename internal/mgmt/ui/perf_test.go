package ui_test

// The UI half of "fast with 10,000 queues": a real node with 10,000
// queues, the queues page paged, filtered, sorted and paged through in
// headless Chromium, each step timed from the user's action to the drawn
// table.

import (
	"fmt"
	"io"
	"net/http"
	"strconv"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
	"github.com/warrenmq/warren/internal/warrentest"
)

const manyQueues = 10000

// listColumns is what the queues page asks for (static/js/pages/queues.js).
const listColumns = "name,vhost,type,durable,auto_delete,exclusive,arguments,policy,state,consumers,messages_ready,messages_unacknowledged,messages,message_stats"

func TestUIQueuesPageWith10000Queues(t *testing.T) {
	if testing.Short() {
		t.Skip("browser test")
	}
	chromiumPath(t)
	n := warrentest.Start(t, warrentest.WithWait("amqp", "http"))
	base := "http://" + n.Addr["http"]

	conn, err := amqp.Dial(n.AMQPURL())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ch, err := conn.Channel()
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	for i := 0; i < manyQueues; i++ {
		if _, err := ch.QueueDeclare(fmt.Sprintf("perf.%05d", i), false, false, false, true, nil); err != nil {
			t.Fatal(err)
		}
	}
	// A synchronous declare after the no-wait ones: all are done.
	if _, err := ch.QueueDeclare("perf.last", false, false, false, false, nil); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 50; i++ {
		ch.Publish("", fmt.Sprintf("perf.%05d", i*7), false, false, amqp.Publishing{Body: []byte("x")})
	}
	t.Logf("declared %d queues in %v", manyQueues+1, time.Since(start).Round(time.Millisecond))

	// The API call the page makes, timed from Go (three times: the first
	// may include warming up).
	for i := 0; i < 3; i++ {
		apiStart := time.Now()
		req, _ := http.NewRequest("GET", base+"/api/queues?page=1&page_size=100&name=&use_regex=false&pagination=true&sort=name&sort_reverse=false&columns="+listColumns, nil)
		req.SetBasicAuth("guest", "guest")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		t.Logf("GET /api/queues?page=1&page_size=100 with %d queues: %v, %d bytes", manyQueues+1, time.Since(apiStart).Round(time.Millisecond), len(body))
	}

	b := newBrowser(t, base, 1440, 900)
	b.do("open", chromedpNavigate(base+"/"))
	b.loginOK("guest", "guest")
	b.setField("#refresh-select", "0") // paused: every load below is the user's

	// step times an action until the table shows what want says.
	step := func(what string, action func(), want string, limit time.Duration) {
		t.Helper()
		b.do("mark", chromedpEval(`(document.querySelector('#queues-list tbody') || {dataset: {}}).dataset.stale = '1'`))
		t0 := time.Now()
		action()
		b.waitJS(what, `!document.querySelector('#queues-list tbody').dataset.stale && (`+want+`)`, 30*time.Second)
		d := time.Since(t0)
		ms, _ := strconv.Atoi(eval[string](b, `document.querySelector('.page').dataset.loadMs || '0'`))
		t.Logf("%-46s %5d ms in the browser (fetch + draw %d ms)", what, d.Milliseconds(), ms)
		if d > limit {
			t.Errorf("%s took %v, want under %v", what, d, limit)
		}
	}
	rows := func(n int) string {
		return fmt.Sprintf(`document.querySelectorAll('#queues-list tbody tr[data-key]').length === %d`, n)
	}
	// Typically 0.3-1.5 s each on an idle 2-core box (the logged times are
	// the measurement); the limit is loose so a box busy with other tests,
	// or -race, does not fail it.
	const limit = 6 * time.Second

	step("open the queues page (100 per page)", func() { b.goTo("#/queues", "queues-list") },
		rows(100)+` && document.querySelector('.pager-info').textContent.includes('10,001')`, limit)
	b.screenshot("warren-10000-queues")
	step("next page", func() { b.click(".pager-nav button[aria-label='Next page']") },
		rows(100)+` && document.querySelector('.pager-info').textContent.startsWith('101–200')`, limit)
	step("filter by name 'perf.0999'", func() { b.setField(".pager input.filter", "perf.0999") },
		rows(10)+` && document.querySelector('.pager-info').textContent.includes('of 10')`, limit)
	step("filter by regex '^perf\\.(00001|09999)$'", func() {
		b.click(".pager-filter input[type=checkbox]")
		b.setField(".pager input.filter", `^perf\.(00001|09999)$`)
	}, rows(2), limit)
	b.screenshot("warren-10000-queues-filtered")
	step("clear the filter", func() {
		b.click(".pager-filter input[type=checkbox]")
		b.setField(".pager input.filter", "")
	}, rows(100), limit)
	step("sort by total messages, descending", func() {
		b.click("th button[data-sort=messages]")
		b.click("th button[data-sort=messages]")
	}, rows(100)+` && document.querySelector('#queues-list tbody tr td.num:nth-last-child(4)').textContent === '1'`, limit)
	step("500 per page", func() { b.setField(".pager-nav select", "500") }, rows(500), limit)
	b.screenshot("warren-10000-queues-500")
	b.checkProblems()
}
