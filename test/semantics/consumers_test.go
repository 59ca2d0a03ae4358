package semantics

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/warrenmq/warren/internal/warrentest"
)

// Consumer priorities (x-priority): the higher-priority consumer gets every
// message while it has prefetch room; the rest go to the lower one.
func TestConsumerPriority(t *testing.T) {
	crossCheck(t, func(t *testing.T, tg *target) any {
		ch := tg.channel(t)
		q := tg.n("q")
		tg.declareQueue(t, ch, q, nil)
		hiCh, loCh := tg.channel(t), tg.channel(t)
		if err := hiCh.Qos(2, 0, false); err != nil {
			t.Fatal(err)
		}
		lo := consume(t, loCh, q, "lo", false, nil)
		hi := consume(t, hiCh, q, "hi", false, amqp.Table{"x-priority": int32(10)})
		for i := 1; i <= 5; i++ {
			publish(t, ch, "", q, body(fmt.Sprintf("m%d", i)))
		}
		h1, h2 := next(t, hi), next(t, hi)
		l := []string{string(next(t, lo).Body), string(next(t, lo).Body), string(next(t, lo).Body)}
		if err := h1.Ack(false); err != nil {
			t.Fatal(err)
		}
		// Published on hi's channel so the broker has the ack first.
		publish(t, hiCh, "", q, body("m6"))
		h3 := next(t, hi)
		got := map[string]any{"hi": []string{string(h1.Body), string(h2.Body), string(h3.Body)}, "lo": l}
		wantEq(t, "assignment", got, `{hi:["m1" "m2" "m6"] lo:["m3" "m4" "m5"]}`)
		return got
	})
}

// Single active consumer: the first consumer gets everything; when its
// channel closes, its unacked messages are requeued and the next consumer
// takes over, redelivered ones first.
func TestSingleActiveConsumer(t *testing.T) {
	crossCheck(t, func(t *testing.T, tg *target) any {
		ch := tg.channel(t)
		q := tg.n("q")
		tg.declareQueue(t, ch, q, amqp.Table{"x-single-active-consumer": true})
		aCh, bCh := tg.channel(t), tg.channel(t)
		a := consume(t, aCh, q, "a", false, nil)
		b := consume(t, bCh, q, "b", false, nil)
		for i := 1; i <= 4; i++ {
			publish(t, ch, "", q, body(fmt.Sprintf("m%d", i)))
		}
		var aGot []string
		for i := range 4 {
			d := next(t, a)
			aGot = append(aGot, string(d.Body))
			if i < 2 {
				if err := d.Ack(false); err != nil {
					t.Fatal(err)
				}
			}
		}
		if err := aCh.Close(); err != nil {
			t.Fatal(err)
		}
		publish(t, ch, "", q, body("m5"))
		var bGot []delivery
		for range 3 {
			d := next(t, b)
			bGot = append(bGot, norm(d))
			d.Ack(false)
		}
		got := map[string]any{"a": aGot, "b": bGot}
		wantEq(t, "failover", got, `{a:["m1" "m2" "m3" "m4"] b:[{body:"m3" exchange:"" redelivered:true routing_key:"`+q+`"} {body:"m4" exchange:"" redelivered:true routing_key:"`+q+`"} {body:"m5" exchange:"" redelivered:false routing_key:"`+q+`"}]}`)
		return got
	})
}

// The consumer timeout closes the channel with 406 and RabbitMQ's text;
// the unacked message is requeued. An unacked basic.get counts too. Warren reads consumer_timeout from its
// rabbitmq.conf-style config; on RabbitMQ 3.10 a channel takes the value
// current when it opens.
func TestConsumerTimeout(t *testing.T) {
	conf := filepath.Join(t.TempDir(), "warren.conf")
	if err := os.WriteFile(conf, []byte("consumer_timeout = 1000\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	crossCheck(t, func(t *testing.T, tg *target) any {
		ch := tg.channel(t)
		q := tg.n("q")
		tg.declareQueue(t, ch, q, nil)
		publish(t, ch, "", q, body("slow"))
		gq := tg.n("get")
		tg.declareQueue(t, ch, gq, nil)
		publish(t, ch, "", gq, body("got"))
		var cch, gch *amqp.Channel
		if tg.rabbit != nil {
			// Only these two channels get the short timeout: the node is
			// shared, and RabbitMQ's default is 30 minutes.
			setRabbitEnv(t, tg.rabbit, "consumer_timeout", "1000")
			reset := func() { setRabbitEnv(t, tg.rabbit, "consumer_timeout", "1800000") }
			t.Cleanup(func() {
				if reset != nil {
					reset()
				}
			})
			cch, gch = tg.channel(t), tg.channel(t)
			reset()
			reset = nil
		} else {
			cch, gch = tg.channel(t), tg.channel(t)
		}
		closed := cch.NotifyClose(make(chan *amqp.Error, 1))
		ds := consume(t, cch, q, "c", false, nil)
		d := next(t, ds)
		e := waitClosed(t, closed)
		again, ok := get(t, ch, q, true)
		got := map[string]any{"first": string(d.Body), "close": fmt.Sprintf("%d %s", e.Code, e.Reason), "requeued": ok, "redelivered": again.Redelivered}
		wantEq(t, "observations", got, `{close:"406 PRECONDITION_FAILED - delivery acknowledgement on channel 1 timed out. Timeout value used: 1000 ms. This timeout value can be configured, see consumers doc guide to learn more" first:"slow" redelivered:true requeued:true}`)

		// A basic.get left unacked times out the same way.
		gclosed := gch.NotifyClose(make(chan *amqp.Error, 1))
		if _, ok := get(t, gch, gq, false); !ok {
			t.Fatal("basic.get found nothing")
		}
		ge := waitClosed(t, gclosed)
		got["get_close"] = fmt.Sprintf("%d %s", ge.Code, ge.Reason)
		wantEq(t, "basic.get timeout", got["get_close"], `"406 PRECONDITION_FAILED - delivery acknowledgement on channel 1 timed out. Timeout value used: 1000 ms. This timeout value can be configured, see consumers doc guide to learn more"`)
		return got
	}, warrentest.WithArgs("--config", conf))
}

