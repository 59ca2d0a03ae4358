package main

import (
	"os"

	"github.com/spf13/cobra"

	"github.com/warrenmq/warren/internal/ctl"
)

func init() { registerCommand(newCtlCmd) }

// ctlExit ends the process with warren ctl's exit code. rabbitmqctl's
// codes (64 usage, 65 data error, 69 unavailable, 70 software, ...) are
// part of the contract scripts rely on, and run() only knows 0, 1 and 2.
var ctlExit = os.Exit

// newCtlCmd is `warren ctl`, the rabbitmqctl of Warren. Arguments are
// parsed by internal/ctl, not cobra: options before the verb are global
// (-u and -p are the credentials), after it they are the verb's
// (-p is the vhost), as rabbitmqctl's.
func newCtlCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "ctl [--node URL] [-u USER -p PASS] VERB [ARGS]",
		Short: "Administer a node with rabbitmqctl's verbs, over the management API",
		Long: `Administer a Warren (or RabbitMQ) node with rabbitmqctl's verbs, arguments,
output and exit codes, over the node's management HTTP API.

--node takes the management URL (http://host:15672) or a node name
(rabbit@host, meaning http://host:15672); the default is $WARREN_CTL_NODE,
else http://localhost:15672. -u and -p (default guest/guest, or
$WARREN_CTL_USERNAME and $WARREN_CTL_PASSWORD) go before the verb; after
the verb -p is the virtual host, as in rabbitmqctl.

Run 'warren ctl help' for the verbs and 'warren ctl help VERB' for one.`,
		Example: `  warren ctl list_queues -p / name messages consumers
  warren ctl --node http://broker:15672 -u admin -p secret add_user bob s3cret
  warren ctl set_permissions -p /prod bob '.*' '.*' '.*'
  warren ctl list_users --formatter json
  warren ctl export_definitions /tmp/defs.json`,
		DisableFlagParsing: true,
		SilenceUsage:       true,
		RunE: func(cmd *cobra.Command, args []string) error {
			code := ctl.Run(cmd.Context(), args, ctl.Env{
				Stdin:  cmd.InOrStdin(),
				Stdout: cmd.OutOrStdout(),
				Stderr: cmd.ErrOrStderr(),
				Getenv: os.Getenv,
				Prog:   "warren ctl",
			})
			if code != ctl.ExitOK {
				ctlExit(code)
			}
			return nil
		},
	}
}
