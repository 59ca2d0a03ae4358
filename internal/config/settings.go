package config

import (
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"
)

// Setting is one configurable value, reachable as a flag (if Flag is set),
// as the environment variable EnvName(Name) and as the config-file key
// ConfKey(Name). cmd/warren registers the flags from this table.
type Setting struct {
	Name  string // flag-style name, e.g. "amqp-addr"
	Flag  bool   // whether `warren server` has --Name
	Bool  bool   // a boolean: "--ram" alone means true
	Usage string

	set func(c *Config, v string) error
	get func(c *Config) string
}

// Set parses v and stores it in c.
func (s *Setting) Set(c *Config, v string) error { return s.set(c, v) }

// Value returns the current value from c, formatted as Set accepts it.
func (s *Setting) Value(c *Config) string { return s.get(c) }

// EnvName is the environment variable for a setting: "amqp-addr" → WARREN_AMQP_ADDR.
func EnvName(name string) string {
	return "WARREN_" + strings.ToUpper(strings.ReplaceAll(name, "-", "_"))
}

// ConfKey is the generic config-file key for a setting: "amqp-addr" → amqp_addr.
// RabbitMQ's own keys (listeners.tcp.default, …) are accepted besides; see ApplyConf.
func ConfKey(name string) string { return strings.ReplaceAll(name, "-", "_") }

// Settings returns the table of all settings, flags first in the order of
// the command-line contract.
func Settings() []Setting { return append([]Setting(nil), settings...) }

func lookup(name string) *Setting {
	for i := range settings {
		if settings[i].Name == name {
			return &settings[i]
		}
	}
	return nil
}

