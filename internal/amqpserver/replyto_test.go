package amqpserver_test

import (
	"errors"
	"fmt"
	neturl "net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	wire "github.com/warrenmq/warren/internal/amqp"
	"github.com/warrenmq/warren/internal/broker"
	"github.com/warrenmq/warren/internal/warrentest"
)

// Direct reply-to (amq.rabbitmq.reply-to). Every scenario is a function of
// an AMQP URL that asserts what it expects and records what it observed;
// TestReplyTo runs them on Warren, TestReplyToMatchesRabbitMQ runs them on
// a private RabbitMQ 3.10.8 node and on Warren and compares the records
// line by line (error codes and texts, delivery fields and properties).

const replyQ = "amq.rabbitmq.reply-to"

// replyName is the shape of a rewritten reply_to: the prefix, a channel
// part and a key of 16 random bytes in base64, as RabbitMQ's.
var replyName = regexp.MustCompile(`^amq\.rabbitmq\.reply-to\.[A-Za-z0-9+/]+=*\.[A-Za-z0-9+/]{22}==$`)

type replyScenario struct {
	name string
	run  func(t *testing.T, url string, o *record)
}

var replyScenarios = []replyScenario{
	{"RoundTrip", replyRoundTrip},
	{"Properties", replyProperties},
	{"MandatoryAndConfirms", replyMandatory},
	{"Errors", replyErrors},
	{"TagReuse", replyTagReuse},
	{"Transactions", replyTx},
	{"ServerTagAndNowait", replyRaw},
	{"TwoClients", replyTwoClients},
	{"AcrossVhosts", replyAcrossVhosts},
}

// replyOtherVhost is a second vhost, where guest has all permissions, made
// by the tests before the scenarios run.
const replyOtherVhost = "replyto-other"

// record is what a scenario observed, one line per fact; values that
// differ between runs by design (the reply names) are recorded by their
// relations, never verbatim.
type record struct{ lines []string }

func (r *record) add(format string, args ...any) {
	r.lines = append(r.lines, fmt.Sprintf(format, args...))
}

// TestReplyTo runs the scenarios on Warren and checks each record against
// the one RabbitMQ gives (replyGolden).
func TestReplyTo(t *testing.T) {
	p := node(t)
	azApply(t, p.Broker, &broker.Command{Op: broker.OpAddVhost, Vhost: replyOtherVhost})
	azPerms(t, p.Broker, "guest", replyOtherVhost, ".*", ".*", ".*")
	for _, s := range replyScenarios {
		t.Run(s.name, func(t *testing.T) {
			var got record
			s.run(t, p.URL(), &got)
			sameRecord(t, "golden", strings.Split(replyGolden[s.name], "\n"), "warren", got.lines)
		})
	}
}

// TestReplyToMatchesRabbitMQ runs the scenarios on RabbitMQ 3.10.8, which
// must give the golden records, then on Warren, which must give what
// RabbitMQ gave.
func TestReplyToMatchesRabbitMQ(t *testing.T) {
	r := warrentest.StartRabbitMQ(t)
	for _, args := range [][]string{{"add_vhost", replyOtherVhost}, {"set_permissions", "-p", replyOtherVhost, "guest", ".*", ".*", ".*"}} {
		if out, err := r.Ctl(args...); err != nil {
			t.Fatalf("rabbitmqctl %v: %v\n%s", args, err, out)
		}
	}
	p := node(t)
	azApply(t, p.Broker, &broker.Command{Op: broker.OpAddVhost, Vhost: replyOtherVhost})
	azPerms(t, p.Broker, "guest", replyOtherVhost, ".*", ".*", ".*")
	for _, s := range replyScenarios {
		t.Run(s.name, func(t *testing.T) {
			var want, got record
			if !t.Run("rabbitmq", func(t *testing.T) {
				s.run(t, r.AMQPURL, &want)
				sameRecord(t, "golden", strings.Split(replyGolden[s.name], "\n"), "rabbitmq", want.lines)
			}) {
				return
			}
			t.Run("warren", func(t *testing.T) {
				s.run(t, p.URL(), &got)
				sameRecord(t, "rabbitmq", want.lines, "warren", got.lines)
			})
		})
	}
}

// sameRecord reports every line where two records differ.
func sameRecord(t *testing.T, wantName string, want []string, gotName string, got []string) {
	t.Helper()
	for i := range max(len(want), len(got)) {
		var w, g string
		if i < len(want) {
			w = want[i]
		}
		if i < len(got) {
			g = got[i]
		}
		if w != g {
			t.Errorf("line %d:\n%s: %s\n%s: %s", i+1, wantName, w, gotName, g)
		}
	}
	if t.Failed() {
		t.Logf("%s observed:\n%s", gotName, strings.Join(got, "\n"))
	}
}

