package perf

import (
	"crypto/rand"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/pflag"
)

// Config is one perf run, as set by PerfTest's flags (see AddFlags). The
// meanings and defaults are PerfTest's (com.rabbitmq.perf.PerfTest): each
// producer and each consumer has its own connection; -C, -D and -r are per
// producer or consumer; without -u each consumer declares a server-named
// queue bound to the exchange, which is how a fanout is set up
// (-t fanout -e x -y 4).
type Config struct {
	ID                string   // -d: test ID printed on every line
	URIs              []string // -h (repeatable) and -H (comma-separated): connections spread round-robin
	ExchangeType      string   // -t
	Exchange          string   // -e: defaults to the exchange type's name; "" or amq.default is the default exchange
	Queues            []string // -u, comma-separated; none: one server-named queue per consumer
	RoutingKey        string   // -k: defaults to a random UUID
	SkipBindingQueues bool     // --skip-binding-queues (-sb)
	Interval          int      // -i: seconds between samples
	ProducerRate      float64  // -r: msg/s per producer, 0 = unlimited
	ConsumerRate      float64  // -R: msg/s per consumer, 0 = unlimited
	Producers         int      // -x
	Consumers         int      // -y
	Confirm           int      // -c: max unconfirmed publishes per producer; -1 = no confirms, 0 = confirms, unbounded
	ConfirmTimeout    int      // --confirm-timeout (-ct): seconds to wait for confirms
	AutoAck           bool     // -a
	MultiAckEvery     int      // -A
	Qos               int      // -q: consumer prefetch (basic.qos per consumer)
	GlobalQos         int      // -Q: channel prefetch (basic.qos global)
	Size              int      // -s: message size in bytes (at least 12)
	Time              int      // -z: seconds, 0 = unlimited
	ProducerMessages  int      // -C: messages per producer, 0 = unlimited
	ConsumerMessages  int      // -D: messages per consumer, 0 = unlimited
	Flags             []string // -f: persistent, mandatory
	FrameMax          int      // -M: requested frame_max, 0 = the server's
	Heartbeat         int      // -b: heartbeat seconds, 0 = none
	Predeclared       bool     // -p: use existing exchange/queues, declare only what is missing
	AutoDelete        bool     // --auto-delete (-ad): queues are auto-delete (default true)
	QueueArgs         map[string]any
	Exclusive         bool   // -E: exclusive queues
	QueuePattern      string // --queue-pattern (-qp), e.g. perf-%d
	QueuePatternFrom  int    // --queue-pattern-from (-qpf), inclusive
	QueuePatternTo    int    // --queue-pattern-to (-qpt), inclusive
	JSONFile          string // --json: write the report here
	HTMLFile          string // --html: write a self-contained HTML report here
	QuorumQueue       bool   // --quorum-queue (-qq): x-queue-type=quorum, durable, not auto-delete
	Nack              bool   // --nack (-na): consumers nack instead of ack
	Requeue           bool   // --requeue (-re): nacked messages are requeued (default true); false rejects them
	Preset            string // --preset: the preset whose flags came first (see Presets)
	ListPresets       bool   // --list-presets

	// Compare mode (not PerfTest's): run the workload alternately against
	// URIs[0] (A) and Compare (B), Rounds times; ComparePID is B's process.
	Compare    string
	Rounds     int
	ComparePID int

	// ConnectionChurn opens this many connections (handshake, channel.open,
	// close), Producers at a time, and reports connections/s (not PerfTest's).
	ConnectionChurn int

	// Accepted for PerfTest command lines; only 1 is supported (each
	// producer and consumer has its own connection).
	producersPerConn, consumersPerConn int

	// Modes for memory benchmarks (not PerfTest's): open this many idle
	// connections, or declare this many queues, then hold them.
	IdleConnections int
	IdleQueues      int
	ConnectionRate  float64 // connections (or queue declarations) per second while opening

	// BrokerPID, if set, is the broker's process (same machine): the
	// summary adds its CPU time per message over the measured window and
	// its RSS, from /proc. Not PerfTest's.
	BrokerPID int
	// CPUProfile writes a CPU profile of the perf process (hidden flag).
	CPUProfile string

	CommandLine []string // for the report

	queueArgsRaw string
	urisRaw      string
	queuesRaw    string
}

