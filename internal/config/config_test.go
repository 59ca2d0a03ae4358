package config

import (
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestDefaults(t *testing.T) {
	c := Default()
	if err := c.Validate(); err != nil {
		t.Fatalf("defaults do not validate: %v", err)
	}
	want := map[string]any{
		"DataDir":          "./warren-data",
		"AMQPAddr":         ":5672",
		"AMQPSAddr":        ":5671",
		"HTTPAddr":         ":15672",
		"MetricsAddr":      ":15692",
		"ClusterAddr":      ":25672",
		"DefaultUser":      "guest",
		"DefaultPass":      "guest",
		"DefaultVhost":     "/",
		"LoopbackUsers":    []string{"guest"},
		"Heartbeat":        60 * time.Second,
		"FrameMax":         uint32(131072),
		"ChannelMax":       uint16(2047),
		"MaxMessageSize":   134217728,
		"HandshakeTimeout": 10 * time.Second,
		"ConsumerTimeout":  30 * time.Minute,
		"LogLevel":         "info",
		"RAM":              false,
	}
	v := reflect.ValueOf(c).Elem()
	for field, w := range want {
		if got := v.FieldByName(field).Interface(); !reflect.DeepEqual(got, w) {
			t.Errorf("%s = %#v, want %#v", field, got, w)
		}
	}
	if !strings.HasPrefix(c.NodeName, "warren@") || len(c.NodeName) == len("warren@") {
		t.Errorf("NodeName = %q, want warren@<hostname>", c.NodeName)
	}
	if got := c.Listeners(); len(got) != 4 || got[0].Name != "amqp" || got[1].Name != "http" {
		t.Errorf("Listeners() = %v, want amqp, http, metrics, cluster (no amqps without TLS)", got)
	}
}

func TestParseConf(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    []ConfEntry
		wantErr string
	}{
		{name: "empty", in: ""},
		{name: "comments and blanks", in: "# hello\n\n   # indented\n\t\n"},
		{
			name: "basic",
			in:   "listeners.tcp.default = 5672\ndefault_user=bob\n  default_pass   =   s3cret  \n",
			want: []ConfEntry{{1, "listeners.tcp.default", "5672"}, {2, "default_user", "bob"}, {3, "default_pass", "s3cret"}},
		},
		{
			name: "inline comment",
			in:   "heartbeat = 30 # seconds\n",
			want: []ConfEntry{{1, "heartbeat", "30"}},
		},
		{
			name: "unquoted hash ends the value as in cuttlefish",
			in:   "default_pass = abc#def\n",
			want: []ConfEntry{{1, "default_pass", "abc"}},
		},
		{
			name: "quoted values keep hash and spaces",
			in:   "default_pass = \"a#b c\"\ndefault_user = ' x ' # c\n",
			want: []ConfEntry{{1, "default_pass", "a#b c"}, {2, "default_user", " x "}},
		},
		{
			name: "value with equals sign",
			in:   "cookie = a=b\n",
			want: []ConfEntry{{1, "cookie", "a=b"}},
		},
		{
			name: "empty value",
			in:   "metrics_addr =\n",
			want: []ConfEntry{{1, "metrics_addr", ""}},
		},
		{
			name: "CRLF and BOM",
			in:   "\ufeffdefault_user = a\r\ndefault_pass = b\r\n",
			want: []ConfEntry{{1, "default_user", "a"}, {2, "default_pass", "b"}},
		},
		{name: "no equals", in: "# c\nlisteners.tcp.default 5672\n", wantErr: "line 2"},
		{name: "empty key", in: " = 5\n", wantErr: "line 1: bad key"},
		{name: "space in key", in: "default user = a\n", wantErr: "bad key"},
		{name: "unterminated quote", in: "default_pass = \"abc\n", wantErr: "unterminated quote"},
		{name: "junk after quote", in: "default_pass = \"abc\" d\n", wantErr: "after closing quote"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseConf(strings.NewReader(tt.in))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %#v\nwant %#v", got, tt.want)
			}
		})
	}
}

