package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/warrenmq/warren/internal/perf"
)

func init() { registerCommand(newPerfCmd) }

// newPerfCmd is `warren perf`, the load generator, with RabbitMQ PerfTest's
// flags. Flag parsing is done here rather than by cobra, because PerfTest
// has multi-letter single-dash options (-ad, -qa, -qp, ...) that pflag
// would split into letters: perf.TranslateArgs rewrites them first. -h is
// the URI, as in PerfTest; help is --help or -?.
func newPerfCmd() *cobra.Command {
	var cfg *perf.Config
	cmd := &cobra.Command{
		Use:   "perf [flags]",
		Short: "Load-test an AMQP broker (RabbitMQ PerfTest's flags)",
		Long: `Load-test an AMQP 0-9-1 broker (Warren or RabbitMQ) with RabbitMQ PerfTest's
flags and meanings. Each producer and consumer has its own connection.
A line is printed every sampling interval (sent/confirmed/received msg/s and
consumer latency percentiles from the send time in each message body) and a
summary at the end; on a terminal a progress bar follows -z and -C runs.
--json writes the samples and summary, --html a self-contained report with
charts of rates and latency percentiles.

--preset NAME starts from one of the standard scenarios ('warren perf
presets' lists them); flags after it override the preset's. --compare URI2
runs the workload alternately against --uri (A) and URI2 (B), --rounds
times, and reports B/A ratios with their spread. --connection-churn N opens
and closes N connections, -x at a time.

Without -u each consumer declares a server-named queue bound to the exchange
with the routing key, so -t fanout -e x -y 4 fans out to 4 queues. PerfTest's
multi-letter options -ad, -qa, -ct, -qp, -qpf, -qpt and -sb are accepted.`,
		Example: `  warren perf -h amqp://guest:guest@127.0.0.1:5672/ -x 1 -y 1 -u q -s 16 -a -z 15
  warren perf -h amqp://127.0.0.1:5672 -t fanout -e fan -x 1 -y 4 -s 256 -z 10
  warren perf -h amqp://127.0.0.1:5672 -x 10 -y 10 -qp perf-%d -qpf 1 -qpt 10 -q 100 -c 100 -C 10000
  warren perf -h amqp://127.0.0.1:5672 -u lat -r 2000 -a -z 30 --json report.json --html report.html
  warren perf presets
  warren perf -h amqp://127.0.0.1:5672 --preset fanout-10 -z 20 -s 1000
  warren perf -h amqp://127.0.0.1:5672 --compare amqp://127.0.0.1:5673 --rounds 3 --preset 1p1c -z 10
  warren perf -h amqp://127.0.0.1:5672 --connection-churn 2000 -x 4 --broker-pid 1234`,
		DisableFlagParsing: true,
		SilenceUsage:       true,
		RunE: func(cmd *cobra.Command, args []string) error {
			fs := cmd.Flags()
			if len(args) == 1 && args[0] == "presets" {
				return perf.WritePresets(cmd.OutOrStdout())
			}
			expanded, err := perf.ExpandPreset(args)
			if err != nil {
				return usageError{fmt.Errorf("%w\nRun '%s presets' for the list.", err, cmd.CommandPath())}
			}
			if err := fs.Parse(expanded); err != nil {
				return usageError{fmt.Errorf("%w\nRun '%s --help' for usage.", err, cmd.CommandPath())}
			}
			if help, _ := fs.GetBool("help"); help {
				return cmd.Help()
			}
			if list, _ := fs.GetBool("list-presets"); list {
				return perf.WritePresets(cmd.OutOrStdout())
			}
			if fs.NArg() > 0 {
				return usageError{fmt.Errorf("unexpected argument %q\nRun '%s --help' for usage.", fs.Arg(0), cmd.CommandPath())}
			}
			cfg.CommandLine = args
			if err := cfg.Finish(fs); err != nil {
				return usageError{err}
			}
			_, err = perf.Run(cmd.Context(), cfg, cmd.OutOrStdout())
			return err
		},
	}
	cfg = perf.AddFlags(cmd.Flags())
	return cmd
}
