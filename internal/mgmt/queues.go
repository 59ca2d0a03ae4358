package mgmt

import (
	"encoding/base64"
	"net/http"
	"time"
	"unicode/utf8"

	"github.com/warrenmq/warren/internal/amqp"
	"github.com/warrenmq/warren/internal/broker"
	"github.com/warrenmq/warren/internal/mgmt/apitypes"
)

func (s *Server) queueJSON(q *broker.Queue, stats bool) apitypes.Queue {
	return s.queueJSONAt(q, stats, idleSince(time.Now()))
}

// queueJSONAt is queueJSON with idle_since's "now" formatted once per
// listing.
func (s *Server) queueJSONAt(q *broker.Queue, stats bool, now string) apitypes.Queue {
	i := q.Info()
	out := apitypes.Queue{
		Name: q.Name, Vhost: q.Vhost.Name, Durable: q.Durable, AutoDelete: q.AutoDelete, Exclusive: q.Exclusive,
		Arguments: tableJSON(q.Args), Node: s.cfg.NodeName, Type: "classic", State: "running",
		Consumers: i.Consumers, EffectivePolicyDefinition: map[string]any{},
		Messages: i.Ready + i.Unacked, MessagesReady: i.Ready, MessagesUnacknowledged: i.Unacked,
		MessagesRAM: i.Ready + i.Unacked, MessagesReadyRAM: i.Ready, MessagesUnacknowledgedRAM: i.Unacked,
		MessageBytes: i.ReadyBytes, MessageBytesReady: i.ReadyBytes, MessageBytesRAM: i.ReadyBytes,
	}
	if i.Consumers > 0 {
		out.ConsumerCapacity, out.ConsumerUtilisation = 1, 1
	} else {
		out.IdleSince = now
	}
	if i.ExclusiveConsumer != "" {
		tag := i.ExclusiveConsumer
		out.ExclusiveConsumerTag = &tag
	}
	if tag := q.SingleActiveConsumer(); tag != "" {
		out.SingleActiveConsumerTag = &tag
	}
	pi := q.PolicyInfo()
	if pi.Policy != "" {
		out.Policy = &pi.Policy
	}
	if pi.OperatorPolicy != "" {
		out.OperatorPolicy = &pi.OperatorPolicy
	}
	if pi.Effective != nil {
		out.EffectivePolicyDefinition = pi.Effective
	}
	if q.Exclusive {
		out.OwnerPidDetails = &apitypes.OwnerPidDetails{}
	}
	if !stats {
		return out
	}
	rs := s.rates.get(q)
	out.MessagesDetails = rateAt(rs, qMessages)
	out.MessagesReadyDetails = rateAt(rs, qReady)
	out.MessagesUnacknowledgedDetails = rateAt(rs, qUnacked)
	p, d, a, rd := q.Stats.Published.Load(), q.Stats.Delivered.Load(), q.Stats.Acked.Load(), q.Stats.Redelivered.Load()
	if p+d+a+rd > 0 {
		out.MessageStats = &apitypes.MessageStats{
			Publish: u64(p), PublishDetails: rateAt(rs, qPublish),
			DeliverGet: u64(d), DeliverGetDetails: rateAt(rs, qDeliverGet),
			Ack: u64(a), AckDetails: rateAt(rs, qAck),
			Redeliver: u64(rd), RedeliverDetails: rateAt(rs, qRedeliver),
		}
	}
	return out
}

func statsWanted(r *http.Request) bool { return r.URL.Query().Get("disable_stats") != "true" }

// visibleVhosts lists the vhosts whose objects the caller sees: the one
// named in the path (404 if missing), or every one it may see.
func (s *Server) visibleVhosts(r *http.Request, c *caller) ([]*broker.Vhost, error) {
	if name := pathValue(r, "vhost"); name != "" {
		v := s.cfg.Broker.Vhost(name)
		if v == nil {
			return nil, errNotFound
		}
		return []*broker.Vhost{v}, nil
	}
	var out []*broker.Vhost
	for _, v := range s.cfg.Broker.Vhosts() {
		if s.canSee(c, v.Name) {
			out = append(out, v)
		}
	}
	return out, nil
}

func (s *Server) listQueues(w http.ResponseWriter, r *http.Request, c *caller) error {
	vs, err := s.visibleVhosts(r, c)
	if err != nil {
		return err
	}
	stats := statsWanted(r)
	var qs []*broker.Queue
	var keys []lazyKey
	for _, v := range vs {
		for _, q := range v.Queues() {
			qs = append(qs, q)
			keys = append(keys, lazyKey{v.Name, q.Name})
		}
	}
	now := idleSince(time.Now())
	return replyLazy(w, r, keys, func(i int) apitypes.Queue { return s.queueJSONAt(qs[i], stats, now) })
}

func (s *Server) vhostOf(r *http.Request) (*broker.Vhost, error) {
	v := s.cfg.Broker.Vhost(pathValue(r, "vhost"))
	if v == nil {
		return nil, errNotFound
	}
	return v, nil
}

func (s *Server) queueOf(r *http.Request) (*broker.Queue, error) {
	v, err := s.vhostOf(r)
	if err != nil {
		return nil, err
	}
	q := v.Queue(pathValue(r, "queue"))
	if q == nil {
		return nil, errNotFound
	}
	return q, nil
}