func TestApplyConf(t *testing.T) {
	tests := []struct {
		name     string
		in       string
		check    func(t *testing.T, c *Config)
		warnings int
		wantErr  string
	}{
		{
			name: "listener port",
			in:   "listeners.tcp.default = 5673",
			check: func(t *testing.T, c *Config) {
				eq(t, c.AMQPAddr, ":5673")
			},
		},
		{
			name: "listener host:port and ssl",
			in:   "listeners.tcp.default = 127.0.0.1:5673\nlisteners.ssl.default = 5674",
			check: func(t *testing.T, c *Config) {
				eq(t, c.AMQPAddr, "127.0.0.1:5673")
				eq(t, c.AMQPSAddr, ":5674")
			},
		},
		{
			name:  "listener ipv6 RabbitMQ style",
			in:    "listeners.tcp.default = ::1:5673",
			check: func(t *testing.T, c *Config) { eq(t, c.AMQPAddr, "[::1]:5673") },
		},
		{
			name:  "listeners.tcp = none",
			in:    "listeners.tcp = none",
			check: func(t *testing.T, c *Config) { eq(t, c.AMQPAddr, "") },
		},
		{
			name:     "other named listener is ignored with a warning",
			in:       "listeners.tcp.other = 5680",
			warnings: 1,
			check: func(t *testing.T, c *Config) {
				eq(t, c.AMQPAddr, ":5672")
				eq(t, c.Extra["listeners.tcp.other"], "5680")
			},
		},
		{
			name: "management port and ip in either order",
			in:   "management.tcp.ip = 127.0.0.1\nmanagement.tcp.port = 15680\nprometheus.tcp.port = 15699\nprometheus.tcp.ip = ::1",
			check: func(t *testing.T, c *Config) {
				eq(t, c.HTTPAddr, "127.0.0.1:15680")
				eq(t, c.MetricsAddr, "[::1]:15699")
			},
		},
		{
			name: "broker settings",
			in: `default_user = admin
default_pass = pw
default_vhost = prod
heartbeat = 30
frame_max = 65536
channel_max = 100
max_message_size = 1048576
handshake_timeout = 5000
consumer_timeout = 2000
log.console.level = debug`,
			check: func(t *testing.T, c *Config) {
				eq(t, c.DefaultUser, "admin")
				eq(t, c.DefaultPass, "pw")
				eq(t, c.DefaultVhost, "prod")
				eq(t, c.Heartbeat, 30*time.Second)
				eq(t, c.FrameMax, uint32(65536))
				eq(t, c.ChannelMax, uint16(100))
				eq(t, c.MaxMessageSize, 1048576)
				eq(t, c.HandshakeTimeout, 5*time.Second)
				eq(t, c.ConsumerTimeout, 2*time.Second)
				eq(t, c.LogLevel, "debug")
			},
		},
		{
			name: "loopback users toggled",
			in:   "loopback_users.guest = false\nloopback_users.alice = true\nloopback_users.bob = true\nloopback_users.bob = false",
			check: func(t *testing.T, c *Config) {
				eq(t, c.LoopbackUsers, []string{"alice"})
			},
		},
		{
			name:  "loopback_users = none",
			in:    "loopback_users = none",
			check: func(t *testing.T, c *Config) { eq(t, len(c.LoopbackUsers), 0) },
		},
		{
			name: "tls",
			in:   "ssl_options.certfile = /c.pem\nssl_options.keyfile = /k.pem\nssl_options.cacertfile = /ca.pem\nssl_options.verify = verify_peer",
			check: func(t *testing.T, c *Config) {
				eq(t, c.TLSCert, "/c.pem")
				eq(t, c.TLSKey, "/k.pem")
				eq(t, c.TLSCA, "/ca.pem")
				eq(t, c.TLSVerify, "verify_peer")
				eq(t, c.TLSEnabled(), true)
			},
		},
		{
			name: "access and limits",
			in: "ssl_options.fail_if_no_peer_cert = true\nssl_cert_login_from = distinguished_name\n" +
				"connection_max = 100\nload_definitions = /defs.json",
			check: func(t *testing.T, c *Config) {
				eq(t, c.TLSFailIfNoPeerCert, true)
				eq(t, c.SSLCertLoginFrom, "distinguished_name")
				eq(t, c.ConnectionMax, 100)
				eq(t, c.LoadDefinitions, "/defs.json")
			},
		},
		{
			name: "cluster formation",
			in: `cluster_formation.peer_discovery_backend = classic_config
cluster_formation.classic_config.nodes.2 = rabbit@host2
cluster_formation.classic_config.nodes.1 = host1:25680
cluster_formation.node_type = ram
cookie = sekrit`,
			check: func(t *testing.T, c *Config) {
				eq(t, c.Join, []string{"host1:25680", "host2:25672"})
				eq(t, c.RAM, true)
				eq(t, c.Cookie, "sekrit")
			},
		},
		{
			name: "generic flag keys",
			in:   "data_dir = /var/lib/warren\namqp_addr = 127.0.0.1:1\nnode_name = w1@h\njoin = a:1,b:2\nram = true\ncookie_file = /c\nmetrics_addr =",
			check: func(t *testing.T, c *Config) {
				eq(t, c.DataDir, "/var/lib/warren")
				eq(t, c.AMQPAddr, "127.0.0.1:1")
				eq(t, c.NodeName, "w1@h")
				eq(t, c.Join, []string{"a:1", "b:2"})
				eq(t, c.RAM, true)
				eq(t, c.CookieFile, "/c")
				eq(t, c.MetricsAddr, "")
			},
		},
		{
			name:     "unknown keys kept in Extra",
			in:       "vm_memory_high_watermark.paging_ratio = 0.6\ncollect_statistics_interval = 5000\nconfig = /other.conf",
			warnings: 3,
			check: func(t *testing.T, c *Config) {
				eq(t, c.Extra["vm_memory_high_watermark.paging_ratio"], "0.6")
				eq(t, c.Extra["collect_statistics_interval"], "5000")
				eq(t, c.ConfigFile, "")
			},
		},
		{
			name: "resource alarms and memory budgets",
			in:   "vm_memory_high_watermark.relative = 0.6\ndisk_free_limit.absolute = 2GB\nqueue_memory = 4MiB\ntotal_queue_memory = 100000",
			check: func(t *testing.T, c *Config) {
				eq(t, c.MemoryHighWatermark, 0.6)
				eq(t, c.DiskFreeLimit, int64(2e9))
				eq(t, c.QueueMemory, int64(4<<20))
				eq(t, c.TotalQueueMemory, int64(100000))
			},
		},
		{name: "bad byte count", in: "disk_free_limit.absolute = plenty", wantErr: "byte count"},
		{name: "bad watermark", in: "vm_memory_high_watermark.relative = 2", wantErr: "fraction"},
		{name: "bad port", in: "management.tcp.port = http", wantErr: "t.conf:1: management.tcp.port"},
		{name: "port out of range", in: "prometheus.tcp.port = 70000", wantErr: "out of range"},
		{name: "bad listener", in: "listeners.tcp.default = nowhere", wantErr: "host:port"},
		{name: "bad number", in: "# c\nframe_max = lots", wantErr: "t.conf:2: frame_max: want a whole number"},
		{name: "channel_max out of range", in: "channel_max = 70000", wantErr: "out of range"},
		{name: "bad bool", in: "loopback_users.guest = maybe", wantErr: "true or false"},
		{name: "bad node type", in: "cluster_formation.node_type = floppy", wantErr: "disc or ram"},
		{name: "bad log level", in: "log.console.level = chatty", wantErr: "debug, info"},
		{name: "bad duration", in: "handshake_timeout = soon", wantErr: "milliseconds"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := Default()
			warnings, err := c.ApplyConf(strings.NewReader(tt.in), "t.conf")
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(warnings) != tt.warnings {
				t.Errorf("warnings = %q, want %d", warnings, tt.warnings)
			}
			for _, w := range warnings {
				if !strings.HasPrefix(w, "t.conf:") {
					t.Errorf("warning %q does not say where", w)
				}
			}
			tt.check(t, c)
		})
	}
}