// Message body layout: the first 8 bytes are the send time (unix nanos).
const minSize = 12

// Flag names of PerfTest's multi-letter single-dash options, which pflag
// cannot express as shorthands: TranslateArgs rewrites -ad to --auto-delete.
var longShorts = map[string]string{
	"ad":  "auto-delete",
	"qa":  "queue-args",
	"ct":  "confirm-timeout",
	"qp":  "queue-pattern",
	"qpf": "queue-pattern-from",
	"qpt": "queue-pattern-to",
	"sb":  "skip-binding-queues",
	"qq":  "quorum-queue",
	"na":  "nack",
	"re":  "requeue",
}

// TranslateArgs rewrites PerfTest's multi-letter single-dash options
// (-ad false, -qa x-max-length=10, -ct 10, -qp perf-%d, -qpf 1, -qpt 10,
// -sb) into their long forms, as PerfTest's parser reads them, so that
// pflag does not take -ad for -a -d. Arguments after "--" are left alone.
func TranslateArgs(args []string) []string {
	out := make([]string, 0, len(args))
	for i, a := range args {
		if a == "--" {
			return append(out, args[i:]...)
		}
		if strings.HasPrefix(a, "-") && !strings.HasPrefix(a, "--") {
			name, val, hasVal := strings.Cut(a[1:], "=")
			if long, ok := longShorts[name]; ok {
				if hasVal {
					a = "--" + long + "=" + val
				} else {
					a = "--" + long
				}
			}
		}
		out = append(out, a)
	}
	return out
}

