// Package apitypes holds the JSON shapes of Warren's management HTTP API,
// which are RabbitMQ's (3.10): the same field names, so rabbitmqadmin,
// monitoring plugins and scripts read Warren as they read RabbitMQ. The
// server (internal/mgmt) writes them and `warren ctl` (internal/ctl) reads
// them. Standard library only.
//
// Conventions, as RabbitMQ's:
//   - counts are plain numbers; a rate sits beside its count in a
//     "<name>_details" object ({"rate": 1.5}, messages per second);
//   - timestamps are milliseconds since the Unix epoch (connected_at) or
//     "YYYY-MM-DD HH:MM:SS" strings in UTC (idle_since);
//   - AMQP field tables (arguments, client_properties) are JSON objects;
//   - optional objects are omitted when empty: message_stats is absent on
//     an object that never saw a message.
package apitypes

import (
	"encoding/json"
	"strings"
)

// Rate is a "<name>_details" object.
type Rate struct {
	Rate float64 `json:"rate"`
}

// Error is every error body: {"error":"Object Not Found","reason":"Not Found"}.
type Error struct {
	Error  string `json:"error"`
	Reason string `json:"reason"`
}

// Page is the response of a list endpoint when any of page, page_size,
// name, use_regex, sort or sort_reverse is given (RabbitMQ's paged shape).
type Page[T any] struct {
	FilteredCount int `json:"filtered_count"`
	ItemCount     int `json:"item_count"`
	Items         []T `json:"items"`
	Page          int `json:"page"`
	PageCount     int `json:"page_count"`
	PageSize      int `json:"page_size"`
	TotalCount    int `json:"total_count"`
}

// Tags is a user's tag list. RabbitMQ 3.10 writes a JSON array and accepts
// either an array or a comma-separated string ("administrator,monitoring"),
// which rabbitmqadmin and older definitions files send.
type Tags []string

// UnmarshalJSON accepts ["a","b"], "a,b", "" and null.
func (t *Tags) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err == nil {
		*t = ParseTags(s)
		return nil
	}
	var l []string
	if err := json.Unmarshal(b, &l); err != nil {
		return err
	}
	out := Tags{}
	for _, x := range l {
		out = append(out, ParseTags(x)...)
	}
	*t = out
	return nil
}

// MarshalJSON writes an array, [] when empty.
func (t Tags) MarshalJSON() ([]byte, error) {
	if t == nil {
		return []byte("[]"), nil
	}
	return json.Marshal([]string(t))
}

// ParseTags splits a comma-separated tag list, dropping blanks.
func ParseTags(s string) Tags {
	out := Tags{}
	for _, x := range strings.Split(s, ",") {
		if x = strings.TrimSpace(x); x != "" {
			out = append(out, x)
		}
	}
	return out
}

// MessageStats is the message_stats object. Which fields appear depends on
// the object: queues have publish, deliver*, get*, ack, redeliver;
// exchanges publish_in and publish_out; channels and vhosts most of them.
// Each count has its rate in the matching *_details field.
type MessageStats struct {
	Publish                 *uint64 `json:"publish,omitempty"`
	PublishDetails          *Rate   `json:"publish_details,omitempty"`
	PublishIn               *uint64 `json:"publish_in,omitempty"`
	PublishInDetails        *Rate   `json:"publish_in_details,omitempty"`
	PublishOut              *uint64 `json:"publish_out,omitempty"`
	PublishOutDetails       *Rate   `json:"publish_out_details,omitempty"`
	Confirm                 *uint64 `json:"confirm,omitempty"`
	ConfirmDetails          *Rate   `json:"confirm_details,omitempty"`
	ReturnUnroutable        *uint64 `json:"return_unroutable,omitempty"`
	ReturnUnroutableDetails *Rate   `json:"return_unroutable_details,omitempty"`
	DropUnroutable          *uint64 `json:"drop_unroutable,omitempty"`
	DropUnroutableDetails   *Rate   `json:"drop_unroutable_details,omitempty"`
	Deliver                 *uint64 `json:"deliver,omitempty"`
	DeliverDetails          *Rate   `json:"deliver_details,omitempty"`
	DeliverNoAck            *uint64 `json:"deliver_no_ack,omitempty"`
	DeliverNoAckDetails     *Rate   `json:"deliver_no_ack_details,omitempty"`
	Get                     *uint64 `json:"get,omitempty"`
	GetDetails              *Rate   `json:"get_details,omitempty"`
	GetNoAck                *uint64 `json:"get_no_ack,omitempty"`
	GetNoAckDetails         *Rate   `json:"get_no_ack_details,omitempty"`
	GetEmpty                *uint64 `json:"get_empty,omitempty"`
	GetEmptyDetails         *Rate   `json:"get_empty_details,omitempty"`
	DeliverGet              *uint64 `json:"deliver_get,omitempty"`
	DeliverGetDetails       *Rate   `json:"deliver_get_details,omitempty"`
	Ack                     *uint64 `json:"ack,omitempty"`
	AckDetails              *Rate   `json:"ack_details,omitempty"`
	Redeliver               *uint64 `json:"redeliver,omitempty"`
	RedeliverDetails        *Rate   `json:"redeliver_details,omitempty"`
	DiskReads               *uint64 `json:"disk_reads,omitempty"`
	DiskReadsDetails        *Rate   `json:"disk_reads_details,omitempty"`
	DiskWrites              *uint64 `json:"disk_writes,omitempty"`
	DiskWritesDetails       *Rate   `json:"disk_writes_details,omitempty"`
}

