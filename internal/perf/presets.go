package perf

import (
	"fmt"
	"io"
	"strings"
)

// Preset is a named set of flags for one of the RabbitMQ team's standard
// scenarios. --preset NAME puts Args before the explicit flags, so those
// override it. Presets set no duration: add -z.
type Preset struct {
	Name        string
	Description string
	Args        []string
}

// Each preset uses its own queue or exchange names, so that running one
// after another on the same broker does not clash on queue arguments.
var presets = []Preset{
	{"1p1c", "1 producer, 1 consumer, flat out: transient 16-byte messages, auto-ack",
		[]string{"-x", "1", "-y", "1", "-u", "perf-1p1c", "-s", "16", "-a"}},
	{"persistent-confirms", "1 producer, 1 consumer: persistent messages, 1,000 unconfirmed in flight, prefetch 1,000, manual acks",
		[]string{"-x", "1", "-y", "1", "-u", "perf-persistent", "-s", "16", "-f", "persistent", "-c", "1000", "-q", "1000"}},
	{"publish-only", "1 producer, no consumer: a growing backlog in the durable queue perf-backlog (drain it with the drain preset)",
		[]string{"-x", "1", "-y", "0", "-u", "perf-backlog", "-s", "16", "-ad", "false"}},
	{"drain", "no producer, 1 consumer: drain the backlog publish-only left in perf-backlog, prefetch 1,000",
		[]string{"-x", "0", "-y", "1", "-u", "perf-backlog", "-p", "-q", "1000"}},
	{"fanout-10", "1 producer, fanout exchange to 10 queues with a consumer each, auto-ack",
		[]string{"-t", "fanout", "-e", "perf-fanout", "-x", "1", "-y", "10", "-s", "16", "-a"}},
	{"confirm-1", "1 producer with 1 unconfirmed publish in flight (-c 1), 1 consumer: latency-bound round trips",
		[]string{"-x", "1", "-y", "1", "-u", "perf-confirm-1", "-s", "16", "-c", "1", "-a"}},
	{"many-publishers", "200 producers at 1 msg/s each (one connection each), 1 consumer",
		[]string{"-x", "200", "-y", "1", "-u", "perf-many-publishers", "-r", "1", "-s", "16", "-a"}},
	{"1000-queues", "1,000 queues perf-q-1..1000, a producer at 10 msg/s and a consumer on each",
		[]string{"-qp", "perf-q-%d", "-qpf", "1", "-qpt", "1000", "-x", "1000", "-y", "1000", "-r", "10", "-s", "16", "-a"}},
	{"10p10c", "10 producers, 10 consumers, 10 queues perf-10q-1..10: flat out, prefetch 100, manual acks",
		[]string{"-qp", "perf-10q-%d", "-qpf", "1", "-qpt", "10", "-x", "10", "-y", "10", "-s", "16", "-q", "100"}},
	{"multi-ack", "1 producer, 1 consumer acking with multiple=true every 50 messages, prefetch 100",
		[]string{"-x", "1", "-y", "1", "-u", "perf-multi-ack", "-s", "16", "-q", "100", "-A", "50"}},
	{"fixed-rate", "1 producer at a fixed 2,000 msg/s, 1 consumer: latency at a steady rate",
		[]string{"-x", "1", "-y", "1", "-u", "perf-fixed-rate", "-s", "16", "-r", "2000", "-a"}},
	{"ttl", "TTL expiry: 1,000 msg/s into a queue with x-message-ttl=1000 ms, a slow consumer (200 msg/s, prefetch 10)",
		[]string{"-x", "1", "-y", "1", "-u", "perf-ttl", "-s", "16", "-r", "1000", "-R", "200", "-q", "10", "-qa", "x-message-ttl=1000"}},
	{"nack", "1 producer at 1,000 msg/s, 1 consumer nacking every message with requeue (prefetch 100)",
		[]string{"-x", "1", "-y", "1", "-u", "perf-nack", "-s", "16", "-r", "1000", "-q", "100", "--nack"}},
	{"reject", "1 producer at 1,000 msg/s, 1 consumer nacking every message without requeue (dropped)",
		[]string{"-x", "1", "-y", "1", "-u", "perf-reject", "-s", "16", "-r", "1000", "-q", "100", "--nack", "--requeue", "false"}},
	{"connection-churn", "open and close 1,000 connections, 4 at a time: connections/s and broker CPU per connection",
		[]string{"--connection-churn", "1000", "-x", "4"}},
}

// Presets returns the named scenarios, in a stable order.
func Presets() []Preset {
	out := make([]Preset, len(presets))
	for i, p := range presets {
		out[i] = p
		out[i].Args = append([]string(nil), p.Args...)
	}
	return out
}

// PresetArgs returns the flags of preset name.
func PresetArgs(name string) ([]string, bool) {
	for _, p := range presets {
		if p.Name == name {
			return append([]string(nil), p.Args...), true
		}
	}
	return nil, false
}

// WritePresets lists the presets, one a line, with their flags.
func WritePresets(w io.Writer) error {
	width := 0
	for _, p := range presets {
		width = max(width, len(p.Name))
	}
	for _, p := range presets {
		if _, err := fmt.Fprintf(w, "%-*s  %s\n%-*s  %s\n", width, p.Name, p.Description, width, "", strings.Join(p.Args, " ")); err != nil {
			return err
		}
	}
	return nil
}