func setRabbitEnv(t *testing.T, r *warrentest.RabbitMQ, key, value string) {
	t.Helper()
	if out, err := r.Ctl("eval", fmt.Sprintf("application:set_env(rabbit, %s, %s).", key, value)); err != nil {
		t.Fatalf("rabbitmqctl eval: %v\n%s", err, out)
	}
}

// x-delivery-limit on a quorum queue: each requeue counts in
// x-delivery-count; past the limit the message is dead-lettered with
// reason delivery_limit.
func TestDeliveryLimit(t *testing.T) {
	crossCheck(t, func(t *testing.T, tg *target) any {
		ch := tg.channel(t)
		dlx, dlq := dlxSetup(t, tg, ch)
		q := tg.n("q")
		tg.declareQueue(t, ch, q, amqp.Table{"x-queue-type": "quorum", "x-delivery-limit": int32(2), "x-dead-letter-exchange": dlx})
		publish(t, ch, "", q, amqp.Publishing{Body: []byte("poison"), Headers: amqp.Table{"app": "x"}})
		cch := tg.channel(t)
		ds := consume(t, cch, q, "c", false, nil)
		var seen []delivery
		for range 3 {
			d := next(t, ds)
			seen = append(seen, norm(d))
			if err := d.Nack(false, true); err != nil {
				t.Fatal(err)
			}
		}
		dead := getAll(t, tg, ch, dlq, 1)
		wantEq(t, "deliveries", seen, `[{body:"poison" exchange:"" headers:{app:"x"} redelivered:false routing_key:"`+q+`"} {body:"poison" exchange:"" headers:{app:"x" x-delivery-count:int64(1)} redelivered:true routing_key:"`+q+`"} {body:"poison" exchange:"" headers:{app:"x" x-delivery-count:int64(2)} redelivered:true routing_key:"`+q+`"}]`)
		wantEq(t, "dead-lettered", dead, fmt.Sprintf(`[{body:"poison" exchange:%q headers:{app:"x" x-death:[%s] %s} redelivered:false routing_key:%q}]`,
			dlx, xdeath(1, "delivery_limit", q, "", `["`+q+`"]`, ""), firstDeath("delivery_limit", q, ""), q))
		return []any{seen, dead}
	})
}

// Deleting a queue sends basic.cancel to its consumers (the client
// advertises consumer_cancel_notify); the channel stays open.
func TestConsumerCancelNotify(t *testing.T) {
	crossCheck(t, func(t *testing.T, tg *target) any {
		ch := tg.channel(t)
		q := tg.n("q")
		tg.declareQueue(t, ch, q, nil)
		cch := tg.channel(t)
		cancels := cch.NotifyCancel(make(chan string, 1))
		consume(t, cch, q, "ctag", true, nil)
		if _, err := ch.QueueDelete(q, false, false, false); err != nil {
			t.Fatal(err)
		}
		var tag string
		select {
		case tag = <-cancels:
		case <-time.After(waitTimeout):
			t.Fatal("no basic.cancel after the queue was deleted")
		}
		// The channel is still usable.
		tmp := tg.n("tmp")
		tg.declareQueue(t, cch, tmp, nil)
		got := map[string]any{"cancelled": tag, "channel_open": !cch.IsClosed()}
		wantEq(t, "observations", got, `{cancelled:"ctag" channel_open:true}`)
		return got
	})
}