// QueueTotals is overview.queue_totals.
type QueueTotals struct {
	Messages                      int   `json:"messages"`
	MessagesDetails               *Rate `json:"messages_details,omitempty"`
	MessagesReady                 int   `json:"messages_ready"`
	MessagesReadyDetails          *Rate `json:"messages_ready_details,omitempty"`
	MessagesUnacknowledged        int   `json:"messages_unacknowledged"`
	MessagesUnacknowledgedDetails *Rate `json:"messages_unacknowledged_details,omitempty"`
}

// ObjectTotals is overview.object_totals.
type ObjectTotals struct {
	Channels    int `json:"channels"`
	Connections int `json:"connections"`
	Consumers   int `json:"consumers"`
	Exchanges   int `json:"exchanges"`
	Queues      int `json:"queues"`
}

// ChurnRates is overview.churn_rates.
type ChurnRates struct {
	ChannelClosed            uint64 `json:"channel_closed"`
	ChannelClosedDetails     Rate   `json:"channel_closed_details"`
	ChannelCreated           uint64 `json:"channel_created"`
	ChannelCreatedDetails    Rate   `json:"channel_created_details"`
	ConnectionClosed         uint64 `json:"connection_closed"`
	ConnectionClosedDetails  Rate   `json:"connection_closed_details"`
	ConnectionCreated        uint64 `json:"connection_created"`
	ConnectionCreatedDetails Rate   `json:"connection_created_details"`
	QueueCreated             uint64 `json:"queue_created"`
	QueueCreatedDetails      Rate   `json:"queue_created_details"`
	QueueDeclared            uint64 `json:"queue_declared"`
	QueueDeclaredDetails     Rate   `json:"queue_declared_details"`
	QueueDeleted             uint64 `json:"queue_deleted"`
	QueueDeletedDetails      Rate   `json:"queue_deleted_details"`
}

// ExchangeType is one entry of exchange_types.
type ExchangeType struct {
	Name        string `json:"name"`
	Description string `json:"description"`
	Enabled     bool   `json:"enabled"`
}

// Listener is one entry of listeners.
type Listener struct {
	Node       string         `json:"node"`
	Protocol   string         `json:"protocol"` // amqp, amqp/ssl, http, http/prometheus, clustering
	IPAddress  string         `json:"ip_address"`
	Port       int            `json:"port"`
	SocketOpts map[string]any `json:"socket_opts"`
}

// Context is one entry of contexts (an HTTP listener).
type Context struct {
	Node        string `json:"node"`
	Description string `json:"description"`
	Path        string `json:"path"`
	Port        string `json:"port"`
}

