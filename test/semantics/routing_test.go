package semantics

import (
	"fmt"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
)

// mandatoryRun publishes with confirms and mandatory and reports the
// confirm and any basic.return.
func mandatoryRun(t *testing.T, ch *amqp.Channel, returns <-chan amqp.Return, exchange, key, b string) string {
	t.Helper()
	ack := publishConfirmed(t, ch, exchange, key, true, body(b))
	out := fmt.Sprintf("ack=%t", ack)
	// A basic.return precedes the confirm on the wire and is dispatched
	// before it, so it is here by now if there was one.
	for len(returns) > 0 {
		r := <-returns
		out += fmt.Sprintf(" return=%d %s %s/%s", r.ReplyCode, r.ReplyText, r.Exchange, r.RoutingKey)
	}
	return out
}

// Alternate exchanges by argument and by policy: unroutable messages go to
// the alternate exchange and count as routed for mandatory; a missing or
// itself unroutable alternate gives basic.return 312 NO_ROUTE; the
// argument wins over a policy.
func TestAlternateExchange(t *testing.T) {
	crossCheck(t, func(t *testing.T, tg *target) any {
		ch := tg.channel(t)
		if err := ch.Confirm(false); err != nil {
			t.Fatal(err)
		}
		returns := ch.NotifyReturn(make(chan amqp.Return, 10))
		alt, alt2, altq, alt2q := tg.n("alt"), tg.n("alt2"), tg.n("altq"), tg.n("alt2q")
		main, mainq, missing, viaPolicy, empty := tg.n("main"), tg.n("mainq"), tg.n("missing"), tg.n("viapolicy"), tg.n("empty")
		tg.declareExchange(t, ch, alt, "fanout", nil)
		tg.declareExchange(t, ch, alt2, "fanout", nil)
		tg.declareQueue(t, ch, altq, nil)
		tg.declareQueue(t, ch, alt2q, nil)
		tg.bind(t, ch, altq, "", alt)
		tg.bind(t, ch, alt2q, "", alt2)
		tg.declareExchange(t, ch, main, "direct", amqp.Table{"alternate-exchange": alt})
		tg.declareQueue(t, ch, mainq, nil)
		tg.bind(t, ch, mainq, "k", main)
		tg.declareExchange(t, ch, missing, "direct", amqp.Table{"alternate-exchange": tg.n("nonexistent")})
		tg.declareExchange(t, ch, empty, "fanout", nil) // an alternate with no bindings
		tg.declareExchange(t, ch, viaPolicy, "direct", nil)

		got := map[string]any{}
		got["routed"] = mandatoryRun(t, ch, returns, main, "k", "routed")
		got["to_alternate"] = mandatoryRun(t, ch, returns, main, "other", "to-alt")
		got["missing_alternate"] = mandatoryRun(t, ch, returns, missing, "other", "lost")
		got["no_policy_yet"] = mandatoryRun(t, ch, returns, viaPolicy, "other", "before-policy")

		tg.setPolicy(t, "policies", tg.n("ae"), policy{Pattern: "^" + viaPolicy + "$", Definition: map[string]any{"alternate-exchange": alt2}, ApplyTo: "exchanges"})
		tg.setPolicy(t, "policies", tg.n("ae-main"), policy{Pattern: "^" + main + "$", Definition: map[string]any{"alternate-exchange": alt2}, ApplyTo: "exchanges"})
		// Policies apply asynchronously: wait for the first message to land.
		publish(t, ch, viaPolicy, "other", body("probe"))
		waitFor(t, "the alternate-exchange policy", func() bool {
			if tg.depth(t, alt2q) > 0 {
				return true
			}
			publish(t, ch, viaPolicy, "other", body("probe"))
			return false
		})
		for {
			if _, ok := get(t, ch, alt2q, true); !ok {
				break
			}
		}
		got["via_policy"] = mandatoryRun(t, ch, returns, viaPolicy, "other", "via-policy")
		got["argument_beats_policy"] = mandatoryRun(t, ch, returns, main, "other", "arg-wins")
		got["alt2q"] = drain(t, ch, alt2q)
		tg.setPolicy(t, "policies", tg.n("ae-empty"), policy{Pattern: "^" + viaPolicy + "$", Definition: map[string]any{"alternate-exchange": empty}, ApplyTo: "exchanges", Priority: 5})
		waitFor(t, "the higher-priority policy", func() bool {
			return mandatoryRun(t, ch, returns, viaPolicy, "other", "probe2") != "ack=true"
		})
		drain(t, ch, alt2q) // probes sent before the policy applied
		got["unroutable_alternate"] = mandatoryRun(t, ch, returns, viaPolicy, "other", "nowhere")
		got["altq"] = drain(t, ch, altq)
		got["mainq"] = drain(t, ch, mainq)
		wantEq(t, "observations", got, fmt.Sprintf(`{alt2q:["via-policy"] altq:["to-alt" "arg-wins"] argument_beats_policy:"ack=true" mainq:["routed"] missing_alternate:"ack=true return=312 NO_ROUTE %s/other" no_policy_yet:"ack=true return=312 NO_ROUTE %s/other" routed:"ack=true" to_alternate:"ack=true" unroutable_alternate:"ack=true return=312 NO_ROUTE %s/other" via_policy:"ack=true"}`, missing, viaPolicy, viaPolicy))
		return got
	})
}

