package mgmt

import (
	"encoding/json"
	"net"
	"net/http"
	"os"
	"runtime"
	"sort"
	"strconv"
	"syscall"
	"time"

	"github.com/warrenmq/warren/internal/broker"
	"github.com/warrenmq/warren/internal/mgmt/apitypes"
	"github.com/warrenmq/warren/internal/resource"
)

// rabbitVersion is the RabbitMQ version whose management API Warren
// speaks; tools such as rabbitmqadmin look at it.
const rabbitVersion = "3.10.8"

var exchangeTypes = []apitypes.ExchangeType{
	{Name: "direct", Description: "AMQP direct exchange, as per the AMQP specification", Enabled: true},
	{Name: "fanout", Description: "AMQP fanout exchange, as per the AMQP specification", Enabled: true},
	{Name: "headers", Description: "AMQP headers exchange, as per the AMQP specification", Enabled: true},
	{Name: "topic", Description: "AMQP topic exchange, as per the AMQP specification", Enabled: true},
	{Name: "x-delayed-message", Description: "Delayed Message Exchange.", Enabled: true},
}

// listenerProtocols maps Warren's listener names to RabbitMQ's protocols.
var listenerProtocols = map[string]string{
	"amqp": "amqp", "amqps": "amqp/ssl", "http": "http", "metrics": "http/prometheus", "cluster": "clustering",
}

func (s *Server) listeners() []apitypes.Listener {
	if s.cfg.Listeners == nil {
		return []apitypes.Listener{}
	}
	var out []apitypes.Listener
	for name, addr := range s.cfg.Listeners() {
		host, port, err := net.SplitHostPort(addr)
		if err != nil {
			continue
		}
		p, _ := strconv.Atoi(port)
		proto := listenerProtocols[name]
		if proto == "" {
			proto = name
		}
		if host == "" {
			host = "::"
		}
		out = append(out, apitypes.Listener{Node: s.cfg.NodeName, Protocol: proto, IPAddress: host, Port: p,
			SocketOpts: map[string]any{}})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Protocol < out[j].Protocol })
	return out
}

func (s *Server) contexts() []apitypes.Context {
	out := []apitypes.Context{}
	for _, l := range s.listeners() {
		if l.Protocol == "http" {
			out = append(out, apitypes.Context{Node: s.cfg.NodeName, Description: "RabbitMQ Management", Path: "/",
				Port: strconv.Itoa(l.Port)})
		}
	}
	return out
}

