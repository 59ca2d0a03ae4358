// Package config holds everything `warren server` is configured with and
// builds it from four sources, in increasing precedence:
//
//  1. built-in defaults (RabbitMQ's where RabbitMQ has one),
//  2. a config file in rabbitmq.conf ("sysctl") style, see ParseConf,
//  3. WARREN_<SETTING> environment variables, e.g. WARREN_AMQP_ADDR,
//  4. command-line flags, e.g. --amqp-addr.
//
// The flags, the environment variables and the generic config-file keys all
// come from one table, Settings, so they cannot drift apart.
package config

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strconv"
	"strings"
	"time"
)

// Config is the complete configuration of one Warren node.
//
// An empty listener address disables that listener.
type Config struct {
	DataDir     string // --data-dir; ./warren-data
	AMQPAddr    string // --amqp-addr; :5672
	AMQPSAddr   string // --amqps-addr; :5671, used only when TLSCert and TLSKey are set
	HTTPAddr    string // --http-addr; :15672 (management API and UI)
	MetricsAddr string // --metrics-addr; :15692 (Prometheus)
	ClusterAddr string // --cluster-addr; :25672 (inter-node)
	NodeName    string // --node-name; warren@<short hostname>
	ConfigFile  string // --config; the rabbitmq.conf-style file that was read, if any

	TLSCert string // --tls-cert; PEM certificate chain
	TLSKey  string // --tls-key; PEM private key
	TLSCA   string // --tls-ca; PEM CA bundle for verifying client certificates
	// TLSVerify is ssl_options.verify: verify_peer (the default with
	// TLSCA) or verify_none. TLSFailIfNoPeerCert is
	// ssl_options.fail_if_no_peer_cert.
	TLSVerify           string
	TLSFailIfNoPeerCert bool
	// SSLCertLoginFrom is ssl_cert_login_from: where the EXTERNAL
	// mechanism takes the user name from, common_name or distinguished_name.
	SSLCertLoginFrom string

	Join       []string // --join HOST:PORT (repeatable or comma-separated); nodes to join
	Cookie     string   // --cookie; shared cluster secret
	CookieFile string   // --cookie-file; file holding the shared cluster secret
	RAM        bool     // --ram; join as a RAM (non-voting, metadata in memory) node

	LogLevel string // --log-level; debug, info, warning, error (also warn, critical, none)

	// Broker settings. They have no flags; set them in the config file or
	// with WARREN_* environment variables (see Settings).
	DefaultUser         string        // default_user; guest
	DefaultPass         string        // default_pass; guest
	DefaultVhost        string        // default_vhost; /
	LoopbackUsers       []string      // loopback_users.NAME; users that may connect only from loopback; [guest]
	Heartbeat           time.Duration // heartbeat (seconds); 60s
	FrameMax            uint32        // frame_max (bytes); 131072
	ChannelMax          uint16        // channel_max; 2047
	MaxMessageSize      int           // max_message_size (bytes); 134217728
	HandshakeTimeout    time.Duration // handshake_timeout (milliseconds); 10s
	ConsumerTimeout     time.Duration // consumer_timeout (milliseconds); 30 min; 0 disables
	DiskFreeLimit       int64         // disk_free_limit.absolute (bytes); 50MB
	MemoryHighWatermark float64       // vm_memory_high_watermark.relative; 0.4
	MemoryLimit         int64         // vm_memory_high_watermark.absolute (bytes); 0 = use the fraction
	SegmentSize         int64         // msg_store_file_size_limit (bytes); 0 = store default
	QueueMemory         int64         // bodies one queue keeps in memory before paging; 0 = broker default
	TotalQueueMemory    int64         // bodies all queues keep in memory before paging; 0 = broker default
	ConnectionMax       int           // connection_max; 0 (or infinity) is no limit
	LoadDefinitions     string        // load_definitions; a definitions JSON file imported at start

	// Extra holds config-file keys Warren does not (yet) understand, such
	// as vm_memory_high_watermark.relative, so a package that learns one
	// can read it here. Each produced a warning at load time.
	Extra map[string]string
}

// Default values, as in RabbitMQ where it has the setting.
const (
	DefaultDataDir          = "./warren-data"
	DefaultAMQPAddr         = ":5672"
	DefaultAMQPSAddr        = ":5671"
	DefaultHTTPAddr         = ":15672"
	DefaultMetricsAddr      = ":15692"
	DefaultClusterAddr      = ":25672"
	DefaultHeartbeat        = 60 * time.Second
	DefaultFrameMax         = 131072
	DefaultChannelMax       = 2047
	DefaultMaxMessageSize   = 134217728
	DefaultHandshakeTimeout = 10 * time.Second
	DefaultConsumerTimeout  = 30 * time.Minute // RabbitMQ 3.10's consumer_timeout

	// MinFrameMax is the smallest frame_max AMQP 0-9-1 allows (0 means no limit).
	MinFrameMax = 4096
	// MaxMaxMessageSize is RabbitMQ's upper bound for max_message_size (512 MiB).
	MaxMaxMessageSize = 536870912
)