// rpcQueue declares a server-named exclusive queue for requests and
// consumes it (no-ack) on c.
func rpcQueue(t *testing.T, c *client) (string, <-chan amqp.Delivery) {
	t.Helper()
	q, err := c.ch.QueueDeclare("", false, true, true, false, nil)
	if err != nil {
		t.Fatalf("queue.declare: %v", err)
	}
	return q.Name, c.consume(q.Name, "server", true)
}

// request publishes a request asking for a direct reply and returns the
// request as the server received it.
func request(t *testing.T, req *client, queue string, ds <-chan amqp.Delivery, corr string) amqp.Delivery {
	t.Helper()
	req.publish("", queue, amqp.Publishing{ReplyTo: replyQ, CorrelationId: corr, Body: []byte("request " + corr)})
	d := recv(t, ds)
	if d.CorrelationId != corr {
		t.Fatalf("request %q arrived as %q", corr, d.CorrelationId)
	}
	if !replyName.MatchString(d.ReplyTo) {
		t.Fatalf("reply_to rewritten to %q, not amq.rabbitmq.reply-to.<channel>.<key>", d.ReplyTo)
	}
	return d
}

// passive declares name passively on a channel of its own and records
// the answer or the channel error, with the reply name (when given)
// replaced by <name>.
func passive(t *testing.T, conn *amqp.Connection, o *record, what, name, reply string) {
	t.Helper()
	ch := channel(t, conn)
	q, err := ch.QueueDeclarePassive(name, false, false, false, false, nil)
	if err != nil {
		var e *amqp.Error
		if !errors.As(err, &e) {
			t.Fatalf("queue.declare %q: %v", name, err)
		}
		o.add("%s: error %d %s", what, e.Code, hide(e.Reason, reply))
		return
	}
	o.add("%s: declare-ok %s messages=%d consumers=%d", what, hide(q.Name, reply), q.Messages, q.Consumers)
	_ = ch.Close()
}

func hide(s, name string) string {
	if name == "" {
		return s
	}
	return strings.ReplaceAll(s, name, "<name>")
}

// recordDelivery records a reply as the requester saw it.
func recordDelivery(o *record, what string, d amqp.Delivery, name string) {
	o.add("%s: consumer_tag=%s delivery_tag=%d redelivered=%v exchange=%q routing_key=%s", what,
		d.ConsumerTag, d.DeliveryTag, d.Redelivered, d.Exchange, hide(d.RoutingKey, name))
	o.add("%s: correlation_id=%q content_type=%q reply_to=%q headers=%v body=%q", what,
		d.CorrelationId, d.ContentType, d.ReplyTo, d.Headers, d.Body)
}

// replyRoundTrip: an RPC through the pseudo-queue, the reply name's
// stability and declare answers, and the delivery tags replies carry
// beside ordinary deliveries on the same channel.
func replyRoundTrip(t *testing.T, url string, o *record) {
	reqConn := dial(t, url)
	req, srv := clientOn(t, reqConn), clientOn(t, dial(t, url))
	queue, srvDs := rpcQueue(t, srv)
	replies := req.consume(replyQ, "replies", true)

	d := request(t, req, queue, srvDs, "1")
	name := d.ReplyTo
	passive(t, srv.conn, o, "declare pseudo-queue", replyQ, "")
	passive(t, srv.conn, o, "declare reply name", name, name)

	srv.publish("", name, amqp.Publishing{CorrelationId: "1", ContentType: "text/plain",
		Headers: amqp.Table{"n": int32(1)}, Body: []byte("reply 1")})
	r := recv(t, replies)
	recordDelivery(o, "reply 1", r, name)
	equal(t, "reply routing key", r.RoutingKey, name)

	// The name is the same for every request while the consumer lives.
	d = request(t, req, queue, srvDs, "2")
	o.add("second request same name: %v", d.ReplyTo == name)
	srv.publish("", d.ReplyTo, amqp.Publishing{CorrelationId: "2", Body: []byte("reply 2")})
	recordDelivery(o, "reply 2", recv(t, replies), name)

	// An ordinary delivery takes a tag; a reply after it shows the next.
	plain, err := req.ch.QueueDeclare("", false, true, true, false, nil)
	if err != nil {
		t.Fatal(err)
	}
	plainDs := req.consume(plain.Name, "plain", false)
	srv.publish("", plain.Name, amqp.Publishing{Body: []byte("plain")})
	p := recv(t, plainDs)
	o.add("plain: delivery_tag=%d", p.DeliveryTag)
	srv.publish("", name, amqp.Publishing{CorrelationId: "3", Body: []byte("reply 3")})
	recordDelivery(o, "reply 3", recv(t, replies), name)
	if err := p.Ack(false); err != nil {
		t.Fatal(err)
	}
	req.sync()

	// The pseudo-queue declared actively answers the same (every declare
	// of it is passive), and becomes the channel's last queue.
	q, err := req.ch.QueueDeclare(replyQ, true, false, false, false, nil)
	if err != nil {
		t.Fatalf("queue.declare %s: %v", replyQ, err)
	}
	o.add("active declare: %s messages=%d consumers=%d", q.Name, q.Messages, q.Consumers)

	// basic.consume with nowait works as well.
	req2 := clientOn(t, reqConn)
	nowaitDs, err := req2.ch.Consume(replyQ, "nowait", true, false, false, true, nil)
	if err != nil {
		t.Fatal(err)
	}
	d = request(t, req2, queue, srvDs, "4")
	o.add("other channel other name: %v", d.ReplyTo != name)
	srv.publish("", d.ReplyTo, amqp.Publishing{CorrelationId: "4", Body: []byte("reply 4")})
	recordDelivery(o, "reply 4", recv(t, nowaitDs), d.ReplyTo)
}

