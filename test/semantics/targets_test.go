package semantics

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/warrenmq/warren/internal/warrentest"
)

// waitTimeout bounds every wait for a broker-side effect (expiry, trimming,
// a delivery). Generous: the machine is small and shared; scenarios wait
// for an observable event and never assert on elapsed time.
const waitTimeout = 10 * time.Second

// target is one broker under test.
type target struct {
	name    string // "rabbitmq" or "warren"
	amqpURL string
	mgmtURL string
	rabbit  *warrentest.RabbitMQ // nil for Warren
	warren  *warrentest.Node     // nil for RabbitMQ

	prefix string // names this subtest's queues, exchanges and policies
	admin  *amqp.Connection
}

func (tg *target) isWarren() bool { return tg.warren != nil }

// scenario runs against one target and returns what it observed, rendered
// comparably (see render); crossCheck compares the two targets' results.
type scenario func(t *testing.T, tg *target) any

// crossCheck runs sc against RabbitMQ, then against a fresh Warren started
// with opts, and fails if both completed but observed different things.
func crossCheck(t *testing.T, sc scenario, opts ...warrentest.Option) {
	t.Helper()
	results := map[string]string{}
	for _, name := range []string{"rabbitmq", "warren"} {
		t.Run(name, func(t *testing.T) {
			tg := newTarget(t, name, opts...)
			results[name] = render(sc(t, tg))
		})
	}
	r, okR := results["rabbitmq"]
	w, okW := results["warren"]
	if okR && okW && r != w {
		t.Errorf("warren and rabbitmq observed different results:\nrabbitmq: %s\nwarren:   %s", r, w)
	}
}

func newTarget(t *testing.T, name string, opts ...warrentest.Option) *target {
	t.Helper()
	tg := &target{name: name}
	switch name {
	case "rabbitmq":
		r := rabbitNode(t)
		tg.rabbit, tg.amqpURL, tg.mgmtURL = r, r.AMQPURL, r.MgmtURL
	case "warren":
		n := warrentest.Start(t, append([]warrentest.Option{warrentest.WithWait("amqp", "http")}, opts...)...)
		tg.warren, tg.amqpURL, tg.mgmtURL = n, n.AMQPURL(), "http://"+n.Addr["http"]
	}
	// The RabbitMQ node is shared by the package: names carry the test's
	// name so scenarios never see each other's queues or policies.
	top, _, _ := strings.Cut(t.Name(), "/")
	tg.prefix = "sem-" + strings.ToLower(regexp.MustCompile(`[^A-Za-z0-9]+`).ReplaceAllString(strings.TrimPrefix(top, "Test"), "-"))
	tg.admin = tg.dial(t)
	return tg
}

// n names an object of this scenario: prefix-suffix.
func (tg *target) n(suffix string) string { return tg.prefix + "-" + suffix }

