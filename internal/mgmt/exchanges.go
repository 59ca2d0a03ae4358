package mgmt

import (
	"encoding/base64"
	"net/http"
	"net/url"
	"strings"

	"github.com/warrenmq/warren/internal/amqp"
	"github.com/warrenmq/warren/internal/broker"
	"github.com/warrenmq/warren/internal/mgmt/apitypes"
)

// exchangeName maps the URL name of the default exchange, amq.default.
func exchangeName(s string) string {
	if s == "amq.default" {
		return ""
	}
	return s
}

func (s *Server) exchangeJSON(x *broker.Exchange, stats bool) apitypes.Exchange {
	out := apitypes.Exchange{Name: x.Name, Vhost: x.Vhost.Name, Type: x.Kind, Durable: x.Durable,
		AutoDelete: x.AutoDelete, Internal: x.Internal, Arguments: tableJSON(x.Args), Policy: x.PolicyInfo().Policy}
	if n, ok := x.MessagesDelayed(); ok {
		out.MessagesDelayed = &n
	}
	if !stats {
		return out
	}
	in, o := x.Stats.PublishIn.Load(), x.Stats.PublishOut.Load()
	if in+o > 0 {
		rs := s.rates.get(x)
		out.MessageStats = &apitypes.MessageStats{
			PublishIn: u64(in), PublishInDetails: rateAt(rs, xIn),
			PublishOut: u64(o), PublishOutDetails: rateAt(rs, xOut),
		}
	}
	return out
}

func (s *Server) listExchanges(w http.ResponseWriter, r *http.Request, c *caller) error {
	vs, err := s.visibleVhosts(r, c)
	if err != nil {
		return err
	}
	stats := statsWanted(r)
	var out []apitypes.Exchange
	for _, v := range vs {
		for _, x := range v.Exchanges() {
			out = append(out, s.exchangeJSON(x, stats))
		}
	}
	return replyList(w, r, out)
}

func (s *Server) exchangeOf(r *http.Request, param string) (*broker.Exchange, error) {
	v, err := s.vhostOf(r)
	if err != nil {
		return nil, err
	}
	x := v.Exchange(exchangeName(pathValue(r, param)))
	if x == nil {
		return nil, errNotFound
	}
	return x, nil
}

func (s *Server) getExchange(w http.ResponseWriter, r *http.Request, c *caller) error {
	x, err := s.exchangeOf(r, "exchange")
	if err != nil {
		return err
	}
	out := s.exchangeJSON(x, statsWanted(r))
	writeJSON(w, http.StatusOK, struct {
		apitypes.Exchange
		Incoming []any `json:"incoming"`
		Outgoing []any `json:"outgoing"`
	}{out, []any{}, []any{}})
	return nil
}

func (s *Server) putExchange(w http.ResponseWriter, r *http.Request, c *caller) error {
	v, err := s.vhostOf(r)
	if err != nil {
		return err
	}
	b, err := decodeBody(r)
	if err != nil {
		return err
	}
	kind := b.str("type")
	if kind == "" {
		return badRequest("key_missing: type")
	}
	durable, err := b.boolean("durable", true)
	if err != nil {
		return err
	}
	autoDelete, err := b.boolean("auto_delete", false)
	if err != nil {
		return err
	}
	internal, err := b.boolean("internal", false)
	if err != nil {
		return err
	}
	args, err := b.arguments()
	if err != nil {
		return err
	}
	name := exchangeName(pathValue(r, "exchange"))
	existed := v.Exchange(name) != nil
	if _, err := s.cfg.Broker.Apply(&broker.Command{Op: broker.OpDeclareExchange, Vhost: v.Name, Name: name,
		Type: kind, Durable: durable, AutoDelete: autoDelete, Internal: internal, Args: args}); err != nil {
		return err
	}
	if existed {
		w.WriteHeader(http.StatusNoContent)
	} else {
		w.WriteHeader(http.StatusCreated)
	}
	return nil
}

