package semantics

import (
	"fmt"
	"testing"

	amqp "github.com/rabbitmq/amqp091-go"
)

// dlxSetup declares a fanout dead-letter exchange bound to a dead-letter
// queue, and returns their names.
func dlxSetup(t *testing.T, tg *target, ch *amqp.Channel) (dlx, dlq string) {
	t.Helper()
	dlx, dlq = tg.n("dlx"), tg.n("dlq")
	tg.declareExchange(t, ch, dlx, "fanout", nil)
	tg.declareQueue(t, ch, dlq, nil)
	tg.bind(t, ch, dlq, "", dlx)
	return dlx, dlq
}

// getAll fetches n messages from queue (auto-ack), failing if one is missing.
func getAll(t *testing.T, tg *target, ch *amqp.Channel, queue string, n int) []delivery {
	t.Helper()
	tg.waitDepth(t, queue, n)
	var out []delivery
	for range n {
		d, ok := get(t, ch, queue, true)
		if !ok {
			t.Fatalf("%s: queue %s: message missing", tg.name, queue)
		}
		out = append(out, norm(d))
	}
	return out
}

// xdeath renders the expected headers of a message dead-lettered once.
func xdeath(count int, reason, queue, exchange, keys, extra string) string {
	return fmt.Sprintf(`{count:int64(%d) exchange:%q%s queue:%q reason:%q routing-keys:%s time:timestamp}`, count, exchange, extra, queue, reason, keys)
}

func firstDeath(reason, queue, exchange string) string {
	return fmt.Sprintf(`x-first-death-exchange:%q x-first-death-queue:%q x-first-death-reason:%q`, exchange, queue, reason)
}

// basic.reject and basic.nack without requeue dead-letter; user headers
// stay, CC keys join routing-keys, BCC is never seen.
func TestDeadLetterRejectNack(t *testing.T) {
	crossCheck(t, func(t *testing.T, tg *target) any {
		ch := tg.channel(t)
		dlx, dlq := dlxSetup(t, tg, ch)
		q, src := tg.n("q"), tg.n("src")
		tg.declareQueue(t, ch, q, amqp.Table{"x-dead-letter-exchange": dlx})
		tg.declareExchange(t, ch, src, "direct", nil)
		tg.bind(t, ch, q, "k1", src)
		tg.bind(t, ch, q, "k2", src)
		publish(t, ch, "", q, amqp.Publishing{Body: []byte("rejected"), Headers: amqp.Table{"app": "x", "n": int32(7)}})
		publish(t, ch, src, "k1", amqp.Publishing{Body: []byte("nacked"), Headers: amqp.Table{"CC": []any{"k2"}, "BCC": []any{"nowhere"}}})
		ds := consume(t, ch, q, "c", false, nil)
		d1, d2 := next(t, ds), next(t, ds)
		if err := d1.Reject(false); err != nil {
			t.Fatal(err)
		}
		if err := d2.Nack(false, false); err != nil {
			t.Fatal(err)
		}
		got := getAll(t, tg, ch, dlq, 2)
		wantEq(t, "dead-lettered", got, fmt.Sprintf(`[{body:"rejected" exchange:%q headers:{app:"x" n:int32(7) x-death:[%s] %s} redelivered:false routing_key:%q} {body:"nacked" exchange:%q headers:{CC:["k2"] x-death:[%s] %s} redelivered:false routing_key:"k1"}]`,
			dlx, xdeath(1, "rejected", q, "", `["`+q+`"]`, ""), firstDeath("rejected", q, ""), q,
			dlx, xdeath(1, "rejected", q, src, `["k1" "k2"]`, ""), firstDeath("rejected", q, src)))
		return got
	})
}

// Expiry dead-letters with reason expired; a per-message expiration is kept
// as original-expiration and removed from the message.
func TestDeadLetterExpired(t *testing.T) {
	crossCheck(t, func(t *testing.T, tg *target) any {
		ch := tg.channel(t)
		dlx, dlq := dlxSetup(t, tg, ch)
		qttl, plain := tg.n("qttl"), tg.n("plain")
		tg.declareQueue(t, ch, qttl, amqp.Table{"x-dead-letter-exchange": dlx, "x-message-ttl": int32(50)})
		tg.declareQueue(t, ch, plain, amqp.Table{"x-dead-letter-exchange": dlx})
		publish(t, ch, "", qttl, body("queue-ttl"))
		got := getAll(t, tg, ch, dlq, 1)
		publish(t, ch, "", plain, amqp.Publishing{Body: []byte("msg-ttl"), Expiration: "50"})
		got = append(got, getAll(t, tg, ch, dlq, 1)...)
		wantEq(t, "dead-lettered", got, fmt.Sprintf(`[{body:"queue-ttl" exchange:%q headers:{x-death:[%s] %s} redelivered:false routing_key:%q} {body:"msg-ttl" exchange:%q headers:{x-death:[%s] %s} redelivered:false routing_key:%q}]`,
			dlx, xdeath(1, "expired", qttl, "", `["`+qttl+`"]`, ""), firstDeath("expired", qttl, ""), qttl,
			dlx, xdeath(1, "expired", plain, "", `["`+plain+`"]`, ` original-expiration:"50"`), firstDeath("expired", plain, ""), plain))
		return got
	})
}

