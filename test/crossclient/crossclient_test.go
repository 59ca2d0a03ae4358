// Package crossclient runs other AMQP clients against a real `warren
// server`: Python pika (Debian python3-pika), Node.js amqplib (test/node)
// and the C amqp-tools, together with Go's amqp091-go, and checks that what
// one client sends another receives field by field: body bytes, every
// basic property, and header values with their types.
//
// The Python and Node drivers are test/python/crossclient.py and
// test/node/crossclient.js; they take the URL, a command and a JSON spec and
// print a JSON result. A missing client fails the test with a pointer to
// scripts/test-deps.sh, which installs them (`make test` runs it).
package crossclient

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	amqp091 "github.com/rabbitmq/amqp091-go"

	"github.com/warrenmq/warren/internal/warrentest"
)

// pythonBin is Debian's python3, the one python3-pika installs into (the
// first python3 on PATH may be another).
const pythonBin = "/usr/bin/python3"

// clientTimeout bounds one run of a client script or tool.
const clientTimeout = 60 * time.Second

const installHint = "run scripts/test-deps.sh (`make test` does) to install the test dependencies"

// TV is a typed value: the language-level type a client decoded or is to
// encode (int, float, str, bool, bytes, null, timestamp, table, array) and
// the value (bytes in base64, timestamps in seconds, a table as a Table, an
// array as []TV).
type TV struct {
	Type  string `json:"type"`
	Value any    `json:"value"`
}

// Table is a header table of typed values; nil is "no headers property".
type Table map[string]TV

// Msg is a message as the drivers publish and report it.
type Msg struct {
	Exchange    string         `json:"exchange"`
	RoutingKey  string         `json:"routing_key"`
	Mandatory   bool           `json:"mandatory,omitempty"`
	Redelivered bool           `json:"redelivered"`
	Body        []byte         `json:"body_b64"`
	Properties  map[string]any `json:"properties"`
	Headers     Table          `json:"headers"`
}

func tInt(v int64) TV       { return TV{"int", v} }
func tFloat(v float64) TV   { return TV{"float", v} }
func tStr(v string) TV      { return TV{"str", v} }
func tBool(v bool) TV       { return TV{"bool", v} }
func tBytes(v []byte) TV    { return TV{"bytes", base64.StdEncoding.EncodeToString(v)} }
func tNull() TV             { return TV{"null", nil} }
func tTimestamp(s int64) TV { return TV{"timestamp", s} }
func tTable(v Table) TV     { return TV{"table", v} }
func tArray(v ...TV) TV     { return TV{"array", v} }

// --- the clients ---------------------------------------------------------

var (
	pikaOnce sync.Once
	pikaErr  error
)

func needPika(t *testing.T) {
	t.Helper()
	pikaOnce.Do(func() {
		if _, err := os.Stat(pythonBin); err != nil {
			pikaErr = err
			return
		}
		out, err := exec.Command(pythonBin, "-c", "import pika; print(pika.__version__)").CombinedOutput()
		if err != nil {
			pikaErr = fmt.Errorf("%s -c 'import pika': %v\n%s", pythonBin, err, out)
		}
	})
	if pikaErr != nil {
		t.Fatalf("Python pika is not available (%v): %s", pikaErr, installHint)
	}
}

func needAmqplib(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("node"); err != nil {
		t.Fatalf("node is not installed (%v): %s", err, installHint)
	}
	if _, err := os.Stat(scriptPath(t, "../node/node_modules/amqplib/package.json")); err != nil {
		t.Fatalf("amqplib is not installed in test/node/node_modules (%v): %s", err, installHint)
	}
}

func needTool(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		t.Fatalf("%s is not installed (Debian package amqp-tools): %s", name, installHint)
	}
	return p
}

func scriptPath(t *testing.T, rel string) string {
	t.Helper()
	p, err := filepath.Abs(rel)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// driver runs a client's crossclient script: "pika" or "amqplib".
type driver struct {
	name string
	t    *testing.T
	url  string
}

func pika(t *testing.T, url string) *driver    { needPika(t); return &driver{"pika", t, url} }
func amqplib(t *testing.T, url string) *driver { needAmqplib(t); return &driver{"amqplib", t, url} }

func (d *driver) command(ctx context.Context, cmd string, spec any) (*exec.Cmd, *bytes.Buffer, *bytes.Buffer) {
	d.t.Helper()
	in, err := json.Marshal(spec)
	if err != nil {
		d.t.Fatal(err)
	}
	var c *exec.Cmd
	switch d.name {
	case "pika":
		c = exec.CommandContext(ctx, pythonBin, scriptPath(d.t, "../python/crossclient.py"), d.url, cmd, "-")
	case "amqplib":
		c = exec.CommandContext(ctx, "node", scriptPath(d.t, "../node/crossclient.js"), d.url, cmd, "-")
	default:
		d.t.Fatalf("unknown driver %s", d.name)
	}
	var stdout, stderr bytes.Buffer
	c.Stdin = bytes.NewReader(in)
	c.Stdout, c.Stderr = &stdout, &stderr
	c.WaitDelay = 5 * time.Second
	return c, &stdout, &stderr
}

// start runs cmd in the background; wait decodes its result into out.
func (d *driver) start(cmd string, spec any) (wait func(out any)) {
	d.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), clientTimeout)
	c, stdout, stderr := d.command(ctx, cmd, spec)
	if err := c.Start(); err != nil {
		cancel()
		d.t.Fatalf("%s %s: %v", d.name, cmd, err)
	}
	done := make(chan error, 1)
	go func() { done <- c.Wait() }()
	d.t.Cleanup(func() { cancel(); <-done })
	return func(out any) {
		d.t.Helper()
		err := <-done
		done <- err // for the cleanup
		if err != nil {
			d.t.Fatalf("%s %s: %v\nstderr:\n%s\nstdout:\n%s", d.name, cmd, err, stderr, stdout)
		}
		if err := json.Unmarshal(stdout.Bytes(), out); err != nil {
			d.t.Fatalf("%s %s: bad JSON result: %v\n%s\nstderr:\n%s", d.name, cmd, err, stdout, stderr)
		}
	}
}

