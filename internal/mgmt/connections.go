package mgmt

import (
	"net/http"

	"github.com/warrenmq/warren/internal/amqpserver"
	"github.com/warrenmq/warren/internal/mgmt/apitypes"
)

func (s *Server) connectionJSON(c amqpserver.ConnInfo, stats bool) apitypes.Connection {
	out := apitypes.Connection{
		Name: c.Name, Node: s.cfg.NodeName, Type: "network", User: c.User, UserWhoPerformedAction: c.User,
		Vhost: c.Vhost, Protocol: c.Protocol, AuthMechanism: c.AuthMechanism,
		Host: c.Host, Port: c.Port, PeerHost: c.PeerHost, PeerPort: c.PeerPort,
		Timeout: int(c.Heartbeat.Seconds()), FrameMax: c.FrameMax, ChannelMax: c.ChannelMax,
		ClientProperties: tableJSON(c.ClientProperties), ConnectedAt: c.ConnectedAt.UnixMilli(),
		State: c.State, Channels: c.Channels,
		RecvOct: c.RecvOct, RecvCnt: c.RecvCnt, SendOct: c.SendOct, SendCnt: c.SendCnt, SendPend: c.SendPend,
		GarbageCollection: map[string]int{},
	}
	if stats {
		rs := s.rates.get(connKey(c.Name))
		out.RecvOctDetails, out.SendOctDetails = *rateAt(rs, cRecv), *rateAt(rs, cSend)
	}
	return out
}

// ownOrMonitor: RabbitMQ's is_authorized_user for connections and
// channels: monitors see everyone's, administrators close anyone's, the
// others only their own.
func ownOrMonitor(c *caller, user string, del bool) bool {
	if del {
		return c.admin() || c.user.Name == user
	}
	return c.monitor() || c.user.Name == user
}

func (s *Server) amqp() (*amqpserver.Server, error) {
	if s.cfg.AMQP == nil {
		return nil, errNotFound
	}
	return s.cfg.AMQP, nil
}

func (s *Server) listConnections(w http.ResponseWriter, r *http.Request, c *caller) error {
	vhost := pathValue(r, "vhost")
	if vhost != "" && s.cfg.Broker.Vhost(vhost) == nil {
		return errNotFound
	}
	out := []apitypes.Connection{}
	if a := s.cfg.AMQP; a != nil {
		stats := statsWanted(r)
		for _, ci := range a.Connections() {
			if (vhost == "" || ci.Vhost == vhost) && ownOrMonitor(c, ci.User, false) {
				out = append(out, s.connectionJSON(ci, stats))
			}
		}
	}
	return replyList(w, r, out, "name")
}

func (s *Server) connectionOf(r *http.Request, c *caller, del bool) (amqpserver.ConnInfo, error) {
	a, err := s.amqp()
	if err != nil {
		return amqpserver.ConnInfo{}, err
	}
	ci, ok := a.Connection(pathValue(r, "connection"))
	if !ok {
		return ci, errNotFound
	}
	if !ownOrMonitor(c, ci.User, del) {
		return ci, notAuthorised("User not authorised to access object")
	}
	return ci, nil
}

func (s *Server) getConnection(w http.ResponseWriter, r *http.Request, c *caller) error {
	ci, err := s.connectionOf(r, c, false)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, s.connectionJSON(ci, statsWanted(r)))
	return nil
}

func (s *Server) deleteConnection(w http.ResponseWriter, r *http.Request, c *caller) error {
	ci, err := s.connectionOf(r, c, true)
	if err != nil {
		return err
	}
	reason := r.Header.Get("X-Reason")
	if reason == "" {
		reason = "Closed via management plugin"
	}
	s.cfg.AMQP.CloseConnection(ci.Name, reason)
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) channelJSON(ch amqpserver.ChanInfo, stats bool) apitypes.Channel {
	out := apitypes.Channel{
		Name: ch.Name, Node: s.cfg.NodeName, Number: ch.Number, User: ch.User, UserWhoPerformedAction: ch.User,
		Vhost:             ch.Vhost,
		ConnectionDetails: apitypes.ConnectionDetails{Name: ch.Connection, PeerHost: ch.PeerHost, PeerPort: ch.PeerPort},
		Transactional:     ch.Transactional, Confirm: ch.Confirm, ConsumerCount: ch.Consumers,
		MessagesUnacknowledged: ch.Unacked, MessagesUnconfirmed: ch.Unconfirmed,
		PrefetchCount: ch.Prefetch, GlobalPrefetchCount: ch.GlobalPrefetch, State: ch.State,
		GarbageCollection: map[string]int{},
	}
	if stats {
		out.MessageStats = channelMessageStats(ch.Counters, s.rates.get(chanKey(ch.Name)))
	}
	return out
}

