package config

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"os"
	"slices"
	"sort"
	"strconv"
	"strings"
)

// ConfEntry is one `key = value` line of a rabbitmq.conf-style file.
type ConfEntry struct {
	Line  int
	Key   string
	Value string
}

// ParseConf reads a rabbitmq.conf-style ("sysctl") file: one `key = value`
// per line, blank lines and `#` comments ignored. As in RabbitMQ's
// cuttlefish format, an unquoted value ends at the first `#`; a value may be
// wrapped in single or double quotes to hold a `#` or surrounding spaces.
// It checks syntax only; ApplyConf gives the keys their meaning.
func ParseConf(r io.Reader) ([]ConfEntry, error) {
	var out []ConfEntry
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64*1024), 1<<20)
	n := 0
	for sc.Scan() {
		n++
		line := sc.Text()
		if n == 1 {
			line = strings.TrimPrefix(line, "\ufeff")
		}
		line = strings.TrimSpace(line)
		if line == "" || line[0] == '#' {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			return nil, fmt.Errorf("line %d: want key = value", n)
		}
		k = strings.TrimSpace(k)
		if k == "" || strings.ContainsAny(k, " \t#\"'") {
			return nil, fmt.Errorf("line %d: bad key %q", n, k)
		}
		v, err := confValue(strings.TrimSpace(v))
		if err != nil {
			return nil, fmt.Errorf("line %d: %s: %v", n, k, err)
		}
		out = append(out, ConfEntry{Line: n, Key: k, Value: v})
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	return out, nil
}

func confValue(v string) (string, error) {
	if v != "" && (v[0] == '"' || v[0] == '\'') {
		end := strings.IndexByte(v[1:], v[0])
		if end < 0 {
			return "", fmt.Errorf("unterminated quote")
		}
		rest := strings.TrimSpace(v[end+2:])
		if rest != "" && rest[0] != '#' {
			return "", fmt.Errorf("text after closing quote")
		}
		return v[1 : end+1], nil
	}
	if i := strings.IndexByte(v, '#'); i >= 0 {
		v = strings.TrimSpace(v[:i])
	}
	return v, nil
}

// ApplyConfFile reads the config file at path and applies it to c; see ApplyConf.
func (c *Config) ApplyConfFile(path string) (warnings []string, err error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("config file: %w", err)
	}
	defer f.Close()
	w, err := c.ApplyConf(f, path)
	if err != nil {
		return w, err
	}
	c.ConfigFile = path
	return w, nil
}

// ApplyConf applies a rabbitmq.conf-style file to c. name is used in
// messages. It understands RabbitMQ's keys:
//
//	listeners.tcp.default = 5672 | host:port      listeners.tcp = none
//	listeners.ssl.default = 5671 | host:port      listeners.ssl = none
//	management.tcp.port / management.tcp.ip        (also management.listener.*)
//	prometheus.tcp.port / prometheus.tcp.ip
//	default_user, default_pass, default_vhost
//	loopback_users.NAME = true | false             loopback_users = none
//	heartbeat (s), frame_max, channel_max, max_message_size, handshake_timeout (ms)
//	consumer_timeout (ms)
//	ssl_options.certfile / keyfile / cacertfile / verify / fail_if_no_peer_cert
//	ssl_cert_login_from, connection_max, load_definitions (also management.load_definitions)
//	log.console.level
//	cluster_formation.classic_config.nodes.N = rabbit@host | host:port
//	cluster_formation.node_type = disc | ram
//	cluster_formation.peer_discovery_backend = classic_config
//
// and, for every setting, its flag name with underscores (data_dir,
// amqp_addr, node_name, cookie, cookie_file, join, ram, …; not config).
// Unknown keys are kept in c.Extra and reported as warnings; a bad value
// for a known key is an error.
func (c *Config) ApplyConf(r io.Reader, name string) (warnings []string, err error) {
	entries, err := ParseConf(r)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if c.Extra == nil {
		c.Extra = map[string]string{}
	}
	classic := map[int]string{}
	for _, e := range entries {
		warn, err := c.applyConfEntry(e, classic)
		if err != nil {
			return warnings, fmt.Errorf("%s:%d: %s: %w", name, e.Line, e.Key, err)
		}
		if warn != "" {
			c.Extra[e.Key] = e.Value
			warnings = append(warnings, fmt.Sprintf("%s:%d: %s: %s", name, e.Line, e.Key, warn))
		}
	}
	idx := make([]int, 0, len(classic))
	for i := range classic {
		idx = append(idx, i)
	}
	sort.Ints(idx)
	for _, i := range idx {
		c.Join = append(c.Join, normalizeJoin(classic[i]))
	}
	return warnings, nil
}