// Overflow with drop-head dead-letters the dropped head with reason maxlen.
func TestDeadLetterMaxLen(t *testing.T) {
	crossCheck(t, func(t *testing.T, tg *target) any {
		ch := tg.channel(t)
		dlx, dlq := dlxSetup(t, tg, ch)
		q := tg.n("q")
		tg.declareQueue(t, ch, q, amqp.Table{"x-dead-letter-exchange": dlx, "x-max-length": int32(1)})
		for _, b := range []string{"a", "b", "c"} {
			publish(t, ch, "", q, body(b))
		}
		got := getAll(t, tg, ch, dlq, 2)
		left := drain(t, ch, q)
		x := xdeath(1, "maxlen", q, "", `["`+q+`"]`, "")
		fd := firstDeath("maxlen", q, "")
		wantEq(t, "dead-lettered", got, fmt.Sprintf(`[{body:"a" exchange:%q headers:{x-death:[%s] %s} redelivered:false routing_key:%q} {body:"b" exchange:%q headers:{x-death:[%s] %s} redelivered:false routing_key:%q}]`, dlx, x, fd, q, dlx, x, fd, q))
		wantEq(t, "left in the queue", left, `["c"]`)
		return []any{got, left}
	})
}

// x-dead-letter-routing-key replaces the routing key; routing-keys in
// x-death keeps the original ones.
func TestDeadLetterRoutingKey(t *testing.T) {
	crossCheck(t, func(t *testing.T, tg *target) any {
		ch := tg.channel(t)
		dlx, dlq, q := tg.n("dlx"), tg.n("dlq"), tg.n("q")
		tg.declareExchange(t, ch, dlx, "direct", nil)
		tg.declareQueue(t, ch, dlq, nil)
		tg.bind(t, ch, dlq, "dead", dlx)
		tg.declareQueue(t, ch, q, amqp.Table{"x-dead-letter-exchange": dlx, "x-dead-letter-routing-key": "dead"})
		publish(t, ch, "", q, body("m"))
		d, _ := get(t, ch, q, false)
		if err := d.Reject(false); err != nil {
			t.Fatal(err)
		}
		got := getAll(t, tg, ch, dlq, 1)
		wantEq(t, "dead-lettered", got, fmt.Sprintf(`[{body:"m" exchange:%q headers:{x-death:[%s] %s} redelivered:false routing_key:"dead"}]`,
			dlx, xdeath(1, "rejected", q, "", `["`+q+`"]`, ""), firstDeath("rejected", q, "")))
		return got
	})
}

// Dead-lettered again and again between two queues: one x-death entry per
// queue and reason, most recent first, counts growing; x-first-death-*
// stays.
func TestDeadLetterTwice(t *testing.T) {
	crossCheck(t, func(t *testing.T, tg *target) any {
		ch := tg.channel(t)
		q1, q2 := tg.n("q1"), tg.n("q2")
		tg.declareQueue(t, ch, q1, amqp.Table{"x-dead-letter-exchange": "", "x-dead-letter-routing-key": q2})
		tg.declareQueue(t, ch, q2, amqp.Table{"x-dead-letter-exchange": "", "x-dead-letter-routing-key": q1})
		publish(t, ch, "", q1, body("m"))
		var seen []delivery
		for _, q := range []string{q1, q2, q1} {
			tg.waitDepth(t, q, 1)
			d, _ := get(t, ch, q, false)
			seen = append(seen, norm(d))
			if err := d.Reject(false); err != nil {
				t.Fatal(err)
			}
		}
		final := getAll(t, tg, ch, q2, 1)
		wantEq(t, "after three rejects", final, fmt.Sprintf(`[{body:"m" exchange:"" headers:{x-death:[%s %s] %s} redelivered:false routing_key:%q}]`,
			xdeath(2, "rejected", q1, "", `["`+q1+`"]`, ""), xdeath(1, "rejected", q2, "", `["`+q2+`"]`, ""), firstDeath("rejected", q1, ""), q2))
		return append(seen, final...)
	})
}