var settings = []Setting{
	str("data-dir", true, "directory for messages and metadata", func(c *Config) *string { return &c.DataDir }),
	addr("amqp-addr", "AMQP listener `host:port` (empty disables)", func(c *Config) *string { return &c.AMQPAddr }),
	addr("http-addr", "management HTTP API and UI listener `host:port` (empty disables)", func(c *Config) *string { return &c.HTTPAddr }),
	addr("metrics-addr", "Prometheus /metrics listener `host:port` (empty disables)", func(c *Config) *string { return &c.MetricsAddr }),
	addr("cluster-addr", "inter-node listener `host:port` (empty disables)", func(c *Config) *string { return &c.ClusterAddr }),
	str("node-name", true, "node `name` (name@host; a bare name gets @<hostname>)", func(c *Config) *string { return &c.NodeName }),
	str("config", true, "rabbitmq.conf-style config `file`", func(c *Config) *string { return &c.ConfigFile }),
	addr("amqps-addr", "AMQP over TLS listener `host:port`, used with --tls-cert and --tls-key", func(c *Config) *string { return &c.AMQPSAddr }),
	str("tls-cert", true, "TLS certificate chain `file` (PEM)", func(c *Config) *string { return &c.TLSCert }),
	str("tls-key", true, "TLS private key `file` (PEM)", func(c *Config) *string { return &c.TLSKey }),
	str("tls-ca", true, "CA bundle `file` (PEM) to verify client certificates", func(c *Config) *string { return &c.TLSCA }),
	{
		Name: "join", Flag: true,
		Usage: "join the cluster of the node at `host:port` (repeatable, or comma-separated)",
		set: func(c *Config, v string) error {
			c.Join = nil
			for _, j := range splitList(v) {
				c.Join = append(c.Join, normalizeJoin(j))
			}
			return nil
		},
		get: func(c *Config) string { return strings.Join(c.Join, ",") },
	},
	str("cookie", true, "shared cluster `secret`", func(c *Config) *string { return &c.Cookie }),
	str("cookie-file", true, "`file` holding the shared cluster secret", func(c *Config) *string { return &c.CookieFile }),
	{
		Name: "ram", Flag: true, Bool: true,
		Usage: "join as a RAM node (metadata in memory only, non-voting)",
		set: func(c *Config, v string) error {
			b, err := parseBool(v)
			c.RAM = b
			return err
		},
		get: func(c *Config) string { return strconv.FormatBool(c.RAM) },
	},
	{
		Name: "log-level", Flag: true,
		Usage: "log `level`: debug, info, warning, error",
		set: func(c *Config, v string) error {
			if _, ok := parseLogLevel(v); !ok {
				return fmt.Errorf("want debug, info, warning or error")
			}
			c.LogLevel = strings.ToLower(v)
			return nil
		},
		get: func(c *Config) string { return c.LogLevel },
	},

	// Broker settings: environment and config file only.
	str("default-user", false, "user created on first start", func(c *Config) *string { return &c.DefaultUser }),
	str("default-pass", false, "password of the default user", func(c *Config) *string { return &c.DefaultPass }),
	str("default-vhost", false, "vhost created on first start", func(c *Config) *string { return &c.DefaultVhost }),
	{
		Name:  "loopback-users",
		Usage: "comma-separated users allowed to connect only from loopback, or none",
		set: func(c *Config, v string) error {
			c.LoopbackUsers = nil
			if strings.TrimSpace(v) == "none" {
				return nil
			}
			c.LoopbackUsers = splitList(v)
			return nil
		},
		get: func(c *Config) string {
			if len(c.LoopbackUsers) == 0 {
				return "none"
			}
			return strings.Join(c.LoopbackUsers, ",")
		},
	},
	dur("heartbeat", "heartbeat timeout the server suggests (bare number: seconds)", time.Second,
		func(c *Config) *time.Duration { return &c.Heartbeat }),
	{
		Name:  "frame-max",
		Usage: "largest frame in bytes (0: no limit)",
		set: func(c *Config, v string) error {
			n, err := strconv.ParseUint(strings.TrimSpace(v), 10, 32)
			c.FrameMax = uint32(n)
			return numErr(err)
		},
		get: func(c *Config) string { return strconv.FormatUint(uint64(c.FrameMax), 10) },
	},
	{
		Name:  "channel-max",
		Usage: "most channels per connection (0: no limit)",
		set: func(c *Config, v string) error {
			n, err := strconv.ParseUint(strings.TrimSpace(v), 10, 16)
			c.ChannelMax = uint16(n)
			return numErr(err)
		},
		get: func(c *Config) string { return strconv.FormatUint(uint64(c.ChannelMax), 10) },
	},
	{
		Name:  "max-message-size",
		Usage: "largest message body in bytes",
		set: func(c *Config, v string) error {
			n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
			if err == nil && (n < 0 || n > MaxMaxMessageSize) {
				return fmt.Errorf("out of range (max %d)", MaxMaxMessageSize)
			}
			c.MaxMessageSize = int(n)
			return numErr(err)
		},
		get: func(c *Config) string { return strconv.Itoa(c.MaxMessageSize) },
	},
	dur("handshake-timeout", "time allowed for the AMQP handshake (bare number: milliseconds)", time.Millisecond,
		func(c *Config) *time.Duration { return &c.HandshakeTimeout }),
	dur("consumer-timeout", "how long a delivery may stay unacknowledged before its channel is closed (bare number: milliseconds; 0 disables)", time.Millisecond,
		func(c *Config) *time.Duration { return &c.ConsumerTimeout }),
	{
		Name:  "connection-max",
		Usage: "most open AMQP connections over all listeners (0 or infinity: no limit)",
		set: func(c *Config, v string) error {
			v = strings.TrimSpace(v)
			if v == "infinity" {
				c.ConnectionMax = 0
				return nil
			}
			n, err := strconv.ParseInt(v, 10, 32)
			if err == nil && n < 0 {
				return fmt.Errorf("must not be negative")
			}
			c.ConnectionMax = int(n)
			return numErr(err)
		},
		get: func(c *Config) string { return strconv.Itoa(c.ConnectionMax) },
	},
	bytesSetting("disk-free-limit", "disk alarm below this much free space on the data dir (bytes, or 50MB, 1GB, 2GiB; RabbitMQ's disk_free_limit.absolute)",
		func(c *Config) *int64 { return &c.DiskFreeLimit }),
	{
		Name:  "vm-memory-high-watermark",
		Usage: "memory alarm above this fraction of RAM (RabbitMQ's vm_memory_high_watermark.relative)",
		set: func(c *Config, v string) error {
			f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
			if err == nil && (f < 0 || f > 1) {
				return fmt.Errorf("want a fraction between 0 and 1")
			}
			c.MemoryHighWatermark = f
			return numErr(err)
		},
		get: func(c *Config) string { return strconv.FormatFloat(c.MemoryHighWatermark, 'g', -1, 64) },
	},
	bytesSetting("vm-memory-limit", "memory alarm above this many bytes, instead of the fraction (vm_memory_high_watermark.absolute)",
		func(c *Config) *int64 { return &c.MemoryLimit }),
	bytesSetting("msg-store-file-size-limit", "size of message store segment files (bytes; 0: 16MiB, RabbitMQ's default)",
		func(c *Config) *int64 { return &c.SegmentSize }),
	bytesSetting("queue-memory", "message bodies a queue keeps in memory before paging to disk (bytes; 0: default 8MiB)",
		func(c *Config) *int64 { return &c.QueueMemory }),
	bytesSetting("total-queue-memory", "message bodies all queues keep in memory before paging to disk (bytes; 0: default 128MiB)",
		func(c *Config) *int64 { return &c.TotalQueueMemory }),
	str("load-definitions", false, "definitions JSON `file` imported at start (RabbitMQ's load_definitions)",
		func(c *Config) *string { return &c.LoadDefinitions }),
	{
		Name:  "tls-verify",
		Usage: "client certificate check on the AMQPS listener: verify_peer (default with tls-ca) or verify_none",
		set: func(c *Config, v string) error {
			v = strings.TrimSpace(v)
			if v != "verify_peer" && v != "verify_none" && v != "" {
				return fmt.Errorf("want verify_peer or verify_none")
			}
			c.TLSVerify = v
			return nil
		},
		get: func(c *Config) string { return c.TLSVerify },
	},
	{
		Name: "tls-fail-if-no-peer-cert", Bool: true,
		Usage: "refuse TLS clients without a certificate (with verify_peer)",
		set: func(c *Config, v string) error {
			b, err := parseBool(v)
			c.TLSFailIfNoPeerCert = b
			return err
		},
		get: func(c *Config) string { return strconv.FormatBool(c.TLSFailIfNoPeerCert) },
	},
	{
		Name:  "ssl-cert-login-from",
		Usage: "where EXTERNAL takes the user name from: common_name (default) or distinguished_name",
		set: func(c *Config, v string) error {
			v = strings.TrimSpace(v)
			if v != "common_name" && v != "distinguished_name" {
				return fmt.Errorf("want common_name or distinguished_name")
			}
			c.SSLCertLoginFrom = v
			return nil
		},
		get: func(c *Config) string { return c.SSLCertLoginFrom },
	},
}