// run runs cmd and decodes its result into out.
func (d *driver) run(cmd string, spec any, out any) {
	d.t.Helper()
	d.start(cmd, spec)(out)
}

type publishResult struct {
	Published, Acked, Nacked, Unroutable int
}

func (d *driver) setup(spec setupSpec) []string {
	d.t.Helper()
	var res struct{ Queues []string }
	d.run("setup", spec, &res)
	return res.Queues
}

func (d *driver) publish(confirm bool, msgs []Msg) publishResult {
	d.t.Helper()
	var res publishResult
	d.run("publish", map[string]any{"confirm": confirm, "messages": msgs}, &res)
	if res.Published != len(msgs) {
		d.t.Fatalf("%s published %d of %d messages", d.name, res.Published, len(msgs))
	}
	return res
}

func (d *driver) startConsume(queue string, count int) func() []Msg {
	d.t.Helper()
	wait := d.start("consume", map[string]any{"queue": queue, "count": count, "timeout": 30})
	return func() []Msg {
		d.t.Helper()
		var res struct{ Messages []Msg }
		wait(&res)
		if len(res.Messages) != count {
			d.t.Fatalf("%s consumed %d messages from %s, want %d", d.name, len(res.Messages), queue, count)
		}
		return res.Messages
	}
}

func (d *driver) drain(queues ...string) map[string][]Msg {
	d.t.Helper()
	var res struct{ Queues map[string][]Msg }
	d.run("drain", map[string]any{"queues": queues}, &res)
	return res.Queues
}

type setupSpec struct {
	Exchanges []exchangeSpec `json:"exchanges,omitempty"`
	Queues    []queueSpec    `json:"queues,omitempty"`
	Bindings  []bindingSpec  `json:"bindings,omitempty"`
}

type exchangeSpec struct {
	Name    string `json:"name"`
	Type    string `json:"type"`
	Durable bool   `json:"durable"`
}

type queueSpec struct {
	Name    string `json:"name"`
	Durable bool   `json:"durable"`
}

type bindingSpec struct {
	Queue      string `json:"queue"`
	Exchange   string `json:"exchange"`
	RoutingKey string `json:"routing_key"`
	Arguments  Table  `json:"arguments,omitempty"`
}

// --- Go's client (amqp091-go) ----------------------------------------------

type goClient struct {
	t    *testing.T
	conn *amqp091.Connection
	ch   *amqp091.Channel
}

func goDial(t *testing.T, url string) *goClient {
	t.Helper()
	conn, err := amqp091.Dial(url)
	if err != nil {
		t.Fatalf("amqp091 dial: %v", err)
	}
	t.Cleanup(func() { conn.Close() })
	ch, err := conn.Channel()
	if err != nil {
		t.Fatalf("amqp091 channel: %v", err)
	}
	return &goClient{t, conn, ch}
}

func (g *goClient) setup(spec setupSpec) {
	g.t.Helper()
	for _, x := range spec.Exchanges {
		if err := g.ch.ExchangeDeclare(x.Name, x.Type, x.Durable, false, false, false, nil); err != nil {
			g.t.Fatalf("exchange.declare %s: %v", x.Name, err)
		}
	}
	for _, q := range spec.Queues {
		if _, err := g.ch.QueueDeclare(q.Name, q.Durable, false, false, false, nil); err != nil {
			g.t.Fatalf("queue.declare %s: %v", q.Name, err)
		}
	}
	for _, b := range spec.Bindings {
		if err := g.ch.QueueBind(b.Queue, b.RoutingKey, b.Exchange, false, goTable(b.Arguments)); err != nil {
			g.t.Fatalf("queue.bind %s: %v", b.Queue, err)
		}
	}
}

func (g *goClient) publish(msgs []Msg) {
	g.t.Helper()
	if err := g.ch.Confirm(false); err != nil {
		g.t.Fatalf("confirm.select: %v", err)
	}
	for _, m := range msgs {
		dc, err := g.ch.PublishWithDeferredConfirm(m.Exchange, m.RoutingKey, m.Mandatory, false, goPublishing(g.t, m))
		if err != nil {
			g.t.Fatalf("publish: %v", err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), clientTimeout)
		ok, err := dc.WaitContext(ctx)
		cancel()
		if err != nil || !ok {
			g.t.Fatalf("publish not confirmed: ack=%v err=%v", ok, err)
		}
	}
}

func (g *goClient) consume(queue string, n int) []amqp091.Delivery {
	g.t.Helper()
	ds, err := g.ch.Consume(queue, "", false, false, false, false, nil)
	if err != nil {
		g.t.Fatalf("basic.consume %s: %v", queue, err)
	}
	var got []amqp091.Delivery
	timeout := time.After(clientTimeout)
	for len(got) < n {
		select {
		case d := <-ds:
			if err := d.Ack(false); err != nil {
				g.t.Fatalf("ack: %v", err)
			}
			got = append(got, d)
		case <-timeout:
			g.t.Fatalf("consumed %d of %d messages from %s", len(got), n, queue)
		}
	}
	return got
}