func TestApplyEnv(t *testing.T) {
	tests := []struct {
		name    string
		env     []string
		check   func(t *testing.T, c *Config)
		wantErr string
	}{
		{
			name: "addresses and paths",
			env: []string{
				"WARREN_AMQP_ADDR=127.0.0.1:1", "WARREN_HTTP_ADDR=2", "WARREN_METRICS_ADDR=",
				"WARREN_CLUSTER_ADDR=none", "WARREN_DATA_DIR=/d", "WARREN_NODE_NAME=n@h",
				"WARREN_AMQPS_ADDR=:5", "WARREN_TLS_CERT=c", "WARREN_TLS_KEY=k", "WARREN_TLS_CA=ca",
			},
			check: func(t *testing.T, c *Config) {
				eq(t, c.AMQPAddr, "127.0.0.1:1")
				eq(t, c.HTTPAddr, ":2")
				eq(t, c.MetricsAddr, "")
				eq(t, c.ClusterAddr, "")
				eq(t, c.DataDir, "/d")
				eq(t, c.NodeName, "n@h")
				eq(t, c.AMQPSAddr, ":5")
				eq(t, [3]string{c.TLSCert, c.TLSKey, c.TLSCA}, [3]string{"c", "k", "ca"})
			},
		},
		{
			name: "cluster",
			env:  []string{"WARREN_JOIN=a:1, b:2", "WARREN_COOKIE=x", "WARREN_RAM=1"},
			check: func(t *testing.T, c *Config) {
				eq(t, c.Join, []string{"a:1", "b:2"})
				eq(t, c.Cookie, "x")
				eq(t, c.RAM, true)
			},
		},
		{
			name: "broker settings",
			env: []string{
				"WARREN_DEFAULT_USER=u", "WARREN_DEFAULT_PASS=p", "WARREN_DEFAULT_VHOST=v",
				"WARREN_LOOPBACK_USERS=none", "WARREN_HEARTBEAT=1m", "WARREN_FRAME_MAX=4096",
				"WARREN_CHANNEL_MAX=0", "WARREN_MAX_MESSAGE_SIZE=10", "WARREN_HANDSHAKE_TIMEOUT=250",
				"WARREN_LOG_LEVEL=WARNING",
			},
			check: func(t *testing.T, c *Config) {
				eq(t, c.DefaultUser, "u")
				eq(t, c.DefaultPass, "p")
				eq(t, c.DefaultVhost, "v")
				eq(t, len(c.LoopbackUsers), 0)
				eq(t, c.Heartbeat, time.Minute)
				eq(t, c.FrameMax, uint32(4096))
				eq(t, c.ChannelMax, uint16(0))
				eq(t, c.MaxMessageSize, 10)
				eq(t, c.HandshakeTimeout, 250*time.Millisecond)
				eq(t, c.LogLevel, "warning")
			},
		},
		{
			name:  "unrelated variables ignored",
			env:   []string{"WARREN_NOPE=1", "AMQP_ADDR=:1", "PATH=/bin", "junk"},
			check: func(t *testing.T, c *Config) { eq(t, c.AMQPAddr, ":5672") },
		},
		{name: "bad bool", env: []string{"WARREN_RAM=perhaps"}, wantErr: "WARREN_RAM"},
		{name: "bad addr", env: []string{"WARREN_HTTP_ADDR=x y"}, wantErr: "WARREN_HTTP_ADDR"},
		{name: "bad number", env: []string{"WARREN_FRAME_MAX=-1"}, wantErr: "WARREN_FRAME_MAX"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := Default()
			err := c.ApplyEnv(tt.env)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tt.check(t, c)
		})
	}
}

