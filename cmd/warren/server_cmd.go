package main

import (
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/warrenmq/warren/internal/config"
)

func newServerCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "server",
		Short: "Run a Warren broker node",
		Long: `Run a Warren broker node.

Every flag can also be set with a WARREN_<FLAG> environment variable
(--amqp-addr is WARREN_AMQP_ADDR) and in a rabbitmq.conf-style file named by
--config or WARREN_CONFIG. Precedence, lowest first: built-in defaults,
config file, environment, flags. An empty address disables a listener.

Settings without a flag (environment variable / config-file key, default):
` + envOnlyHelp() + `
Listeners log "<name> listening on <host:port>" once bound, so ephemeral
ports (--amqp-addr 127.0.0.1:0) can be discovered from the log.`,
		Example: `  warren server
  warren server --data-dir /var/lib/warren --amqp-addr 127.0.0.1:5672
  warren server --config /etc/warren/rabbitmq.conf
  warren server --amqps-addr :5671 --tls-cert server.pem --tls-key server.key
  warren server --node-name warren@b --join a.example:25672 --cookie-file /etc/warren/cookie`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			flags := map[string]string{}
			cmd.Flags().Visit(func(f *pflag.Flag) {
				if v, ok := f.Value.(*settingFlag); ok {
					flags[f.Name] = v.raw
				}
			})
			cfg, warnings, err := config.Load(flags, os.Environ())
			if err != nil {
				return err
			}
			log := newLogger(cmd.ErrOrStderr(), cfg.SlogLevel())
			for _, w := range warnings {
				log.Warn("config: " + w)
			}
			log.Info("warren starting", "version", Version(), "node", cfg.NodeName,
				"data_dir", cfg.DataDir, "config", cfg.ConfigFile, "pid", os.Getpid())
			if err := runServer(cmd.Context(), cfg, log); err != nil {
				log.Error("warren stopped", "err", err)
				return err
			}
			log.Info("warren stopped")
			return nil
		},
	}
	fs := cmd.Flags()
	fs.SortFlags = false
	def := config.Default()
	for _, s := range config.Settings() {
		if !s.Flag {
			continue
		}
		v := &settingFlag{s: s, def: s.Value(def)}
		f := fs.VarPF(v, s.Name, "", s.Usage)
		if s.Bool {
			f.NoOptDefVal = "true"
		}
	}
	return cmd
}

// newLogger returns the process logger: text lines on w at level and above.
func newLogger(w io.Writer, level slog.Level) *slog.Logger {
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: level}))
}

// settingFlag is a pflag.Value that checks a config setting's syntax when
// the flag is parsed but only records the raw text, so that config.Load
// can apply flags last, over the config file and the environment.
type settingFlag struct {
	s   config.Setting
	def string
	raw string
	set bool
}

func (f *settingFlag) String() string {
	if f.set {
		return f.raw
	}
	return f.def
}

func (f *settingFlag) Set(v string) error {
	if f.set && f.s.Name == "join" { // repeatable
		v = f.raw + "," + v
	}
	if err := f.s.Set(config.Default(), v); err != nil {
		return err
	}
	f.raw, f.set = v, true
	return nil
}

func (f *settingFlag) Type() string {
	switch {
	case f.s.Bool:
		return "bool"
	case f.s.Name == "join":
		return "stringSlice"
	}
	return "string"
}

// envOnlyHelp lists the settings that have no flag.
func envOnlyHelp() string {
	var b strings.Builder
	def := config.Default()
	for _, s := range config.Settings() {
		if s.Flag {
			continue
		}
		fmt.Fprintf(&b, "  %-26s %-18s %s (default %s)\n",
			config.EnvName(s.Name), config.ConfKey(s.Name), s.Usage, s.Value(def))
	}
	return b.String()
}