// replyProperties: only reply_to is rewritten; every other property of
// the request arrives as sent.
func replyProperties(t *testing.T, url string, o *record) {
	req, srv := clientOn(t, dial(t, url)), clientOn(t, dial(t, url))
	queue, srvDs := rpcQueue(t, srv)
	req.consume(replyQ, "replies", true)
	sent := amqp.Publishing{
		ContentType: "application/json", ContentEncoding: "gzip",
		Headers:      amqp.Table{"a": "b", "n": int32(7), "nested": amqp.Table{"x": true}},
		DeliveryMode: amqp.Persistent, Priority: 3, CorrelationId: "corr-1", ReplyTo: replyQ,
		Expiration: "60000", MessageId: "m-1", Timestamp: time.Unix(1700000000, 0).UTC(),
		Type: "rpc", UserId: "guest", AppId: "app", Body: []byte(`{"q":1}`),
	}
	req.publish("", queue, sent)
	d := recv(t, srvDs)
	o.add("reply_to matches format: %v", replyName.MatchString(d.ReplyTo))
	if !replyName.MatchString(d.ReplyTo) {
		t.Errorf("reply_to %q", d.ReplyTo)
	}
	o.add("content_type=%q content_encoding=%q headers=%v delivery_mode=%d priority=%d",
		d.ContentType, d.ContentEncoding, d.Headers, d.DeliveryMode, d.Priority)
	o.add("correlation_id=%q expiration=%q message_id=%q timestamp=%d type=%q user_id=%q app_id=%q body=%q",
		d.CorrelationId, d.Expiration, d.MessageId, d.Timestamp.Unix(), d.Type, d.UserId, d.AppId, d.Body)
	equal(t, "correlation id", d.CorrelationId, sent.CorrelationId)
	equal(t, "app id", d.AppId, sent.AppId)
	equal(t, "body", string(d.Body), string(sent.Body))
	equal(t, "timestamp", d.Timestamp.Unix(), sent.Timestamp.Unix())

	// A reply_to that is not exactly the pseudo-queue is left alone, even
	// one that looks like a reply name.
	for _, rt := range []string{"my-reply-queue", replyQ + ".x", "amq.rabbitmq.reply-tox"} {
		req.publish("", queue, amqp.Publishing{ReplyTo: rt, Body: []byte("x")})
		d := recv(t, srvDs)
		o.add("reply_to %q arrives as %q", rt, d.ReplyTo)
		equal(t, "untouched reply_to", d.ReplyTo, rt)
	}
}