func TestEnvNames(t *testing.T) {
	for name, want := range map[string]string{
		"amqp-addr": "WARREN_AMQP_ADDR", "data-dir": "WARREN_DATA_DIR", "cookie-file": "WARREN_COOKIE_FILE",
		"ram": "WARREN_RAM", "max-message-size": "WARREN_MAX_MESSAGE_SIZE",
	} {
		eq(t, EnvName(name), want)
	}
	// Every flag of the command-line contract is in the table.
	var flags []string
	for _, s := range Settings() {
		if s.Flag {
			flags = append(flags, s.Name)
		}
	}
	want := []string{"data-dir", "amqp-addr", "http-addr", "metrics-addr", "cluster-addr", "node-name",
		"config", "amqps-addr", "tls-cert", "tls-key", "tls-ca", "join", "cookie", "cookie-file", "ram", "log-level"}
	eq(t, flags, want)
}

// TestPrecedence checks defaults < config file < environment < flags for
// every pair of sources.
func TestPrecedence(t *testing.T) {
	dir := t.TempDir()
	conf := filepath.Join(dir, "warren.conf")
	writeFile(t, conf, "listeners.tcp.default = 1001\nmanagement.tcp.port = 1002\nprometheus.tcp.port = 1003\ndefault_user = fromfile\n")
	conf2 := filepath.Join(dir, "other.conf")
	writeFile(t, conf2, "listeners.tcp.default = 2001\n")

	tests := []struct {
		name  string
		flags map[string]string
		env   []string
		want  map[string]string // field → value
	}{
		{
			name: "defaults only",
			want: map[string]string{"amqp": ":5672", "http": ":15672", "metrics": ":15692", "user": "guest", "file": ""},
		},
		{
			name:  "file over defaults",
			flags: map[string]string{"config": conf},
			want:  map[string]string{"amqp": ":1001", "http": ":1002", "metrics": ":1003", "user": "fromfile", "file": conf},
		},
		{
			name: "env over file",
			env:  []string{"WARREN_CONFIG=" + conf, "WARREN_HTTP_ADDR=:3002", "WARREN_DEFAULT_USER=fromenv"},
			want: map[string]string{"amqp": ":1001", "http": ":3002", "metrics": ":1003", "user": "fromenv", "file": conf},
		},
		{
			name:  "flags over env over file",
			flags: map[string]string{"config": conf, "amqp-addr": "127.0.0.1:4001", "http-addr": ":4002"},
			env:   []string{"WARREN_AMQP_ADDR=:3001", "WARREN_HTTP_ADDR=:3002", "WARREN_METRICS_ADDR=:3003"},
			want:  map[string]string{"amqp": "127.0.0.1:4001", "http": ":4002", "metrics": ":3003", "user": "fromfile", "file": conf},
		},
		{
			name:  "--config flag over WARREN_CONFIG",
			flags: map[string]string{"config": conf2},
			env:   []string{"WARREN_CONFIG=" + conf},
			want:  map[string]string{"amqp": ":2001", "http": ":15672", "metrics": ":15692", "user": "guest", "file": conf2},
		},
		{
			name:  "flag can disable a listener",
			flags: map[string]string{"metrics-addr": ""},
			env:   []string{"WARREN_METRICS_ADDR=:3003"},
			want:  map[string]string{"amqp": ":5672", "http": ":15672", "metrics": "", "user": "guest", "file": ""},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, _, err := Load(tt.flags, tt.env)
			if err != nil {
				t.Fatal(err)
			}
			got := map[string]string{"amqp": c.AMQPAddr, "http": c.HTTPAddr, "metrics": c.MetricsAddr, "user": c.DefaultUser, "file": c.ConfigFile}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %v\nwant %v", got, tt.want)
			}
		})
	}
}

