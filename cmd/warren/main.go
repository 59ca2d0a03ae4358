// Command warren is a RabbitMQ-compatible AMQP 0-9-1 broker, its admin
// CLI and its load-test tool, in one binary.
//
// This file wires the command tree; each subcommand lives in its own file.
// A subcommand owned by another package (warren perf, warren ctl) is added
// from its own file in this directory with
//
//	func init() { registerCommand(newPerfCmd) }
//
// so that this file need not change.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"
)

// commands are the constructors of the subcommands beyond server and
// version, added by registerCommand from init functions.
var commands []func() *cobra.Command

// registerCommand adds a subcommand to `warren`. Call it from an init
// function in the file that defines the subcommand.
func registerCommand(newCmd func() *cobra.Command) { commands = append(commands, newCmd) }

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// Exit codes.
const (
	exitOK    = 0
	exitError = 1 // the command ran and failed
	exitUsage = 2 // bad command line
)

// run executes the command line args and returns the process exit code.
// SIGINT and SIGTERM cancel the context handed to the commands; a second
// signal kills the process the default way.
func run(args []string, stdout, stderr io.Writer) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		<-ctx.Done()
		stop() // restore default handling: a second signal ends the process
	}()

	root := newRootCmd()
	root.SetArgs(args)
	root.SetOut(stdout)
	root.SetErr(stderr)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return exitOK
	}
	fmt.Fprintf(stderr, "warren: %v\n", err)
	var ue usageError
	if errors.As(err, &ue) {
		return exitUsage
	}
	return exitError
}

// usageError marks a bad command line (exit code 2).
type usageError struct{ error }

func (e usageError) Unwrap() error { return e.error }

// noArgs is cobra.NoArgs as a usage error.
func noArgs(cmd *cobra.Command, args []string) error {
	if err := cobra.NoArgs(cmd, args); err != nil {
		return usageError{fmt.Errorf("%w\nRun '%s --help' for usage.", err, cmd.CommandPath())}
	}
	return nil
}

func newRootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:   "warren",
		Short: "Warren is a RabbitMQ-compatible AMQP 0-9-1 message broker",
		Long: `Warren is a RabbitMQ-compatible AMQP 0-9-1 message broker in one binary:
the broker (warren server) and, as they are built, its admin CLI and
load-test tool.`,
		Example: `  warren server
  warren server --amqp-addr 127.0.0.1:0 --data-dir /tmp/w1
  warren version`,
		Version:       versionString(),
		SilenceUsage:  true,
		SilenceErrors: true,
		Args:          noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return cmd.Help()
		},
		CompletionOptions: cobra.CompletionOptions{HiddenDefaultCmd: true},
	}
	root.SetVersionTemplate("{{.Version}}\n")
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return usageError{fmt.Errorf("%w\nRun '%s --help' for usage.", err, c.CommandPath())}
	})
	root.AddCommand(newServerCmd(), newVersionCmd())
	for _, newCmd := range commands {
		root.AddCommand(newCmd())
	}
	return root
}