// Overview is GET /api/overview.
type Overview struct {
	ManagementVersion       string           `json:"management_version"`
	ReleaseSeriesSupport    string           `json:"release_series_support_status"`
	RatesMode               string           `json:"rates_mode"`
	SampleRetentionPolicies map[string][]int `json:"sample_retention_policies,omitempty"`
	ExchangeTypes           []ExchangeType   `json:"exchange_types"`
	ProductVersion          string           `json:"product_version"`
	ProductName             string           `json:"product_name"`
	RabbitMQVersion         string           `json:"rabbitmq_version"`
	ClusterName             string           `json:"cluster_name"`
	ErlangVersion           string           `json:"erlang_version"`
	ErlangFullVersion       string           `json:"erlang_full_version"`
	DisableStats            bool             `json:"disable_stats"`
	EnableQueueTotals       bool             `json:"enable_queue_totals"`
	MessageStats            MessageStats     `json:"message_stats"`
	ChurnRates              ChurnRates       `json:"churn_rates"`
	QueueTotals             QueueTotals      `json:"queue_totals"`
	ObjectTotals            ObjectTotals     `json:"object_totals"`
	StatisticsDBEventQueue  int              `json:"statistics_db_event_queue"`
	Node                    string           `json:"node"`
	Listeners               []Listener       `json:"listeners"`
	Contexts                []Context        `json:"contexts"`
}

// Node is an entry of GET /api/nodes and GET /api/nodes/{name}. Memory and
// file figures come from the Go runtime and /proc; the Erlang-only ones
// (proc_used: goroutines here) are the nearest equivalent.
type Node struct {
	Name                   string          `json:"name"`
	Type                   string          `json:"type"` // disc or ram
	Running                bool            `json:"running"`
	BeingDrained           bool            `json:"being_drained"`
	OSPid                  string          `json:"os_pid"`
	MemUsed                uint64          `json:"mem_used"`
	MemUsedDetails         *Rate           `json:"mem_used_details,omitempty"`
	MemLimit               uint64          `json:"mem_limit"`
	MemAlarm               bool            `json:"mem_alarm"`
	MemCalculationStrategy string          `json:"mem_calculation_strategy"`
	DiskFree               uint64          `json:"disk_free"`
	DiskFreeDetails        *Rate           `json:"disk_free_details,omitempty"`
	DiskFreeLimit          uint64          `json:"disk_free_limit"`
	DiskFreeAlarm          bool            `json:"disk_free_alarm"`
	FDUsed                 int             `json:"fd_used"`
	FDUsedDetails          *Rate           `json:"fd_used_details,omitempty"`
	FDTotal                int             `json:"fd_total"`
	SocketsUsed            int             `json:"sockets_used"`
	SocketsUsedDetails     *Rate           `json:"sockets_used_details,omitempty"`
	SocketsTotal           int             `json:"sockets_total"`
	ProcUsed               int             `json:"proc_used"`
	ProcUsedDetails        *Rate           `json:"proc_used_details,omitempty"`
	ProcTotal              int             `json:"proc_total"`
	RunQueue               int             `json:"run_queue"`
	Processors             int             `json:"processors"`
	Uptime                 int64           `json:"uptime"` // milliseconds
	RatesMode              string          `json:"rates_mode"`
	NetTicktime            int             `json:"net_ticktime"`
	Partitions             []string        `json:"partitions"`
	ExchangeTypes          []ExchangeType  `json:"exchange_types"`
	AuthMechanisms         []AuthMechanism `json:"auth_mechanisms"`
	Applications           []Application   `json:"applications"`
	Contexts               []Context       `json:"contexts"`
	Listeners              []Listener      `json:"listeners,omitempty"`
	LogFiles               []string        `json:"log_files"`
	DBDir                  string          `json:"db_dir"`
	ConfigFiles            []string        `json:"config_files"`
	EnabledPlugins         []string        `json:"enabled_plugins"`
	ClusterLinks           []any           `json:"cluster_links"`
	MetricsGCQueueLength   map[string]int  `json:"metrics_gc_queue_length"`
	RaOpenFileMetrics      map[string]int  `json:"ra_open_file_metrics"`
	ChurnRates                             // connection_created, queue_declared, ... as on the overview
}

// AuthMechanism is one entry of node.auth_mechanisms.
type AuthMechanism struct {
	Name        string `json:"name"`
	Description string `json:"description"`
	Enabled     bool   `json:"enabled"`
}