// replyMandatory: replies to a live consumer, to a cancelled one and to a
// closed channel, mandatory or not, with publisher confirms. A reply is
// routed to no queue, so RabbitMQ returns a mandatory one even when it
// was delivered; a stale name delivers nothing, which a marker reply sent
// after it on the same path proves.
func replyMandatory(t *testing.T, url string, o *record) {
	reqConn := dial(t, url)
	req, srv := clientOn(t, reqConn), clientOn(t, dial(t, url))
	queue, srvDs := rpcQueue(t, srv)
	returns := srv.ch.NotifyReturn(make(chan amqp.Return, 10))
	confirms := srv.ch.NotifyPublish(make(chan amqp.Confirmation, 10))
	if err := srv.ch.Confirm(false); err != nil {
		t.Fatal(err)
	}
	confirmed := func(what string) {
		t.Helper()
		select {
		case c := <-confirms:
			o.add("%s: confirm ack=%v", what, c.Ack)
		case <-time.After(waitTimeout):
			t.Fatalf("%s: no confirm", what)
		}
	}
	// returned records the basic.return a mandatory publish caused; the
	// confirm that follows it guarantees it has arrived.
	returned := func(what, name string) {
		t.Helper()
		select {
		case r := <-returns:
			o.add("%s: returned %d %s exchange=%q routing_key=%s body=%q", what, r.ReplyCode, r.ReplyText, r.Exchange, hide(r.RoutingKey, name), r.Body)
		default:
			o.add("%s: not returned", what)
		}
	}
	reply := func(name, body string, mandatory bool) {
		t.Helper()
		if err := srv.ch.Publish("", name, mandatory, false, amqp.Publishing{Body: []byte(body)}); err != nil {
			t.Fatal(err)
		}
	}

	replies := req.consume(replyQ, "replies", true)
	name := request(t, req, queue, srvDs, "1").ReplyTo

	reply(name, "live mandatory", true)
	confirmed("live mandatory")
	returned("live mandatory", name)
	recordDelivery(o, "live mandatory", recv(t, replies), name)

	reply(name, "live", false)
	confirmed("live")
	returned("live", name)
	recordDelivery(o, "live", recv(t, replies), name)

	// Cancelled: the name stops working at once.
	if err := req.ch.Cancel("replies", false); err != nil {
		t.Fatalf("basic.cancel: %v", err)
	}
	passive(t, srv.conn, o, "declare after cancel", name, name)
	reply(name, "after cancel mandatory", true)
	confirmed("after cancel mandatory")
	returned("after cancel mandatory", name)

	// A new consumer with the same tag gets a new name; the old one
	// still reaches nothing, as the marker behind it shows.
	replies = req.consume(replyQ, "replies", true)
	name2 := request(t, req, queue, srvDs, "2").ReplyTo
	o.add("new consumer new name: %v", name2 != name)
	reply(name, "stale", false)
	confirmed("stale")
	reply(name2, "marker", false)
	confirmed("marker")
	returned("marker", name2)
	recordDelivery(o, "after stale", recv(t, replies), name2)

	// Closed channel: dropped, returned when mandatory, not found.
	if err := req.ch.Close(); err != nil {
		t.Fatal(err)
	}
	reply(name2, "closed mandatory", true)
	confirmed("closed mandatory")
	returned("closed mandatory", name2)
	reply(name2, "closed", false)
	confirmed("closed")
	returned("closed", name2)
	passive(t, srv.conn, o, "declare after close", name2, name2)

	// Closed connection: the same, as soon as close-ok has arrived (the
	// server ends the channels before answering the close).
	req = clientOn(t, reqConn)
	replies = req.consume(replyQ, "replies", true)
	name3 := request(t, req, queue, srvDs, "3").ReplyTo
	reply(name3, "before connection close", false)
	confirmed("before connection close")
	recordDelivery(o, "before connection close", recv(t, replies), name3)
	if err := reqConn.Close(); err != nil {
		t.Fatal(err)
	}
	passive(t, srv.conn, o, "declare after connection close", name3, name3)
	reply(name3, "connection closed mandatory", true)
	confirmed("connection closed mandatory")
	returned("connection closed mandatory", name3)
}

// replyErrors: RabbitMQ's refusals, with their codes and texts.
func replyErrors(t *testing.T, url string, o *record) {
	c := clientOn(t, dial(t, url))
	chanErr := func(what string, err error) {
		t.Helper()
		if err == nil {
			err = waitErr(t, c.chClose, what)
		}
		var e *amqp.Error
		if !errors.As(err, &e) {
			t.Fatalf("%s: %v", what, err)
		}
		o.add("%s: %d %s", what, e.Code, e.Reason)
		if c.conn.IsClosed() {
			t.Fatalf("%s closed the connection", what)
		}
		c.reopen()
	}

	// The reply consumer must be no-ack.
	_, err := c.ch.Consume(replyQ, "acking", false, false, false, false, nil)
	chanErr("consume with acks", err)

	// Asking for replies without a reply consumer.
	c.publish("", "nowhere", amqp.Publishing{ReplyTo: replyQ, Body: []byte("x")})
	chanErr("publish without reply consumer", nil)

	// One reply consumer per channel, acks checked first.
	c.consume(replyQ, "first", true)
	_, err = c.ch.Consume(replyQ, "second", true, false, false, false, nil)
	chanErr("second reply consumer", err)
	c.consume(replyQ, "first", true)
	_, err = c.ch.Consume(replyQ, "second", false, false, false, false, nil)
	chanErr("second reply consumer with acks", err)

	// Cancelled, the channel may not ask for replies any more.
	c.consume(replyQ, "first", true)
	if err := c.ch.Cancel("first", false); err != nil {
		t.Fatalf("cancel: %v", err)
	}
	o.add("cancel: ok")
	c.publish("", "nowhere", amqp.Publishing{ReplyTo: replyQ, Body: []byte("x")})
	chanErr("publish after cancel", nil)

	// The pseudo-queue is not a queue for anything else.
	_, _, err = c.ch.Get(replyQ, true)
	chanErr("basic.get", err)
	_, err = c.ch.QueueDeclarePassive("amq.rabbitmq.reply-tox", false, false, false, false, nil)
	chanErr("declare amq.rabbitmq.reply-tox", err)
	_, err = c.ch.QueueDeclare("amq.rabbitmq.reply-tox", false, false, false, false, nil)
	chanErr("active declare amq.rabbitmq.reply-tox", err)
	_, err = c.ch.QueueDeclarePassive(replyQ+".bogus", false, false, false, false, nil)
	chanErr("declare unknown reply name", err)
}