// bytesSetting parses a byte count: a plain number or one with a unit as
// rabbitmq.conf takes them (kB, MB, GB decimal; kiB, MiB, GiB binary).
func bytesSetting(name, usage string, field func(*Config) *int64) Setting {
	return Setting{
		Name: name, Usage: usage,
		set: func(c *Config, v string) error {
			n, err := ParseBytes(v)
			if err != nil {
				return err
			}
			*field(c) = n
			return nil
		},
		get: func(c *Config) string { return strconv.FormatInt(*field(c), 10) },
	}
}

// ParseBytes reads "1000", "50MB", "2GiB" and the like.
func ParseBytes(v string) (int64, error) {
	v = strings.TrimSpace(v)
	units := []struct {
		suffix string
		mult   int64
	}{
		{"kiB", 1 << 10}, {"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"TiB", 1 << 40},
		{"kB", 1e3}, {"KB", 1e3}, {"MB", 1e6}, {"GB", 1e9}, {"TB", 1e12},
		{"k", 1 << 10}, {"K", 1 << 10}, {"M", 1 << 20}, {"G", 1 << 30},
	}
	mult := int64(1)
	for _, u := range units {
		if strings.HasSuffix(v, u.suffix) {
			v, mult = strings.TrimSpace(strings.TrimSuffix(v, u.suffix)), u.mult
			break
		}
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("want a byte count such as 50000000, 50MB or 2GiB")
	}
	return n * mult, nil
}

func str(name string, flag bool, usage string, field func(*Config) *string) Setting {
	return Setting{
		Name: name, Flag: flag, Usage: usage,
		set: func(c *Config, v string) error { *field(c) = v; return nil },
		get: func(c *Config) string { return *field(c) },
	}
}

func addr(name, usage string, field func(*Config) *string) Setting {
	return Setting{
		Name: name, Flag: true, Usage: usage,
		set: func(c *Config, v string) error {
			a, err := NormalizeAddr(v)
			if err != nil {
				return err
			}
			*field(c) = a
			return nil
		},
		get: func(c *Config) string { return *field(c) },
	}
}

// dur parses a Go duration ("30s") or a bare number in unit.
func dur(name, usage string, unit time.Duration, field func(*Config) *time.Duration) Setting {
	return Setting{
		Name: name, Usage: usage,
		set: func(c *Config, v string) error {
			d, err := parseDuration(v, unit)
			if err != nil {
				return err
			}
			*field(c) = d
			return nil
		},
		get: func(c *Config) string { return formatDuration(*field(c)) },
	}
}

// formatDuration writes whole seconds as "60s" rather than "1m0s".
func formatDuration(d time.Duration) string {
	if d%time.Second == 0 {
		return strconv.FormatInt(int64(d/time.Second), 10) + "s"
	}
	return d.String()
}

func parseDuration(v string, unit time.Duration) (time.Duration, error) {
	v = strings.TrimSpace(v)
	if n, err := strconv.ParseInt(v, 10, 64); err == nil {
		if n < 0 || n > int64(1<<62)/int64(unit) {
			return 0, fmt.Errorf("out of range")
		}
		return time.Duration(n) * unit, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		return 0, fmt.Errorf("want a number of %s or a duration such as 30s", unitName(unit))
	}
	return d, nil
}

func unitName(unit time.Duration) string {
	switch unit {
	case time.Millisecond:
		return "milliseconds"
	case time.Second:
		return "seconds"
	}
	return unit.String()
}

func parseBool(v string) (bool, error) {
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "true", "1", "yes", "on":
		return true, nil
	case "false", "0", "no", "off", "":
		return false, nil
	}
	return false, fmt.Errorf("want true or false")
}