// Default returns a Config holding the built-in defaults.
func Default() *Config {
	return &Config{
		DataDir:             DefaultDataDir,
		AMQPAddr:            DefaultAMQPAddr,
		AMQPSAddr:           DefaultAMQPSAddr,
		HTTPAddr:            DefaultHTTPAddr,
		MetricsAddr:         DefaultMetricsAddr,
		ClusterAddr:         DefaultClusterAddr,
		NodeName:            "warren@" + shortHostname(),
		LogLevel:            "info",
		DefaultUser:         "guest",
		DefaultPass:         "guest",
		DefaultVhost:        "/",
		LoopbackUsers:       []string{"guest"},
		Heartbeat:           DefaultHeartbeat,
		FrameMax:            DefaultFrameMax,
		ChannelMax:          DefaultChannelMax,
		MaxMessageSize:      DefaultMaxMessageSize,
		HandshakeTimeout:    DefaultHandshakeTimeout,
		ConsumerTimeout:     DefaultConsumerTimeout,
		DiskFreeLimit:       50_000_000,
		MemoryHighWatermark: 0.4,
		Extra:               map[string]string{},
	}
}

func shortHostname() string {
	h, err := os.Hostname()
	if err != nil || h == "" {
		return "localhost"
	}
	if i := strings.IndexByte(h, '.'); i > 0 {
		h = h[:i]
	}
	return h
}

// Load builds the configuration from defaults, the config file, the
// environment and the flags, in that order of increasing precedence, and
// validates it.
//
// flags holds the raw value of each flag the user set on the command line,
// keyed by flag name without dashes ("amqp-addr"). environ is a list of
// KEY=VALUE strings as returned by os.Environ. The config file is the one
// named by flags["config"], else by WARREN_CONFIG, else none.
//
// The returned warnings (unknown or ignored config-file keys) are for the
// caller to log; they are not errors.
func Load(flags map[string]string, environ []string) (*Config, []string, error) {
	c := Default()
	env := envMap(environ)

	path, ok := flags["config"]
	if !ok {
		path = env[EnvName("config")]
	}
	var warnings []string
	if path != "" {
		w, err := c.ApplyConfFile(path)
		if err != nil {
			return nil, nil, err
		}
		warnings = w
	}
	if err := c.ApplyEnv(environ); err != nil {
		return nil, warnings, err
	}
	if err := c.ApplyFlags(flags); err != nil {
		return nil, warnings, err
	}
	c.normalize()
	if err := c.Validate(); err != nil {
		return nil, warnings, err
	}
	return c, warnings, nil
}

// ApplyEnv applies every WARREN_* variable of environ that names a
// setting. Unknown WARREN_* variables are ignored.
func (c *Config) ApplyEnv(environ []string) error {
	env := envMap(environ)
	for _, s := range settings {
		v, ok := env[EnvName(s.Name)]
		if !ok {
			continue
		}
		if err := s.set(c, v); err != nil {
			return fmt.Errorf("%s=%q: %w", EnvName(s.Name), v, err)
		}
	}
	return nil
}

// ApplyFlags applies raw flag values keyed by flag name ("amqp-addr").
func (c *Config) ApplyFlags(flags map[string]string) error {
	for _, s := range settings {
		v, ok := flags[s.Name]
		if !ok {
			continue
		}
		if err := s.set(c, v); err != nil {
			return fmt.Errorf("--%s %q: %w", s.Name, v, err)
		}
	}
	for name := range flags {
		if lookup(name) == nil {
			return fmt.Errorf("unknown setting %q", name)
		}
	}
	return nil
}

func envMap(environ []string) map[string]string {
	m := make(map[string]string)
	for _, kv := range environ {
		k, v, ok := strings.Cut(kv, "=")
		if ok && strings.HasPrefix(k, "WARREN_") {
			m[k] = v
		}
	}
	return m
}

// normalize fills in what a source may leave implicit.
func (c *Config) normalize() {
	// As in RabbitMQ, a node name without a host part gets the local one.
	if c.NodeName != "" && !strings.Contains(c.NodeName, "@") {
		c.NodeName += "@" + shortHostname()
	}
	if c.Extra == nil {
		c.Extra = map[string]string{}
	}
}

// TLSEnabled reports whether the AMQPS listener should run.
func (c *Config) TLSEnabled() bool { return c.TLSCert != "" && c.TLSKey != "" }

// Listener is a named address the server should listen on.
type Listener struct {
	Name string // amqp, amqps, http, metrics, cluster
	Addr string
}

