package mgmt

import (
	"net/http"
	"runtime"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/warrenmq/warren/internal/amqpserver"
)

// Prometheus metrics with the names of RabbitMQ's rabbitmq_prometheus
// plugin (prometheus_rabbitmq_core_metrics_collector.erl). /metrics is
// aggregated, as the plugin's default: one sample per metric, summed over
// every queue, channel and connection. /metrics/per-object has one sample
// per object, labelled like the plugin's per-object endpoint: queues by
// vhost and queue, channels by channel, connections by connection.
// Counters of closed channels and connections are kept in the aggregated
// totals, so they never go backwards.

// MetricsHandler registers Warren's collectors, the Go runtime collector
// and the process collector on reg and returns the handler of the metrics
// listener: /metrics (aggregated) and /metrics/per-object.
func (s *Server) MetricsHandler(reg *prometheus.Registry) (http.Handler, error) {
	for _, c := range []prometheus.Collector{
		&collector{s: s},
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	per := prometheus.NewRegistry()
	if err := per.Register(&collector{s: s, perObject: true}); err != nil {
		return nil, err
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	mux.Handle("GET /metrics/per-object", promhttp.HandlerFor(prometheus.Gatherers{per, reg}, promhttp.HandlerOpts{}))
	return mux, nil
}

type collector struct {
	s         *Server
	perObject bool
}

// Describe sends nothing: the collector is unchecked, since per-object
// metrics come and go with the objects.
func (c *collector) Describe(chan<- *prometheus.Desc) {}

type metric struct {
	name, help string
	counter    bool
}

func (m metric) desc(labels ...string) *prometheus.Desc {
	return prometheus.NewDesc("rabbitmq_"+m.name, m.help, labels, nil)
}

func (m metric) typ() prometheus.ValueType {
	if m.counter {
		return prometheus.CounterValue
	}
	return prometheus.GaugeValue
}

var (
	mQueueReady     = metric{"queue_messages_ready", "Messages ready to be delivered to consumers", false}
	mQueueUnacked   = metric{"queue_messages_unacked", "Messages delivered to consumers but not yet acknowledged", false}
	mQueueMessages  = metric{"queue_messages", "Sum of ready and unacknowledged messages - total queue depth", false}
	mQueueConsumers = metric{"queue_consumers", "Consumers on a queue", false}
	mQueueBytes     = metric{"queue_messages_bytes", "Size in bytes of ready and unacknowledged messages", false}
	mQueueRdyBytes  = metric{"queue_messages_ready_bytes", "Size in bytes of ready messages", false}
	mQueuePublished = metric{"queue_messages_published_total", "Total number of messages published to queues", true}

	mChPublished = metric{"channel_messages_published_total", "Total number of messages published into an exchange on a channel", true}
	mChConfirmed = metric{"channel_messages_confirmed_total", "Total number of messages published into an exchange and confirmed on the channel", true}
	mChReturned  = metric{"channel_messages_unroutable_returned_total", "Total number of messages published as mandatory into an exchange and returned to the publisher as unroutable", true}
	mChDropped   = metric{"channel_messages_unroutable_dropped_total", "Total number of messages published as non-mandatory into an exchange and dropped as unroutable", true}
	mChGetAck    = metric{"channel_get_ack_total", "Total number of messages fetched with basic.get in manual acknowledgement mode", true}
	mChGet       = metric{"channel_get_total", "Total number of messages fetched with basic.get in automatic acknowledgement mode", true}
	mChDelivAck  = metric{"channel_messages_delivered_ack_total", "Total number of messages delivered to consumers in manual acknowledgement mode", true}
	mChDeliv     = metric{"channel_messages_delivered_total", "Total number of messages delivered to consumers in automatic acknowledgement mode", true}
	mChRedeliv   = metric{"channel_messages_redelivered_total", "Total number of messages redelivered to consumers", true}
	mChAcked     = metric{"channel_messages_acked_total", "Total number of messages acknowledged by consumers", true}
	mChGetEmpty  = metric{"channel_get_empty_total", "Total number of times basic.get operations fetched no message", true}

	mChConsumers   = metric{"channel_consumers", "Consumers on a channel", false}
	mChUnacked     = metric{"channel_messages_unacked", "Delivered but not yet acknowledged messages", false}
	mChUnconfirmed = metric{"channel_messages_unconfirmed", "Published but not yet confirmed messages", false}
	mChPrefetch    = metric{"consumer_prefetch", "Limit of unacknowledged messages for each consumer", false}
	mChGlobalPref  = metric{"channel_prefetch", "Total limit of unacknowledged messages for all consumers on a channel", false}

	mConnIn       = metric{"connection_incoming_bytes_total", "Total number of bytes received on a connection", true}
	mConnOut      = metric{"connection_outgoing_bytes_total", "Total number of bytes sent on a connection", true}
	mConnInPkts   = metric{"connection_incoming_packets_total", "Total number of packets received on a connection", true}
	mConnOutPkts  = metric{"connection_outgoing_packets_total", "Total number of packets sent on a connection", true}
	mConnPending  = metric{"connection_pending_packets", "Number of packets waiting to be sent on a connection", false}
	mConnChannels = metric{"connection_channels", "Channels on a connection", false}

	mConnsOpened = metric{"connections_opened_total", "Total number of connections opened", true}
	mConnsClosed = metric{"connections_closed_total", "Total number of connections closed or terminated", true}
	mChansOpened = metric{"channels_opened_total", "Total number of channels opened", true}
	mChansClosed = metric{"channels_closed_total", "Total number of channels closed", true}

	mConnections = metric{"connections", "Connections currently open", false}
	mChannels    = metric{"channels", "Channels currently open", false}
	mConsumers   = metric{"consumers", "Consumers currently connected", false}
	mQueues      = metric{"queues", "Queues available", false}

	mOpenFDs     = metric{"process_open_fds", "Open file descriptors", false}
	mOpenSockets = metric{"process_open_tcp_sockets", "Open TCP sockets", false}
	mRSS         = metric{"process_resident_memory_bytes", "Memory used in bytes", false}
	mDiskFree    = metric{"disk_space_available_bytes", "Disk space available in bytes", false}
	mProcs       = metric{"erlang_processes_used", "Erlang processes used", false}
	mMaxFDs      = metric{"process_max_fds", "Open file descriptors limit", false}
	mMaxSockets  = metric{"process_max_tcp_sockets", "Open TCP sockets limit", false}
	mMemLimit    = metric{"resident_memory_limit_bytes", "Memory high watermark in bytes", false}
	mDiskLimit   = metric{"disk_space_available_limit_bytes", "Free disk space low watermark in bytes", false}
	mProcLimit   = metric{"erlang_processes_limit", "Erlang processes limit", false}
	mUptime      = metric{"erlang_uptime_seconds", "Node uptime", false}
	mMemAlarm    = metric{"alarms_memory_used_watermark", "is 1 if VM memory watermark threshold is exceeded", false}
	mDiskAlarm   = metric{"alarms_free_disk_space_watermark", "is 1 if free disk space is below threshold", false}
	mIdentity    = metric{"identity_info", "RabbitMQ node & cluster identity info", false}
	mBuild       = metric{"build_info", "RabbitMQ & Erlang/OTP version info", false}
)

func (c *collector) Collect(ch chan<- prometheus.Metric) {
	s := c.s
	emit := func(m metric, v float64, labels ...string) {
		var names []string
		switch len(labels) {
		case 1:
			if !strings.HasPrefix(m.name, "connection") {
				names = []string{"channel"}
			} else {
				names = []string{"connection"}
			}
		case 2:
			names = []string{"vhost", "queue"}
		}
		ch <- prometheus.MustNewConstMetric(m.desc(names...), m.typ(), v, labels...)
	}
	b2f := func(b bool) float64 {
		if b {
			return 1
		}
		return 0
	}

	// Queues.
	var qt struct{ ready, unacked, consumers, bytes, readyBytes, published, queues float64 }
	for _, v := range s.cfg.Broker.Vhosts() {
		for _, q := range v.Queues() {
			i := q.Info()
			pub := float64(q.Stats.Published.Load())
			if c.perObject {
				emit(mQueueReady, float64(i.Ready), v.Name, q.Name)
				emit(mQueueUnacked, float64(i.Unacked), v.Name, q.Name)
				emit(mQueueMessages, float64(i.Ready+i.Unacked), v.Name, q.Name)
				emit(mQueueConsumers, float64(i.Consumers), v.Name, q.Name)
				emit(mQueueBytes, float64(i.ReadyBytes), v.Name, q.Name)
				emit(mQueueRdyBytes, float64(i.ReadyBytes), v.Name, q.Name)
				emit(mQueuePublished, pub, v.Name, q.Name)
			}
			qt.ready += float64(i.Ready)
			qt.unacked += float64(i.Unacked)
			qt.consumers += float64(i.Consumers)
			qt.bytes += float64(i.ReadyBytes)
			qt.readyBytes += float64(i.ReadyBytes)
			qt.published += pub
			qt.queues++
		}
	}
	if !c.perObject {
		emit(mQueueReady, qt.ready)
		emit(mQueueUnacked, qt.unacked)
		emit(mQueueMessages, qt.ready+qt.unacked)
		emit(mQueueConsumers, qt.consumers)
		emit(mQueueBytes, qt.bytes)
		emit(mQueueRdyBytes, qt.readyBytes)
		emit(mQueuePublished, qt.published)
	}

	// Channels and connections.
	var t amqpserver.Totals
	var consumers int
	if a := s.cfg.AMQP; a != nil {
		t = a.Totals()
		chans := a.Channels()
		var cg struct{ consumers, unacked, unconfirmed, prefetch, global float64 }
		for _, x := range chans {
			consumers += x.Consumers
			cg.consumers += float64(x.Consumers)
			cg.unacked += float64(x.Unacked)
			cg.unconfirmed += float64(x.Unconfirmed)
			cg.prefetch += float64(x.Prefetch)
			cg.global += float64(x.GlobalPrefetch)
			if c.perObject {
				n := x.Name
				emitCounters(emit, x.Counters, n)
				emit(mChConsumers, float64(x.Consumers), n)
				emit(mChUnacked, float64(x.Unacked), n)
				emit(mChUnconfirmed, float64(x.Unconfirmed), n)
				emit(mChPrefetch, float64(x.Prefetch), n)
				emit(mChGlobalPref, float64(x.GlobalPrefetch), n)
			}
		}
		var ct struct{ inPkts, outPkts, pending, channels float64 }
		for _, x := range a.Connections() {
			ct.inPkts += float64(x.RecvCnt)
			ct.outPkts += float64(x.SendCnt)
			ct.pending += float64(x.SendPend)
			ct.channels += float64(x.Channels)
			if c.perObject {
				n := x.Name
				emit(mConnIn, float64(x.RecvOct), n)
				emit(mConnOut, float64(x.SendOct), n)
				emit(mConnInPkts, float64(x.RecvCnt), n)
				emit(mConnOutPkts, float64(x.SendCnt), n)
				emit(mConnPending, float64(x.SendPend), n)
				emit(mConnChannels, float64(x.Channels), n)
			}
		}
		if !c.perObject {
			emitCounters(emit, t.Counters)
			emit(mChConsumers, cg.consumers)
			emit(mChUnacked, cg.unacked)
			emit(mChUnconfirmed, cg.unconfirmed)
			emit(mChPrefetch, cg.prefetch)
			emit(mChGlobalPref, cg.global)
			emit(mConnIn, float64(t.RecvOct))
			emit(mConnOut, float64(t.SendOct))
			emit(mConnInPkts, ct.inPkts)
			emit(mConnOutPkts, ct.outPkts)
			emit(mConnPending, ct.pending)
			emit(mConnChannels, ct.channels)
		}
	}
	if c.perObject {
		return // the aggregated registry, gathered alongside, has the rest
	}
	emit(mConnsOpened, float64(t.ConnectionsOpened))
	emit(mConnsClosed, float64(t.ConnectionsClosed))
	emit(mChansOpened, float64(t.ChannelsOpened))
	emit(mChansClosed, float64(t.ChannelsClosed))
	emit(mConnections, float64(t.Connections))
	emit(mChannels, float64(t.Channels))
	emit(mConsumers, float64(consumers))
	emit(mQueues, qt.queues)

	// Node.
	n := s.node()
	emit(mOpenFDs, float64(n.FDUsed))
	emit(mOpenSockets, float64(n.SocketsUsed))
	emit(mRSS, float64(n.MemUsed))
	emit(mDiskFree, float64(n.DiskFree))
	emit(mProcs, float64(runtime.NumGoroutine()))
	emit(mMaxFDs, float64(n.FDTotal))
	emit(mMaxSockets, float64(n.SocketsTotal))
	emit(mMemLimit, float64(n.MemLimit))
	emit(mDiskLimit, float64(n.DiskFreeLimit))
	emit(mProcLimit, float64(n.ProcTotal))
	emit(mUptime, time.Since(s.started).Seconds())
	emit(mMemAlarm, b2f(n.MemAlarm))
	emit(mDiskAlarm, b2f(n.DiskFreeAlarm))
	ch <- prometheus.MustNewConstMetric(prometheus.NewDesc("rabbitmq_identity_info", mIdentity.help, nil,
		prometheus.Labels{"rabbitmq_node": s.cfg.NodeName, "rabbitmq_cluster": s.clusterNameValue(),
			"rabbitmq_cluster_permanent_id": "warren-" + s.cfg.NodeName}), prometheus.GaugeValue, 1)
	ch <- prometheus.MustNewConstMetric(prometheus.NewDesc("rabbitmq_build_info", mBuild.help, nil,
		prometheus.Labels{"rabbitmq_version": rabbitVersion, "prometheus_plugin_version": rabbitVersion,
			"prometheus_client_version": "client_golang", "erlang_version": runtime.Version(),
			"product_version": s.cfg.Version}), prometheus.GaugeValue, 1)
}

func emitCounters(emit func(metric, float64, ...string), k amqpserver.ChannelCounters, labels ...string) {
	emit(mChPublished, float64(k.Published), labels...)
	emit(mChConfirmed, float64(k.Confirmed), labels...)
	emit(mChReturned, float64(k.ReturnUnroutable), labels...)
	emit(mChDropped, float64(k.DropUnroutable), labels...)
	emit(mChGetAck, float64(k.GetAck), labels...)
	emit(mChGet, float64(k.GetNoAck), labels...)
	emit(mChDelivAck, float64(k.DeliverAck), labels...)
	emit(mChDeliv, float64(k.DeliverNoAck), labels...)
	emit(mChRedeliv, float64(k.Redelivered), labels...)
	emit(mChAcked, float64(k.Acked), labels...)
	emit(mChGetEmpty, float64(k.GetEmpty), labels...)
}