func (s *Server) overview(w http.ResponseWriter, r *http.Request, c *caller) error {
	out := apitypes.Overview{
		ManagementVersion: rabbitVersion, ReleaseSeriesSupport: "supported", RatesMode: "basic", ExchangeTypes: exchangeTypes,
		ProductVersion: s.cfg.Version, ProductName: "Warren", RabbitMQVersion: rabbitVersion,
		ClusterName: s.clusterNameValue(), ErlangVersion: runtime.Version(), ErlangFullVersion: runtime.Version(),
		Node: s.cfg.NodeName, Listeners: s.listeners(), Contexts: s.contexts(),
		SampleRetentionPolicies: map[string][]int{"global": {600, 3600, 28800, 86400}, "basic": {600, 3600},
			"detailed": {600}},
	}
	if out.Listeners == nil {
		out.Listeners = []apitypes.Listener{}
	}
	rs := s.rates.get(totalKey{})
	// Queue totals and object counts over what the caller may see.
	for _, v := range s.cfg.Broker.Vhosts() {
		if !s.canSee(c, v.Name) {
			continue
		}
		nx, nq := v.Counts()
		out.ObjectTotals.Exchanges += nx
		out.ObjectTotals.Queues += nq
		for _, q := range v.Queues() {
			i := q.Info()
			out.QueueTotals.Messages += i.Ready + i.Unacked
			out.QueueTotals.MessagesReady += i.Ready
			out.QueueTotals.MessagesUnacknowledged += i.Unacked
			out.ObjectTotals.Consumers += i.Consumers
		}
	}
	out.QueueTotals.MessagesDetails = rateAt(rs, tMessages)
	out.QueueTotals.MessagesReadyDetails = rateAt(rs, tReady)
	out.QueueTotals.MessagesUnacknowledgedDetails = rateAt(rs, tUnacked)
	if a := s.cfg.AMQP; a != nil {
		t := a.Totals()
		out.ObjectTotals.Connections, out.ObjectTotals.Channels = t.Connections, t.Channels
		if !c.monitor() {
			out.ObjectTotals.Connections, out.ObjectTotals.Channels = 0, 0
			for _, ci := range a.Connections() {
				if ci.User == c.user.Name {
					out.ObjectTotals.Connections++
					out.ObjectTotals.Channels += ci.Channels
				}
			}
		}
		out.MessageStats = *channelMessageStats(t.Counters, rs)
		out.ChurnRates = s.churn()
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// --- nodes ---

func (s *Server) resources() resource.Status {
	if s.cfg.Resources != nil {
		return s.cfg.Resources()
	}
	st := resource.Status{MemoryUsed: resource.RSS()}
	if s.cfg.DataDir != "" {
		st.DiskFree, _ = resource.DiskFree(s.cfg.DataDir)
	}
	return st
}

func fdCounts() (used, total int) {
	if es, err := os.ReadDir("/proc/self/fd"); err == nil {
		used = len(es)
	}
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl); err == nil {
		total = int(rl.Cur)
	}
	return
}

func (s *Server) node() apitypes.Node {
	st := s.resources()
	memLimit := st.MemoryLimit
	if memLimit == 0 {
		if s.cfg.Limits.MemoryLimit > 0 {
			memLimit = s.cfg.Limits.MemoryLimit
		} else if wm := s.cfg.Limits.MemoryHighWatermark; wm > 0 {
			memLimit = int64(wm * float64(resource.TotalMemory()))
		}
	}
	fdUsed, fdTotal := fdCounts()
	sockets := 0
	if s.cfg.AMQP != nil {
		sockets = s.cfg.AMQP.ConnectionCount()
	}
	dataDir := s.cfg.DataDir
	return apitypes.Node{
		Name: s.cfg.NodeName, Type: "disc", Running: true, OSPid: strconv.Itoa(os.Getpid()),
		MemUsed: uint64(st.MemoryUsed), MemUsedDetails: &apitypes.Rate{}, MemLimit: uint64(memLimit),
		MemAlarm: st.MemoryAlarm, MemCalculationStrategy: "rss",
		DiskFree: uint64(st.DiskFree), DiskFreeDetails: &apitypes.Rate{}, DiskFreeLimit: uint64(s.cfg.Limits.DiskFreeLimit),
		DiskFreeAlarm: st.DiskAlarm,
		FDUsed:        fdUsed, FDUsedDetails: &apitypes.Rate{}, FDTotal: fdTotal,
		SocketsUsed: sockets, SocketsUsedDetails: &apitypes.Rate{}, SocketsTotal: fdTotal,
		ProcUsed: runtime.NumGoroutine(), ProcUsedDetails: &apitypes.Rate{}, ProcTotal: 1048576,
		RunQueue: 0, Processors: runtime.NumCPU(), Uptime: time.Since(s.started).Milliseconds(),
		RatesMode: "basic", NetTicktime: 60, Partitions: []string{}, ExchangeTypes: exchangeTypes,
		AuthMechanisms: []apitypes.AuthMechanism{
			{Name: "PLAIN", Description: "SASL PLAIN authentication mechanism", Enabled: true},
			{Name: "AMQPLAIN", Description: "QPid AMQPLAIN mechanism", Enabled: true},
		},
		Applications: []apitypes.Application{{Name: "warren", Description: "Warren message broker", Version: s.cfg.Version},
			{Name: "rabbit", Description: "RabbitMQ compatibility", Version: rabbitVersion}},
		Contexts: s.contexts(), LogFiles: []string{"<stdout>"}, DBDir: dataDir,
		ConfigFiles: []string{}, EnabledPlugins: []string{"rabbitmq_management", "rabbitmq_prometheus"},
		ClusterLinks: []any{}, MetricsGCQueueLength: map[string]int{},
		RaOpenFileMetrics: map[string]int{"ra_log_wal": 0, "ra_log_segment_writer": 0},
		ChurnRates:        s.churn(),
	}
}

// churn is the connection and channel churn with its rates.
func (s *Server) churn() apitypes.ChurnRates {
	if s.cfg.AMQP == nil {
		return apitypes.ChurnRates{}
	}
	t := s.cfg.AMQP.Totals()
	rs := s.rates.get(totalKey{})
	return apitypes.ChurnRates{
		ConnectionCreated: t.ConnectionsOpened, ConnectionCreatedDetails: *rateAt(rs, tConnCreated),
		ConnectionClosed: t.ConnectionsClosed, ConnectionClosedDetails: *rateAt(rs, tConnClosed),
		ChannelCreated: t.ChannelsOpened, ChannelCreatedDetails: *rateAt(rs, tChanCreated),
		ChannelClosed: t.ChannelsClosed, ChannelClosedDetails: *rateAt(rs, tChanClosed),
	}
}

func (s *Server) listNodes(w http.ResponseWriter, r *http.Request, c *caller) error {
	return replyList(w, r, []apitypes.Node{s.node()}, "name")
}

func (s *Server) getNode(w http.ResponseWriter, r *http.Request, c *caller) error {
	if pathValue(r, "node") != s.cfg.NodeName {
		return errNotFound
	}
	writeJSON(w, http.StatusOK, s.node())
	return nil
}

// clusterNameValue is the cluster_name global parameter, or the
// configured name.
func (s *Server) clusterNameValue() string {
	for _, p := range s.cfg.Broker.GlobalParameters() {
		if p.Name == "cluster_name" {
			if n, ok := rawJSON(p.Value).(string); ok && n != "" {
				return n
			}
		}
	}
	return s.cfg.ClusterName
}

func (s *Server) clusterName(w http.ResponseWriter, r *http.Request, c *caller) error {
	writeJSON(w, http.StatusOK, apitypes.ClusterName{Name: s.clusterNameValue()})
	return nil
}

func (s *Server) putClusterName(w http.ResponseWriter, r *http.Request, c *caller) error {
	b, err := decodeBody(r)
	if err != nil {
		return err
	}
	name := b.str("name")
	if name == "" {
		return badRequest("key_missing: name")
	}
	v, _ := json.Marshal(name)
	if err := s.apply(&broker.Command{Op: broker.OpSetGlobalParameter, Name: "cluster_name", Value: v}); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// --- health checks ---

func healthOK(w http.ResponseWriter) error {
	writeJSON(w, http.StatusOK, apitypes.HealthCheck{Status: "ok"})
	return nil
}

func healthFailed(w http.ResponseWriter, hc apitypes.HealthCheck) error {
	hc.Status = "failed"
	writeJSON(w, http.StatusServiceUnavailable, hc)
	return nil
}

func (s *Server) alarms() []apitypes.Alarm {
	st := s.resources()
	var out []apitypes.Alarm
	if st.MemoryAlarm {
		out = append(out, apitypes.Alarm{Node: s.cfg.NodeName, Resource: "memory"})
	}
	if st.DiskAlarm {
		out = append(out, apitypes.Alarm{Node: s.cfg.NodeName, Resource: "disk"})
	}
	if len(out) == 0 && s.cfg.AMQP != nil && s.cfg.AMQP.Alarm() != "" {
		out = append(out, apitypes.Alarm{Node: s.cfg.NodeName, Resource: "memory"})
	}
	return out
}

func (s *Server) healthAlarms(w http.ResponseWriter, r *http.Request, c *caller) error {
	if as := s.alarms(); len(as) > 0 {
		return healthFailed(w, apitypes.HealthCheck{Reason: "resource alarm(s) in effect in the cluster", Alarms: as})
	}
	return healthOK(w)
}

func (s *Server) healthLocalAlarms(w http.ResponseWriter, r *http.Request, c *caller) error {
	if as := s.alarms(); len(as) > 0 {
		return healthFailed(w, apitypes.HealthCheck{Reason: "resource alarm(s) in effect on the target node", Alarms: as})
	}
	return healthOK(w)
}

func (s *Server) healthPortListener(w http.ResponseWriter, r *http.Request, c *caller) error {
	port, err := strconv.Atoi(pathValue(r, "port"))
	if err != nil {
		return badRequest("Invalid port %s", pathValue(r, "port"))
	}
	var ports []int
	for _, l := range s.listeners() {
		if l.Port == port {
			return healthOK(w)
		}
		ports = append(ports, l.Port)
	}
	return healthFailed(w, apitypes.HealthCheck{Reason: "No active listener", Missing: strconv.Itoa(port), Ports: ports})
}

func (s *Server) healthProtocolListener(w http.ResponseWriter, r *http.Request, c *caller) error {
	proto := pathValue(r, "protocol")
	for _, l := range s.listeners() {
		if l.Protocol == proto || (proto == "amqp091" && l.Protocol == "amqp") {
			return healthOK(w)
		}
	}
	return healthFailed(w, apitypes.HealthCheck{Reason: "No active listener", Missing: proto})
}

func (s *Server) healthVhosts(w http.ResponseWriter, r *http.Request, c *caller) error {
	return healthOK(w) // every vhost of a running node is up
}

func (s *Server) healthQuorumCritical(w http.ResponseWriter, r *http.Request, c *caller) error {
	return healthOK(w) // a single node has no quorum queue replicas to lose
}

// aliveness declares the aliveness-test queue, publishes a message to it
// and gets it back, as RabbitMQ's /api/aliveness-test/{vhost}.
func (s *Server) aliveness(w http.ResponseWriter, r *http.Request, c *caller) error {
	v, err := s.vhostOf(r)
	if err != nil {
		return err
	}
	const name = "aliveness-test"
	if _, err := s.cfg.Broker.Apply(&broker.Command{Op: broker.OpDeclareQueue, Vhost: v.Name, Name: name}); err != nil {
		return err
	}
	x := v.Exchange("")
	body := []byte("test_message")
	res, err := v.Publish(x, &broker.Message{RoutingKey: name, Props: []byte{0, 0}, Body: body}, &broker.Scratch{})
	if err != nil || res.Routed == 0 {
		return healthFailed(w, apitypes.HealthCheck{Reason: "aliveness test: publish failed"})
	}
	q := v.Queue(name)
	sess := broker.NewSession(nopSink{})
	defer sess.Close()
	d, ok := q.Get(sess, true)
	if !ok || string(d.Msg.Body) != string(body) {
		return healthFailed(w, apitypes.HealthCheck{Reason: "aliveness test: message not received"})
	}
	writeJSON(w, http.StatusOK, apitypes.AlivenessTest{Status: "ok"})
	return nil
}