func (s *Server) deleteExchange(w http.ResponseWriter, r *http.Request, c *caller) error {
	x, err := s.exchangeOf(r, "exchange")
	if err != nil {
		return err
	}
	if _, err := s.cfg.Broker.Apply(&broker.Command{Op: broker.OpDeleteExchange, Vhost: x.Vhost.Name, Name: x.Name,
		IfUnused: r.URL.Query().Get("if-unused") == "true"}); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) publish(w http.ResponseWriter, r *http.Request, c *caller) error {
	x, err := s.exchangeOf(r, "exchange")
	if err != nil {
		return err
	}
	var body apitypes.PublishBody
	if err := decode(r, &body); err != nil {
		return err
	}
	var payload []byte
	switch body.PayloadEncoding {
	case "string", "":
		payload = []byte(body.Payload)
	case "base64":
		if payload, err = base64.StdEncoding.DecodeString(body.Payload); err != nil {
			return badRequest("payload is not valid base64")
		}
	default:
		return badRequest("unsupported payload_encoding %q", body.PayloadEncoding)
	}
	props, err := jsonProps(body.Properties)
	if err != nil {
		return badRequest("%v", err)
	}
	raw, err := amqp.AppendProperties(nil, props)
	if err != nil {
		return badRequest("%v", err)
	}
	if _, err := x.Vhost.ExchangeForPublish(x.Name); err != nil {
		return err
	}
	m := &broker.Message{Exchange: x.Name, RoutingKey: body.RoutingKey, Props: raw, Body: payload}
	sum, err := amqp.ScanProperties(raw)
	if err != nil {
		return badRequest("%v", err)
	}
	if err := m.ApplySummary(&sum); err != nil {
		return badRequest("%v", err)
	}
	res, err := x.Vhost.Publish(x, m, &broker.Scratch{})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, apitypes.Routed{Routed: res.Routed > 0})
	return nil
}

// --- bindings ---

// propertiesKey is RabbitMQ's binding id in URLs: the routing key (with
// "~" for an empty one when there are no arguments), plus "~" and a hash
// of the arguments when there are some.
func propertiesKey(key string, args map[string]any) string {
	if len(args) == 0 {
		if key == "" {
			return "~"
		}
		return quoteKey(key)
	}
	return quoteKey(key) + "~" + argsHash(args)
}

// quoteKey escapes as RabbitMQ's quote_binding: quote_plus, then "~" as
// "%7E" (so "~" separates key and arguments unambiguously).
func quoteKey(s string) string {
	return strings.ReplaceAll(url.QueryEscape(s), "~", "%7E")
}

func argsHash(args map[string]any) string {
	b, _ := amqp.AppendTable(nil, args)
	var h uint32 = 2166136261
	for _, c := range b {
		h ^= uint32(c)
		h *= 16777619
	}
	const digits = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
	var out []byte
	for h > 0 {
		out = append(out, digits[h%62])
		h /= 62
	}
	return string(out)
}

func bindingJSON(v string, bd *broker.Binding) apitypes.Binding {
	out := apitypes.Binding{Source: bd.Source.Name, Vhost: v, RoutingKey: bd.Key, Arguments: tableJSON(bd.Args)}
	if bd.Dest.Queue != nil {
		out.Destination, out.DestinationType = bd.Dest.Queue.Name, "queue"
	} else {
		out.Destination, out.DestinationType = bd.Dest.Exchange.Name, "exchange"
	}
	out.PropertiesKey = propertiesKey(bd.Key, bd.Args)
	return out
}

// defaultBindings are the implicit bindings of every queue to the default
// exchange, which RabbitMQ lists.
func defaultBinding(q *broker.Queue) apitypes.Binding {
	return apitypes.Binding{Source: "", Vhost: q.Vhost.Name, Destination: q.Name, DestinationType: "queue",
		RoutingKey: q.Name, Arguments: map[string]any{}, PropertiesKey: quoteKey(q.Name)}
}

func (s *Server) listBindings(w http.ResponseWriter, r *http.Request, c *caller) error {
	vs, err := s.visibleVhosts(r, c)
	if err != nil {
		return err
	}
	var out []apitypes.Binding
	for _, v := range vs {
		for _, q := range v.Queues() {
			out = append(out, defaultBinding(q))
		}
		for _, bd := range v.Bindings() {
			out = append(out, bindingJSON(v.Name, bd))
		}
	}
	return replyList(w, r, out, "vhost", "source", "destination", "routing_key", "properties_key")
}

func (s *Server) exchangeBindings(source bool) endpoint {
	return func(w http.ResponseWriter, r *http.Request, c *caller) error {
		x, err := s.exchangeOf(r, "exchange")
		if err != nil {
			return err
		}
		bs := x.IncomingBindings()
		if source {
			bs = x.Bindings()
		}
		out := []apitypes.Binding{}
		for _, bd := range bs {
			out = append(out, bindingJSON(x.Vhost.Name, bd))
		}
		return replyList(w, r, out, "vhost", "source", "destination", "routing_key", "properties_key")
	}
}