// A dead-letter cycle made only of expiries is cut as RabbitMQ does: the
// new x-death already names the queue being dead-lettered into, so an
// expired message is not dead-lettered back into its own queue even once,
// while it still reaches the other queue bound to the dead-letter exchange.
// Over two queues the same happens when the message would re-enter the
// first.
func TestDeadLetterCycleDropped(t *testing.T) {
	crossCheck(t, func(t *testing.T, tg *target) any {
		ch := tg.channel(t)
		cyc, q, witness := tg.n("cyc"), tg.n("q"), tg.n("witness")
		tg.declareExchange(t, ch, cyc, "fanout", nil)
		tg.declareQueue(t, ch, q, amqp.Table{"x-dead-letter-exchange": cyc, "x-message-ttl": int32(50)})
		tg.declareQueue(t, ch, witness, nil)
		tg.bind(t, ch, q, "", cyc)
		tg.bind(t, ch, witness, "", cyc)
		publish(t, ch, "", q, body("self"))
		waitFor(t, "the dead-lettering and an empty queue", func() bool { return tg.depth(t, witness) == 1 && tg.depth(t, q) == 0 })
		got := getAll(t, tg, ch, witness, 1)
		wantEq(t, "witnessed (self cycle)", got, fmt.Sprintf(`[{body:"self" exchange:%q headers:{x-death:[%s] %s} redelivered:false routing_key:%q}]`,
			cyc, xdeath(1, "expired", q, "", `["`+q+`"]`, ""), firstDeath("expired", q, ""), q))

		// q1 expires into q2 (default exchange), q2 expires into cyc2, bound
		// to q1 and to witness: only the witness gets it.
		q1, q2, cyc2 := tg.n("q1"), tg.n("q2"), tg.n("cyc2")
		tg.declareExchange(t, ch, cyc2, "fanout", nil)
		tg.declareQueue(t, ch, q1, amqp.Table{"x-dead-letter-exchange": "", "x-dead-letter-routing-key": q2, "x-message-ttl": int32(50)})
		tg.declareQueue(t, ch, q2, amqp.Table{"x-dead-letter-exchange": cyc2, "x-message-ttl": int32(50)})
		tg.bind(t, ch, q1, "", cyc2)
		tg.bind(t, ch, witness, "", cyc2)
		publish(t, ch, "", q1, body("pair"))
		waitFor(t, "the dead-lettering and empty queues", func() bool {
			return tg.depth(t, witness) == 1 && tg.depth(t, q1) == 0 && tg.depth(t, q2) == 0
		})
		got2 := getAll(t, tg, ch, witness, 1)
		wantEq(t, "witnessed (two-queue cycle)", got2, fmt.Sprintf(`[{body:"pair" exchange:%q headers:{x-death:[%s %s] %s} redelivered:false routing_key:%q}]`,
			cyc2, xdeath(1, "expired", q2, "", `["`+q2+`"]`, ""), xdeath(1, "expired", q1, "", `["`+q1+`"]`, ""), firstDeath("expired", q1, ""), q2))
		return append(got, got2...)
	})
}

// A cycle with a reject in it is the application's choice: the message
// comes back each time, counting.
func TestDeadLetterCycleWithReject(t *testing.T) {
	crossCheck(t, func(t *testing.T, tg *target) any {
		ch := tg.channel(t)
		q := tg.n("q")
		tg.declareQueue(t, ch, q, amqp.Table{"x-dead-letter-exchange": "", "x-dead-letter-routing-key": q})
		publish(t, ch, "", q, body("m"))
		var seen []delivery
		for range 3 {
			tg.waitDepth(t, q, 1)
			d, _ := get(t, ch, q, false)
			seen = append(seen, norm(d))
			if err := d.Reject(false); err != nil {
				t.Fatal(err)
			}
		}
		fd := firstDeath("rejected", q, "")
		wantEq(t, "deliveries", seen, fmt.Sprintf(`[{body:"m" exchange:"" redelivered:false routing_key:%q} {body:"m" exchange:"" headers:{x-death:[%s] %s} redelivered:false routing_key:%q} {body:"m" exchange:"" headers:{x-death:[%s] %s} redelivered:false routing_key:%q}]`,
			q, xdeath(1, "rejected", q, "", `["`+q+`"]`, ""), fd, q, xdeath(2, "rejected", q, "", `["`+q+`"]`, ""), fd, q))
		return seen
	})
}