// Listeners returns the enabled listeners in a fixed order: amqp, amqps
// (only with TLS), http, metrics, cluster. Listeners whose address is
// empty are disabled and left out.
func (c *Config) Listeners() []Listener {
	var ls []Listener
	add := func(name, addr string) {
		if addr != "" {
			ls = append(ls, Listener{name, addr})
		}
	}
	add("amqp", c.AMQPAddr)
	if c.TLSEnabled() {
		add("amqps", c.AMQPSAddr)
	}
	add("http", c.HTTPAddr)
	add("metrics", c.MetricsAddr)
	add("cluster", c.ClusterAddr)
	return ls
}

// SlogLevel maps LogLevel to a slog level. RabbitMQ's "critical" and
// "none" map to error; unknown levels (rejected by Validate) to info.
func (c *Config) SlogLevel() slog.Level {
	l, _ := parseLogLevel(c.LogLevel)
	return l
}

func parseLogLevel(s string) (slog.Level, bool) {
	switch strings.ToLower(s) {
	case "debug":
		return slog.LevelDebug, true
	case "info", "notice":
		return slog.LevelInfo, true
	case "warn", "warning":
		return slog.LevelWarn, true
	case "error", "critical", "alert", "emergency", "none":
		return slog.LevelError, true
	}
	return slog.LevelInfo, false
}

// Validate checks the configuration as a whole: every address parses,
// TLS certificate and key come together, numbers are in range.
func (c *Config) Validate() error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }

	for _, a := range []struct{ flag, addr string }{
		{"amqp-addr", c.AMQPAddr},
		{"amqps-addr", c.AMQPSAddr},
		{"http-addr", c.HTTPAddr},
		{"metrics-addr", c.MetricsAddr},
		{"cluster-addr", c.ClusterAddr},
	} {
		if a.addr == "" {
			continue
		}
		if err := checkAddr(a.addr); err != nil {
			bad("%s: %v", a.flag, err)
		}
	}
	for _, j := range c.Join {
		if err := checkAddr(j); err != nil {
			bad("join %q: %v", j, err)
		}
	}
	if c.DataDir == "" {
		bad("data-dir: must not be empty")
	}
	if c.NodeName == "" || strings.ContainsAny(c.NodeName, " \t\r\n") {
		bad("node-name %q: must be non-empty and contain no spaces", c.NodeName)
	}
	if (c.TLSCert == "") != (c.TLSKey == "") {
		bad("tls-cert and tls-key must be given together")
	}
	if c.TLSCA != "" && !c.TLSEnabled() {
		bad("tls-ca needs tls-cert and tls-key")
	}
	if c.TLSEnabled() && c.AMQPSAddr == "" {
		bad("amqps-addr: must not be empty when TLS is configured")
	}
	if c.Cookie != "" && c.CookieFile != "" {
		bad("cookie and cookie-file are mutually exclusive")
	}
	if _, ok := parseLogLevel(c.LogLevel); !ok {
		bad("log-level %q: want debug, info, warning or error", c.LogLevel)
	}
	if c.DefaultUser == "" {
		bad("default_user: must not be empty")
	}
	if c.DefaultVhost == "" {
		bad("default_vhost: must not be empty")
	}
	if c.Heartbeat < 0 || c.Heartbeat > 65535*time.Second {
		bad("heartbeat %v: want 0 to 65535 seconds", c.Heartbeat)
	}
	if c.FrameMax != 0 && c.FrameMax < MinFrameMax {
		bad("frame_max %d: want 0 (no limit) or at least %d", c.FrameMax, MinFrameMax)
	}
	if c.MaxMessageSize < 1 || c.MaxMessageSize > MaxMaxMessageSize {
		bad("max_message_size %d: want 1 to %d", c.MaxMessageSize, MaxMaxMessageSize)
	}
	if c.HandshakeTimeout <= 0 {
		bad("handshake_timeout %v: must be positive", c.HandshakeTimeout)
	}
	switch c.TLSVerify {
	case "", "verify_none":
	case "verify_peer":
		if c.TLSCA == "" && c.TLSEnabled() {
			bad("ssl_options.verify = verify_peer needs tls-ca (ssl_options.cacertfile)")
		}
	default:
		bad("ssl_options.verify %q: want verify_peer or verify_none", c.TLSVerify)
	}
	switch c.SSLCertLoginFrom {
	case "", "common_name", "distinguished_name":
	default:
		bad("ssl_cert_login_from %q: want common_name or distinguished_name", c.SSLCertLoginFrom)
	}
	if c.ConnectionMax < 0 {
		bad("connection_max %d: must not be negative", c.ConnectionMax)
	}
	return errors.Join(errs...)
}

// checkAddr accepts host:port with a numeric port (0 = ephemeral) and an
// optional host (empty = all interfaces).
func checkAddr(addr string) error {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return err
	}
	if _, err := strconv.ParseUint(port, 10, 16); err != nil {
		return fmt.Errorf("port %q: want a number from 0 to 65535", port)
	}
	if strings.ContainsAny(host, " \t/") {
		return fmt.Errorf("host %q: invalid", host)
	}
	return nil
}