// AddFlags defines PerfTest's flags on fs and returns the Config they fill
// in. Call Finish after parsing. -h is the URI, as in PerfTest; help is
// --help (or -?).
func AddFlags(fs *pflag.FlagSet) *Config {
	c := &Config{}
	fs.SortFlags = false
	fs.StringVarP(&c.ID, "id", "d", "", "test ID (default test-HHMMSS-mmm)")
	fs.StringArrayVarP(&c.URIs, "uri", "h", nil, "connection URI, amqp://user:pass@host:port/vhost (repeatable: connections go round-robin over them) (default amqp://localhost)")
	fs.StringVarP(&c.urisRaw, "uris", "H", "", "connection URIs separated by commas (added to --uri)")
	fs.StringVarP(&c.ExchangeType, "type", "t", "direct", "exchange type")
	fs.StringVarP(&c.Exchange, "exchange", "e", "", `exchange name (default: the exchange type, e.g. "direct"; "" or amq.default is the default exchange)`)
	fs.StringVarP(&c.queuesRaw, "queue", "u", "", "queue name(s), separated by commas (default: a server-named queue per consumer)")
	fs.StringVarP(&c.RoutingKey, "routing-key", "k", "", "routing key (default: a random UUID)")
	fs.BoolVar(&c.SkipBindingQueues, "skip-binding-queues", false, "don't bind queues to the exchange (-sb)")
	fs.IntVarP(&c.Interval, "interval", "i", 1, "sampling interval in seconds")
	fs.Float64VarP(&c.ProducerRate, "rate", "r", 0, "producer rate limit in msg/s, per producer (0: unlimited)")
	fs.Float64VarP(&c.ConsumerRate, "consumer-rate", "R", 0, "consumer rate limit in msg/s, per consumer (0: unlimited)")
	fs.IntVarP(&c.Producers, "producers", "x", 1, "producer count")
	fs.IntVarP(&c.Consumers, "consumers", "y", 1, "consumer count")
	fs.IntVarP(&c.Confirm, "confirm", "c", -1, "max unconfirmed publishes per producer: publisher confirms on (0: confirms without a limit; -1: no confirms)")
	fs.IntVar(&c.ConfirmTimeout, "confirm-timeout", 30, "seconds to wait for outstanding confirms before failing (-ct)")
	fs.BoolVarP(&c.AutoAck, "autoack", "a", false, "consume with automatic acknowledgement (no-ack)")
	fs.IntVarP(&c.MultiAckEvery, "multi-ack-every", "A", 0, "ack with multiple=true every N messages (0: one multiple ack per read from the socket)")
	fs.IntVarP(&c.Qos, "qos", "q", 0, "consumer prefetch count (0: unlimited)")
	fs.IntVarP(&c.GlobalQos, "global-qos", "Q", 0, "channel prefetch count (basic.qos global)")
	fs.IntVarP(&c.Size, "size", "s", minSize, "message size in bytes (at least 12; the first 8 are the send time)")
	fs.IntVarP(&c.Time, "time", "z", 0, "run duration in seconds (0: unlimited)")
	fs.IntVarP(&c.ProducerMessages, "pmessages", "C", 0, "messages per producer (0: unlimited); the run ends when they are sent and received")
	fs.IntVarP(&c.ConsumerMessages, "cmessages", "D", 0, "messages per consumer (0: unlimited)")
	fs.StringSliceVarP(&c.Flags, "flag", "f", nil, "message flag: persistent, mandatory (repeatable or comma-separated)")
	fs.IntVarP(&c.FrameMax, "framemax", "M", 0, "requested frame_max (0: the server's)")
	fs.IntVarP(&c.Heartbeat, "heartbeat", "b", 0, "heartbeat interval in seconds (0: no heartbeats)")
	fs.BoolVarP(&c.Predeclared, "predeclared", "p", false, "use existing exchange and queues; declare only what is missing")
	c.AutoDelete = true
	fs.Var((*boolArg)(&c.AutoDelete), "auto-delete", "declare queues auto-delete (-ad false)")
	fs.StringVar(&c.queueArgsRaw, "queue-args", "", "queue arguments as key=value pairs separated by commas, e.g. x-max-length=10 (-qa)")
	fs.BoolVarP(&c.Exclusive, "exclusive", "E", false, "declare exclusive queues")
	fs.StringVar(&c.QueuePattern, "queue-pattern", "", "queue name pattern for a sequence of queues, e.g. perf-%d (-qp); producers and consumers are spread over them round-robin, each queue bound with its name as routing key")
	fs.IntVar(&c.QueuePatternFrom, "queue-pattern-from", -1, "queue pattern range start, inclusive (-qpf)")
	fs.IntVar(&c.QueuePatternTo, "queue-pattern-to", -1, "queue pattern range end, inclusive (-qpt)")
	fs.BoolVar(&c.QuorumQueue, "quorum-queue", false, "declare quorum queues: x-queue-type=quorum, -f persistent, -ad false (-qq)")
	fs.BoolVar(&c.Nack, "nack", false, "consumers nack messages instead of acking them; see --requeue (-na)")
	c.Requeue = true
	fs.Var((*boolArg)(&c.Requeue), "requeue", "with --nack: requeue nacked messages (--requeue false drops or dead-letters them) (-re)")
	fs.StringVar(&c.JSONFile, "json", "", "write a JSON report (command line, environment, samples, summary) to this file")
	fs.StringVar(&c.HTMLFile, "html", "", "write a self-contained HTML report (charts of rates and latency, summary, command line, environment) to this file")
	fs.StringVar(&c.Preset, "preset", "", "start from the named preset's flags (see --list-presets); flags after it override it")
	fs.BoolVar(&c.ListPresets, "list-presets", false, "list the presets and exit")
	fs.StringVar(&c.Compare, "compare", "", "compare mode: run the workload alternately against --uri (A) and this URI (B) and report B/A ratios")
	fs.IntVar(&c.Rounds, "rounds", 3, "compare mode: A/B rounds")
	fs.IntVar(&c.ComparePID, "compare-pid", 0, "compare mode: broker B's process id on this machine (CPU and RSS from /proc, as --broker-pid for A)")
	fs.IntVar(&c.producersPerConn, "producers-per-connection", 1, "producers sharing a connection: only 1 is supported (each producer has its own connection)")
	fs.IntVar(&c.consumersPerConn, "consumers-per-connection", 1, "consumers sharing a connection: only 1 is supported (each consumer has its own connection)")
	fs.IntVar(&c.ConnectionChurn, "connection-churn", 0, "open N connections (handshake, channel.open, close), -x at a time, and report connections/s and, with --broker-pid, broker CPU per connection")
	fs.IntVar(&c.IdleConnections, "idle-connections", 0, "memory test: open N idle connections (one channel each), print 'idle: ready', hold them until -z or interrupt")
	fs.IntVar(&c.IdleQueues, "idle-queues", 0, "memory test: declare N exclusive queues (named by --queue-pattern, default perf-idle-%d) on one connection, print 'idle: ready', hold them until -z or interrupt")
	fs.Float64Var(&c.ConnectionRate, "connection-rate", 500, "memory test: connections or queue declarations per second while opening")
	fs.IntVar(&c.BrokerPID, "broker-pid", 0, "broker process id on this machine: report its CPU µs per message over the run and its RSS (from /proc)")
	fs.StringVar(&c.CPUProfile, "cpuprofile", "", "write a CPU profile of warren perf itself to this file")
	_ = fs.MarkHidden("cpuprofile")
	fs.BoolP("help", "?", false, "show usage")
	return c
}