func (g *goClient) drain(queues ...string) map[string][]Msg {
	g.t.Helper()
	out := map[string][]Msg{}
	for _, q := range queues {
		out[q] = []Msg{}
		for {
			d, ok, err := g.ch.Get(q, false)
			if err != nil {
				g.t.Fatalf("basic.get %s: %v", q, err)
			}
			if !ok {
				break
			}
			if err := d.Ack(false); err != nil {
				g.t.Fatalf("ack: %v", err)
			}
			out[q] = append(out[q], fromDelivery(d))
		}
	}
	return out
}

func (g *goClient) count(queue string) int {
	g.t.Helper()
	q, err := g.ch.QueueDeclarePassive(queue, false, false, false, false, nil)
	if err != nil {
		g.t.Fatalf("queue.declare passive %s: %v", queue, err)
	}
	return q.Messages
}

// goValue is the Go value amqp091-go encodes as tv's type.
func goValue(tv TV) any {
	switch tv.Type {
	case "int":
		v := tv.Value.(int64)
		if v >= math.MinInt32 && v <= math.MaxInt32 {
			return int32(v)
		}
		return v
	case "float":
		return tv.Value.(float64)
	case "str":
		return tv.Value.(string)
	case "bool":
		return tv.Value.(bool)
	case "bytes":
		b, _ := base64.StdEncoding.DecodeString(tv.Value.(string))
		return b
	case "null":
		return nil
	case "timestamp":
		return time.Unix(tv.Value.(int64), 0).UTC()
	case "table":
		return goTable(tv.Value.(Table))
	case "array":
		var a []any
		for _, e := range tv.Value.([]TV) {
			a = append(a, goValue(e))
		}
		return a
	}
	panic("unknown type " + tv.Type)
}

func goTable(t Table) amqp091.Table {
	if t == nil {
		return nil
	}
	out := amqp091.Table{}
	for k, v := range t {
		out[k] = goValue(v)
	}
	return out
}

func goPublishing(t *testing.T, m Msg) amqp091.Publishing {
	p := amqp091.Publishing{Body: m.Body, Headers: goTable(m.Headers)}
	for k, v := range m.Properties {
		switch k {
		case "content_type":
			p.ContentType = v.(string)
		case "content_encoding":
			p.ContentEncoding = v.(string)
		case "delivery_mode":
			p.DeliveryMode = uint8(v.(int))
		case "priority":
			p.Priority = uint8(v.(int))
		case "correlation_id":
			p.CorrelationId = v.(string)
		case "reply_to":
			p.ReplyTo = v.(string)
		case "expiration":
			p.Expiration = v.(string)
		case "message_id":
			p.MessageId = v.(string)
		case "timestamp":
			p.Timestamp = time.Unix(int64(v.(int)), 0)
		case "type":
			p.Type = v.(string)
		case "user_id":
			p.UserId = v.(string)
		case "app_id":
			p.AppId = v.(string)
		default:
			t.Fatalf("goPublishing: property %s", k)
		}
	}
	return p
}

// typedOf is the typed value of what amqp091-go decoded.
func typedOf(v any) TV {
	switch v := v.(type) {
	case int8:
		return tInt(int64(v))
	case uint8:
		return tInt(int64(v))
	case int16:
		return tInt(int64(v))
	case uint16:
		return tInt(int64(v))
	case int32:
		return tInt(int64(v))
	case uint32:
		return tInt(int64(v))
	case int64:
		return tInt(v)
	case float32:
		return tFloat(float64(v))
	case float64:
		return tFloat(v)
	case string:
		return tStr(v)
	case bool:
		return tBool(v)
	case []byte:
		return tBytes(v)
	case nil:
		return tNull()
	case time.Time:
		return tTimestamp(v.Unix())
	case amqp091.Table:
		return tTable(typedTable(v))
	case []any:
		a := []TV{}
		for _, e := range v {
			a = append(a, typedOf(e))
		}
		return tArray(a...)
	case amqp091.Decimal:
		return TV{"decimal", fmt.Sprintf("%d/10^%d", v.Value, v.Scale)}
	}
	return TV{fmt.Sprintf("%T", v), fmt.Sprint(v)}
}

func typedTable(t amqp091.Table) Table {
	if t == nil {
		return nil
	}
	out := Table{}
	for k, v := range t {
		out[k] = typedOf(v)
	}
	return out
}

// fromDelivery is what an amqp091-go consumer got, as a Msg.
func fromDelivery(d amqp091.Delivery) Msg {
	p := map[string]any{}
	set := func(k string, v any, present bool) {
		if present {
			p[k] = v
		}
	}
	set("content_type", d.ContentType, d.ContentType != "")
	set("content_encoding", d.ContentEncoding, d.ContentEncoding != "")
	set("delivery_mode", int(d.DeliveryMode), d.DeliveryMode != 0)
	set("priority", int(d.Priority), d.Priority != 0)
	set("correlation_id", d.CorrelationId, d.CorrelationId != "")
	set("reply_to", d.ReplyTo, d.ReplyTo != "")
	set("expiration", d.Expiration, d.Expiration != "")
	set("message_id", d.MessageId, d.MessageId != "")
	set("timestamp", int(d.Timestamp.Unix()), !d.Timestamp.IsZero())
	set("type", d.Type, d.Type != "")
	set("user_id", d.UserId, d.UserId != "")
	set("app_id", d.AppId, d.AppId != "")
	return Msg{
		Exchange: d.Exchange, RoutingKey: d.RoutingKey, Redelivered: d.Redelivered,
		Body: d.Body, Properties: p, Headers: typedTable(d.Headers),
	}
}

// --- comparing --------------------------------------------------------------