func (s *Server) listChannels(w http.ResponseWriter, r *http.Request, c *caller) error {
	vhost := pathValue(r, "vhost")
	if vhost != "" && s.cfg.Broker.Vhost(vhost) == nil {
		return errNotFound
	}
	conn := pathValue(r, "connection")
	out := []apitypes.Channel{}
	if a := s.cfg.AMQP; a != nil {
		if conn != "" {
			if _, ok := a.Connection(conn); !ok {
				return errNotFound
			}
		}
		stats := statsWanted(r)
		for _, ch := range a.Channels() {
			if (vhost == "" || ch.Vhost == vhost) && (conn == "" || ch.Connection == conn) && ownOrMonitor(c, ch.User, false) {
				out = append(out, s.channelJSON(ch, stats))
			}
		}
	}
	return replyList(w, r, out, "name")
}

func (s *Server) getChannel(w http.ResponseWriter, r *http.Request, c *caller) error {
	a, err := s.amqp()
	if err != nil {
		return err
	}
	name := pathValue(r, "channel")
	for _, ch := range a.Channels() {
		if ch.Name != name {
			continue
		}
		if !ownOrMonitor(c, ch.User, false) {
			return notAuthorised("User not authorised to access object")
		}
		out := s.channelJSON(ch, statsWanted(r))
		out.ConsumerDetails = []apitypes.Consumer{}
		out.Publishes, out.Deliveries = &[]any{}, &[]any{}
		for _, k := range a.Consumers() {
			if k.Channel.Name == name {
				out.ConsumerDetails = append(out.ConsumerDetails, s.consumerJSON(k))
			}
		}
		writeJSON(w, http.StatusOK, out)
		return nil
	}
	return errNotFound
}

func (s *Server) consumerJSON(k amqpserver.ConsumerInfo) apitypes.Consumer {
	// A single-active-consumer queue's other consumers wait, as RabbitMQ
	// reports them.
	active, status := true, "up"
	if tag := k.Queue.SingleActiveConsumer(); tag != "" {
		active, status = tag == k.Tag, "single_active"
		if !active {
			status = "waiting"
		}
	}
	return apitypes.Consumer{
		ConsumerTag: k.Tag,
		ChannelDetails: apitypes.ChannelDetails{Name: k.Channel.Name, Number: k.Channel.Number,
			ConnectionName: k.Channel.Connection, PeerHost: k.Channel.PeerHost, PeerPort: k.Channel.PeerPort,
			Node: s.cfg.NodeName, User: k.Channel.User},
		Queue:       apitypes.QueueRef{Name: k.Queue.Name, Vhost: k.Queue.Vhost.Name},
		AckRequired: !k.NoAck, PrefetchCount: k.Prefetch, Exclusive: k.Exclusive, Arguments: tableJSON(k.Args),
		Active: active, ActivityStatus: status,
	}
}

func (s *Server) listConsumers(w http.ResponseWriter, r *http.Request, c *caller) error {
	vs, err := s.visibleVhosts(r, c)
	if err != nil {
		return err
	}
	ok := map[string]bool{}
	for _, v := range vs {
		ok[v.Name] = true
	}
	out := []apitypes.Consumer{}
	if a := s.cfg.AMQP; a != nil {
		for _, k := range a.Consumers() {
			if ok[k.Queue.Vhost.Name] {
				out = append(out, s.consumerJSON(k))
			}
		}
	}
	return replyList(w, r, out, "queue.vhost", "queue.name", "consumer_tag")
}