func numErr(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, strconv.ErrRange):
		return fmt.Errorf("out of range")
	}
	return fmt.Errorf("want a whole number")
}

func splitList(v string) []string {
	var out []string
	for _, p := range strings.Split(v, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// NormalizeAddr turns the listener forms RabbitMQ users write into
// host:port: a bare port "5672" becomes ":5672", an unbracketed IPv6
// "::1:5672" becomes "[::1]:5672"; "" and "none" mean disabled and
// become "". Anything else must already be host:port.
func NormalizeAddr(v string) (string, error) {
	v = strings.TrimSpace(v)
	if v == "" || v == "none" {
		return "", nil
	}
	if isDigits(v) {
		return ":" + v, nil
	}
	if _, _, err := net.SplitHostPort(v); err == nil {
		return v, nil
	}
	// RabbitMQ accepts "::1:5672" for IPv6.
	if i := strings.LastIndexByte(v, ':'); i > 0 && strings.Count(v, ":") > 1 && isDigits(v[i+1:]) {
		if ip := net.ParseIP(v[:i]); ip != nil {
			return net.JoinHostPort(v[:i], v[i+1:]), nil
		}
	}
	return "", fmt.Errorf("want host:port or a port number")
}

// normalizeJoin accepts HOST:PORT, a bare HOST (default cluster port) and
// RabbitMQ node names "rabbit@HOST" (the host, on the default cluster port).
func normalizeJoin(v string) string {
	if i := strings.LastIndexByte(v, '@'); i >= 0 {
		v = v[i+1:]
	}
	if _, _, err := net.SplitHostPort(v); err != nil && !strings.Contains(v, ":") {
		_, port, _ := net.SplitHostPort(DefaultClusterAddr)
		return net.JoinHostPort(v, port)
	}
	return v
}

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
