package semantics

import (
	"testing"

	amqp "github.com/rabbitmq/amqp091-go"
)

func prio(b string, p uint8) amqp.Publishing { return amqp.Publishing{Body: []byte(b), Priority: p} }

// getN fetches n messages (auto-ack) and returns them normalized.
func getN(t *testing.T, tg *target, ch *amqp.Channel, q string, n int, autoAck bool) ([]delivery, []amqp.Delivery) {
	t.Helper()
	var out []delivery
	var raw []amqp.Delivery
	for range n {
		d, ok := get(t, ch, q, autoAck)
		if !ok {
			t.Fatalf("%s: queue %s: message missing", tg.name, q)
		}
		out = append(out, norm(d))
		raw = append(raw, d)
	}
	return out, raw
}

// x-max-priority: highest priority first, FIFO within a priority, no
// priority counts as 0, priorities above the maximum count as the maximum
// (and are delivered as published).
func TestPriorityOrder(t *testing.T) {
	crossCheck(t, func(t *testing.T, tg *target) any {
		ch := tg.channel(t)
		q, capped := tg.n("q"), tg.n("capped")
		tg.declareQueue(t, ch, q, amqp.Table{"x-max-priority": int32(10)})
		tg.declareQueue(t, ch, capped, amqp.Table{"x-max-priority": int32(5)})
		for _, m := range []amqp.Publishing{prio("a0", 0), prio("b5", 5), prio("c1", 1), prio("d5", 5), prio("e10", 10), body("f-none"), prio("g3", 3)} {
			publish(t, ch, "", q, m)
		}
		for _, m := range []amqp.Publishing{prio("x7", 7), prio("w1", 1), prio("y5", 5), prio("z9", 9)} {
			publish(t, ch, "", capped, m)
		}
		tg.waitDepth(t, q, 7)
		tg.waitDepth(t, capped, 4)
		order := drain(t, ch, q)
		got, _ := getN(t, tg, ch, capped, 4, true)
		wantEq(t, "order", order, `["e10" "b5" "d5" "g3" "c1" "a0" "f-none"]`)
		wantEq(t, "capped", got, `[{body:"x7" exchange:"" priority:7 redelivered:false routing_key:"`+capped+`"} {body:"y5" exchange:"" priority:5 redelivered:false routing_key:"`+capped+`"} {body:"z9" exchange:"" priority:9 redelivered:false routing_key:"`+capped+`"} {body:"w1" exchange:"" priority:1 redelivered:false routing_key:"`+capped+`"}]`)
		return []any{order, got}
	})
}

// Requeued messages go back in priority order, ahead of lower priorities
// published meanwhile.
func TestPriorityRequeue(t *testing.T) {
	crossCheck(t, func(t *testing.T, tg *target) any {
		ch := tg.channel(t)
		q := tg.n("q")
		tg.declareQueue(t, ch, q, amqp.Table{"x-max-priority": int32(10)})
		for _, m := range []amqp.Publishing{prio("p1", 1), prio("p5", 5), prio("p9", 9)} {
			publish(t, ch, "", q, m)
		}
		tg.waitDepth(t, q, 3)
		_, raw := getN(t, tg, ch, q, 2, false) // p9, p5 unacked
		publish(t, ch, "", q, prio("p7", 7))
		publish(t, ch, "", q, prio("p5b", 5))
		tg.waitDepth(t, q, 3)
		for _, d := range raw {
			if err := d.Reject(true); err != nil {
				t.Fatal(err)
			}
		}
		tg.waitDepth(t, q, 5)
		got, _ := getN(t, tg, ch, q, 5, true)
		wantEq(t, "after requeue", got, `[{body:"p9" exchange:"" priority:9 redelivered:true routing_key:"`+q+`"} {body:"p7" exchange:"" priority:7 redelivered:false routing_key:"`+q+`"} {body:"p5" exchange:"" priority:5 redelivered:true routing_key:"`+q+`"} {body:"p5b" exchange:"" priority:5 redelivered:false routing_key:"`+q+`"} {body:"p1" exchange:"" priority:1 redelivered:false routing_key:"`+q+`"}]`)
		return got
	})
}
