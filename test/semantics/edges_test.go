package semantics

import (
	"fmt"
	"testing"

	amqp "github.com/rabbitmq/amqp091-go"
)

// A dead-lettered message keeps its properties except expiration, which
// moves to original-expiration whatever the reason (here a reject).
func TestDeadLetterKeepsProperties(t *testing.T) {
	crossCheck(t, func(t *testing.T, tg *target) any {
		ch := tg.channel(t)
		dlx, dlq := dlxSetup(t, tg, ch)
		q := tg.n("q")
		tg.declareQueue(t, ch, q, amqp.Table{"x-dead-letter-exchange": dlx})
		publish(t, ch, "", q, amqp.Publishing{Body: []byte("m"), Expiration: "60000", Priority: 3, DeliveryMode: amqp.Persistent,
			ContentType: "text/plain", CorrelationId: "c1", ReplyTo: "r", MessageId: "id1", Type: "ty", AppId: "app"})
		d, _ := get(t, ch, q, false)
		if err := d.Reject(false); err != nil {
			t.Fatal(err)
		}
		tg.waitDepth(t, dlq, 1)
		dd, _ := get(t, ch, dlq, true)
		got := map[string]any{"delivery": norm(dd), "props": fmt.Sprintf("mode=%d ct=%s corr=%s reply=%s id=%s type=%s app=%s", dd.DeliveryMode, dd.ContentType, dd.CorrelationId, dd.ReplyTo, dd.MessageId, dd.Type, dd.AppId)}
		wantEq(t, "dead-lettered", got, fmt.Sprintf(`{delivery:{body:"m" exchange:%q headers:{x-death:[%s] %s} priority:3 redelivered:false routing_key:%q} props:"mode=2 ct=text/plain corr=c1 reply=r id=id1 type=ty app=app"}`,
			dlx, xdeath(1, "rejected", q, "", `["`+q+`"]`, ` original-expiration:"60000"`), firstDeath("rejected", q, ""), q))
		return got
	})
}

// A message whose queue TTL passes while it is unacked is not delivered
// again when requeued: it expires (dead-lettered with reason expired).
func TestTTLExpiresOnRequeue(t *testing.T) {
	crossCheck(t, func(t *testing.T, tg *target) any {
		ch := tg.channel(t)
		dlx, dlq := dlxSetup(t, tg, ch)
		q, probe := tg.n("q"), tg.n("probe")
		tg.declareQueue(t, ch, q, amqp.Table{"x-dead-letter-exchange": dlx, "x-message-ttl": int32(100)})
		tg.declareQueue(t, ch, probe, amqp.Table{"x-message-ttl": int32(100)})
		publish(t, ch, "", q, body("late"))
		d, ok := get(t, ch, q, false)
		if !ok {
			t.Fatal("message expired before the first get")
		}
		publish(t, ch, "", probe, body("probe")) // published later with the same TTL
		tg.waitDepth(t, probe, 0)
		if err := d.Nack(false, true); err != nil {
			t.Fatal(err)
		}
		got := getAll(t, tg, ch, dlq, 1)
		_, again := get(t, ch, q, true)
		wantEq(t, "dead-lettered", []any{got, again}, fmt.Sprintf(`[[{body:"late" exchange:%q headers:{x-death:[%s] %s} redelivered:false routing_key:%q}] false]`,
			dlx, xdeath(1, "expired", q, "", `["`+q+`"]`, ""), firstDeath("expired", q, ""), q))
		return []any{got, again}
	})
}

// Unacked messages do not count toward x-max-length; requeued ones go back
// to the head and the limit drops them there at once (drop-head).
func TestMaxLengthUnacked(t *testing.T) {
	crossCheck(t, func(t *testing.T, tg *target) any {
		ch := confirmCh(t, tg)
		q := tg.n("q")
		tg.declareQueue(t, ch, q, amqp.Table{"x-max-length": int32(2)})
		fill(t, ch, q, "a", 1, 2)
		_, raw := getN(t, tg, ch, q, 2, false)
		fill(t, ch, q, "b", 1, 2)
		depthWithUnacked := tg.depth(t, q)
		// Requeued on the channel that drains next, so the drain sees them.
		for _, d := range raw {
			if err := d.Nack(false, true); err != nil {
				t.Fatal(err)
			}
		}
		got := map[string]any{"depth_with_unacked": depthWithUnacked, "after_requeue": drain(t, ch, q)}
		wantEq(t, "observations", got, `{after_requeue:["b1" "b2"] depth_with_unacked:2}`)
		return got
	})
}