// Finish resolves defaults that depend on other flags (exchange name,
// routing key, test ID), splits the list flags and validates the whole.
// fs is the set AddFlags filled.
func (c *Config) Finish(fs *pflag.FlagSet) error {
	if c.ID == "" {
		c.ID = "test-" + time.Now().Format("150405.000")
		c.ID = strings.Replace(c.ID, ".", "-", 1)
	}
	c.URIs = append(c.URIs, splitList(c.urisRaw)...)
	if len(c.URIs) == 0 {
		c.URIs = []string{"amqp://localhost"}
	}
	for _, u := range c.URIs {
		if _, err := ParseURI(u); err != nil {
			return err
		}
	}
	c.Queues = append(c.Queues, splitList(c.queuesRaw)...)
	c.urisRaw, c.queuesRaw = "", ""
	if !fs.Changed("exchange") {
		c.Exchange = c.ExchangeType
	}
	if c.Exchange == "amq.default" {
		c.Exchange = ""
	}
	for i, f := range c.Flags {
		f = strings.ToLower(strings.TrimSpace(f))
		switch f {
		case "persistent", "mandatory":
		default:
			return fmt.Errorf("--flag %q: supported flags are persistent and mandatory", f)
		}
		c.Flags[i] = f
	}
	if c.Size < minSize {
		c.Size = minSize
	}
	args, err := parseQueueArgs(c.queueArgsRaw)
	if err != nil {
		return err
	}
	c.QueueArgs = args
	if c.QuorumQueue {
		// PerfTest's --quorum-queue: quorum queues are durable and cannot
		// be auto-delete or exclusive.
		if c.QueueArgs == nil {
			c.QueueArgs = map[string]any{}
		}
		c.QueueArgs["x-queue-type"] = "quorum"
		if !c.Persistent() {
			c.Flags = append(c.Flags, "persistent")
		}
		c.AutoDelete = false
		if c.Exclusive {
			return errors.New("--quorum-queue and --exclusive are exclusive: quorum queues cannot be exclusive")
		}
	}
	if c.QueuePattern != "" || c.QueuePatternFrom >= 0 || c.QueuePatternTo >= 0 {
		if c.IdleQueues > 0 && c.QueuePatternFrom < 0 && c.QueuePatternTo < 0 {
			// --idle-queues numbers the queues itself.
		} else if c.QueuePattern == "" || c.QueuePatternFrom < 0 || c.QueuePatternTo < 0 {
			return errors.New("--queue-pattern, --queue-pattern-from and --queue-pattern-to must be set together")
		} else if c.QueuePatternFrom > c.QueuePatternTo {
			return errors.New("--queue-pattern-to must be at least --queue-pattern-from")
		}
		if len(c.Queues) > 0 {
			return errors.New("--queue and --queue-pattern are exclusive")
		}
	}
	if c.RoutingKey == "" && !fs.Changed("routing-key") {
		c.RoutingKey = uuid()
	}
	switch {
	case c.Interval < 1:
		return errors.New("--interval must be at least 1 second")
	case c.Producers < 0 || c.Consumers < 0:
		return errors.New("--producers and --consumers must not be negative")
	case c.Confirm < -1:
		return errors.New("--confirm must be -1 (off), 0 (unbounded) or a window size")
	case c.ProducerRate < 0 || c.ConsumerRate < 0:
		return errors.New("--rate and --consumer-rate must not be negative")
	case c.Time < 0 || c.ProducerMessages < 0 || c.ConsumerMessages < 0:
		return errors.New("--time, --pmessages and --cmessages must not be negative")
	case c.Qos < 0 || c.Qos > 65535 || c.GlobalQos < 0 || c.GlobalQos > 65535:
		return errors.New("--qos and --global-qos must be within 0..65535")
	case c.MultiAckEvery < 0:
		return errors.New("--multi-ack-every must not be negative")
	case c.FrameMax < 0 || c.Heartbeat < 0 || c.Heartbeat > 65535:
		return errors.New("--framemax and --heartbeat must be within range")
	case c.IdleConnections < 0 || c.IdleQueues < 0:
		return errors.New("--idle-connections and --idle-queues must not be negative")
	case c.IdleConnections > 0 && c.IdleQueues > 0:
		return errors.New("--idle-connections and --idle-queues are exclusive")
	case c.ConnectionRate <= 0:
		return errors.New("--connection-rate must be positive")
	case c.Nack && c.AutoAck:
		return errors.New("--nack needs manual acknowledgements: drop -a")
	case c.Rounds < 1 || c.Rounds > 100:
		return errors.New("--rounds must be within 1..100")
	case c.ComparePID < 0 || c.BrokerPID < 0:
		return errors.New("--broker-pid and --compare-pid must not be negative")
	case c.ComparePID > 0 && c.Compare == "":
		return errors.New("--compare-pid needs --compare")
	case c.producersPerConn != 1 || c.consumersPerConn != 1:
		return errors.New("--producers-per-connection and --consumers-per-connection: only 1 is supported; every producer and consumer has its own connection")
	case c.ConnectionChurn < 0:
		return errors.New("--connection-churn must not be negative")
	case c.ConnectionChurn > 0 && (c.IdleConnections > 0 || c.IdleQueues > 0):
		return errors.New("--connection-churn and the idle modes are exclusive")
	}
	if c.Compare != "" {
		if _, err := ParseURI(c.Compare); err != nil {
			return fmt.Errorf("--compare: %w", err)
		}
		if c.IdleConnections > 0 || c.IdleQueues > 0 {
			return errors.New("--compare does not apply to the idle modes")
		}
		if c.Time == 0 && c.ProducerMessages == 0 && c.ConsumerMessages == 0 && c.ConnectionChurn == 0 {
			return errors.New("--compare needs runs that end: set -z (seconds per run), -C or -D")
		}
	}
	if c.Preset != "" {
		if _, ok := PresetArgs(c.Preset); !ok {
			return fmt.Errorf("--preset %q: no such preset (see --list-presets)", c.Preset)
		}
	}
	return nil
}