// Application is one entry of node.applications.
type Application struct {
	Name        string `json:"name"`
	Description string `json:"description"`
	Version     string `json:"version"`
}

// VhostMetadata is vhost.metadata.
type VhostMetadata struct {
	Description string `json:"description"`
	Tags        Tags   `json:"tags"`
}

// Vhost is an entry of GET /api/vhosts.
type Vhost struct {
	Name                          string            `json:"name"`
	Description                   string            `json:"description"`
	Tags                          Tags              `json:"tags"`
	DefaultQueueType              string            `json:"default_queue_type,omitempty"`
	Metadata                      VhostMetadata     `json:"metadata"`
	Tracing                       bool              `json:"tracing"`
	ClusterState                  map[string]string `json:"cluster_state"` // node name → "running"
	Messages                      int               `json:"messages"`
	MessagesDetails               *Rate             `json:"messages_details,omitempty"`
	MessagesReady                 int               `json:"messages_ready"`
	MessagesReadyDetails          *Rate             `json:"messages_ready_details,omitempty"`
	MessagesUnacknowledged        int               `json:"messages_unacknowledged"`
	MessagesUnacknowledgedDetails *Rate             `json:"messages_unacknowledged_details,omitempty"`
	MessageStats                  *MessageStats     `json:"message_stats,omitempty"`
	RecvOct                       uint64            `json:"recv_oct"`
	RecvOctDetails                *Rate             `json:"recv_oct_details,omitempty"`
	SendOct                       uint64            `json:"send_oct"`
	SendOctDetails                *Rate             `json:"send_oct_details,omitempty"`
}

// VhostBody is the body of PUT /api/vhosts/{vhost}.
type VhostBody struct {
	Description      string `json:"description,omitempty"`
	Tags             Tags   `json:"tags,omitempty"`
	DefaultQueueType string `json:"default_queue_type,omitempty"`
	Tracing          bool   `json:"tracing,omitempty"`
}

// User is an entry of GET /api/users (and GET /api/users/{name}).
type User struct {
	Name             string         `json:"name"`
	PasswordHash     string         `json:"password_hash"`
	HashingAlgorithm string         `json:"hashing_algorithm"`
	Tags             Tags           `json:"tags"`
	Limits           map[string]any `json:"limits"`
}

// UserBody is the body of PUT /api/users/{name}: password (plain) or
// password_hash (with hashing_algorithm); an empty password_hash makes a
// user that cannot log in with a password.
type UserBody struct {
	Password         *string `json:"password,omitempty"`
	PasswordHash     *string `json:"password_hash,omitempty"`
	HashingAlgorithm string  `json:"hashing_algorithm,omitempty"`
	Tags             Tags    `json:"tags"`
}

// UsersBulkDelete is the body of POST /api/users/bulk-delete.
type UsersBulkDelete struct {
	Users []string `json:"users"`
}

// Whoami is GET /api/whoami.
type Whoami struct {
	Name string `json:"name"`
	Tags Tags   `json:"tags"`
}

// Permission is an entry of GET /api/permissions; PUT
// /api/permissions/{vhost}/{user} takes configure, write and read.
type Permission struct {
	User      string `json:"user"`
	Vhost     string `json:"vhost"`
	Configure string `json:"configure"`
	Write     string `json:"write"`
	Read      string `json:"read"`
}

// TopicPermission is an entry of GET /api/topic-permissions; PUT
// /api/topic-permissions/{vhost}/{user} takes exchange, write and read.
type TopicPermission struct {
	User     string `json:"user"`
	Vhost    string `json:"vhost"`
	Exchange string `json:"exchange"`
	Write    string `json:"write"`
	Read     string `json:"read"`
}

// Exchange is an entry of GET /api/exchanges. PUT takes type, durable,
// auto_delete, internal and arguments.
type Exchange struct {
	Name                   string         `json:"name"`
	Vhost                  string         `json:"vhost"`
	Type                   string         `json:"type"`
	Durable                bool           `json:"durable"`
	AutoDelete             bool           `json:"auto_delete"`
	Internal               bool           `json:"internal"`
	Arguments              map[string]any `json:"arguments"`
	UserWhoPerformedAction string         `json:"user_who_performed_action"`
	Policy                 string         `json:"policy,omitempty"`
	MessageStats           *MessageStats  `json:"message_stats,omitempty"`
	MessagesDelayed        *int           `json:"messages_delayed,omitempty"` // x-delayed-message only
}