// A priority queue with a length limit drops from the head of the whole
// queue: the highest-priority message goes first.
func TestPriorityMaxLength(t *testing.T) {
	crossCheck(t, func(t *testing.T, tg *target) any {
		ch := confirmCh(t, tg)
		q := tg.n("q")
		tg.declareQueue(t, ch, q, amqp.Table{"x-max-priority": int32(10), "x-max-length": int32(2)})
		for _, m := range []amqp.Publishing{prio("p1", 1), prio("p9", 9), prio("p5", 5)} {
			if !publishConfirmed(t, ch, "", q, false, m) {
				t.Fatal("nacked")
			}
		}
		got := drain(t, ch, q)
		wantEq(t, "kept", got, `["p5" "p1"]`)
		return got
	})
}

// A message-ttl policy set on a queue in use: RabbitMQ stamps a message's
// expiry when it is enqueued, so the messages already there never expire,
// and a new message behind them is dropped only when it reaches the head
// (counted until then, never delivered).
func TestPolicyTTLOnQueueInUse(t *testing.T) {
	crossCheck(t, func(t *testing.T, tg *target) any {
		ch := confirmCh(t, tg)
		q, probe := tg.n("q"), tg.n("probe")
		tg.declareQueue(t, ch, q, nil)
		tg.declareQueue(t, ch, probe, amqp.Table{"x-message-ttl": int32(50)})
		fill(t, ch, q, "old", 1, 3)
		tg.setPolicy(t, "policies", tg.n("ttl"), policy{Pattern: "^" + q + "$", Definition: map[string]any{"message-ttl": 50}, ApplyTo: "queues"})
		// RabbitMQ's API shows the policy from the queue's own statistics:
		// once it does, the queue applies it.
		tg.waitPolicyView(t, q, `{effective_policy_definition:{message-ttl:50} operator_policy:nil policy:"`+tg.n("ttl")+`"}`)
		fill(t, ch, q, "new", 1, 1)
		fill(t, ch, probe, "probe", 1, 1) // published later with the same TTL
		tg.waitDepth(t, probe, 0)
		got := map[string]any{"depth": tg.depth(t, q), "delivered": drain(t, ch, q), "depth_after": tg.depth(t, q)}
		wantEq(t, "observations", got, `{delivered:["old1" "old2" "old3"] depth:4 depth_after:0}`)
		return got
	})
}

// x-message-ttl 0 with a dead-letter exchange: with no consumer the
// message is dead-lettered at once, reason expired.
func TestTTLZeroDeadLetters(t *testing.T) {
	crossCheck(t, func(t *testing.T, tg *target) any {
		ch := tg.channel(t)
		dlx, dlq := dlxSetup(t, tg, ch)
		q := tg.n("q")
		tg.declareQueue(t, ch, q, amqp.Table{"x-message-ttl": int32(0), "x-dead-letter-exchange": dlx})
		publish(t, ch, "", q, body("m"))
		got := getAll(t, tg, ch, dlq, 1)
		wantEq(t, "dead-lettered", got, fmt.Sprintf(`[{body:"m" exchange:%q headers:{x-death:[%s] %s} redelivered:false routing_key:%q}]`,
			dlx, xdeath(1, "expired", q, "", `["`+q+`"]`, ""), firstDeath("expired", q, ""), q))
		return got
	})
}

// x-delivery-limit is a quorum-queue feature: RabbitMQ 3.10 refuses it
// on a classic queue.
func TestDeliveryLimitClassicRefused(t *testing.T) {
	crossCheck(t, func(t *testing.T, tg *target) any {
		q := tg.n("q")
		got := tg.declareErr(t, q, amqp.Table{"x-delivery-limit": int32(1)})
		wantEq(t, "error", got, `"406 PRECONDITION_FAILED - invalid arg 'x-delivery-limit' for queue '`+q+`' in vhost '/' of queue type rabbit_classic_queue"`)
		return got
	})
}

// Alternate exchanges that point at each other end the search instead of
// looping: the message is unroutable.
func TestAlternateExchangeCycle(t *testing.T) {
	crossCheck(t, func(t *testing.T, tg *target) any {
		ch := tg.channel(t)
		if err := ch.Confirm(false); err != nil {
			t.Fatal(err)
		}
		returns := ch.NotifyReturn(make(chan amqp.Return, 10))
		x1, x2 := tg.n("x1"), tg.n("x2")
		tg.declareExchange(t, ch, x1, "direct", amqp.Table{"alternate-exchange": x2})
		tg.declareExchange(t, ch, x2, "direct", amqp.Table{"alternate-exchange": x1})
		got := mandatoryRun(t, ch, returns, x1, "k", "m")
		wantEq(t, "publish", got, `"ack=true return=312 NO_ROUTE `+x1+`/k"`)
		return got
	})
}