// norm round-trips v through JSON with exact numbers, so values built in Go
// and values decoded from a driver's output compare equal when their JSON
// does.
func norm(v any) any {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var out any
	if err := dec.Decode(&out); err != nil {
		panic(err)
	}
	return out
}

func show(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

func keys[V any](ms ...map[string]V) []string {
	var ks []string
	for _, m := range ms {
		for k := range m {
			if !slices.Contains(ks, k) {
				ks = append(ks, k)
			}
		}
	}
	sort.Strings(ks)
	return ks
}

// checkMsg compares a received message with the expected one field by
// field, reporting every difference.
func checkMsg(t *testing.T, who string, got, want Msg) {
	t.Helper()
	if got.Exchange != want.Exchange {
		t.Errorf("%s: exchange %q, want %q", who, got.Exchange, want.Exchange)
	}
	if got.RoutingKey != want.RoutingKey {
		t.Errorf("%s: routing key %q, want %q", who, got.RoutingKey, want.RoutingKey)
	}
	if got.Redelivered != want.Redelivered {
		t.Errorf("%s: redelivered %v, want %v", who, got.Redelivered, want.Redelivered)
	}
	if !bytes.Equal(got.Body, want.Body) {
		if len(got.Body) > 64 || len(want.Body) > 64 {
			t.Errorf("%s: body of %d bytes differs from the %d bytes sent", who, len(got.Body), len(want.Body))
		} else {
			t.Errorf("%s: body %q, want %q", who, got.Body, want.Body)
		}
	}
	for _, k := range keys(got.Properties, want.Properties) {
		g, gok := got.Properties[k]
		w, wok := want.Properties[k]
		switch {
		case !wok:
			t.Errorf("%s: property %s = %s, want it absent", who, k, show(g))
		case !gok:
			t.Errorf("%s: property %s absent, want %s", who, k, show(w))
		case !reflect.DeepEqual(norm(g), norm(w)):
			t.Errorf("%s: property %s = %s, want %s", who, k, show(g), show(w))
		}
	}
	if (got.Headers == nil) != (want.Headers == nil) {
		t.Errorf("%s: headers %s, want %s", who, show(got.Headers), show(want.Headers))
		return
	}
	for _, k := range keys(got.Headers, want.Headers) {
		g, gok := got.Headers[k]
		w, wok := want.Headers[k]
		switch {
		case !wok:
			t.Errorf("%s: header %s = %s, want it absent", who, k, show(g))
		case !gok:
			t.Errorf("%s: header %s absent, want %s", who, k, show(w))
		case !reflect.DeepEqual(norm(g), norm(w)):
			t.Errorf("%s: header %s = %s, want %s", who, k, show(g), show(w))
		}
	}
}

func checkMsgs(t *testing.T, who string, got, want []Msg) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: got %d messages, want %d", who, len(got), len(want))
	}
	for i := range want {
		checkMsg(t, fmt.Sprintf("%s, message %d", who, i), got[i], want[i])
	}
}

// --- the messages -----------------------------------------------------------

// portableHeaders survive every client here, pika's decoder included.
func portableHeaders() Table {
	return Table{
		"str":        tStr("hello"),
		"utf8":       tStr("grüße ✓ 日本"),
		"empty":      tStr(""),
		"int_small":  tInt(42),
		"int_medium": tInt(1000),
		"int_32":     tInt(100000),
		"int_big":    tInt(1 << 40),
		"zero":       tInt(0),
		"yes":        tBool(true),
		"no":         tBool(false),
		"bin":        tBytes([]byte{0, 1, 0xfe, 0xff}),
		"nothing":    tNull(),
		"when":       tTimestamp(1700000000),
		"nested":     tTable(Table{"inner": tStr("x"), "n": tInt(7), "deeper": tTable(Table{"ok": tBool(true)})}),
		"list":       tArray(tStr("a"), tInt(1), tBool(true), tArray(tStr("b"))),
	}
}

// headersFor adds to portableHeaders the values that publisher and
// consumer can carry: pika 1.2.0 decodes negative 'b' and 'l' values as
// unsigned and truncates doubles (pika/data.py decode_value), and cannot
// encode a float at all (encode_value raises UnsupportedAMQPFieldException).
func headersFor(publisher, consumer string) Table {
	h := portableHeaders()
	if consumer != "pika" {
		h["neg"] = tInt(-5)
		h["neg_32"] = tInt(-100000)
		h["neg_big"] = tInt(-(1 << 40))
		if publisher != "pika" {
			h["ratio"] = tFloat(2.5)
		}
	}
	return h
}

var binaryBody = []byte("héllo, wörld ✓ \x00\x01\xfe\xff not utf-8: \xc3\x28")

// bigBody spans three frames at the default frame_max of 128 KiB.
func bigBody() []byte {
	b := make([]byte, 300<<10)
	for i := range b {
		b[i] = byte(i*7 + i>>8)
	}
	return b
}

// allProperties sets every basic property but the deprecated cluster-id.
func allProperties(id string) map[string]any {
	return map[string]any{
		"content_type":     "application/octet-stream",
		"content_encoding": "identity",
		"delivery_mode":    2,
		"priority":         7,
		"correlation_id":   "corr-" + id,
		"reply_to":         "reply.queue",
		"expiration":       "600000",
		"message_id":       "msg-" + id,
		"timestamp":        1700000000,
		"type":             "cross.test",
		"user_id":          "guest",
		"app_id":           "crossclient",
	}
}