// replyTagReuse: the reply consumer lives beside the channel's queue
// consumers, sharing their tags only where RabbitMQ lets it.
func replyTagReuse(t *testing.T, url string, o *record) {
	c := clientOn(t, dial(t, url))
	q, err := c.ch.QueueDeclare("", false, false, true, false, nil) // outlives its consumers
	if err != nil {
		t.Fatal(err)
	}
	queueInfo := func() (amqp.Queue, error) {
		ch := channel(t, c.conn)
		defer ch.Close()
		return ch.QueueDeclarePassive(q.Name, false, false, false, false, nil)
	}

	// A queue consumer may take the reply consumer's tag; cancelling the
	// tag then cancels the reply consumer only.
	c.consume(replyQ, "shared", true)
	c.consume(q.Name, "shared", true)
	if err := c.ch.Cancel("shared", false); err != nil {
		t.Fatal(err)
	}
	qi, err := queueInfo()
	if err != nil {
		t.Fatal(err)
	}
	o.add("after cancel: queue consumers=%d", qi.Consumers)
	c.publish("", "nowhere", amqp.Publishing{ReplyTo: replyQ, Body: []byte("x")})
	e := waitErr(t, c.chClose, "channel.close")
	o.add("publish after cancel: %d %s", e.Code, e.Reason)
	c.reopen()

	// The reverse, a reply consumer taking a queue consumer's tag, is a
	// connection error.
	c.consume(q.Name, "taken", true)
	_, err = c.ch.Consume(replyQ, "taken", true, false, false, false, nil)
	var ae *amqp.Error
	if !errors.As(err, &ae) {
		t.Fatalf("consume with a taken tag: %v", err)
	}
	e = waitErr(t, c.connClose, "connection.close")
	o.add("reply consumer with taken tag: %d %s (connection closed)", e.Code, e.Reason)
}

// replyTx: in a transaction the rewrite and its refusal happen at publish
// and a reply is delivered at publish, as RabbitMQ routes then; only the
// mandatory return waits for tx.commit, and a rollback takes nothing back.
func replyTx(t *testing.T, url string, o *record) {
	req, srv := clientOn(t, dial(t, url)), clientOn(t, dial(t, url))
	queue, srvDs := rpcQueue(t, srv)
	replies := req.consume(replyQ, "replies", true)
	if err := req.ch.Tx(); err != nil {
		t.Fatal(err)
	}
	req.publish("", queue, amqp.Publishing{ReplyTo: replyQ, CorrelationId: "1"})
	if err := req.ch.TxCommit(); err != nil {
		t.Fatal(err)
	}
	d := recv(t, srvDs)
	o.add("request in tx: reply_to matches format: %v", replyName.MatchString(d.ReplyTo))

	returns := srv.ch.NotifyReturn(make(chan amqp.Return, 10))
	returned := func(what string) {
		t.Helper()
		select {
		case r := <-returns:
			o.add("%s: returned %d %s body=%q", what, r.ReplyCode, r.ReplyText, r.Body)
		default:
			o.add("%s: not returned", what)
		}
	}
	if err := srv.ch.Tx(); err != nil {
		t.Fatal(err)
	}
	if err := srv.ch.Publish("", d.ReplyTo, true, false, amqp.Publishing{Body: []byte("rolled back")}); err != nil {
		t.Fatal(err)
	}
	o.add("before rollback: delivered %q", recv(t, replies).Body)
	if err := srv.ch.TxRollback(); err != nil {
		t.Fatal(err)
	}
	returned("rollback")
	if err := srv.ch.Publish("", d.ReplyTo, true, false, amqp.Publishing{Body: []byte("committed")}); err != nil {
		t.Fatal(err)
	}
	o.add("before commit: delivered %q", recv(t, replies).Body)
	if err := srv.ch.TxCommit(); err != nil {
		t.Fatal(err)
	}
	returned("commit")

	// Without a reply consumer the publish fails at once, not at commit.
	if err := req.ch.Cancel("replies", false); err != nil {
		t.Fatal(err)
	}
	req.publish("", queue, amqp.Publishing{ReplyTo: replyQ})
	e := waitErr(t, req.chClose, "channel.close")
	o.add("publish in tx without reply consumer: %d %s", e.Code, e.Reason)
}

