package ctl

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/spf13/pflag"
)

// The list_* verbs over queues, exchanges, bindings, connections,
// channels and consumers. Warren has no Erlang pids: a pid column shows
// what scripts use it for, the name of the object (a channel's or
// connection's) or, for a queue, the node hosting it.

func listVerbs() []*verb {
	const mon = "Monitoring, observability and health checks"
	return []*verb{
		{
			name: "list_queues", group: mon, vhost: true,
			usage:    "[--vhost <vhost>] [--online] [--offline] [--local] [--no-table-headers] [<column>, ...] [--timeout <timeout>]",
			short:    "Lists queues and their properties",
			columns:  queueColumns,
			defaults: []string{"name", "messages"},
			timeout:  60 * time.Second,
			args: `--online
	lists only queues on online (reachable) nodes
--offline
	lists only queues on offline (unreachable) nodes
--local
	only return queues hosted on the target node
`,
			flags: func(fs *pflag.FlagSet, f *verbFlags) {
				fs.BoolVar(&f.online, "online", false, "")
				fs.BoolVar(&f.offline, "offline", false, "")
				fs.BoolVar(&f.local, "local", false, "")
			},
			run: listQueues,
		},
		{
			name: "list_exchanges", group: mon, vhost: true,
			usage:    "[--vhost <vhost>] [--no-table-headers] [<column> ...] [--timeout <timeout>]",
			short:    "Lists exchanges",
			columns:  exchangeColumns,
			defaults: []string{"name", "type"},
			run: func(c *cmd) error {
				c.info("Listing exchanges for vhost %s ...", c.opts.vhost)
				return c.listInVhost("exchanges", nil)
			},
		},
		{
			name: "list_bindings", group: mon, vhost: true,
			usage:    "[--vhost <vhost>] [--no-table-headers] [<column> ...] [--timeout <timeout>]",
			short:    "Lists all bindings on a vhost",
			columns:  bindingColumns,
			defaults: []string{"source_name", "source_kind", "destination_name", "destination_kind", "routing_key", "arguments"},
			run: func(c *cmd) error {
				c.info("Listing bindings for vhost %s...", c.opts.vhost) // sic: rabbitmqctl has no space here
				return c.listInVhost("bindings", nil)
			},
		},
		{
			name: "list_connections", group: mon,
			usage:    "[--no-table-headers] [<column> ...] [--timeout <timeout>]",
			short:    "Lists AMQP 0.9.1 connections for the node",
			columns:  connectionColumns,
			defaults: []string{"user", "peer_host", "peer_port", "state"},
			run: func(c *cmd) error {
				c.info("Listing connections ...")
				return c.printList(apiPath("connections"), columnsQuery(c.cols), c.cols, nil)
			},
		},
		{
			name: "list_channels", group: mon,
			usage:    "[--no-table-headers] [<column> ...]",
			short:    "Lists all channels in the node",
			columns:  channelColumns,
			defaults: []string{"pid", "user", "consumer_count", "messages_unacknowledged"},
			run: func(c *cmd) error {
				c.info("Listing channels ...")
				return c.printList(apiPath("channels"), columnsQuery(c.cols), c.cols, nil)
			},
		},
		{
			name: "list_consumers", group: mon, vhost: true,
			usage:    "[--vhost <vhost>] [--no-table-headers] [<column> ...] [--timeout <timeout>]",
			short:    "Lists all consumers for a vhost",
			columns:  consumerColumns,
			defaults: []string{"queue_name", "channel_pid", "consumer_tag", "ack_required", "prefetch_count", "active", "arguments"},
			run: func(c *cmd) error {
				c.info("Listing consumers in vhost %s ...", c.opts.vhost)
				return c.listInVhost("consumers", nil)
			},
		},
	}
}

// columnsQuery asks the node for only the fields the columns read
// (RabbitMQ's columns= parameter), which keeps answers small with many
// queues.
func columnsQuery(cols []column, extra ...string) url.Values {
	f := apiFields(cols)
	if len(f) == 0 {
		return nil
	}
	f = append(f, extra...)
	return url.Values{"columns": {strings.Join(f, ",")}}
}

// listInVhost prints /api/<kind>/<vhost>. A vhost that does not exist
// lists nothing, as rabbitmqctl's.
func (c *cmd) listInVhost(kind string, keep func(*object) bool, extra ...string) error {
	vhost := c.opts.vhost
	err := c.printList(apiPath(kind, vhost), columnsQuery(c.cols, extra...), c.cols, keep)
	if isStatus(err, http.StatusNotFound) {
		if _, verr := c.cli.do(c.ctx, http.MethodGet, apiPath("vhosts", vhost), nil, nil); isStatus(verr, http.StatusNotFound) {
			return nil
		}
	}
	return err
}

func listQueues(c *cmd) error {
	c.info("Timeout: %s seconds ...", secs(c.timeout()))
	c.info("Listing queues for vhost %s ...", c.opts.vhost)
	f := c.flags
	var keep func(*object) bool
	var extra []string
	if f.online || f.offline || f.local {
		extra = []string{"state", "node"}
		var local string
		if f.local {
			ov, err := c.cli.overview(c.ctx)
			if err != nil {
				return err
			}
			local = ov.Node
		}
		keep = func(o *object) bool {
			down := o.get("state") == "down" || o.get("state") == "crashed" || o.get("state") == "stopped"
			if f.online && down || f.offline && !down {
				return false
			}
			return !f.local || o.get("node") == local
		}
	}
	return c.listInVhost("queues", keep, extra...)
}

