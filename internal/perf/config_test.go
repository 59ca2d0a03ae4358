package perf

import (
	"errors"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/spf13/pflag"
)

// TestDefaults pins PerfTest's defaults (PerfTest.java: intArg(cmd, 'x', 1),
// strArg(cmd, 't', "direct"), confirm -1, auto-delete true, ...).
func TestDefaults(t *testing.T) {
	c, err := ParseArgs(nil)
	if err != nil {
		t.Fatal(err)
	}
	checks := []struct {
		name      string
		got, want any
	}{
		{"producers", c.Producers, 1},
		{"consumers", c.Consumers, 1},
		{"type", c.ExchangeType, "direct"},
		{"exchange (the type's name)", c.Exchange, "direct"},
		{"confirm", c.Confirm, -1},
		{"confirm timeout", c.ConfirmTimeout, 30},
		{"size", c.Size, 12},
		{"interval", c.Interval, 1},
		{"auto-delete", c.AutoDelete, true},
		{"autoack", c.AutoAck, false},
		{"uris", c.URIs, []string{"amqp://localhost"}},
		{"queues", len(c.Queues), 0},
		{"time", c.Time, 0},
		{"qos", c.Qos, 0},
		{"rate", c.ProducerRate, 0.0},
		{"heartbeat", c.Heartbeat, 0},
		{"persistent", c.Persistent(), false},
	}
	for _, ck := range checks {
		if !reflect.DeepEqual(ck.got, ck.want) {
			t.Errorf("%s = %#v, want %#v", ck.name, ck.got, ck.want)
		}
	}
	if !regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`).MatchString(c.RoutingKey) {
		t.Errorf("default routing key %q is not a random UUID", c.RoutingKey)
	}
	if !regexp.MustCompile(`^test-\d{6}-\d{3}$`).MatchString(c.ID) {
		t.Errorf("default id %q is not test-HHMMSS-mmm", c.ID)
	}
}

// TestFlags checks each flag against PerfTest's documented meaning.
func TestFlags(t *testing.T) {
	tests := []struct {
		args  string
		check func(c *Config) bool
	}{
		{"-x 3 -y 4", func(c *Config) bool { return c.Producers == 3 && c.Consumers == 4 }},
		{"--producers 2 --consumers 0", func(c *Config) bool { return c.Producers == 2 && c.Consumers == 0 }},
		{"-u q1", func(c *Config) bool { return slices.Equal(c.Queues, []string{"q1"}) }},
		{"-u a,b", func(c *Config) bool { return slices.Equal(c.Queues, []string{"a", "b"}) }},
		{"-s 4000", func(c *Config) bool { return c.Size == 4000 }},
		{"-s 4", func(c *Config) bool { return c.Size == 12 }}, // 12 is the minimum
		{"-f persistent", func(c *Config) bool { return c.Persistent() && !c.Mandatory() }},
		{"-f persistent -f mandatory", func(c *Config) bool { return c.Persistent() && c.Mandatory() }},
		{"-f persistent,mandatory", func(c *Config) bool { return c.Persistent() && c.Mandatory() }},
		{"--flag Persistent", func(c *Config) bool { return c.Persistent() }},
		{"-c 100", func(c *Config) bool { return c.Confirm == 100 }},
		{"-c 0", func(c *Config) bool { return c.Confirm == 0 }},
		{"-ct 5", func(c *Config) bool { return c.ConfirmTimeout == 5 }},
		{"-q 50 -Q 10", func(c *Config) bool { return c.Qos == 50 && c.GlobalQos == 10 }},
		{"-r 1000 -R 500.5", func(c *Config) bool { return c.ProducerRate == 1000 && c.ConsumerRate == 500.5 }},
		{"-z 15 -C 100 -D 50", func(c *Config) bool { return c.Time == 15 && c.ProducerMessages == 100 && c.ConsumerMessages == 50 }},
		{"--time 3 --pmessages 7 --cmessages 8", func(c *Config) bool {
			return c.Time == 3 && c.ProducerMessages == 7 && c.ConsumerMessages == 8
		}},
		{"-e x -t fanout", func(c *Config) bool { return c.Exchange == "x" && c.ExchangeType == "fanout" }},
		{"-t fanout", func(c *Config) bool { return c.Exchange == "fanout" }},
		{"-t topic -e amq.default", func(c *Config) bool { return c.Exchange == "" }},
		{"--exchange= -u q", func(c *Config) bool { return c.Exchange == "" }},
		{"-k rk", func(c *Config) bool { return c.RoutingKey == "rk" }},
		{"-a", func(c *Config) bool { return c.AutoAck }},
		{"-A 10", func(c *Config) bool { return c.MultiAckEvery == 10 && !c.AutoAck }},
		{"--multi-ack-every 5", func(c *Config) bool { return c.MultiAckEvery == 5 }},
		{"-i 5", func(c *Config) bool { return c.Interval == 5 }},
		{"-p", func(c *Config) bool { return c.Predeclared }},
		{"-E", func(c *Config) bool { return c.Exclusive }},
		{"-sb", func(c *Config) bool { return c.SkipBindingQueues }},
		{"-ad false", func(c *Config) bool { return !c.AutoDelete && !c.AutoAck && c.ID != "false" }},
		{"-ad true -a", func(c *Config) bool { return c.AutoDelete && c.AutoAck }},
		{"--auto-delete=false", func(c *Config) bool { return !c.AutoDelete }},
		{"-qa x-max-length=10,x-queue-type=quorum", func(c *Config) bool {
			return reflect.DeepEqual(c.QueueArgs, map[string]any{"x-max-length": int64(10), "x-queue-type": "quorum"})
		}},
		{"-M 8192 -b 10", func(c *Config) bool { return c.FrameMax == 8192 && c.Heartbeat == 10 }},
		{"-d my-test", func(c *Config) bool { return c.ID == "my-test" }},
		{"-h amqp://a:b@h1:1/v -h amqp://h2", func(c *Config) bool {
			return slices.Equal(c.URIs, []string{"amqp://a:b@h1:1/v", "amqp://h2"})
		}},
		{"--uri amqp://h1 -H amqp://h2,amqp://h3", func(c *Config) bool {
			return slices.Equal(c.URIs, []string{"amqp://h1", "amqp://h2", "amqp://h3"})
		}},
		{"-qp perf-%d -qpf 1 -qpt 3", func(c *Config) bool {
			return slices.Equal(c.patternQueues(), []string{"perf-1", "perf-2", "perf-3"})
		}},
		{"--queue-pattern q-%03d --queue-pattern-from 9 --queue-pattern-to 10", func(c *Config) bool {
			return slices.Equal(c.patternQueues(), []string{"q-009", "q-010"})
		}},
		{"--json out.json", func(c *Config) bool { return c.JSONFile == "out.json" }},
		{"--html out.html", func(c *Config) bool { return c.HTMLFile == "out.html" }},
		// PerfTest's --quorum-queue (-qq): x-queue-type=quorum, durable, not auto-delete.
		{"--quorum-queue -u qq", func(c *Config) bool {
			return c.QuorumQueue && c.QueueArgs["x-queue-type"] == "quorum" && c.Persistent() && !c.AutoDelete
		}},
		{"-qq -qa x-max-length=5", func(c *Config) bool {
			return c.QueueArgs["x-queue-type"] == "quorum" && c.QueueArgs["x-max-length"] == int64(5)
		}},
		{"-qa x-message-ttl=1000,x-dead-letter-exchange=dlx", func(c *Config) bool {
			return c.QueueArgs["x-message-ttl"] == int64(1000) && c.QueueArgs["x-dead-letter-exchange"] == "dlx"
		}},
		// PerfTest's --nack (-na) requeues unless --requeue false (-re false).
		{"--nack", func(c *Config) bool { return c.Nack && c.Requeue }},
		{"-na -re false", func(c *Config) bool { return c.Nack && !c.Requeue }},
		{"-p", func(c *Config) bool { return c.Predeclared }},
		{"--predeclared", func(c *Config) bool { return c.Predeclared }},
		{"--compare amqp://h2 --rounds 5 --compare-pid 42 --broker-pid 41 -z 10", func(c *Config) bool {
			return c.Compare == "amqp://h2" && c.Rounds == 5 && c.ComparePID == 42 && c.BrokerPID == 41
		}},
		{"--compare amqp://h2 -C 1000", func(c *Config) bool { return c.Rounds == 3 }}, // default rounds
		{"--connection-churn 500 -x 8", func(c *Config) bool { return c.ConnectionChurn == 500 && c.Producers == 8 }},
		{"--list-presets", func(c *Config) bool { return c.ListPresets }},
		{"--producers-per-connection 1 --consumers-per-connection 1", func(c *Config) bool { return c.producersPerConn == 1 }},
		{"--idle-connections 100 --connection-rate 50", func(c *Config) bool {
			return c.IdleConnections == 100 && c.ConnectionRate == 50
		}},
	}
	for _, tt := range tests {
		t.Run(tt.args, func(t *testing.T) {
			c, err := ParseArgs(strings.Fields(tt.args))
			if err != nil {
				t.Fatal(err)
			}
			if !tt.check(c) {
				t.Errorf("unexpected config: %+v", *c)
			}
		})
	}
}

func TestFlagErrors(t *testing.T) {
	for _, args := range []string{
		"-f immediate",
		"-qp perf-%d",
		"-qp perf-%d -qpf 3 -qpt 1",
		"-qp perf-%d -qpf 1 -qpt 3 -u q",
		"-i 0",
		"-h http://localhost",
		"-x -1",
		"-c -2",
		"-q 70000",
		"-ad maybe",
		"-qa novalue",
		"stray",
		"--no-such-flag",
		"--idle-connections 1 --idle-queues 1",
		"-a --nack",
		"-qq -E",
		"--compare amqp://h2",      // a compare run needs -z, -C or -D
		"--compare http://h2 -z 1", // not an amqp URI
		"--compare-pid 3 -z 1",     // without --compare
		"--compare amqp://h2 -z 1 --rounds 0",
		"--connection-churn -1",
		"--preset nosuch",
		"--preset",
		"-re perhaps",
		"--producers-per-connection 10",
	} {
		t.Run(args, func(t *testing.T) {
			if c, err := ParseArgs(strings.Fields(args)); err == nil {
				t.Errorf("no error; config %+v", *c)
			}
		})
	}
}

func TestHelpFlag(t *testing.T) {
	for _, args := range [][]string{{"--help"}, {"-?"}} {
		if _, err := ParseArgs(args); !errors.Is(err, pflag.ErrHelp) {
			t.Errorf("%v: err = %v, want pflag.ErrHelp", args, err)
		}
	}
	// Every flag has a usage line, and the PerfTest shorthands are there.
	fs := pflag.NewFlagSet("perf", pflag.ContinueOnError)
	AddFlags(fs)
	short := map[string]string{}
	fs.VisitAll(func(f *pflag.Flag) {
		if f.Usage == "" {
			t.Errorf("--%s has no usage", f.Name)
		}
		if f.Shorthand != "" {
			short[f.Shorthand] = f.Name
		}
	})
	want := map[string]string{
		"x": "producers", "y": "consumers", "u": "queue", "s": "size", "f": "flag", "c": "confirm",
		"q": "qos", "Q": "global-qos", "r": "rate", "R": "consumer-rate", "z": "time", "C": "pmessages",
		"D": "cmessages", "e": "exchange", "t": "type", "k": "routing-key", "a": "autoack",
		"A": "multi-ack-every", "i": "interval", "p": "predeclared", "h": "uri", "H": "uris",
		"d": "id", "M": "framemax", "b": "heartbeat", "E": "exclusive", "?": "help",
	}
	for s, name := range want {
		if short[s] != name {
			t.Errorf("-%s is --%s, want --%s", s, short[s], name)
		}
	}
}

func TestTranslateArgs(t *testing.T) {
	got := TranslateArgs([]string{"-ad", "false", "-qa=x-max-length=1", "-qp", "p-%d", "-qpf", "1", "-qpt", "2", "-ct", "3", "-sb", "-a", "-x", "1", "--", "-ad"})
	want := []string{"--auto-delete", "false", "--queue-args=x-max-length=1", "--queue-pattern", "p-%d", "--queue-pattern-from", "1",
		"--queue-pattern-to", "2", "--confirm-timeout", "3", "--skip-binding-queues", "-a", "-x", "1", "--", "-ad"}
	if !slices.Equal(got, want) {
		t.Errorf("TranslateArgs =\n%q\nwant\n%q", got, want)
	}
}

func TestParseURI(t *testing.T) {
	tests := []struct {
		in   string
		want URI
	}{
		{"amqp://localhost", URI{Addr: "localhost:5672", User: "guest", Password: "guest", Vhost: "/"}},
		{"amqp://u:p@127.0.0.1:5673/", URI{Addr: "127.0.0.1:5673", User: "u", Password: "p", Vhost: "/"}},
		{"amqp://u:p@h/%2f", URI{Addr: "h:5672", User: "u", Password: "p", Vhost: "/"}},
		{"amqp://u:p%40ss@h:1/my%2Fvhost", URI{Addr: "h:1", User: "u", Password: "p@ss", Vhost: "my/vhost"}},
		{"amqp://h/prod", URI{Addr: "h:5672", User: "guest", Password: "guest", Vhost: "prod"}},
		{"amqp://[::1]:5672/v", URI{Addr: "[::1]:5672", User: "guest", Password: "guest", Vhost: "v"}},
	}
	for _, tt := range tests {
		got, err := ParseURI(tt.in)
		if err != nil || got != tt.want {
			t.Errorf("ParseURI(%q) = %+v, %v; want %+v", tt.in, got, err, tt.want)
		}
	}
	for _, bad := range []string{"amqps://h", "http://h", "amqp://h/%zz", "::"} {
		if _, err := ParseURI(bad); err == nil {
			t.Errorf("ParseURI(%q): no error", bad)
		}
	}
}

// TestPresets: every preset parses; --preset puts its flags first, so
// flags after (or before) it override the preset's.
func TestPresets(t *testing.T) {
	ps := Presets()
	want := []string{"1p1c", "publish-only", "drain", "fanout-10", "confirm-1", "many-publishers", "1000-queues", "multi-ack", "ttl", "nack", "connection-churn"}
	var names []string
	for _, p := range ps {
		names = append(names, p.Name)
		if p.Description == "" || len(p.Args) == 0 {
			t.Errorf("preset %q: empty description or flags", p.Name)
		}
		c, err := ParseArgs([]string{"--preset", p.Name})
		if err != nil {
			t.Errorf("preset %q: %v", p.Name, err)
			continue
		}
		if c.Preset != p.Name {
			t.Errorf("preset %q: Config.Preset = %q", p.Name, c.Preset)
		}
		if args, ok := PresetArgs(p.Name); !ok || !slices.Equal(args, p.Args) {
			t.Errorf("PresetArgs(%q) = %q, %v", p.Name, args, ok)
		}
	}
	for _, w := range want {
		if !slices.Contains(names, w) {
			t.Errorf("no preset %q", w)
		}
	}
	if _, ok := PresetArgs("nosuch"); ok {
		t.Error("PresetArgs(nosuch) found something")
	}
	// Presets returns copies: changing one does not change the next call.
	ps[0].Args[0] = "changed"
	if Presets()[0].Args[0] == "changed" {
		t.Error("Presets shares its slices")
	}

	tests := []struct {
		args  string
		check func(c *Config) bool
	}{
		{"--preset fanout-10", func(c *Config) bool {
			return c.ExchangeType == "fanout" && c.Exchange == "perf-fanout" && c.Producers == 1 && c.Consumers == 10 && c.AutoAck && c.Size == 16
		}},
		{"--preset fanout-10 -y 4 -s 1000", func(c *Config) bool {
			return c.Consumers == 4 && c.Size == 1000 && c.ExchangeType == "fanout"
		}},
		{"-y 3 --preset=fanout-10", func(c *Config) bool { return c.Consumers == 3 }},
		{"--preset confirm-1", func(c *Config) bool { return c.Confirm == 1 && slices.Equal(c.Queues, []string{"perf-confirm-1"}) }},
		{"--preset confirm-1 -c 10", func(c *Config) bool { return c.Confirm == 10 }},
		{"--preset 1000-queues", func(c *Config) bool {
			return len(c.patternQueues()) == 1000 && c.Producers == 1000 && c.Consumers == 1000 && c.ProducerRate == 10
		}},
		{"--preset many-publishers", func(c *Config) bool { return c.Producers >= 100 && c.ProducerRate == 1 }},
		{"--preset multi-ack", func(c *Config) bool { return c.MultiAckEvery > 1 && !c.AutoAck && c.Qos > 0 }},
		{"--preset ttl", func(c *Config) bool { return c.QueueArgs["x-message-ttl"] == int64(1000) }},
		{"--preset nack", func(c *Config) bool { return c.Nack && c.Requeue && !c.AutoAck }},
		{"--preset reject", func(c *Config) bool { return c.Nack && !c.Requeue }},
		{"--preset publish-only", func(c *Config) bool { return c.Consumers == 0 && !c.AutoDelete }},
		{"--preset drain", func(c *Config) bool { return c.Producers == 0 && c.Predeclared }},
		{"--preset 1p1c --rate 100 --time 5", func(c *Config) bool { return c.ProducerRate == 100 && c.Time == 5 }},
		{"--preset connection-churn -x 2", func(c *Config) bool { return c.ConnectionChurn == 1000 && c.Producers == 2 }},
	}
	for _, tt := range tests {
		t.Run(tt.args, func(t *testing.T) {
			c, err := ParseArgs(strings.Fields(tt.args))
			if err != nil {
				t.Fatal(err)
			}
			if !tt.check(c) {
				t.Errorf("unexpected config: %+v", *c)
			}
			// The command line recorded is the one given, not the expansion.
			if strings.Join(c.CommandLine, " ") != tt.args {
				t.Errorf("CommandLine = %q", c.CommandLine)
			}
		})
	}
	var b strings.Builder
	if err := WritePresets(&b); err != nil || !strings.Contains(b.String(), "fanout-10") || strings.Count(b.String(), "\n") != 2*len(ps) {
		t.Errorf("WritePresets: %v\n%s", err, b.String())
	}
}