// replyRaw, with a raw client: a consumer tag made by the server, and
// consume and cancel with no-wait (no answer to either).
func replyRaw(t *testing.T, url string, o *record) {
	u, err := neturl.Parse(url)
	if err != nil {
		t.Fatal(err)
	}
	c := rawDial(t, u.Host)
	c.open(nil)
	c.send(1, &wire.ChannelOpen{})
	expect[*wire.ChannelOpenOk](c)
	c.send(1, &wire.BasicConsume{Queue: replyQ, NoAck: true})
	tag := expect[*wire.BasicConsumeOk](c).ConsumerTag
	o.add("server-made tag matches amq.ctag-<22>: %v", regexp.MustCompile(`^amq\.ctag-[A-Za-z0-9_-]{22}$`).MatchString(tag))
	c.send(1, &wire.BasicCancel{ConsumerTag: tag})
	o.add("cancel-ok tag is the same: %v", expect[*wire.BasicCancelOk](c).ConsumerTag == tag)

	c.send(1, &wire.BasicConsume{Queue: replyQ, ConsumerTag: "nw", NoAck: true, NoWait: true})
	c.send(1, &wire.BasicCancel{ConsumerTag: "nw", NoWait: true})
	props, err := wire.AppendProperties(nil, &wire.Properties{ReplyTo: replyQ})
	if err != nil {
		t.Fatal(err)
	}
	b := wire.AppendMethodFrame(nil, 1, &wire.BasicPublish{RoutingKey: "nowhere"})
	b = wire.AppendHeaderFrame(b, 1, wire.ClassBasic, 0, props)
	c.write(b)
	ch, m := c.method()
	cl, ok := m.(*wire.ChannelClose)
	if !ok {
		t.Fatalf("got %s on channel %d, want channel.close", m.Name(), ch)
	}
	o.add("after no-wait consume and cancel, publish: channel.close %d %s (class %d method %d)", cl.ReplyCode, cl.ReplyText, cl.ClassId, cl.MethodId)
}

// replyTwoClients: two requesters at once, each with many requests in
// flight, served by two responders on one queue; each requester gets
// exactly its own replies.
func replyTwoClients(t *testing.T, url string, o *record) {
	const n = 300
	srvConn := dial(t, url)
	setup := clientOn(t, srvConn)
	q, err := setup.ch.QueueDeclare("", false, true, true, false, nil)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var servers []*client
	for range 2 {
		srv := clientOn(t, srvConn)
		servers = append(servers, srv)
		ds := srv.consume(q.Name, "server", true)
		wg.Add(1)
		go func() {
			defer wg.Done()
			for d := range ds { // until basic.cancel
				err := srv.ch.Publish("", d.ReplyTo, false, false, amqp.Publishing{
					CorrelationId: d.CorrelationId, Body: append([]byte("re: "), d.Body...)})
				if err != nil {
					t.Errorf("reply: %v", err)
					return
				}
			}
		}()
	}

	type result struct {
		got, wrong, dup int
		name            string
	}
	results := make([]result, 2)
	var clients sync.WaitGroup
	for i := range 2 {
		req := clientOn(t, dial(t, url))
		replies := req.consume(replyQ, "replies", true)
		clients.Add(1)
		go func() {
			defer clients.Done()
			res := &results[i]
			pubErr := make(chan error, 1)
			go func() {
				for k := range n {
					id := fmt.Sprintf("c%d-%d", i, k)
					if err := req.ch.Publish("", q.Name, false, false, amqp.Publishing{
						ReplyTo: replyQ, CorrelationId: id, Body: []byte(id)}); err != nil {
						pubErr <- err
						return
					}
				}
				pubErr <- nil
			}()
			seen := map[string]bool{}
			timeout := time.After(4 * waitTimeout)
			for res.got+res.wrong < n {
				select {
				case d := <-replies:
					id := d.CorrelationId
					switch {
					case !strings.HasPrefix(id, fmt.Sprintf("c%d-", i)) || string(d.Body) != "re: "+id:
						res.wrong++
					case seen[id]:
						res.dup++
					default:
						seen[id] = true
						res.got++
						res.name = d.RoutingKey
					}
				case <-timeout:
					t.Errorf("client %d: %d replies of %d", i, res.got, n)
					return
				}
			}
			if err := <-pubErr; err != nil {
				t.Errorf("client %d: publish: %v", i, err)
			}
		}()
	}
	clients.Wait()
	for i, r := range results {
		o.add("client %d: own replies=%d wrong=%d duplicates=%d", i, r.got, r.wrong, r.dup)
		if r.got != n || r.wrong != 0 || r.dup != 0 {
			t.Errorf("client %d: %+v, want %d own replies", i, r, n)
		}
	}
	o.add("names differ: %v", results[0].name != results[1].name)
	for _, srv := range servers {
		if err := srv.ch.Cancel("server", false); err != nil {
			t.Errorf("cancel: %v", err)
		}
	}
	wg.Wait()
}

// replyAcrossVhosts: the name alone finds the channel, in any vhost, as in
// RabbitMQ (its lookup is by channel pid and key): whoever was given the
// name may reply, like a capability.
func replyAcrossVhosts(t *testing.T, url string, o *record) {
	reqConn := dial(t, url)
	req := clientOn(t, reqConn)
	replies := req.consume(replyQ, "replies", true)
	// The requester reads its own request to learn the name.
	self := clientOn(t, reqConn)
	queue, ds := rpcQueue(t, self)
	name := request(t, req, queue, ds, "1").ReplyTo

	srv := clientOn(t, dial(t, url+replyOtherVhost))
	passive(t, srv.conn, o, "declare from the other vhost", name, name)
	srv.publish("", name, amqp.Publishing{CorrelationId: "1", Body: []byte("from " + replyOtherVhost)})
	recordDelivery(o, "reply from the other vhost", recv(t, replies), name)
}