func (tg *target) dial(t *testing.T) *amqp.Connection {
	t.Helper()
	c, err := amqp.Dial(tg.amqpURL)
	if err != nil {
		t.Fatalf("%s: dial: %v", tg.name, err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// channel opens a channel on a new connection.
func (tg *target) channel(t *testing.T) *amqp.Channel {
	t.Helper()
	ch, err := tg.dial(t).Channel()
	if err != nil {
		t.Fatalf("%s: channel: %v", tg.name, err)
	}
	return ch
}

// adminChannel opens a channel on the target's admin connection, for
// operations that may close it (passive declares).
func (tg *target) adminChannel(t *testing.T) *amqp.Channel {
	t.Helper()
	if tg.admin.IsClosed() {
		tg.admin = tg.dial(t)
	}
	ch, err := tg.admin.Channel()
	if err != nil {
		t.Fatalf("%s: channel: %v", tg.name, err)
	}
	return ch
}

// declareQueue declares a durable queue and deletes it when the test ends.
func (tg *target) declareQueue(t *testing.T, ch *amqp.Channel, name string, args amqp.Table) {
	t.Helper()
	if _, err := ch.QueueDeclare(name, true, false, false, false, args); err != nil {
		t.Fatalf("%s: queue.declare %s %v: %v", tg.name, name, args, err)
	}
	t.Cleanup(func() {
		if c, err := amqp.Dial(tg.amqpURL); err == nil {
			if ch, err := c.Channel(); err == nil {
				ch.QueueDelete(name, false, false, false)
			}
			c.Close()
		}
	})
}

// declareExchange declares a durable exchange and deletes it when the test ends.
func (tg *target) declareExchange(t *testing.T, ch *amqp.Channel, name, kind string, args amqp.Table) {
	t.Helper()
	if err := ch.ExchangeDeclare(name, kind, true, false, false, false, args); err != nil {
		t.Fatalf("%s: exchange.declare %s: %v", tg.name, name, err)
	}
	t.Cleanup(func() {
		if c, err := amqp.Dial(tg.amqpURL); err == nil {
			if ch, err := c.Channel(); err == nil {
				ch.ExchangeDelete(name, false, false)
			}
			c.Close()
		}
	})
}

func (tg *target) bind(t *testing.T, ch *amqp.Channel, queue, key, exchange string) {
	t.Helper()
	if err := ch.QueueBind(queue, key, exchange, false, nil); err != nil {
		t.Fatalf("%s: queue.bind %s %s %s: %v", tg.name, queue, key, exchange, err)
	}
}

// depth is the queue's ready-message count from a passive queue.declare:
// immediate, unlike the management API's sampled statistics.
func (tg *target) depth(t *testing.T, queue string) int {
	t.Helper()
	ch := tg.adminChannel(t)
	defer ch.Close()
	q, err := ch.QueueDeclarePassive(queue, true, false, false, false, nil)
	if err != nil {
		t.Fatalf("%s: passive queue.declare %s: %v", tg.name, queue, err)
	}
	return q.Messages
}

// exists reports whether a queue exists (passive declare: 404 means no).
func (tg *target) exists(t *testing.T, queue string) (bool, *amqp.Error) {
	t.Helper()
	ch := tg.adminChannel(t)
	defer ch.Close()
	_, err := ch.QueueDeclarePassive(queue, true, false, false, false, nil)
	var ae *amqp.Error
	if errors.As(err, &ae) && ae.Code == amqp.NotFound {
		return false, ae
	}
	if err != nil {
		t.Fatalf("%s: passive queue.declare %s: %v", tg.name, queue, err)
	}
	return true, nil
}

// waitDepth waits until the queue holds n ready messages.
func (tg *target) waitDepth(t *testing.T, queue string, n int) {
	t.Helper()
	waitFor(t, fmt.Sprintf("%s: queue %s to hold %d messages", tg.name, queue, n), func() bool { return tg.depth(t, queue) == n })
}

// waitFor polls cond until it holds, failing the test after waitTimeout.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(waitTimeout)
	backoff := time.Millisecond
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", waitTimeout, what)
		}
		time.Sleep(backoff)
		backoff = min(2*backoff, 50*time.Millisecond)
	}
}

// publish sends one message and fails the test on a client-side error.
func publish(t *testing.T, ch *amqp.Channel, exchange, key string, msg amqp.Publishing) {
	t.Helper()
	if err := ch.PublishWithContext(context.Background(), exchange, key, false, false, msg); err != nil {
		t.Fatalf("publish to %q/%q: %v", exchange, key, err)
	}
}