// Persistent reports whether -f persistent was given.
func (c *Config) Persistent() bool { return c.hasFlag("persistent") }

// Mandatory reports whether -f mandatory was given.
func (c *Config) Mandatory() bool { return c.hasFlag("mandatory") }

func (c *Config) hasFlag(f string) bool {
	for _, x := range c.Flags {
		if x == f {
			return true
		}
	}
	return false
}

// patternQueues returns the --queue-pattern queue names, in order.
func (c *Config) patternQueues() []string {
	if c.QueuePattern == "" || c.QueuePatternFrom < 0 {
		return nil
	}
	qs := make([]string, 0, c.QueuePatternTo-c.QueuePatternFrom+1)
	for i := c.QueuePatternFrom; i <= c.QueuePatternTo; i++ {
		qs = append(qs, fmt.Sprintf(c.QueuePattern, i))
	}
	return qs
}

// ParseArgs parses a PerfTest command line (without the program name)
// into a finished Config. It is AddFlags, TranslateArgs, Parse and Finish.
// A --help on the line returns pflag.ErrHelp.
func ParseArgs(args []string) (*Config, error) {
	fs := pflag.NewFlagSet("perf", pflag.ContinueOnError)
	fs.SetOutput(discard{})
	c := AddFlags(fs)
	expanded, err := ExpandPreset(args)
	if err != nil {
		return nil, err
	}
	if err := fs.Parse(expanded); err != nil {
		return nil, err
	}
	if h, _ := fs.GetBool("help"); h {
		return nil, pflag.ErrHelp
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	c.CommandLine = append([]string(nil), args...)
	if err := c.Finish(fs); err != nil {
		return nil, err
	}
	return c, nil
}

// ExpandPreset returns args (PerfTest's multi-letter options translated,
// see TranslateArgs) with the flags of the preset named by --preset put
// first, so that explicit flags override the preset's (list flags such as
// -f and --uri add to them). args without --preset are only translated.
func ExpandPreset(args []string) ([]string, error) {
	args = TranslateArgs(args)
	name, found := "", false
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			break
		}
		if v, ok := strings.CutPrefix(a, "--preset="); ok {
			name, found = v, true
		} else if a == "--preset" {
			if i+1 >= len(args) {
				return nil, errors.New("flag needs an argument: --preset")
			}
			name, found = args[i+1], true
			i++
		}
	}
	if !found {
		return args, nil
	}
	pa, ok := PresetArgs(name)
	if !ok {
		return nil, fmt.Errorf("--preset %q: no such preset (see --list-presets)", name)
	}
	return append(TranslateArgs(pa), args...), nil
}