// richMessages are the messages of the point-to-point scenarios: every
// property and typed headers, an empty message, a multi-frame body.
func richMessages(queue string, headers Table) []Msg {
	return []Msg{
		{RoutingKey: queue, Body: binaryBody, Properties: allProperties("1"), Headers: headers},
		{RoutingKey: queue, Body: []byte{}, Properties: map[string]any{}},
		{RoutingKey: queue, Body: bigBody(), Properties: map[string]any{"content_type": "application/x-big"}},
	}
}

// received is what a consumer should see of sent messages: what it was
// sent, with what the publishing client adds (amqplib always sends a
// headers table, empty if none).
func received(publisher string, sent []Msg) []Msg {
	var out []Msg
	for _, m := range sent {
		m.Mandatory = false
		if m.Headers == nil && publisher == "amqplib" {
			m.Headers = Table{}
		}
		out = append(out, m)
	}
	return out
}

// --- the scenarios ----------------------------------------------------------

func TestCrossPikaToAmqplib(t *testing.T) {
	n := warrentest.Start(t)
	py, js := pika(t, n.AMQPURL()), amqplib(t, n.AMQPURL())
	const q = "cross-pika-to-amqplib"
	if got := py.setup(setupSpec{Queues: []queueSpec{{Name: q}}}); !slices.Equal(got, []string{q}) {
		t.Fatalf("pika declared %v", got)
	}
	msgs := richMessages(q, headersFor("pika", "amqplib"))
	wait := js.startConsume(q, len(msgs))
	py.publish(false, msgs)
	checkMsgs(t, "amqplib consuming what pika published", wait(), received("pika", msgs))
}

func TestCrossAmqplibToPika(t *testing.T) {
	n := warrentest.Start(t)
	py, js := pika(t, n.AMQPURL()), amqplib(t, n.AMQPURL())
	const q = "cross-amqplib-to-pika"
	if got := js.setup(setupSpec{Queues: []queueSpec{{Name: q}}}); !slices.Equal(got, []string{q}) {
		t.Fatalf("amqplib declared %v", got)
	}
	msgs := richMessages(q, headersFor("amqplib", "pika"))
	wait := py.startConsume(q, len(msgs))
	js.publish(false, msgs)
	checkMsgs(t, "pika consuming what amqplib published", wait(), received("amqplib", msgs))
}

// TestCrossGoToPikaAndAmqplib: amqp091-go publishes to a fanout exchange
// whose two queues pika and amqplib consume.
func TestCrossGoToPikaAndAmqplib(t *testing.T) {
	n := warrentest.Start(t)
	py, js := pika(t, n.AMQPURL()), amqplib(t, n.AMQPURL())
	g := goDial(t, n.AMQPURL())
	const x, qpy, qjs = "cross-go-fanout", "cross-go-to-pika", "cross-go-to-amqplib"
	g.setup(setupSpec{
		Exchanges: []exchangeSpec{{Name: x, Type: "fanout"}},
		Queues:    []queueSpec{{Name: qpy}, {Name: qjs}},
		Bindings:  []bindingSpec{{Queue: qpy, Exchange: x}, {Queue: qjs, Exchange: x}},
	})
	msgs := richMessages("any-key", headersFor("go", "pika")) // both get the same messages
	for i := range msgs {
		msgs[i].Exchange = x
	}
	waitPy := py.startConsume(qpy, len(msgs))
	waitJS := js.startConsume(qjs, len(msgs))
	g.publish(msgs)
	checkMsgs(t, "pika consuming what amqp091-go published", waitPy(), received("go", msgs))
	checkMsgs(t, "amqplib consuming what amqp091-go published", waitJS(), received("go", msgs))
}

// TestCrossPikaAndAmqplibToGo: what pika and amqplib publish, amqp091-go
// consumes, down to the wire type of each header value: pika sends ints
// as 'I' (int32) or 'l' (int64), amqplib the narrowest of 'b', 's', 'I',
// 'l'; the broker must hand them on untouched.
func TestCrossPikaAndAmqplibToGo(t *testing.T) {
	n := warrentest.Start(t)
	py, js := pika(t, n.AMQPURL()), amqplib(t, n.AMQPURL())
	g := goDial(t, n.AMQPURL())
	commonTypes := map[string]string{
		"str": "string", "utf8": "string", "empty": "string", "yes": "bool", "no": "bool",
		"bin": "[]uint8", "nothing": "<nil>", "when": "time.Time", "nested": "amqp091.Table",
		"list": "[]interface {}", "ratio": "float64",
	}
	for _, tc := range []struct {
		d     *driver
		types map[string]string
	}{
		{py, map[string]string{
			"int_small": "int32", "int_medium": "int32", "int_32": "int32", "int_big": "int64", "zero": "int32",
			"neg": "int32", "neg_32": "int32", "neg_big": "int64",
		}},
		{js, map[string]string{
			"int_small": "int8", "int_medium": "int16", "int_32": "int32", "int_big": "int64", "zero": "int8",
			"neg": "int8", "neg_32": "int32", "neg_big": "int64",
		}},
	} {
		t.Run(tc.d.name, func(t *testing.T) {
			q := "cross-" + tc.d.name + "-to-go"
			g.setup(setupSpec{Queues: []queueSpec{{Name: q}}})
			msgs := richMessages(q, headersFor(tc.d.name, "go"))
			tc.d.publish(true, msgs)
			ds := g.consume(q, len(msgs))
			var got []Msg
			for _, d := range ds {
				got = append(got, fromDelivery(d))
			}
			checkMsgs(t, "amqp091-go consuming what "+tc.d.name+" published", got, received(tc.d.name, msgs))
			for k, want := range tc.types {
				if got := fmt.Sprintf("%T", ds[0].Headers[k]); got != want {
					t.Errorf("header %s from %s arrived as %s, want %s", k, tc.d.name, got, want)
				}
			}
			for k, want := range commonTypes {
				if _, sent := msgs[0].Headers[k]; !sent {
					continue
				}
				if got := fmt.Sprintf("%T", ds[0].Headers[k]); got != want {
					t.Errorf("header %s from %s arrived as %s, want %s", k, tc.d.name, got, want)
				}
			}
		})
	}
}