// ExchangeBody is the body of PUT /api/exchanges/{vhost}/{name}.
type ExchangeBody struct {
	Type       string         `json:"type"`
	Durable    *bool          `json:"durable,omitempty"` // default true
	AutoDelete bool           `json:"auto_delete"`
	Internal   bool           `json:"internal"`
	Arguments  map[string]any `json:"arguments"`
}

// PublishBody is the body of POST /api/exchanges/{vhost}/{name}/publish.
type PublishBody struct {
	Properties      map[string]any `json:"properties"`
	RoutingKey      string         `json:"routing_key"`
	Payload         string         `json:"payload"`
	PayloadEncoding string         `json:"payload_encoding"` // string or base64
}

// Routed is the answer to a publish.
type Routed struct {
	Routed bool `json:"routed"`
}

// OwnerPidDetails is queue.owner_pid_details (exclusive queues).
type OwnerPidDetails struct {
	Name     string `json:"name"`
	PeerPort int    `json:"peer_port"`
	PeerHost string `json:"peer_host"`
}

// Queue is an entry of GET /api/queues.
type Queue struct {
	Name                          string           `json:"name"`
	Vhost                         string           `json:"vhost"`
	Durable                       bool             `json:"durable"`
	AutoDelete                    bool             `json:"auto_delete"`
	Exclusive                     bool             `json:"exclusive"`
	Arguments                     map[string]any   `json:"arguments"`
	Node                          string           `json:"node"`
	Type                          string           `json:"type"` // classic
	State                         string           `json:"state"`
	Consumers                     int              `json:"consumers"`
	ConsumerCapacity              float64          `json:"consumer_capacity"`
	ConsumerUtilisation           float64          `json:"consumer_utilisation"`
	ExclusiveConsumerTag          *string          `json:"exclusive_consumer_tag"`
	SingleActiveConsumerTag       *string          `json:"single_active_consumer_tag"`
	Policy                        *string          `json:"policy"`
	OperatorPolicy                *string          `json:"operator_policy"`
	EffectivePolicyDefinition     map[string]any   `json:"effective_policy_definition"`
	IdleSince                     string           `json:"idle_since,omitempty"`
	Memory                        int              `json:"memory"`
	Messages                      int              `json:"messages"`
	MessagesDetails               *Rate            `json:"messages_details,omitempty"`
	MessagesReady                 int              `json:"messages_ready"`
	MessagesReadyDetails          *Rate            `json:"messages_ready_details,omitempty"`
	MessagesUnacknowledged        int              `json:"messages_unacknowledged"`
	MessagesUnacknowledgedDetails *Rate            `json:"messages_unacknowledged_details,omitempty"`
	MessagesRAM                   int              `json:"messages_ram"`
	MessagesReadyRAM              int              `json:"messages_ready_ram"`
	MessagesUnacknowledgedRAM     int              `json:"messages_unacknowledged_ram"`
	MessagesPersistent            int              `json:"messages_persistent"`
	MessageBytes                  int              `json:"message_bytes"`
	MessageBytesReady             int              `json:"message_bytes_ready"`
	MessageBytesUnacknowledged    int              `json:"message_bytes_unacknowledged"`
	MessageBytesRAM               int              `json:"message_bytes_ram"`
	MessageBytesPersistent        int              `json:"message_bytes_persistent"`
	HeadMessageTimestamp          *int64           `json:"head_message_timestamp"`
	Reductions                    int              `json:"reductions"`
	OwnerPidDetails               *OwnerPidDetails `json:"owner_pid_details,omitempty"`
	MessageStats                  *MessageStats    `json:"message_stats,omitempty"`
	ConsumerDetails               []Consumer       `json:"consumer_details,omitempty"` // single queue only
	Incoming                      []any            `json:"incoming,omitempty"`
	Deliveries                    []any            `json:"deliveries,omitempty"`
}