func TestLoadErrorsAndWarnings(t *testing.T) {
	dir := t.TempDir()
	conf := filepath.Join(dir, "warren.conf")
	writeFile(t, conf, "mqtt.listeners.tcp.default = 1883\n")

	c, warnings, err := Load(map[string]string{"config": conf, "node-name": "solo"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(warnings) != 1 || !strings.Contains(warnings[0], "mqtt.listeners.tcp.default") {
		t.Errorf("warnings = %q", warnings)
	}
	if !strings.HasPrefix(c.NodeName, "solo@") {
		t.Errorf("NodeName = %q, want solo@<hostname>", c.NodeName)
	}

	for name, tc := range map[string]struct {
		flags map[string]string
		env   []string
		want  string
	}{
		"missing file":        {flags: map[string]string{"config": filepath.Join(dir, "nope.conf")}, want: "nope.conf"},
		"bad flag value":      {flags: map[string]string{"amqp-addr": "x"}, want: "--amqp-addr"},
		"unknown flag":        {flags: map[string]string{"bogus": "1"}, want: "bogus"},
		"bad env":             {env: []string{"WARREN_CHANNEL_MAX=x"}, want: "WARREN_CHANNEL_MAX"},
		"invalid combination": {flags: map[string]string{"tls-cert": "c.pem"}, want: "tls-key"},
	} {
		t.Run(name, func(t *testing.T) {
			_, _, err := Load(tc.flags, tc.env)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want containing %q", err, tc.want)
			}
		})
	}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name    string
		mod     func(c *Config)
		wantErr string // "" = valid
	}{
		{name: "defaults", mod: func(*Config) {}},
		{name: "ephemeral ports", mod: func(c *Config) { c.AMQPAddr = "127.0.0.1:0"; c.HTTPAddr = "[::1]:0" }},
		{name: "disabled listeners", mod: func(c *Config) { c.HTTPAddr, c.MetricsAddr, c.ClusterAddr = "", "", "" }},
		{name: "tls", mod: func(c *Config) { c.TLSCert, c.TLSKey, c.TLSCA = "c", "k", "ca" }},
		{name: "cluster", mod: func(c *Config) { c.Join = []string{"h:25672"}; c.RAM = true; c.CookieFile = "f" }},
		{name: "zero limits", mod: func(c *Config) { c.FrameMax, c.ChannelMax, c.Heartbeat = 0, 0, 0 }},

		{name: "no port", mod: func(c *Config) { c.AMQPAddr = "localhost" }, wantErr: "amqp-addr"},
		{name: "port not a number", mod: func(c *Config) { c.HTTPAddr = ":http" }, wantErr: "http-addr"},
		{name: "port too big", mod: func(c *Config) { c.MetricsAddr = ":65536" }, wantErr: "metrics-addr"},
		{name: "bad cluster addr", mod: func(c *Config) { c.ClusterAddr = "a:b:c" }, wantErr: "cluster-addr"},
		{name: "bad join", mod: func(c *Config) { c.Join = []string{"nohost"} }, wantErr: "join"},
		{name: "cert without key", mod: func(c *Config) { c.TLSCert = "c" }, wantErr: "tls-cert and tls-key"},
		{name: "key without cert", mod: func(c *Config) { c.TLSKey = "k" }, wantErr: "tls-cert and tls-key"},
		{name: "ca without cert", mod: func(c *Config) { c.TLSCA = "ca" }, wantErr: "tls-ca"},
		{name: "tls without amqps addr", mod: func(c *Config) { c.TLSCert, c.TLSKey, c.AMQPSAddr = "c", "k", "" }, wantErr: "amqps-addr"},
		{name: "cookie and cookie file", mod: func(c *Config) { c.Cookie, c.CookieFile = "x", "f" }, wantErr: "mutually exclusive"},
		{name: "empty data dir", mod: func(c *Config) { c.DataDir = "" }, wantErr: "data-dir"},
		{name: "bad node name", mod: func(c *Config) { c.NodeName = "a b@c" }, wantErr: "node-name"},
		{name: "bad log level", mod: func(c *Config) { c.LogLevel = "loud" }, wantErr: "log-level"},
		{name: "empty user", mod: func(c *Config) { c.DefaultUser = "" }, wantErr: "default_user"},
		{name: "empty vhost", mod: func(c *Config) { c.DefaultVhost = "" }, wantErr: "default_vhost"},
		{name: "heartbeat too long", mod: func(c *Config) { c.Heartbeat = 65536 * time.Second }, wantErr: "heartbeat"},
		{name: "negative heartbeat", mod: func(c *Config) { c.Heartbeat = -time.Second }, wantErr: "heartbeat"},
		{name: "frame max too small", mod: func(c *Config) { c.FrameMax = 4095 }, wantErr: "frame_max"},
		{name: "message size zero", mod: func(c *Config) { c.MaxMessageSize = 0 }, wantErr: "max_message_size"},
		{name: "message size too big", mod: func(c *Config) { c.MaxMessageSize = 512<<20 + 1 }, wantErr: "max_message_size"},
		{name: "handshake timeout zero", mod: func(c *Config) { c.HandshakeTimeout = 0 }, wantErr: "handshake_timeout"},
		{
			name:    "all errors reported",
			mod:     func(c *Config) { c.AMQPAddr = "x"; c.FrameMax = 1 },
			wantErr: "frame_max",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := Default()
			tt.mod(c)
			err := c.Validate()
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("err = %v, want containing %q", err, tt.wantErr)
			}
		})
	}
}