func (s *Server) getQueue(w http.ResponseWriter, r *http.Request, c *caller) error {
	q, err := s.queueOf(r)
	if err != nil {
		return err
	}
	out := s.queueJSON(q, statsWanted(r))
	out.ConsumerDetails = []apitypes.Consumer{}
	if s.cfg.AMQP != nil {
		for _, k := range s.cfg.AMQP.Consumers() {
			if k.Queue == q {
				out.ConsumerDetails = append(out.ConsumerDetails, s.consumerJSON(k))
			}
		}
	}
	out.Incoming, out.Deliveries = []any{}, []any{}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (s *Server) putQueue(w http.ResponseWriter, r *http.Request, c *caller) error {
	v, err := s.vhostOf(r)
	if err != nil {
		return err
	}
	b, err := decodeBody(r)
	if err != nil {
		return err
	}
	durable, err := b.boolean("durable", true)
	if err != nil {
		return err
	}
	autoDelete, err := b.boolean("auto_delete", false)
	if err != nil {
		return err
	}
	args, err := b.arguments()
	if err != nil {
		return err
	}
	name := pathValue(r, "queue")
	existed := v.Queue(name) != nil
	if _, err := s.cfg.Broker.Apply(&broker.Command{Op: broker.OpDeclareQueue, Vhost: v.Name, Name: name,
		Durable: durable, AutoDelete: autoDelete, Args: args}); err != nil {
		return err
	}
	if existed {
		w.WriteHeader(http.StatusNoContent)
	} else {
		w.WriteHeader(http.StatusCreated)
	}
	return nil
}

func (s *Server) deleteQueue(w http.ResponseWriter, r *http.Request, c *caller) error {
	q, err := s.queueOf(r)
	if err != nil {
		return err
	}
	qs := r.URL.Query()
	_, err = s.cfg.Broker.Apply(&broker.Command{Op: broker.OpDeleteQueue, Vhost: q.Vhost.Name, Name: q.Name,
		IfUnused: qs.Get("if-unused") == "true", IfEmpty: qs.Get("if-empty") == "true", Owner: q.Owner})
	if err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) purgeQueue(w http.ResponseWriter, r *http.Request, c *caller) error {
	q, err := s.queueOf(r)
	if err != nil {
		return err
	}
	q.Purge()
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) queueActions(w http.ResponseWriter, r *http.Request, c *caller) error {
	if _, err := s.queueOf(r); err != nil {
		return err
	}
	var body apitypes.QueueAction
	if err := decode(r, &body); err != nil {
		return err
	}
	switch body.Action {
	case "sync", "cancel_sync":
		w.WriteHeader(http.StatusNoContent)
		return nil
	}
	return badRequest("Unknown action %q", body.Action)
}

// nopSink is the delivery side of the API's own short-lived sessions,
// which only use basic.get.
type nopSink struct{}

func (nopSink) Deliver(broker.Delivery)  {}
func (nopSink) Writable() bool           { return true }
func (nopSink) ConsumerCancelled(string) {}

func (s *Server) getMessages(w http.ResponseWriter, r *http.Request, c *caller) error {
	q, err := s.queueOf(r)
	if err != nil {
		return err
	}
	b, err := decodeBody(r)
	if err != nil {
		return err
	}
	body := apitypes.GetBody{Count: 1, Ackmode: "ack_requeue_true", Encoding: "auto"}
	if n, err := b.integer("count", 1); err != nil {
		return err
	} else {
		body.Count = int(n)
	}
	if b.has("ackmode") {
		body.Ackmode = b.str("ackmode")
	}
	if b.has("encoding") {
		body.Encoding = b.str("encoding")
	}
	if b.has("truncate") && b["truncate"] != nil {
		n, err := b.integer("truncate", 0)
		if err != nil {
			return err
		}
		t := int(n)
		body.Truncate = &t
	}
	var requeue, reject bool
	switch body.Ackmode {
	case "ack_requeue_true":
		requeue = true
	case "ack_requeue_false":
	case "reject_requeue_true":
		requeue, reject = true, true
	case "reject_requeue_false":
		reject = true
	default:
		return badRequest("Unknown ackmode: %s", body.Ackmode)
	}
	if body.Encoding != "auto" && body.Encoding != "base64" {
		return badRequest("Unknown encoding: %s", body.Encoding)
	}
	if q.Exclusive {
		return notAuthorised("Access refused.")
	}
	sess := broker.NewSession(nopSink{})
	defer sess.Close()
	out := []apitypes.GetMessage{}
	var last uint64
	for n := 0; n < body.Count; n++ {
		d, ok := q.Get(sess, false)
		if !ok {
			break
		}
		last = d.DeliveryTag
		out = append(out, getMessageJSON(&d, body))
	}
	if last > 0 {
		if requeue || reject {
			err = sess.Nack(last, true, requeue)
		} else {
			err = sess.Ack(last, true)
		}
		if err != nil {
			return err
		}
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func getMessageJSON(d *broker.Delivery, body apitypes.GetBody) apitypes.GetMessage {
	m := d.Msg
	var p amqp.Properties
	_, _ = p.Decode(m.Props)
	payload := m.Body
	if body.Truncate != nil && *body.Truncate >= 0 && len(payload) > *body.Truncate {
		payload = payload[:*body.Truncate]
	}
	out := apitypes.GetMessage{
		PayloadBytes: len(m.Body), Redelivered: d.Redelivered, Exchange: m.Exchange, RoutingKey: m.RoutingKey,
		MessageCount: d.MessageCount, Properties: propsJSON(&p),
	}
	if body.Encoding == "auto" && utf8.Valid(payload) {
		out.Payload, out.PayloadEncoding = string(payload), "string"
	} else {
		out.Payload, out.PayloadEncoding = base64.StdEncoding.EncodeToString(payload), "base64"
	}
	return out
}