// publishConfirmed publishes on a confirming channel and waits for the
// broker's ack (true) or nack (false).
func publishConfirmed(t *testing.T, ch *amqp.Channel, exchange, key string, mandatory bool, msg amqp.Publishing) bool {
	t.Helper()
	dc, err := ch.PublishWithDeferredConfirmWithContext(context.Background(), exchange, key, mandatory, false, msg)
	if err != nil {
		t.Fatalf("publish to %q/%q: %v", exchange, key, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	ack, err := dc.WaitContext(ctx)
	if err != nil {
		t.Fatalf("waiting for the confirm of a publish to %q/%q: %v", exchange, key, err)
	}
	return ack
}

func body(s string) amqp.Publishing { return amqp.Publishing{Body: []byte(s)} }

// get fetches one message with basic.get (auto-ack unless ack is false);
// ok is false when the queue is empty.
func get(t *testing.T, ch *amqp.Channel, queue string, autoAck bool) (amqp.Delivery, bool) {
	t.Helper()
	d, ok, err := ch.Get(queue, autoAck)
	if err != nil {
		t.Fatalf("basic.get %s: %v", queue, err)
	}
	return d, ok
}

// drain gets every ready message of queue (auto-ack) and returns their bodies.
func drain(t *testing.T, ch *amqp.Channel, queue string) []string {
	t.Helper()
	var out []string
	for {
		d, ok := get(t, ch, queue, true)
		if !ok {
			return out
		}
		out = append(out, string(d.Body))
	}
}

// consume starts a consumer and returns its deliveries.
func consume(t *testing.T, ch *amqp.Channel, queue, tag string, autoAck bool, args amqp.Table) <-chan amqp.Delivery {
	t.Helper()
	ds, err := ch.Consume(queue, tag, autoAck, false, false, false, args)
	if err != nil {
		t.Fatalf("basic.consume %s: %v", queue, err)
	}
	return ds
}

// next waits for the next delivery.
func next(t *testing.T, ds <-chan amqp.Delivery) amqp.Delivery {
	t.Helper()
	select {
	case d, ok := <-ds:
		if !ok {
			t.Fatalf("delivery channel closed")
		}
		return d
	case <-time.After(waitTimeout):
		t.Fatalf("no delivery within %v", waitTimeout)
	}
	return amqp.Delivery{}
}

// amqpErr returns err as an *amqp.Error, failing the test otherwise.
func amqpErr(t *testing.T, err error) *amqp.Error {
	t.Helper()
	var ae *amqp.Error
	if !errors.As(err, &ae) {
		t.Fatalf("want an AMQP error, got %v", err)
	}
	return ae
}

// declareErr declares a queue on a fresh channel and returns the channel
// error's code and text ("" when the declare succeeds).
func (tg *target) declareErr(t *testing.T, name string, args amqp.Table) string {
	t.Helper()
	ch := tg.adminChannel(t)
	_, err := ch.QueueDeclare(name, true, false, false, false, args)
	if err == nil {
		ch.Close()
		ch2 := tg.adminChannel(t)
		ch2.QueueDelete(name, false, false, false)
		ch2.Close()
		return ""
	}
	ae := amqpErr(t, err)
	return fmt.Sprintf("%d %s", ae.Code, ae.Reason)
}

// --- management API ---------------------------------------------------------

// api calls the management HTTP API as guest and returns the status and body.
func (tg *target) api(t *testing.T, method, path string, reqBody any) (int, []byte) {
	t.Helper()
	var rd io.Reader
	if reqBody != nil {
		b, err := json.Marshal(reqBody)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, tg.mgmtURL+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	req.SetBasicAuth("guest", "guest")
	req.Header.Set("Content-Type", "application/json")
	c := http.Client{Timeout: waitTimeout}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s: %s %s: %v", tg.name, method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

// policy is a policy or operator policy as PUT to the management API.
type policy struct {
	Pattern    string         `json:"pattern"`
	Definition map[string]any `json:"definition"`
	Priority   int            `json:"priority"`
	ApplyTo    string         `json:"apply-to,omitempty"`
}

// setPolicy PUTs /api/policies/%2F/name (kind "policies") or
// /api/operator-policies/%2F/name (kind "operator-policies") and clears it
// when the test ends.
func (tg *target) setPolicy(t *testing.T, kind, name string, p policy) {
	t.Helper()
	path := "/api/" + kind + "/%2F/" + url.PathEscape(name)
	code, b := tg.api(t, "PUT", path, p)
	if code != http.StatusCreated && code != http.StatusNoContent {
		t.Fatalf("%s: PUT %s: %d %s", tg.name, path, code, b)
	}
	t.Cleanup(func() { tg.api(t, "DELETE", path, nil) })
}

func (tg *target) clearPolicy(t *testing.T, kind, name string) {
	t.Helper()
	path := "/api/" + kind + "/%2F/" + url.PathEscape(name)
	if code, b := tg.api(t, "DELETE", path, nil); code != http.StatusNoContent {
		t.Fatalf("%s: DELETE %s: %d %s", tg.name, path, code, b)
	}
}

// queueInfo is GET /api/queues/%2F/name.
func (tg *target) queueInfo(t *testing.T, name string) map[string]any {
	t.Helper()
	code, b := tg.api(t, "GET", "/api/queues/%2F/"+url.PathEscape(name), nil)
	if code != http.StatusOK {
		t.Fatalf("%s: GET /api/queues/%%2F/%s: %d %s", tg.name, name, code, b)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("%s: queue %s: %v", tg.name, name, err)
	}
	return m
}

// policyView is what /api/queues shows of a queue's policies, rendered.
func (tg *target) policyView(t *testing.T, name string) string {
	t.Helper()
	m := tg.queueInfo(t, name)
	view := map[string]any{}
	for _, k := range []string{"policy", "operator_policy", "effective_policy_definition"} {
		if v, ok := m[k]; ok {
			view[k] = v
		} else {
			view[k] = absent{}
		}
	}
	return render(view)
}

// waitPolicyView waits until the queue's policy view is want (RabbitMQ's
// management API shows policy changes with its statistics, some seconds
// late) and returns it.
func (tg *target) waitPolicyView(t *testing.T, name, want string) string {
	t.Helper()
	var got string
	deadline := time.Now().Add(waitTimeout)
	for {
		if got = tg.policyView(t, name); got == want {
			return got
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: queue %s policies:\n got %s\nwant %s", tg.name, name, got, want)
			return got
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// --- rendering ----------------------------------------------------------------

// render prints a value canonically with its AMQP-relevant types: strings
// quoted, integers with their width (int64(1): a long, int32(1): a signed
// int), tables with sorted keys, timestamps only as "timestamp" (their value
// differs between runs). Two brokers agree when the renders are equal.
func render(v any) string {
	var b strings.Builder
	renderTo(&b, v)
	return b.String()
}

func renderTo(b *strings.Builder, v any) {
	switch x := v.(type) {
	case nil:
		b.WriteString("nil")
	case string:
		fmt.Fprintf(b, "%q", x)
	case []byte:
		fmt.Fprintf(b, "bytes(%q)", x)
	case bool:
		fmt.Fprintf(b, "%t", x)
	case time.Time:
		b.WriteString("timestamp")
	case amqp.Table:
		renderMap(b, x)
	case map[string]any:
		renderMap(b, x)
	case []any:
		renderList(b, x)
	case []string:
		renderList(b, x)
	case []int:
		renderList(b, x)
	case []bool:
		renderList(b, x)
	case absent:
		b.WriteString("absent")
	case []delivery:
		renderList(b, x)
	case delivery:
		renderTo(b, x.fields())
	case int:
		fmt.Fprintf(b, "%d", x)
	case float64: // JSON numbers
		fmt.Fprintf(b, "%v", x)
	default:
		fmt.Fprintf(b, "%T(%v)", x, x)
	}
}

func renderMap[M ~map[string]any](b *strings.Builder, m M) {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	b.WriteByte('{')
	for i, k := range keys {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(k)
		b.WriteByte(':')
		renderTo(b, m[k])
	}
	b.WriteByte('}')
}

func renderList[T any](b *strings.Builder, l []T) {
	b.WriteByte('[')
	for i, v := range l {
		if i > 0 {
			b.WriteByte(' ')
		}
		renderTo(b, v)
	}
	b.WriteByte(']')
}

// absent marks a JSON field that is missing (as opposed to null).
type absent struct{}

// delivery is the broker-determined part of a delivered message.
type delivery struct {
	Body        string
	Exchange    string
	RoutingKey  string
	Redelivered bool
	Priority    uint8
	Expiration  string
	Headers     amqp.Table
}

func norm(d amqp.Delivery) delivery {
	return delivery{
		Body: string(d.Body), Exchange: d.Exchange, RoutingKey: d.RoutingKey,
		Redelivered: d.Redelivered, Priority: d.Priority, Expiration: d.Expiration, Headers: d.Headers,
	}
}

func (d delivery) fields() map[string]any {
	m := map[string]any{"body": d.Body, "exchange": d.Exchange, "routing_key": d.RoutingKey, "redelivered": d.Redelivered}
	if d.Priority != 0 {
		m["priority"] = int(d.Priority)
	}
	if d.Expiration != "" {
		m["expiration"] = d.Expiration
	}
	if d.Headers != nil {
		m["headers"] = d.Headers
	}
	return m
}

// wantEq fails the test when render(got) differs from want.
func wantEq(t *testing.T, what string, got any, want string) {
	t.Helper()
	if g := render(got); g != want {
		t.Errorf("%s:\n got %s\nwant %s", what, g, want)
	}
}

// waitClosed waits for the channel or connection close notified on c.
func waitClosed(t *testing.T, c <-chan *amqp.Error) *amqp.Error {
	t.Helper()
	select {
	case e := <-c:
		if e == nil {
			t.Fatalf("closed without an error")
		}
		return e
	case <-time.After(waitTimeout):
		t.Fatalf("not closed within %v", waitTimeout)
	}
	return nil
}

// declareErr2 redeclares an existing queue on a fresh channel and returns
// the error's code and text ("" when the declare succeeds); unlike
// declareErr it never deletes the queue.
func (tg *target) declareErr2(t *testing.T, name string, args amqp.Table) string {
	t.Helper()
	ch := tg.adminChannel(t)
	_, err := ch.QueueDeclare(name, true, false, false, false, args)
	if err == nil {
		ch.Close()
		return ""
	}
	ae := amqpErr(t, err)
	return fmt.Sprintf("%d %s", ae.Code, ae.Reason)
}