func TestNormalizeAddr(t *testing.T) {
	tests := []struct{ in, want, err string }{
		{"5672", ":5672", ""},
		{" 5672 ", ":5672", ""},
		{":5672", ":5672", ""},
		{"127.0.0.1:0", "127.0.0.1:0", ""},
		{"localhost:5672", "localhost:5672", ""},
		{"[::1]:5672", "[::1]:5672", ""},
		{"::1:5672", "[::1]:5672", ""},
		{"", "", ""},
		{"none", "", ""},
		{"localhost", "", "host:port"},
		{"a:b:c", "", "host:port"},
	}
	for _, tt := range tests {
		got, err := NormalizeAddr(tt.in)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("NormalizeAddr(%q) err = %v, want %q", tt.in, err, tt.err)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("NormalizeAddr(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
}

func TestListeners(t *testing.T) {
	c := Default()
	c.TLSCert, c.TLSKey = "c", "k"
	c.ClusterAddr = ""
	var names []string
	for _, l := range c.Listeners() {
		names = append(names, l.Name)
	}
	eq(t, names, []string{"amqp", "amqps", "http", "metrics"})
	if !slices.ContainsFunc(c.Listeners(), func(l Listener) bool { return l.Name == "amqps" && l.Addr == ":5671" }) {
		t.Errorf("amqps listener missing: %v", c.Listeners())
	}
}

func eq[T any](t *testing.T, got, want T) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %#v, want %#v", got, want)
	}
}

func writeFile(t *testing.T, path, s string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
}