// topicBindings are declared by one client; topicKeys published by
// another; each queue must receive exactly its matches, once each.
var topicBindings = map[string][]string{
	"orange": {"*.orange.*"},
	"rabbit": {"*.*.rabbit", "lazy.#"},
	"all":    {"#"},
	"exact":  {"quick.brown.fox"},
	"error":  {"#.error"},
	"two":    {"*.*"},
}

var topicKeys = []struct {
	key    string
	queues []string
}{
	{"quick.orange.rabbit", []string{"orange", "rabbit", "all"}},
	{"lazy.orange.elephant", []string{"orange", "rabbit", "all"}},
	{"quick.orange.fox", []string{"orange", "all"}},
	{"lazy.brown.fox", []string{"rabbit", "all"}},
	{"lazy.pink.rabbit", []string{"rabbit", "all"}}, // matches both bindings, delivered once
	{"quick.brown.fox", []string{"exact", "all"}},
	{"orange", []string{"all"}},
	{"quick.orange.male.rabbit", []string{"all"}},
	{"lazy.orange.male.rabbit", []string{"rabbit", "all"}},
	{"lazy", []string{"rabbit", "all"}}, // # matches zero words
	{"", []string{"all"}},
	{"error", []string{"error", "all"}},
	{"app.db.error", []string{"error", "all"}},
	{"a.b", []string{"two", "all"}},
	{"lazy.x", []string{"rabbit", "two", "all"}},
	{".", []string{"two", "all"}}, // two empty words
	{"quick.brown.fox.error", []string{"error", "all"}},
}

// party is one client in a routing scenario.
type party struct {
	name    string
	setup   func(setupSpec)
	publish func([]Msg)
	drain   func(...string) map[string][]Msg
}

func parties(t *testing.T, url string) map[string]party {
	py, js, g := pika(t, url), amqplib(t, url), goDial(t, url)
	return map[string]party{
		"pika": {"pika", func(s setupSpec) { py.setup(s) },
			func(m []Msg) { py.publish(true, m) }, py.drain},
		"amqplib": {"amqplib", func(s setupSpec) { js.setup(s) },
			func(m []Msg) { js.publish(true, m) }, js.drain},
		"go": {"go", g.setup, g.publish, g.drain},
	}
}

var routingCombos = []struct{ declarer, publisher, consumer string }{
	{"pika", "amqplib", "go"},
	{"amqplib", "pika", "go"},
	{"go", "pika", "amqplib"},
	{"go", "amqplib", "pika"},
	{"pika", "amqplib", "pika"},
	{"amqplib", "pika", "amqplib"},
}

func TestCrossTopicRouting(t *testing.T) {
	n := warrentest.Start(t)
	ps := parties(t, n.AMQPURL())
	for i, c := range routingCombos {
		t.Run(fmt.Sprintf("%s declares, %s publishes, %s consumes", c.declarer, c.publisher, c.consumer), func(t *testing.T) {
			x := fmt.Sprintf("cross-topic-%d", i)
			qname := func(q string) string { return fmt.Sprintf("%s-%s", x, q) }
			spec := setupSpec{Exchanges: []exchangeSpec{{Name: x, Type: "topic"}}}
			var queues []string
			for _, q := range keys(topicBindings) {
				spec.Queues = append(spec.Queues, queueSpec{Name: qname(q)})
				queues = append(queues, qname(q))
				for _, key := range topicBindings[q] {
					spec.Bindings = append(spec.Bindings, bindingSpec{Queue: qname(q), Exchange: x, RoutingKey: key})
				}
			}
			ps[c.declarer].setup(spec)
			var msgs []Msg
			want := map[string][]Msg{}
			for _, q := range queues {
				want[q] = nil
			}
			for j, k := range topicKeys {
				m := Msg{Exchange: x, RoutingKey: k.key, Body: fmt.Appendf(nil, "%d:%s", j, k.key),
					Properties: map[string]any{"message_id": fmt.Sprint(j)}}
				msgs = append(msgs, m)
				for _, q := range k.queues {
					want[qname(q)] = append(want[qname(q)], received(c.publisher, []Msg{m})...)
				}
			}
			ps[c.publisher].publish(msgs)
			got := ps[c.consumer].drain(queues...)
			for _, q := range queues {
				checkRouted(t, q, got[q], want[q])
			}
		})
	}
}

// checkRouted compares the messages a queue got, in order.
func checkRouted(t *testing.T, q string, got, want []Msg) {
	t.Helper()
	var gk, wk []string
	for _, m := range got {
		gk = append(gk, string(m.Body))
	}
	for _, m := range want {
		wk = append(wk, string(m.Body))
	}
	if !slices.Equal(gk, wk) {
		t.Errorf("queue %s got %q, want %q", q, gk, wk)
		return
	}
	for i := range want {
		checkMsg(t, fmt.Sprintf("queue %s, message %s", q, gk[i]), got[i], want[i])
	}
}