func (s *Server) queueBindings(w http.ResponseWriter, r *http.Request, c *caller) error {
	q, err := s.queueOf(r)
	if err != nil {
		return err
	}
	out := []apitypes.Binding{defaultBinding(q)}
	for _, bd := range q.Bindings() {
		out = append(out, bindingJSON(q.Vhost.Name, bd))
	}
	return replyList(w, r, out, "vhost", "source", "destination", "routing_key", "properties_key")
}

// bindingEnds resolves /bindings/{vhost}/e/{source}/{dtype}/{destination}.
func (s *Server) bindingEnds(r *http.Request) (v *broker.Vhost, src *broker.Exchange, dtype, dest string, err error) {
	if v, err = s.vhostOf(r); err != nil {
		return
	}
	src = v.Exchange(exchangeName(pathValue(r, "source")))
	dest = pathValue(r, "destination")
	switch pathValue(r, "dtype") {
	case "q":
		dtype = broker.DestQueue
		if v.Queue(dest) == nil {
			err = errNotFound
		}
	case "e":
		dtype = broker.DestExchange
		dest = exchangeName(dest)
		if v.Exchange(dest) == nil {
			err = errNotFound
		}
	default:
		err = errNotFound
	}
	if src == nil {
		err = errNotFound
	}
	return
}

func matchingBindings(src *broker.Exchange, dtype, dest string) []*broker.Binding {
	var out []*broker.Binding
	for _, bd := range src.Bindings() {
		if dtype == broker.DestQueue && bd.Dest.Queue != nil && bd.Dest.Queue.Name == dest ||
			dtype == broker.DestExchange && bd.Dest.Exchange != nil && bd.Dest.Exchange.Name == dest {
			out = append(out, bd)
		}
	}
	return out
}

func (s *Server) listBindingsBetween(w http.ResponseWriter, r *http.Request, c *caller) error {
	v, src, dtype, dest, err := s.bindingEnds(r)
	if err != nil {
		return err
	}
	out := []apitypes.Binding{}
	for _, bd := range matchingBindings(src, dtype, dest) {
		out = append(out, bindingJSON(v.Name, bd))
	}
	return replyList(w, r, out, "vhost", "source", "destination", "routing_key", "properties_key")
}

func (s *Server) createBinding(w http.ResponseWriter, r *http.Request, c *caller) error {
	v, src, dtype, dest, err := s.bindingEnds(r)
	if err != nil {
		return err
	}
	b, err := decodeBody(r)
	if err != nil {
		return err
	}
	args, err := b.arguments()
	if err != nil {
		return err
	}
	key := b.str("routing_key")
	if _, err := s.cfg.Broker.Apply(&broker.Command{Op: broker.OpBind, Vhost: v.Name, Source: src.Name,
		Destination: dest, DestType: dtype, Key: key, Args: args}); err != nil {
		return err
	}
	d := "q"
	if dtype == broker.DestExchange {
		d = "e"
	}
	w.Header().Set("Location", d+"/"+url.PathEscape(dest)+"/"+propertiesKey(key, args))
	w.WriteHeader(http.StatusCreated)
	return nil
}

func (s *Server) bindingOf(r *http.Request) (*broker.Vhost, *broker.Binding, error) {
	v, src, dtype, dest, err := s.bindingEnds(r)
	if err != nil {
		return nil, nil, err
	}
	props := pathValue(r, "props")
	for _, bd := range matchingBindings(src, dtype, dest) {
		if pk := propertiesKey(bd.Key, bd.Args); pk == props || unquote(pk) == props {
			return v, bd, nil
		}
	}
	return nil, nil, errNotFound
}

func unquote(s string) string {
	u, err := url.QueryUnescape(s)
	if err != nil {
		return s
	}
	return u
}

func (s *Server) getBinding(w http.ResponseWriter, r *http.Request, c *caller) error {
	v, bd, err := s.bindingOf(r)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, bindingJSON(v.Name, bd))
	return nil
}

func (s *Server) deleteBinding(w http.ResponseWriter, r *http.Request, c *caller) error {
	v, bd, err := s.bindingOf(r)
	if err != nil {
		return err
	}
	cmd := &broker.Command{Op: broker.OpUnbind, Vhost: v.Name, Source: bd.Source.Name, Key: bd.Key, Args: bd.Args}
	if bd.Dest.Queue != nil {
		cmd.DestType, cmd.Destination, cmd.Owner = broker.DestQueue, bd.Dest.Queue.Name, bd.Dest.Queue.Owner
	} else {
		cmd.DestType, cmd.Destination = broker.DestExchange, bd.Dest.Exchange.Name
	}
	if _, err := s.cfg.Broker.Apply(cmd); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