// QueueBody is the body of PUT /api/queues/{vhost}/{name}.
type QueueBody struct {
	Durable    *bool          `json:"durable,omitempty"` // default true
	AutoDelete bool           `json:"auto_delete"`
	Arguments  map[string]any `json:"arguments"`
	Node       string         `json:"node,omitempty"`
}

// QueueAction is the body of POST /api/queues/{vhost}/{name}/actions.
type QueueAction struct {
	Action string `json:"action"` // sync, cancel_sync
}

// GetBody is the body of POST /api/queues/{vhost}/{name}/get.
type GetBody struct {
	Count    int    `json:"count"`
	Ackmode  string `json:"ackmode"`  // ack_requeue_true, ack_requeue_false, reject_requeue_true, reject_requeue_false
	Encoding string `json:"encoding"` // auto or base64
	Truncate *int   `json:"truncate,omitempty"`
}

// GetMessage is one entry of the answer to a get.
type GetMessage struct {
	PayloadBytes    int            `json:"payload_bytes"`
	Redelivered     bool           `json:"redelivered"`
	Exchange        string         `json:"exchange"`
	RoutingKey      string         `json:"routing_key"`
	MessageCount    int            `json:"message_count"`
	Properties      map[string]any `json:"properties"`
	Payload         string         `json:"payload"`
	PayloadEncoding string         `json:"payload_encoding"` // string or base64
}

// Binding is an entry of GET /api/bindings.
type Binding struct {
	Source          string         `json:"source"`
	Vhost           string         `json:"vhost"`
	Destination     string         `json:"destination"`
	DestinationType string         `json:"destination_type"` // queue or exchange
	RoutingKey      string         `json:"routing_key"`
	Arguments       map[string]any `json:"arguments"`
	PropertiesKey   string         `json:"properties_key"`
}

// BindingBody is the body of POST /api/bindings/{vhost}/e/{src}/{q|e}/{dst}.
type BindingBody struct {
	RoutingKey string         `json:"routing_key"`
	Arguments  map[string]any `json:"arguments"`
}

// ClientProperties is connection.client_properties.
type ClientProperties = map[string]any

// Connection is an entry of GET /api/connections.
type Connection struct {
	Name                   string           `json:"name"`
	Node                   string           `json:"node"`
	Type                   string           `json:"type"` // network
	User                   string           `json:"user"`
	UserWhoPerformedAction string           `json:"user_who_performed_action"`
	Vhost                  string           `json:"vhost"`
	Protocol               string           `json:"protocol"` // "AMQP 0-9-1"
	AuthMechanism          string           `json:"auth_mechanism"`
	Host                   string           `json:"host"`
	Port                   int              `json:"port"`
	PeerHost               string           `json:"peer_host"`
	PeerPort               int              `json:"peer_port"`
	SSL                    bool             `json:"ssl"`
	PeerCertSubject        *string          `json:"peer_cert_subject"`
	PeerCertIssuer         *string          `json:"peer_cert_issuer"`
	PeerCertValidity       *string          `json:"peer_cert_validity"`
	SSLProtocol            *string          `json:"ssl_protocol"`
	SSLKeyExchange         *string          `json:"ssl_key_exchange"`
	SSLCipher              *string          `json:"ssl_cipher"`
	SSLHash                *string          `json:"ssl_hash"`
	Timeout                int              `json:"timeout"` // heartbeat, seconds
	FrameMax               int              `json:"frame_max"`
	ChannelMax             int              `json:"channel_max"`
	ClientProperties       ClientProperties `json:"client_properties"`
	ConnectedAt            int64            `json:"connected_at"` // ms since epoch
	State                  string           `json:"state"`        // running, blocking, blocked, flow
	Channels               int              `json:"channels"`
	RecvOct                uint64           `json:"recv_oct"`
	RecvOctDetails         Rate             `json:"recv_oct_details"`
	RecvCnt                uint64           `json:"recv_cnt"`
	SendOct                uint64           `json:"send_oct"`
	SendOctDetails         Rate             `json:"send_oct_details"`
	SendCnt                uint64           `json:"send_cnt"`
	SendPend               int              `json:"send_pend"`
	Reductions             int              `json:"reductions"`
	ReductionsDetails      Rate             `json:"reductions_details"`
	GarbageCollection      map[string]int   `json:"garbage_collection"`
}