// Sender-selected distribution: CC and BCC header routing keys add
// destinations; CC stays in the delivered headers, BCC never appears (an
// emptied table stays an empty table); a CC that is not an array closes
// the channel.
func TestCCBCC(t *testing.T) {
	crossCheck(t, func(t *testing.T, tg *target) any {
		ch := tg.channel(t)
		ex, qa, qb, qc := tg.n("ex"), tg.n("qa"), tg.n("qb"), tg.n("qc")
		tg.declareExchange(t, ch, ex, "direct", nil)
		for q, k := range map[string]string{qa: "a", qb: "b", qc: "c"} {
			tg.declareQueue(t, ch, q, nil)
			tg.bind(t, ch, q, k, ex)
		}
		publish(t, ch, ex, "a", amqp.Publishing{Body: []byte("m1"), Headers: amqp.Table{"CC": []any{"b"}, "BCC": []any{"c"}, "app": "x"}})
		publish(t, ch, ex, "nothing", amqp.Publishing{Body: []byte("m3"), Headers: amqp.Table{"BCC": []any{"c"}}})
		tg.waitDepth(t, qa, 1)
		tg.waitDepth(t, qb, 1)
		tg.waitDepth(t, qc, 2)
		got := map[string]any{}

		// A CC that is not an array of strings is refused.
		bad := tg.dial(t)
		badCh, err := bad.Channel()
		if err != nil {
			t.Fatal(err)
		}
		chClosed := badCh.NotifyClose(make(chan *amqp.Error, 1))
		connClosed := bad.NotifyClose(make(chan *amqp.Error, 1))
		publish(t, badCh, ex, "a", amqp.Publishing{Body: []byte("m2"), Headers: amqp.Table{"CC": "b"}})
		select {
		case e := <-chClosed:
			got["bad_cc_channel_closed"] = fmt.Sprintf("%d %s", e.Code, e.Reason)
		case e := <-connClosed:
			got["bad_cc_connection_closed"] = fmt.Sprintf("%d %s", e.Code, e.Reason)
		case <-time.After(waitTimeout):
			t.Fatal("no close after a CC header of the wrong type")
		}
		for _, q := range []string{qa, qb, qc} {
			var ds []delivery
			for {
				d, ok := get(t, ch, q, true)
				if !ok {
					break
				}
				ds = append(ds, norm(d))
			}
			got[q[len(tg.prefix)+1:]] = ds
		}
		wantEq(t, "deliveries", got, fmt.Sprintf(`{bad_cc_channel_closed:"406 PRECONDITION_FAILED - invalid message: {unacceptable_type_in_header,\"CC\",longstr}" qa:[{body:"m1" exchange:%[1]q headers:{CC:["b"] app:"x"} redelivered:false routing_key:"a"}] qb:[{body:"m1" exchange:%[1]q headers:{CC:["b"] app:"x"} redelivered:false routing_key:"a"}] qc:[{body:"m1" exchange:%[1]q headers:{CC:["b"] app:"x"} redelivered:false routing_key:"a"} {body:"m3" exchange:%[1]q headers:{} redelivered:false routing_key:"nothing"}]}`, ex))
		return got
	})
}