// timeout is the deadline in effect for the verb.
func (c *cmd) timeout() time.Duration {
	if c.opts.timeout > 0 {
		return time.Duration(c.opts.timeout * float64(time.Second))
	}
	return c.verb.timeout
}

// orZero is a count that an older or newer API may leave out.
func orZero(o *object, fields ...string) any {
	if v := firstOf(o, fields...); v != nil {
		return v
	}
	return json.Number("0")
}

var queueColumns = []column{
	{name: "arguments"},
	{name: "auto_delete"},
	{name: "consumer_capacity"},
	{name: "consumer_utilisation"},
	{name: "consumers"},
	{name: "disk_reads", get: func(o *object) any { return orZero(o, "disk_reads", "message_stats.disk_reads") },
		need: []string{"disk_reads", "message_stats"}},
	{name: "disk_writes", get: func(o *object) any { return orZero(o, "disk_writes", "message_stats.disk_writes") },
		need: []string{"disk_writes", "message_stats"}},
	{name: "durable"},
	{name: "exclusive"},
	{name: "exclusive_consumer_pid", get: func(o *object) any { return nil }, need: []string{}},
	{name: "exclusive_consumer_tag"},
	{name: "head_message_timestamp"},
	{name: "leader"}, // replicated queues only
	{name: "members"},
	{name: "memory"},
	{name: "message_bytes"},
	{name: "message_bytes_persistent"},
	{name: "message_bytes_ram"},
	{name: "message_bytes_ready"},
	{name: "message_bytes_unacknowledged"},
	{name: "messages"},
	{name: "messages_persistent"},
	{name: "messages_ram"},
	{name: "messages_ready"},
	{name: "messages_ready_ram"},
	{name: "messages_unacknowledged"},
	{name: "messages_unacknowledged_ram"},
	{name: "name"},
	{name: "online"},
	{name: "owner_pid", field: "owner_pid_details.name"},
	{name: "pid", field: "node"},
	{name: "policy"},
	{name: "slave_pids"},
	{name: "state"},
	{name: "synchronised_slave_pids"},
	{name: "type"},
}

var exchangeColumns = []column{
	{name: "arguments"},
	{name: "auto_delete"},
	{name: "durable"},
	{name: "internal"},
	{name: "name"},
	{name: "policy"},
	{name: "type"},
}

var bindingColumns = []column{
	{name: "arguments"},
	{name: "destination_kind", field: "destination_type"},
	{name: "destination_name", field: "destination"},
	{name: "routing_key"},
	{name: "source_kind", get: func(o *object) any { return "exchange" }, need: []string{}},
	{name: "source_name", field: "source"},
}

// protocolTuple prints "AMQP 0-9-1" as rabbitmqctl prints the version
// tuple: {0,9,1}.
func protocolTuple(v any) string {
	s, ok := v.(string)
	if !ok {
		return cellText(v)
	}
	if rest, ok := strings.CutPrefix(s, "AMQP "); ok {
		if parts := strings.Split(rest, "-"); len(parts) == 3 {
			return "{" + strings.Join(parts, ",") + "}"
		}
	}
	return s
}

var connectionColumns = []column{
	{name: "auth_mechanism"},
	{name: "channel_max"},
	{name: "channels"},
	{name: "client_properties"},
	{name: "connected_at"},
	{name: "frame_max"},
	{name: "host"},
	{name: "name"},
	{name: "peer_cert_issuer"},
	{name: "peer_cert_subject"},
	{name: "peer_cert_validity"},
	{name: "peer_host"},
	{name: "peer_port"},
	{name: "pid", field: "name"},
	{name: "port"},
	{name: "protocol", table: protocolTuple},
	{name: "recv_cnt"},
	{name: "recv_oct"},
	{name: "send_cnt"},
	{name: "send_oct"},
	{name: "send_pend"},
	{name: "ssl"},
	{name: "ssl_cipher"},
	{name: "ssl_hash"},
	{name: "ssl_key_exchange"},
	{name: "ssl_protocol"},
	{name: "state"},
	{name: "timeout"},
	{name: "user"},
	{name: "vhost"},
}

var channelColumns = []column{
	{name: "acks_uncommitted"},
	{name: "confirm"},
	{name: "connection", field: "connection_details.name"},
	{name: "consumer_count"},
	{name: "global_prefetch_count"},
	{name: "messages_unacknowledged"},
	{name: "messages_uncommitted"},
	{name: "messages_unconfirmed"},
	{name: "name"},
	{name: "number"},
	{name: "pid", field: "name"},
	{name: "prefetch_count"},
	{name: "transactional"},
	{name: "user"},
	{name: "vhost"},
}

var consumerColumns = []column{
	{name: "ack_required"},
	{name: "active"},
	{name: "activity_status"},
	{name: "arguments"},
	{name: "channel_pid", field: "channel_details.name"},
	{name: "consumer_tag"},
	{name: "prefetch_count"},
	{name: "queue_name", field: "queue.name"},
}