// Warren only: names that were never handed out, or were altered, reach
// nobody, whatever their shape.
func TestReplyToForgedNames(t *testing.T) {
	p := node(t)
	req, srv := newClient(t, p), newClient(t, p)
	queue, srvDs := rpcQueue(t, srv)
	replies := req.consume(replyQ, "replies", true)
	name := request(t, req, queue, srvDs, "1").ReplyTo
	returns := srv.ch.NotifyReturn(make(chan amqp.Return, 20))

	dot := strings.LastIndexByte(name, '.')
	id, key := name[len(replyQ)+1:dot], name[dot+1:]
	flip := func(s string) string {
		b := []byte(s)
		if b[0] == 'A' {
			b[0] = 'B'
		} else {
			b[0] = 'A'
		}
		return string(b)
	}
	forged := []string{
		replyQ + ".", replyQ + "..", replyQ + "." + id, replyQ + "." + id + ".",
		replyQ + "." + id + "." + flip(key), replyQ + "." + flip(id) + "." + key,
		replyQ + "." + id + "." + key + ".x", replyQ + "." + id + "." + key[:len(key)-1],
		replyQ + "." + key + "." + id, name + "\x00", strings.ToUpper(name),
	}
	for _, f := range forged {
		if err := srv.ch.Publish("", f, true, false, amqp.Publishing{Body: []byte(f)}); err != nil {
			t.Fatal(err)
		}
	}
	srv.publish("", name, amqp.Publishing{Body: []byte("marker")})
	equal(t, "first reply", string(recv(t, replies).Body), "marker")
	for _, f := range forged {
		select {
		case r := <-returns:
			equal(t, "returned", r.RoutingKey, f)
		case <-time.After(waitTimeout):
			t.Fatalf("%q not returned", f)
		}
	}
	for _, f := range forged {
		ch := channel(t, srv.conn)
		if _, err := ch.QueueDeclarePassive(f, false, false, false, false, nil); !isCode(err, 404) {
			t.Errorf("declare %q: %v, want 404", f, err)
		}
	}
	// The real name still works for the declare.
	ch := channel(t, srv.conn)
	if _, err := ch.QueueDeclarePassive(name, false, false, false, false, nil); err != nil {
		t.Fatalf("declare %q: %v", name, err)
	}
}

// Warren only: a reply needs write permission on the default exchange,
// like any publish to it.
func TestReplyToPermissions(t *testing.T) {
	p := node(t)
	azUser(t, p.Broker, "responder", "pw")
	azPerms(t, p.Broker, "responder", "/", ".*", "^$", ".*")
	req := newClient(t, p)
	srv := clientOn(t, azDial(t, p, "responder", "pw", "/"))
	queue, srvDs := rpcQueue(t, srv)
	req.consume(replyQ, "replies", true)
	name := request(t, req, queue, srvDs, "1").ReplyTo
	srv.publish("", name, amqp.Publishing{Body: []byte("reply")})
	srv.wantChannelClosed(403, "ACCESS_REFUSED - access to exchange 'amq.default' in vhost '/' refused for user 'responder'")
}