func TestCrossHeadersRouting(t *testing.T) {
	n := warrentest.Start(t)
	ps := parties(t, n.AMQPURL())
	bindings := map[string]Table{
		"all-str":      {"x-match": tStr("all"), "format": tStr("pdf"), "kind": tStr("report")},
		"any-str":      {"x-match": tStr("any"), "format": tStr("pdf"), "kind": tStr("log")},
		"all-typed":    {"x-match": tStr("all"), "version": tInt(2), "urgent": tBool(true)},
		"any-typed":    {"x-match": tStr("any"), "version": tInt(2), "urgent": tBool(true)},
		"all-mixed":    {"x-match": tStr("all"), "format": tStr("pdf"), "version": tInt(2), "urgent": tBool(false)},
		"any-presence": {"x-match": tStr("any"), "trace": tNull()}, // a void value: the key's presence matches
	}
	// Values of another type never match (RabbitMQ compares with Erlang's
	// ==: rabbit_exchange_type_headers:headers_match/5), while an int
	// matches an int of any width (the binder's 'b' from amqplib, the
	// publisher's 'I' from pika, ...).
	messages := []struct {
		headers Table
		queues  []string
	}{
		{Table{"format": tStr("pdf"), "kind": tStr("report")}, []string{"all-str", "any-str"}},
		{Table{"format": tStr("pdf"), "kind": tStr("log"), "version": tInt(2)}, []string{"any-str", "any-typed"}},
		{Table{"format": tStr("txt"), "kind": tStr("log")}, []string{"any-str"}},
		{Table{"version": tInt(2), "urgent": tBool(true)}, []string{"all-typed", "any-typed"}},
		{Table{"version": tStr("2"), "urgent": tBool(true)}, []string{"any-typed"}},
		{Table{"version": tInt(2), "urgent": tInt(1)}, []string{"any-typed"}},
		{Table{"version": tStr("2"), "urgent": tStr("true")}, nil},
		{Table{"format": tStr("pdf"), "version": tInt(2), "urgent": tBool(false)}, []string{"any-str", "all-mixed", "any-typed"}},
		{Table{"format": tStr("pdf"), "version": tInt(2), "urgent": tBool(false), "trace": tStr("t1")}, []string{"any-str", "all-mixed", "any-typed", "any-presence"}},
		{nil, nil},
		{Table{"version": tInt(3), "urgent": tBool(true), "format": tStr("PDF")}, []string{"any-typed"}},
		{Table{"urgent": tBool(false), "trace": tNull()}, []string{"any-presence"}},
		{Table{"version": tInt(100000), "urgent": tBool(true), "extra": tInt(1 << 40)}, []string{"any-typed"}},
	}
	for i, c := range routingCombos {
		t.Run(fmt.Sprintf("%s binds, %s publishes, %s consumes", c.declarer, c.publisher, c.consumer), func(t *testing.T) {
			x := fmt.Sprintf("cross-headers-%d", i)
			qname := func(q string) string { return fmt.Sprintf("%s-%s", x, q) }
			spec := setupSpec{Exchanges: []exchangeSpec{{Name: x, Type: "headers"}}}
			var queues []string
			for _, q := range keys(bindings) {
				spec.Queues = append(spec.Queues, queueSpec{Name: qname(q)})
				spec.Bindings = append(spec.Bindings, bindingSpec{Queue: qname(q), Exchange: x, Arguments: bindings[q]})
				queues = append(queues, qname(q))
			}
			ps[c.declarer].setup(spec)
			var msgs []Msg
			want := map[string][]Msg{}
			for _, q := range queues {
				want[q] = nil
			}
			for j, m := range messages {
				msg := Msg{Exchange: x, RoutingKey: "ignored", Body: fmt.Appendf(nil, "m%d", j), Headers: maps.Clone(m.headers),
					Properties: map[string]any{"message_id": fmt.Sprint(j)}}
				msgs = append(msgs, msg)
				for _, q := range m.queues {
					want[qname(q)] = append(want[qname(q)], received(c.publisher, []Msg{msg})...)
				}
			}
			ps[c.publisher].publish(msgs)
			got := ps[c.consumer].drain(queues...)
			for _, q := range queues {
				checkRouted(t, q, got[q], want[q])
			}
		})
	}
}

// confirmMessages are persistent messages to a durable queue plus, last, a
// mandatory one that no queue takes.
func confirmMessages(q string, n int) []Msg {
	var msgs []Msg
	for i := range n {
		msgs = append(msgs, Msg{RoutingKey: q, Body: fmt.Appendf(nil, "confirmed %d", i),
			Properties: map[string]any{"delivery_mode": 2}})
	}
	return append(msgs, Msg{RoutingKey: "cross-no-such-queue", Mandatory: true, Body: []byte("unroutable"),
		Properties: map[string]any{}})
}

func testConfirms(t *testing.T, d func(*testing.T, string) *driver) {
	n := warrentest.Start(t)
	c := d(t, n.AMQPURL())
	g := goDial(t, n.AMQPURL())
	q := "cross-confirms-" + c.name
	g.setup(setupSpec{Queues: []queueSpec{{Name: q, Durable: true}}})
	const count = 50
	msgs := confirmMessages(q, count)
	res := c.publish(true, msgs)
	want := publishResult{Published: count + 1, Acked: count + 1, Unroutable: 1}
	if res != want {
		t.Fatalf("%s publish with confirms: %+v, want %+v", c.name, res, want)
	}
	if got := g.count(q); got != count {
		t.Fatalf("queue %s holds %d messages after %d confirmed publishes", q, got, count)
	}
	got := g.drain(q)[q]
	checkMsgs(t, "amqp091-go getting what "+c.name+" published with confirms", got, received(c.name, msgs[:count]))
}

// TestCrossPikaConfirms: BlockingChannel.confirm_delivery(); basic_publish
// returns once acked and raises UnroutableError for a returned mandatory
// message.
func TestCrossPikaConfirms(t *testing.T) { testConfirms(t, pika) }

