package semantics

import (
	"fmt"
	"net/http"
	"testing"

	amqp "github.com/rabbitmq/amqp091-go"
)

// Per-queue TTL: expired messages leave the queue on their own (counts drop
// to zero without anyone reading) and are never delivered.
func TestQueueTTL(t *testing.T) {
	crossCheck(t, func(t *testing.T, tg *target) any {
		// Confirmed publishes: the depth is read on another channel, which
		// must not see the queue before the messages reach it.
		ch := confirmCh(t, tg)
		q := tg.n("q")
		tg.declareQueue(t, ch, q, amqp.Table{"x-message-ttl": int32(100)})
		for _, b := range []string{"a", "b", "c"} {
			publishConfirmed(t, ch, "", q, false, body(b))
		}
		tg.waitDepth(t, q, 0)
		_, ok := get(t, ch, q, true)
		wantEq(t, "basic.get after expiry", ok, "false")
		return ok
	})
}

// A message with a short per-message expiration queued behind one without:
// RabbitMQ only drops expired messages at the head, so the count still
// includes it, but no consumer ever receives it.
func TestPerMessageTTLBehindUnexpired(t *testing.T) {
	crossCheck(t, func(t *testing.T, tg *target) any {
		ch := confirmCh(t, tg)
		q, probe := tg.n("q"), tg.n("probe")
		tg.declareQueue(t, ch, q, nil)
		tg.declareQueue(t, ch, probe, nil)
		publishConfirmed(t, ch, "", q, false, body("keep"))
		publishConfirmed(t, ch, "", q, false, amqp.Publishing{Body: []byte("short"), Expiration: "50"})
		// The probe is enqueued after "short" (confirmed) with the same
		// expiration and sits alone at its head: once it is gone, "short"
		// has expired too.
		publishConfirmed(t, ch, "", probe, false, amqp.Publishing{Body: []byte("probe"), Expiration: "50"})
		tg.waitDepth(t, probe, 0)
		countAfterExpiry := tg.depth(t, q)
		d, ok := get(t, ch, q, true)
		_, ok2 := get(t, ch, q, true)
		countAtEnd := tg.depth(t, q)
		got := map[string]any{"count_after_expiry": countAfterExpiry, "first_get": string(d.Body), "first_ok": ok, "second_ok": ok2, "count_at_end": countAtEnd}
		wantEq(t, "observations", got, `{count_after_expiry:2 count_at_end:0 first_get:"keep" first_ok:true second_ok:false}`)
		return got
	})
}

// The per-message expiration and the queue TTL: the lower one wins. The
// expiration property is delivered as published.
func TestMessageTTLLowerWins(t *testing.T) {
	crossCheck(t, func(t *testing.T, tg *target) any {
		ch := confirmCh(t, tg) // the depths are read on another channel
		long, short := tg.n("long"), tg.n("short")
		tg.declareQueue(t, ch, long, amqp.Table{"x-message-ttl": int32(60000)})
		tg.declareQueue(t, ch, short, amqp.Table{"x-message-ttl": int32(50)})
		publishConfirmed(t, ch, "", short, false, amqp.Publishing{Body: []byte("s"), Expiration: "60000"})
		publishConfirmed(t, ch, "", long, false, amqp.Publishing{Body: []byte("l"), Expiration: "50"})
		publishConfirmed(t, ch, "", long, false, amqp.Publishing{Body: []byte("l2"), Expiration: "60000"})
		tg.waitDepth(t, short, 0)
		tg.waitDepth(t, long, 1)
		d, ok := get(t, ch, long, true)
		if !ok {
			t.Fatal("the unexpired message is gone")
		}
		got := norm(d)
		wantEq(t, "survivor", got, `{body:"l2" exchange:"" expiration:"60000" redelivered:false routing_key:"`+long+`"}`)
		return got
	})
}

