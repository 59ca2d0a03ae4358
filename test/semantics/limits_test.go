package semantics

import (
	"fmt"
	"testing"

	amqp "github.com/rabbitmq/amqp091-go"
)

// x-max-length and x-max-length-bytes with the default overflow, drop-head:
// the oldest messages go.
func TestMaxLengthDropHead(t *testing.T) {
	crossCheck(t, func(t *testing.T, tg *target) any {
		ch := tg.channel(t)
		byCount, byBytes, zero := tg.n("count"), tg.n("bytes"), tg.n("zero")
		tg.declareQueue(t, ch, byCount, amqp.Table{"x-max-length": int32(2)})
		tg.declareQueue(t, ch, byBytes, amqp.Table{"x-max-length-bytes": int32(10)})
		tg.declareQueue(t, ch, zero, amqp.Table{"x-max-length": int32(0)})
		for _, b := range []string{"1", "2", "3", "4", "5"} {
			publish(t, ch, "", byCount, body(b))
			publish(t, ch, "", zero, body(b))
		}
		for _, b := range []string{"aaaa", "bbbb", "cccc"} {
			publish(t, ch, "", byBytes, body(b))
		}
		got := map[string]any{"count": drain(t, ch, byCount), "bytes": drain(t, ch, byBytes), "zero": drain(t, ch, zero)}
		wantEq(t, "kept", got, `{bytes:["bbbb" "cccc"] count:["4" "5"] zero:[]}`)
		return got
	})
}

// overflowRun publishes m1..m3 with confirms and mandatory into a full
// queue of two, then frees a slot and publishes m4; it returns the confirm
// results, the basic.returns seen and what the queue held.
func overflowRun(t *testing.T, tg *target, ch *amqp.Channel, q string) map[string]any {
	t.Helper()
	if err := ch.Confirm(false); err != nil {
		t.Fatal(err)
	}
	returns := ch.NotifyReturn(make(chan amqp.Return, 10))
	var acks []any
	for _, b := range []string{"m1", "m2", "m3"} {
		acks = append(acks, publishConfirmed(t, ch, "", q, true, body(b)))
	}
	first, _ := get(t, ch, q, true)
	acks = append(acks, publishConfirmed(t, ch, "", q, true, body("m4")))
	var rets []any
	for len(returns) > 0 {
		r := <-returns
		rets = append(rets, fmt.Sprintf("%d %s %s", r.ReplyCode, r.ReplyText, r.Body))
	}
	return map[string]any{"acks": acks, "returns": rets, "got_first": string(first.Body), "left": drain(t, ch, q)}
}

// x-overflow reject-publish: publishes into a full queue are nacked to a
// confirming publisher (no basic.return: the message was routed); a slot
// freed by a consumer takes the next publish.
func TestOverflowRejectPublish(t *testing.T) {
	crossCheck(t, func(t *testing.T, tg *target) any {
		ch := tg.channel(t)
		q := tg.n("q")
		tg.declareQueue(t, ch, q, amqp.Table{"x-max-length": int32(2), "x-overflow": "reject-publish"})
		got := overflowRun(t, tg, ch, q)
		// Without confirms the rejected message is dropped silently.
		plain := tg.channel(t)
		publish(t, plain, "", q, body("p1"))
		publish(t, plain, "", q, body("p2"))
		publish(t, plain, "", q, body("p3"))
		// Drained on the same channel: its basic.get follows the publishes.
		got["unconfirmed_left"] = drain(t, plain, q)
		wantEq(t, "observations", got, `{acks:[true true false true] got_first:"m1" left:["m2" "m4"] returns:[] unconfirmed_left:["p1" "p2"]}`)
		return got
	})
}