const ignored = "unknown key, ignored"

// applyConfEntry applies one entry. A non-empty warn means the key was not
// applied and belongs in Extra.
func (c *Config) applyConfEntry(e ConfEntry, classic map[int]string) (warn string, err error) {
	k, v := e.Key, e.Value
	set := func(name string) error { return lookup(name).set(c, v) }

	switch k {
	case "disk_free_limit.absolute":
		return "", set("disk-free-limit")
	case "vm_memory_high_watermark.relative":
		return "", set("vm-memory-high-watermark")
	case "vm_memory_high_watermark.absolute":
		return "", set("vm-memory-limit")
	case "listeners.tcp", "listeners.ssl":
		if v != "none" {
			return "only `none` is supported here (set " + k + ".default), ignored", nil
		}
		if k == "listeners.tcp" {
			c.AMQPAddr = ""
		} else {
			c.AMQPSAddr = ""
		}
		return "", nil
	case "listeners.tcp.default":
		return "", set("amqp-addr")
	case "listeners.ssl.default":
		return "", set("amqps-addr")
	case "management.tcp.port", "management.listener.port":
		return "", setPort(&c.HTTPAddr, v)
	case "management.tcp.ip", "management.listener.ip":
		return "", setHost(&c.HTTPAddr, DefaultHTTPAddr, v)
	case "prometheus.tcp.port":
		return "", setPort(&c.MetricsAddr, v)
	case "prometheus.tcp.ip":
		return "", setHost(&c.MetricsAddr, DefaultMetricsAddr, v)
	case "ssl_options.certfile":
		return "", set("tls-cert")
	case "ssl_options.keyfile":
		return "", set("tls-key")
	case "ssl_options.cacertfile":
		return "", set("tls-ca")
	case "ssl_options.verify":
		return "", set("tls-verify")
	case "ssl_options.fail_if_no_peer_cert":
		return "", set("tls-fail-if-no-peer-cert")
	case "management.load_definitions":
		return "", set("load-definitions")
	case "log.console.level":
		return "", set("log-level")
	case "cluster_formation.node_type":
		switch v {
		case "ram":
			c.RAM = true
		case "disc", "disk":
			c.RAM = false
		default:
			return "", fmt.Errorf("want disc or ram")
		}
		return "", nil
	case "cluster_formation.peer_discovery_backend":
		switch v {
		case "classic_config", "rabbit_peer_discovery_classic_config":
			return "", nil
		}
		return "only classic_config peer discovery is supported, ignored", nil
	case "config":
		return "the config file cannot name another config file, ignored", nil
	}

	if user, ok := strings.CutPrefix(k, "loopback_users."); ok && user != "" {
		b, err := parseBool(v)
		if err != nil {
			return "", err
		}
		c.LoopbackUsers = slices.DeleteFunc(c.LoopbackUsers, func(u string) bool { return u == user })
		if b {
			c.LoopbackUsers = append(c.LoopbackUsers, user)
		}
		return "", nil
	}
	if n, ok := strings.CutPrefix(k, "cluster_formation.classic_config.nodes."); ok {
		i, err := strconv.Atoi(n)
		if err != nil {
			return "", fmt.Errorf("want a number after nodes.")
		}
		classic[i] = v
		return "", nil
	}
	if strings.HasPrefix(k, "listeners.tcp.") || strings.HasPrefix(k, "listeners.ssl.") {
		return "only the listener named `default` is supported, ignored", nil
	}
	for i := range settings {
		if ConfKey(settings[i].Name) == k {
			return "", settings[i].set(c, v)
		}
	}
	return ignored, nil
}

// setPort replaces the port of *addr, keeping its host.
func setPort(addr *string, port string) error {
	if !isDigits(port) {
		return fmt.Errorf("want a port number")
	}
	if _, err := strconv.ParseUint(port, 10, 16); err != nil {
		return fmt.Errorf("port out of range")
	}
	host, _, _ := net.SplitHostPort(*addr)
	*addr = net.JoinHostPort(host, port)
	return nil
}

// setHost replaces the host of *addr, keeping its port (or def's when the
// listener was disabled).
func setHost(addr *string, def, host string) error {
	if strings.ContainsAny(host, " \t/") {
		return fmt.Errorf("bad host %q", host)
	}
	cur := *addr
	if cur == "" {
		cur = def
	}
	_, port, err := net.SplitHostPort(cur)
	if err != nil {
		return err
	}
	*addr = net.JoinHostPort(host, port)
	return nil
}