// TTL 0: a message is delivered only if a consumer can take it at once;
// otherwise it expires on arrival (basic.get finds nothing). The same for
// expiration "0".
func TestTTLZero(t *testing.T) {
	crossCheck(t, func(t *testing.T, tg *target) any {
		ch := tg.channel(t)
		q, plain := tg.n("q"), tg.n("plain")
		tg.declareQueue(t, ch, q, amqp.Table{"x-message-ttl": int32(0)})
		tg.declareQueue(t, ch, plain, nil)
		publish(t, ch, "", q, body("nobody"))
		publish(t, ch, "", plain, amqp.Publishing{Body: []byte("nobody"), Expiration: "0"})
		tg.waitDepth(t, q, 0)
		tg.waitDepth(t, plain, 0)
		_, ok1 := get(t, ch, q, true)
		_, ok2 := get(t, ch, plain, true)

		cch := tg.channel(t)
		ds := consume(t, cch, q, "c1", true, nil)
		ds2 := consume(t, cch, plain, "c2", true, nil)
		publish(t, ch, "", q, body("to-consumer"))
		publish(t, ch, "", plain, amqp.Publishing{Body: []byte("to-consumer-0"), Expiration: "0"})
		d1, d2 := norm(next(t, ds)), norm(next(t, ds2))
		got := map[string]any{"get_ttl0": ok1, "get_exp0": ok2, "consumed_ttl0": d1, "consumed_exp0": d2}
		wantEq(t, "observations", got, `{consumed_exp0:{body:"to-consumer-0" exchange:"" expiration:"0" redelivered:false routing_key:"`+plain+`"} consumed_ttl0:{body:"to-consumer" exchange:"" redelivered:false routing_key:"`+q+`"} get_exp0:false get_ttl0:false}`)
		return got
	})
}

// An invalid expiration closes the channel with RabbitMQ's error.
func TestInvalidExpiration(t *testing.T) {
	crossCheck(t, func(t *testing.T, tg *target) any {
		var out []string
		for _, exp := range []string{"abc", "-1"} {
			ch := tg.channel(t)
			q := tg.n("q")
			tg.declareQueue(t, ch, q, nil)
			closed := ch.NotifyClose(make(chan *amqp.Error, 1))
			publish(t, ch, "", q, amqp.Publishing{Body: []byte("x"), Expiration: exp})
			e := waitClosed(t, closed)
			out = append(out, fmt.Sprintf("%d %s", e.Code, e.Reason))
		}
		wantEq(t, "errors", out, `["406 PRECONDITION_FAILED - invalid expiration 'abc': no_integer" "406 PRECONDITION_FAILED - invalid expiration '-1': {value_negative,-1}"]`)
		return out
	})
}

// x-expires: an unused queue is deleted; a queue with a consumer is not.
func TestQueueExpires(t *testing.T) {
	crossCheck(t, func(t *testing.T, tg *target) any {
		ch := tg.channel(t)
		used, unused := tg.n("used"), tg.n("unused")
		tg.declareQueue(t, ch, used, amqp.Table{"x-expires": int32(100)})
		consume(t, ch, used, "c", true, nil)
		tg.declareQueue(t, ch, unused, amqp.Table{"x-expires": int32(100)})
		// Polled through the management API: a passive queue.declare counts
		// as a use and would restart the expiry timer.
		waitFor(t, "the unused queue to expire", func() bool {
			code, _ := tg.api(t, "GET", "/api/queues/%2F/"+unused, nil)
			return code == http.StatusNotFound
		})
		_, e := tg.exists(t, unused)
		stillThere, _ := tg.exists(t, used)
		got := map[string]any{"used_exists": stillThere, "unused_error": fmt.Sprintf("%d %s", e.Code, e.Reason)}
		wantEq(t, "observations", got, `{unused_error:"404 NOT_FOUND - no queue '`+unused+`' in vhost '/'" used_exists:true}`)
		return got
	})
}