// x-overflow reject-publish-dlx: as reject-publish, and the rejected
// message is dead-lettered with reason maxlen.
func TestOverflowRejectPublishDLX(t *testing.T) {
	crossCheck(t, func(t *testing.T, tg *target) any {
		ch := tg.channel(t)
		dlx, dlq := dlxSetup(t, tg, ch)
		q := tg.n("q")
		tg.declareQueue(t, ch, q, amqp.Table{"x-max-length": int32(2), "x-overflow": "reject-publish-dlx", "x-dead-letter-exchange": dlx})
		got := overflowRun(t, tg, ch, q)
		wantEq(t, "observations", got, `{acks:[true true false true] got_first:"m1" left:["m2" "m4"] returns:[]}`)
		dead := getAll(t, tg, ch, dlq, 1)
		wantEq(t, "dead-lettered", dead, fmt.Sprintf(`[{body:"m3" exchange:%q headers:{x-death:[%s] %s} redelivered:false routing_key:%q}]`,
			dlx, xdeath(1, "maxlen", q, "", `["`+q+`"]`, ""), firstDeath("maxlen", q, ""), q))
		return []any{got, dead}
	})
}

// Invalid queue arguments close the channel with RabbitMQ's code and text.
func TestQueueArgumentErrors(t *testing.T) {
	crossCheck(t, func(t *testing.T, tg *target) any {
		q := tg.n("q")
		cases := []amqp.Table{
			{"x-overflow": "sideways"},
			{"x-max-length": int32(-1)},
			{"x-max-length-bytes": "ten"},
			{"x-message-ttl": int32(-5)},
			{"x-expires": int32(0)},
			{"x-max-priority": int32(256)},
			{"x-max-priority": int32(-1)},
			{"x-dead-letter-routing-key": "rk"},
			{"x-single-active-consumer": "yes"},
		}
		var got []string
		for _, args := range cases {
			got = append(got, tg.declareErr(t, q, args))
		}
		pre := "406 PRECONDITION_FAILED - invalid arg '%s' for queue '" + q + "' in vhost '/': "
		want := []string{
			pre + "invalid_overflow",
			pre + "{value_negative,-1}",
			pre + `"expected integer, got longstr"`,
			pre + "{value_negative,-5}",
			pre + "{value_zero,0}",
			pre + "{max_value_exceeded,256}",
			pre + "{value_negative,-1}",
			pre + "routing_key_but_no_dlx_defined",
			pre + "{unacceptable_type,longstr}",
		}
		for i, args := range cases {
			for k := range args {
				want[i] = fmt.Sprintf(want[i], k)
			}
		}
		wantEq(t, "errors", got, render(want))
		return got
	})
}

// Redeclaring a queue with other feature arguments fails with RabbitMQ's
// inequivalent-arg text; integer widths do not matter.
func TestQueueArgumentEquivalence(t *testing.T) {
	crossCheck(t, func(t *testing.T, tg *target) any {
		ch := tg.channel(t)
		q := tg.n("q")
		tg.declareQueue(t, ch, q, amqp.Table{"x-max-length": int32(2), "x-message-ttl": int32(60000)})
		got := []string{
			tg.declareErr2(t, q, amqp.Table{"x-max-length": int64(2), "x-message-ttl": int16(30000)}),
			tg.declareErr2(t, q, amqp.Table{"x-max-length": int64(2), "x-message-ttl": int64(60000)}),
			tg.declareErr2(t, q, amqp.Table{"x-max-length": int32(5), "x-message-ttl": int32(60000)}),
			tg.declareErr2(t, q, amqp.Table{"x-message-ttl": int32(60000)}),
		}
		pre := "406 PRECONDITION_FAILED - inequivalent arg '%s' for queue '" + q + "' in vhost '/': "
		wantEq(t, "redeclares", got, render([]string{
			fmt.Sprintf(pre, "x-message-ttl") + "received '30000' but current is '60000'",
			"",
			fmt.Sprintf(pre, "x-max-length") + "received '5' but current is '2'",
			fmt.Sprintf(pre, "x-max-length") + "received none but current is the value '2' of type 'signedint'",
		}))
		return got
	})
}