// ConnectionDetails is channel.connection_details.
type ConnectionDetails struct {
	Name     string `json:"name"`
	PeerPort int    `json:"peer_port"`
	PeerHost string `json:"peer_host"`
}

// Channel is an entry of GET /api/channels.
type Channel struct {
	Name                   string            `json:"name"` // "<connection name> (<number>)"
	Node                   string            `json:"node"`
	Number                 int               `json:"number"`
	User                   string            `json:"user"`
	UserWhoPerformedAction string            `json:"user_who_performed_action"`
	Vhost                  string            `json:"vhost"`
	ConnectionDetails      ConnectionDetails `json:"connection_details"`
	Transactional          bool              `json:"transactional"`
	Confirm                bool              `json:"confirm"`
	ConsumerCount          int               `json:"consumer_count"`
	MessagesUnacknowledged int               `json:"messages_unacknowledged"`
	MessagesUnconfirmed    int               `json:"messages_unconfirmed"`
	MessagesUncommitted    int               `json:"messages_uncommitted"`
	AcksUncommitted        int               `json:"acks_uncommitted"`
	PrefetchCount          int               `json:"prefetch_count"`
	GlobalPrefetchCount    int               `json:"global_prefetch_count"`
	State                  string            `json:"state"` // running, flow, starting, closing
	IdleSince              string            `json:"idle_since,omitempty"`
	PendingRaftCommands    int               `json:"pending_raft_commands"`
	Reductions             int               `json:"reductions"`
	ReductionsDetails      Rate              `json:"reductions_details"`
	GarbageCollection      map[string]int    `json:"garbage_collection"`
	MessageStats           *MessageStats     `json:"message_stats,omitempty"`
	ConsumerDetails        []Consumer        `json:"consumer_details,omitempty"` // single channel only
	Publishes              *[]any            `json:"publishes,omitempty"`        // single channel only: per-exchange publish stats
	Deliveries             *[]any            `json:"deliveries,omitempty"`       // single channel only: per-queue delivery stats
}

// ChannelDetails is consumer.channel_details.
type ChannelDetails struct {
	Name           string `json:"name"`
	Number         int    `json:"number"`
	ConnectionName string `json:"connection_name"`
	PeerPort       int    `json:"peer_port"`
	PeerHost       string `json:"peer_host"`
	Node           string `json:"node"`
	User           string `json:"user"`
}

// QueueRef is consumer.queue.
type QueueRef struct {
	Name  string `json:"name"`
	Vhost string `json:"vhost"`
}

// Consumer is an entry of GET /api/consumers.
type Consumer struct {
	ConsumerTag     string         `json:"consumer_tag"`
	ChannelDetails  ChannelDetails `json:"channel_details"`
	Queue           QueueRef       `json:"queue"`
	AckRequired     bool           `json:"ack_required"`
	PrefetchCount   int            `json:"prefetch_count"`
	Exclusive       bool           `json:"exclusive"`
	Arguments       map[string]any `json:"arguments"`
	Active          bool           `json:"active"`
	ActivityStatus  string         `json:"activity_status"` // up, waiting, single_active
	ConsumerTimeout int            `json:"consumer_timeout,omitempty"`
}

// Policy is an entry of GET /api/policies; PUT
// /api/policies/{vhost}/{name} takes pattern, definition, priority and
// apply-to.
type Policy struct {
	Vhost      string         `json:"vhost"`
	Name       string         `json:"name"`
	Pattern    string         `json:"pattern"`
	ApplyTo    string         `json:"apply-to"` // all, queues, exchanges
	Definition map[string]any `json:"definition"`
	Priority   int            `json:"priority"`
}

// Parameter is an entry of GET /api/parameters (runtime parameters of a
// component such as shovel or federation-upstream).
type Parameter struct {
	Vhost     string `json:"vhost"`
	Component string `json:"component"`
	Name      string `json:"name"`
	Value     any    `json:"value"`
}

// GlobalParameter is an entry of GET /api/global-parameters.
type GlobalParameter struct {
	Name  string `json:"name"`
	Value any    `json:"value"`
}