// TestCrossAmqplibConfirms: createConfirmChannel, a callback per publish,
// waitForConfirms.
func TestCrossAmqplibConfirms(t *testing.T) { testConfirms(t, amqplib) }

// runTool runs an amqp-tools command and returns its standard output.
func runTool(t *testing.T, stdin []byte, name string, args ...string) []byte {
	t.Helper()
	path := needTool(t, name)
	ctx, cancel := context.WithTimeout(context.Background(), clientTimeout)
	defer cancel()
	c := exec.CommandContext(ctx, path, args...)
	var stdout, stderr bytes.Buffer
	c.Stdin = bytes.NewReader(stdin)
	c.Stdout, c.Stderr = &stdout, &stderr
	if err := c.Run(); err != nil {
		t.Fatalf("%s %s: %v\nstderr:\n%s\nstdout:\n%s", name, strings.Join(args, " "), err, &stderr, &stdout)
	}
	return stdout.Bytes()
}

// TestCrossAmqpTools: the rabbitmq-c command-line tools declare, publish,
// get and consume, against messages from and to the other clients.
func TestCrossAmqpTools(t *testing.T) {
	for _, tool := range []string{"amqp-declare-queue", "amqp-publish", "amqp-get", "amqp-consume"} {
		needTool(t, tool)
	}
	n := warrentest.Start(t)
	// librabbitmq reads amqp://host/ as the vhost "" (as the AMQP URI
	// spec says; RabbitMQ refuses it like Warren), so name / explicitly.
	url := n.AMQPURL() + "%2f"
	g := goDial(t, url)
	const q = "cross-tools"

	if out := runTool(t, nil, "amqp-declare-queue", "-u", url, "-q", q, "-d"); string(out) != q+"\n" {
		t.Fatalf("amqp-declare-queue printed %q, want %q", out, q+"\n")
	}
	if _, err := g.ch.QueueDeclarePassive(q, true, false, false, false, nil); err != nil {
		t.Fatalf("queue declared by amqp-declare-queue: %v", err)
	}
	if out := strings.TrimSpace(string(runTool(t, nil, "amqp-declare-queue", "-u", url, "-q", ""))); !strings.HasPrefix(out, "amq.gen-") {
		t.Fatalf("amqp-declare-queue -q '' printed %q, want a server-named amq.gen-... queue", out)
	} else if got := g.count(out); got != 0 {
		t.Fatalf("server-named queue %s holds %d messages", out, got)
	}

	t.Run("amqp-publish to amqp091-go", func(t *testing.T) {
		runTool(t, nil, "amqp-publish", "-u", url, "-r", q, "-b", "tools body ✓",
			"-C", "text/plain", "-E", "utf-8", "-p", "-t", "reply.here",
			"-H", "x-origin: amqp-tools", "-H", "trace: a b:c")
		got := g.drain(q)[q]
		checkMsgs(t, "amqp091-go getting what amqp-publish published", got, []Msg{{
			RoutingKey: q, Body: []byte("tools body ✓"),
			Properties: map[string]any{"content_type": "text/plain", "content_encoding": "utf-8",
				"delivery_mode": 2, "reply_to": "reply.here"},
			Headers: Table{"x-origin": tStr("amqp-tools"), "trace": tStr("a b:c")},
		}})
	})

	t.Run("amqp-publish lines, amqp-get and amqp-consume", func(t *testing.T) {
		runTool(t, []byte("one\ntwo\nthree\n"), "amqp-publish", "-u", url, "-r", q, "-l")
		if got := g.count(q); got != 3 {
			t.Fatalf("queue holds %d messages after amqp-publish -l of 3 lines", got)
		}
		// amqp-publish -l keeps each line's newline in the body.
		if out := runTool(t, nil, "amqp-get", "-u", url, "-q", q); string(out) != "one\n" {
			t.Fatalf("amqp-get printed %q, want %q", out, "one\n")
		}
		if out := runTool(t, nil, "amqp-consume", "-u", url, "-q", q, "-c", "2", "cat"); string(out) != "two\nthree\n" {
			t.Fatalf("amqp-consume -c 2 cat printed %q, want %q", out, "two\nthree\n")
		}
		if got := g.count(q); got != 0 {
			t.Fatalf("queue holds %d messages after amqp-get and amqp-consume took all", got)
		}
	})

	t.Run("pika to amqp-get", func(t *testing.T) {
		body := make([]byte, 256)
		for i := range body {
			body[i] = byte(i)
		}
		pika(t, url).publish(true, []Msg{{RoutingKey: q, Body: body, Properties: map[string]any{}}})
		if out := runTool(t, nil, "amqp-get", "-u", url, "-q", q); !bytes.Equal(out, body) {
			t.Fatalf("amqp-get printed %q, want the 256 byte values", out)
		}
	})

	t.Run("amqplib to amqp-consume", func(t *testing.T) {
		var msgs []Msg
		var want string
		for i := range 5 {
			b := fmt.Sprintf("amqplib %d ✓\n", i)
			msgs = append(msgs, Msg{RoutingKey: q, Body: []byte(b), Properties: map[string]any{"content_type": "text/plain"}})
			want += b
		}
		amqplib(t, url).publish(true, msgs)
		if out := runTool(t, nil, "amqp-consume", "-u", url, "-q", q, "-c", "5", "-p", "1", "cat"); string(out) != want {
			t.Fatalf("amqp-consume printed %q, want %q", out, want)
		}
		if got := g.count(q); got != 0 {
			t.Fatalf("queue holds %d messages after amqp-consume took all", got)
		}
	})
}