// boolArg is a bool flag that takes its value as an argument
// (--auto-delete false), as PerfTest's -ad does.
type boolArg bool

func (b *boolArg) Set(s string) error {
	v, err := strconv.ParseBool(s)
	if err != nil {
		return fmt.Errorf("want true or false")
	}
	*b = boolArg(v)
	return nil
}

func (b *boolArg) String() string { return strconv.FormatBool(bool(*b)) }
func (b *boolArg) Type() string   { return "true|false" }

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }

func splitList(s string) []string {
	var out []string
	for _, x := range strings.Split(s, ",") {
		if x = strings.TrimSpace(x); x != "" {
			out = append(out, x)
		}
	}
	return out
}

// parseQueueArgs reads PerfTest's key=value,key=value queue arguments:
// integers become long values, anything else a string.
func parseQueueArgs(s string) (map[string]any, error) {
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	m := map[string]any{}
	for _, kv := range strings.Split(s, ",") {
		k, v, ok := strings.Cut(kv, "=")
		k = strings.TrimSpace(k)
		if !ok || k == "" {
			return nil, fmt.Errorf("--queue-args: %q is not key=value", kv)
		}
		v = strings.TrimSpace(v)
		if n, err := strconv.ParseInt(v, 10, 64); err == nil {
			m[k] = n
		} else {
			m[k] = v
		}
	}
	return m, nil
}

// uuid returns a random version-4 UUID, PerfTest's default routing key.
func uuid() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}