// VhostLimits is an entry of GET /api/vhost-limits:
// {"vhost":"/","value":{"max-connections":10,"max-queues":100}}.
type VhostLimits struct {
	Vhost string         `json:"vhost"`
	Value map[string]int `json:"value"`
}

// Definitions is GET/POST /api/definitions. Per-vhost exports
// (/api/definitions/{vhost}) leave out users, vhosts, permissions and
// global parameters, and objects carry no vhost field.
type Definitions struct {
	RabbitVersion    string            `json:"rabbit_version,omitempty"`
	RabbitMQVersion  string            `json:"rabbitmq_version,omitempty"`
	ProductName      string            `json:"product_name,omitempty"`
	ProductVersion   string            `json:"product_version,omitempty"`
	Users            []DefUser         `json:"users,omitempty"`
	Vhosts           []DefVhost        `json:"vhosts,omitempty"`
	Permissions      []Permission      `json:"permissions,omitempty"`
	TopicPermissions []TopicPermission `json:"topic_permissions,omitempty"`
	Parameters       []Parameter       `json:"parameters"`
	GlobalParameters []GlobalParameter `json:"global_parameters,omitempty"`
	Policies         []Policy          `json:"policies"`
	Queues           []DefQueue        `json:"queues"`
	Exchanges        []DefExchange     `json:"exchanges"`
	Bindings         []DefBinding      `json:"bindings"`
}

// DefUser is a user in definitions.
type DefUser struct {
	Name             string         `json:"name"`
	PasswordHash     string         `json:"password_hash"`
	HashingAlgorithm string         `json:"hashing_algorithm"`
	Tags             Tags           `json:"tags"`
	Limits           map[string]any `json:"limits"`
}

// DefVhost is a vhost in definitions.
type DefVhost struct {
	Name     string         `json:"name"`
	Limits   []any          `json:"limits,omitempty"`
	Metadata *VhostMetadata `json:"metadata,omitempty"`
}

// DefQueue is a queue in definitions.
type DefQueue struct {
	Name       string         `json:"name"`
	Vhost      string         `json:"vhost,omitempty"`
	Durable    bool           `json:"durable"`
	AutoDelete bool           `json:"auto_delete"`
	Arguments  map[string]any `json:"arguments"`
}

// DefExchange is an exchange in definitions.
type DefExchange struct {
	Name       string         `json:"name"`
	Vhost      string         `json:"vhost,omitempty"`
	Type       string         `json:"type"`
	Durable    bool           `json:"durable"`
	AutoDelete bool           `json:"auto_delete"`
	Internal   bool           `json:"internal"`
	Arguments  map[string]any `json:"arguments"`
}

// DefBinding is a binding in definitions.
type DefBinding struct {
	Source          string         `json:"source"`
	Vhost           string         `json:"vhost,omitempty"`
	Destination     string         `json:"destination"`
	DestinationType string         `json:"destination_type"`
	RoutingKey      string         `json:"routing_key"`
	Arguments       map[string]any `json:"arguments"`
}

// HealthCheck is the answer of the /api/health/checks/* endpoints:
// {"status":"ok"} with 200, or {"status":"failed","reason":"..."} with 503.
type HealthCheck struct {
	Status string `json:"status"` // ok or failed
	Reason string `json:"reason,omitempty"`
	// alarms: the alarms in effect; port-listener: the port checked;
	// virtual-hosts: the vhosts that are down.
	Alarms  []Alarm  `json:"alarms,omitempty"`
	Port    int      `json:"port,omitempty"`
	Missing string   `json:"missing,omitempty"`
	Ports   []int    `json:"ports,omitempty"`
	Vhosts  []string `json:"virtual-hosts,omitempty"`
}

// Alarm is one alarm of the alarms health check.
type Alarm struct {
	Node     string `json:"node"`
	Resource string `json:"resource"` // memory or disk
}

// AlivenessTest is GET /api/aliveness-test/{vhost}.
type AlivenessTest struct {
	Status string `json:"status"` // ok
}

// ClusterName is GET/PUT /api/cluster-name.
type ClusterName struct {
	Name string `json:"name"`
}