// replyGolden is what every scenario observes, as checked against
// RabbitMQ 3.10.8 by TestReplyToMatchesRabbitMQ.
var replyGolden = map[string]string{
	"RoundTrip": `declare pseudo-queue: declare-ok amq.rabbitmq.reply-to messages=0 consumers=1
declare reply name: declare-ok <name> messages=0 consumers=1
reply 1: consumer_tag=replies delivery_tag=1 redelivered=false exchange="" routing_key=<name>
reply 1: correlation_id="1" content_type="text/plain" reply_to="" headers=map[n:1] body="reply 1"
second request same name: true
reply 2: consumer_tag=replies delivery_tag=1 redelivered=false exchange="" routing_key=<name>
reply 2: correlation_id="2" content_type="" reply_to="" headers=map[] body="reply 2"
plain: delivery_tag=1
reply 3: consumer_tag=replies delivery_tag=2 redelivered=false exchange="" routing_key=<name>
reply 3: correlation_id="3" content_type="" reply_to="" headers=map[] body="reply 3"
active declare: amq.rabbitmq.reply-to messages=0 consumers=1
other channel other name: true
reply 4: consumer_tag=nowait delivery_tag=1 redelivered=false exchange="" routing_key=<name>
reply 4: correlation_id="4" content_type="" reply_to="" headers=map[] body="reply 4"`,
	"Properties": `reply_to matches format: true
content_type="application/json" content_encoding="gzip" headers=map[a:b n:7 nested:map[x:true]] delivery_mode=2 priority=3
correlation_id="corr-1" expiration="60000" message_id="m-1" timestamp=1700000000 type="rpc" user_id="guest" app_id="app" body="{\"q\":1}"
reply_to "my-reply-queue" arrives as "my-reply-queue"
reply_to "amq.rabbitmq.reply-to.x" arrives as "amq.rabbitmq.reply-to.x"
reply_to "amq.rabbitmq.reply-tox" arrives as "amq.rabbitmq.reply-tox"`,
	"MandatoryAndConfirms": `live mandatory: confirm ack=true
live mandatory: returned 312 NO_ROUTE exchange="" routing_key=<name> body="live mandatory"
live mandatory: consumer_tag=replies delivery_tag=1 redelivered=false exchange="" routing_key=<name>
live mandatory: correlation_id="" content_type="" reply_to="" headers=map[] body="live mandatory"
live: confirm ack=true
live: not returned
live: consumer_tag=replies delivery_tag=1 redelivered=false exchange="" routing_key=<name>
live: correlation_id="" content_type="" reply_to="" headers=map[] body="live"
declare after cancel: error 404 NOT_FOUND - no queue '<name>' in vhost '/'
after cancel mandatory: confirm ack=true
after cancel mandatory: returned 312 NO_ROUTE exchange="" routing_key=<name> body="after cancel mandatory"
new consumer new name: true
stale: confirm ack=true
marker: confirm ack=true
marker: not returned
after stale: consumer_tag=replies delivery_tag=1 redelivered=false exchange="" routing_key=<name>
after stale: correlation_id="" content_type="" reply_to="" headers=map[] body="marker"
closed mandatory: confirm ack=true
closed mandatory: returned 312 NO_ROUTE exchange="" routing_key=<name> body="closed mandatory"
closed: confirm ack=true
closed: not returned
declare after close: error 404 NOT_FOUND - no queue '<name>' in vhost '/'
before connection close: confirm ack=true
before connection close: consumer_tag=replies delivery_tag=1 redelivered=false exchange="" routing_key=<name>
before connection close: correlation_id="" content_type="" reply_to="" headers=map[] body="before connection close"
declare after connection close: error 404 NOT_FOUND - no queue '<name>' in vhost '/'
connection closed mandatory: confirm ack=true
connection closed mandatory: returned 312 NO_ROUTE exchange="" routing_key=<name> body="connection closed mandatory"`,
	"Errors": `consume with acks: 406 PRECONDITION_FAILED - reply consumer cannot acknowledge
publish without reply consumer: 406 PRECONDITION_FAILED - fast reply consumer does not exist
second reply consumer: 406 PRECONDITION_FAILED - reply consumer already set
second reply consumer with acks: 406 PRECONDITION_FAILED - reply consumer cannot acknowledge
cancel: ok
publish after cancel: 406 PRECONDITION_FAILED - fast reply consumer does not exist
basic.get: 404 NOT_FOUND - no queue 'amq.rabbitmq.reply-to' in vhost '/'
declare amq.rabbitmq.reply-tox: 404 NOT_FOUND - no queue 'amq.rabbitmq.reply-tox' in vhost '/'
active declare amq.rabbitmq.reply-tox: 404 NOT_FOUND - no queue 'amq.rabbitmq.reply-tox' in vhost '/'
declare unknown reply name: 404 NOT_FOUND - no queue 'amq.rabbitmq.reply-to.bogus' in vhost '/'`,
	"TagReuse": `after cancel: queue consumers=1
publish after cancel: 406 PRECONDITION_FAILED - fast reply consumer does not exist
reply consumer with taken tag: 530 NOT_ALLOWED - attempt to reuse consumer tag 'taken' (connection closed)`,
	"Transactions": `request in tx: reply_to matches format: true
before rollback: delivered "rolled back"
rollback: not returned
before commit: delivered "committed"
commit: returned 312 NO_ROUTE body="committed"
publish in tx without reply consumer: 406 PRECONDITION_FAILED - fast reply consumer does not exist`,
	"ServerTagAndNowait": `server-made tag matches amq.ctag-<22>: true
cancel-ok tag is the same: true
after no-wait consume and cancel, publish: channel.close 406 PRECONDITION_FAILED - fast reply consumer does not exist (class 60 method 40)`,
	"TwoClients": `client 0: own replies=300 wrong=0 duplicates=0
client 1: own replies=300 wrong=0 duplicates=0
names differ: true`,
	"AcrossVhosts": `declare from the other vhost: declare-ok <name> messages=0 consumers=1
reply from the other vhost: consumer_tag=replies delivery_tag=1 redelivered=false exchange="" routing_key=<name>
reply from the other vhost: correlation_id="1" content_type="" reply_to="" headers=map[] body="from replyto-other"`,
}
