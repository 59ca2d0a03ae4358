// Package ctl is `warren ctl`, Warren's rabbitmqctl: the same verbs,
// arguments, columns, output and exit codes, spoken to a node over its
// management HTTP API (RabbitMQ's /api shape) instead of Erlang
// distribution. So it also works against a RabbitMQ node with the
// management plugin.
//
//	warren ctl [--node URL] [-u USER -p PASS] VERB [ARGS]
//
// Options before the verb are global: -u and -p are the API credentials
// there. After the verb the options are rabbitmqctl's, where -p is the
// virtual host (list_queues -p /prod) and --username/--password still
// give credentials.
//
// Output follows rabbitmqctl 3.10: info lines ("Listing queues for vhost
// / ...") on stdout unless -q, a tab-separated header and rows (no header
// with -s or --no-table-headers, none at all when there are no rows),
// errors on stderr, and --formatter json|table|csv|pretty_table. Exit
// codes are rabbitmqctl's (sysexits.h), listed below.
package ctl

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/spf13/pflag"
)

// Exit codes, rabbitmqctl's (sysexits.h).
const (
	ExitOK          = 0
	ExitUsage       = 64 // bad command line
	ExitDataErr     = 65 // bad input data, or the object named does not exist (some verbs)
	ExitNoInput     = 66 // an input file cannot be read
	ExitNoUser      = 67 // the user named does not exist
	ExitUnavailable = 69 // node unreachable, object missing (some verbs), or not supported by the node
	ExitSoftware    = 70 // the operation failed (e.g. the user already exists)
	ExitCantCreate  = 73 // an output file cannot be written
	ExitTempFail    = 75 // timed out
	ExitProtocol    = 76 // the node answered something that is not the API
	ExitNoPerm      = 77 // credentials refused or not allowed
	ExitInterrupted = 130
)

// Env is what a run of warren ctl talks to.
type Env struct {
	Stdin          io.Reader
	Stdout, Stderr io.Writer
	// Getenv reads WARREN_CTL_NODE, WARREN_CTL_USERNAME and
	// WARREN_CTL_PASSWORD; nil reads nothing.
	Getenv func(string) string
	// HTTPClient, if set, replaces the default client.
	HTTPClient *http.Client
	// Prog is how the command is named in help ("warren ctl").
	Prog string
}

// Environment variables giving defaults for the global options.
const (
	EnvNode     = "WARREN_CTL_NODE"
	EnvUser     = "WARREN_CTL_USERNAME"
	EnvPassword = "WARREN_CTL_PASSWORD"
)

// options are the options every verb takes.
type options struct {
	node      string
	user      string
	pass      string
	vhost     string
	formatter string
	quiet     bool
	silent    bool
	noHeaders bool
	timeout   float64 // seconds; 0: the verb's default
	longnames bool
	help      bool
}

// verbFlags are the options particular verbs take.
type verbFlags struct {
	ifEmpty, ifUnused      bool
	priority               int
	applyTo                string
	description, tags, dqt string
	ram, disc              bool
	offline, online, local bool
	format                 string
	skipIfUnchanged        bool
	unit                   string
}

// verb is one rabbitmqctl command.
type verb struct {
	name  string
	group string
	// usage is what follows the verb in the usage line.
	usage string
	short string
	// args documents the arguments and options ("Arguments and Options").
	args string
	// min and max positional arguments; max < 0: any number.
	min, max int
	// vhost: the verb is scoped to a virtual host (-p/--vhost, default /).
	vhost bool
	// columns a list verb may print, and those it prints by default;
	// positional arguments are then column names.
	columns  []column
	defaults []string
	// flags adds the verb's own options.
	flags func(fs *pflag.FlagSet, f *verbFlags)
	// timeout is the default --timeout; 0: none.
	timeout time.Duration
	run     func(c *cmd) error
}

// cmd is one run of a verb.
type cmd struct {
	ctx    context.Context
	verb   *verb
	opts   options
	flags  verbFlags
	args   []string
	cols   []column // list verbs: the columns to print
	node   string   // the --node value as given (for messages)
	cli    *client
	env    Env
	stdout io.Writer
	stderr io.Writer
}

// Error is a verb's failure: what to print on stderr and the exit code.
type Error struct {
	Code int
	Msg  string
	// How Msg is printed: "Error:\n<msg>" (the default, rabbitmqctl's for
	// a failed command), "Error: <msg>" (inline), or <msg> alone (bare).
	inline, bare bool
	// usage marks an argument validation error: printed with the usage line.
	usage bool
}

func (e *Error) Error() string { return e.Msg }

func usageErr(format string, args ...any) *Error {
	return &Error{Code: ExitUsage, Msg: fmt.Sprintf(format, args...), usage: true}
}

func failure(code int, format string, args ...any) *Error {
	return &Error{Code: code, Msg: fmt.Sprintf(format, args...)}
}

// Run runs warren ctl with args (those after "ctl") and returns the exit
// code.
func Run(ctx context.Context, args []string, env Env) int {
	if env.Stdout == nil {
		env.Stdout = io.Discard
	}
	if env.Stderr == nil {
		env.Stderr = io.Discard
	}
	if env.Stdin == nil {
		env.Stdin = strings.NewReader("")
	}
	if env.Getenv == nil {
		env.Getenv = func(string) string { return "" }
	}
	if env.Prog == "" {
		env.Prog = "warren ctl"
	}
	table := verbTable()

	opts := options{
		node:      env.Getenv(EnvNode),
		user:      "guest",
		pass:      "guest",
		vhost:     "/",
		formatter: fmtTable,
	}
	if u := env.Getenv(EnvUser); u != "" {
		opts.user = u
	}
	if p := env.Getenv(EnvPassword); p != "" {
		opts.pass = p
	}
	args = helpAliases(args)

	// Global options, up to the verb.
	gfs := pflag.NewFlagSet("warren ctl", pflag.ContinueOnError)
	gfs.SetOutput(io.Discard)
	gfs.SetInterspersed(false)
	addCommonFlags(gfs, &opts, true)
	if err := gfs.Parse(args); err != nil {
		return printErr(env, nil, args, usageErr("%v", err))
	}
	rest := gfs.Args()
	if len(rest) == 0 {
		if opts.help {
			printGeneralHelp(env.Stdout, env.Prog, table)
			return ExitOK
		}
		printGeneralHelp(env.Stderr, env.Prog, table)
		return ExitUsage
	}
	name := rest[0]
	if name == "help" {
		switch len(rest) {
		case 1:
			printGeneralHelp(env.Stdout, env.Prog, table)
			return ExitOK
		case 2:
			if v := table[rest[1]]; v != nil {
				printVerbHelp(env.Stdout, env.Prog, v)
				return ExitOK
			}
			name = rest[1]
		default:
			return printErr(env, nil, args, usageErr("too many arguments."))
		}
	}
	v := table[name]
	if v == nil {
		fmt.Fprintf(env.Stderr, "\nCommand '%s' not found. \n", name)
		if s := suggest(name, table); s != "" {
			fmt.Fprintf(env.Stderr, "Did you mean '%s'?\n", s)
		}
		fmt.Fprintln(env.Stderr)
		printGeneralHelp(env.Stderr, env.Prog, table)
		return ExitUsage
	}
	if opts.help {
		printVerbHelp(env.Stdout, env.Prog, v)
		return ExitOK
	}

	// The verb's options, anywhere among its arguments.
	c := &cmd{ctx: ctx, verb: v, env: env, stdout: env.Stdout, stderr: env.Stderr}
	vfs := pflag.NewFlagSet(v.name, pflag.ContinueOnError)
	vfs.SetOutput(io.Discard)
	addCommonFlags(vfs, &opts, false)
	if v.flags != nil {
		v.flags(vfs, &c.flags)
	}
	if err := vfs.Parse(rest[1:]); err != nil {
		msg := err.Error()
		if strings.Contains(msg, "shorthand flag: 'u'") {
			msg += " (credentials go before the verb: " + env.Prog + " -u USER -p PASS " + v.name + " ...)"
		}
		return printErr(env, v, args, usageErr("%s", msg))
	}
	if opts.help {
		printVerbHelp(env.Stdout, env.Prog, v)
		return ExitOK
	}
	c.args = vfs.Args()
	c.opts = opts
	if err := c.validate(); err != nil {
		return printErr(env, v, args, err)
	}

	base, ui, err := nodeURL(opts.node)
	if err != nil {
		return printErr(env, v, args, &Error{Code: ExitUsage, Msg: err.Error(), inline: true})
	}
	if ui != nil {
		// Credentials in the URL count unless -u/-p were given.
		if !gfs.Changed("username") && !vfs.Changed("username") && env.Getenv(EnvUser) == "" {
			c.opts.user = ui.Username()
		}
		if p, ok := ui.Password(); ok && !gfs.Changed("password") && !vfs.Changed("password") && env.Getenv(EnvPassword) == "" {
			c.opts.pass = p
		}
	}
	c.node = opts.node
	if c.node == "" {
		c.node = base.String()
	}
	hc := env.HTTPClient
	if hc == nil {
		hc = newHTTPClient()
	}
	c.cli = &client{base: base, user: c.opts.user, pass: c.opts.pass, hc: hc}

	timeout := v.timeout
	if opts.timeout > 0 {
		timeout = time.Duration(opts.timeout * float64(time.Second))
	}
	if timeout > 0 {
		var cancel context.CancelFunc
		c.ctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	err = v.run(c)
	if err == nil {
		return ExitOK
	}
	return printErr(env, v, args, c.classify(err, timeout))
}

// helpAliases turns rabbitmqctl's -? into --help.
func helpAliases(args []string) []string {
	out := make([]string, len(args))
	for i, a := range args {
		if a == "-?" {
			a = "--help"
		}
		out[i] = a
	}
	return out
}

// addCommonFlags adds the options every verb takes. Before the verb (global)
// -u and -p are the credentials; after it -p is the vhost, as rabbitmqctl's.
func addCommonFlags(fs *pflag.FlagSet, o *options, global bool) {
	fs.StringVarP(&o.node, "node", "n", o.node, "")
	if global {
		fs.StringVarP(&o.user, "username", "u", o.user, "")
		fs.StringVarP(&o.pass, "password", "p", o.pass, "")
		fs.StringVar(&o.vhost, "vhost", o.vhost, "")
	} else {
		fs.StringVar(&o.user, "username", o.user, "")
		fs.StringVar(&o.pass, "password", o.pass, "")
		fs.StringVarP(&o.vhost, "vhost", "p", o.vhost, "")
	}
	fs.StringVar(&o.formatter, "formatter", o.formatter, "")
	fs.BoolVarP(&o.quiet, "quiet", "q", o.quiet, "")
	fs.BoolVarP(&o.silent, "silent", "s", o.silent, "")
	fs.BoolVar(&o.noHeaders, "no-table-headers", o.noHeaders, "")
	fs.Float64VarP(&o.timeout, "timeout", "t", o.timeout, "")
	fs.BoolVarP(&o.longnames, "longnames", "l", o.longnames, "")
	fs.BoolVarP(&o.help, "help", "h", o.help, "")
}

// validate checks the arguments before anything is sent.
func (c *cmd) validate() *Error {
	v := c.verb
	if !slices.Contains(formatters, c.opts.formatter) {
		return usageErr("unknown formatter %q: use one of %s", c.opts.formatter, strings.Join(formatters, ", "))
	}
	if c.opts.timeout < 0 {
		return usageErr("the timeout must be a positive number of seconds")
	}
	if v.columns != nil {
		var names []string
		for _, a := range c.args {
			for _, n := range strings.Split(a, ",") {
				if n = strings.TrimSpace(n); n != "" {
					names = append(names, n)
				}
			}
		}
		if len(names) == 0 {
			names = v.defaults
		}
		var bad []string
		for _, n := range names {
			i := slices.IndexFunc(v.columns, func(col column) bool { return col.name == n })
			if i < 0 {
				bad = append(bad, n)
				continue
			}
			c.cols = append(c.cols, v.columns[i])
		}
		if len(bad) > 0 {
			return usageErr("Info key(s) %s are not supported", strings.Join(bad, ","))
		}
		return nil
	}
	if len(c.args) < v.min {
		return usageErr("not enough arguments.")
	}
	if v.max >= 0 && len(c.args) > v.max {
		return usageErr("too many arguments.")
	}
	return nil
}

// info prints an info line ("Listing users ...") unless -q or -s, or the
// output is JSON or CSV.
func (c *cmd) info(format string, args ...any) {
	if c.opts.quiet || c.opts.silent || c.opts.formatter == fmtJSON || c.opts.formatter == fmtCSV {
		return
	}
	fmt.Fprintf(c.stdout, format+"\n", args...)
}

// classify turns any error from a verb into an Error with an exit code.
func (c *cmd) classify(err error, timeout time.Duration) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	node := c.node
	var he *httpError
	if errors.As(err, &he) {
		switch he.Status {
		case http.StatusUnauthorized, http.StatusForbidden:
			return &Error{Code: ExitNoPerm, inline: true, Msg: fmt.Sprintf(
				"node %s refused user %q: %s (HTTP %d). Give credentials before the verb: %s -u USER -p PASS %s ...",
				node, c.cli.user, he.message(), he.Status, c.env.Prog, c.verb.name)}
		case http.StatusNotFound, http.StatusMethodNotAllowed, http.StatusNotImplemented:
			return unsupported(c, fmt.Sprintf("%s %s answered %d %s", he.Method, he.Path, he.Status, he.message()))
		case http.StatusBadRequest:
			return failure(ExitDataErr, "%s", he.message())
		case http.StatusServiceUnavailable:
			return failure(ExitUnavailable, "%s", he.message())
		}
		return failure(ExitSoftware, "%s", he.Error())
	}
	var ba *badAnswer
	if errors.As(err, &ba) {
		return &Error{Code: ExitProtocol, inline: true, Msg: fmt.Sprintf("node %s: %v (is it a Warren or RabbitMQ management listener?)", node, ba)}
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return &Error{Code: ExitTempFail, inline: true, Msg: fmt.Sprintf(
			"operation %s on node %s timed out. Timeout value used: %d", c.verb.name, node, timeout.Milliseconds())}
	}
	if errors.Is(err, context.Canceled) {
		return &Error{Code: ExitInterrupted, inline: true, Msg: "interrupted"}
	}
	var ue *url.Error
	var ne net.Error
	if errors.As(err, &ue) || errors.As(err, &ne) {
		return &Error{Code: ExitUnavailable, inline: true, Msg: fmt.Sprintf(
			"unable to perform an operation on node '%s': %v\nIs the node running with its management listener (--http-addr) on? Name another node with --node URL or %s.",
			node, unwrapURLError(err), EnvNode)}
	}
	return failure(ExitSoftware, "%v", err)
}

// unsupported is the error of an operation the node's API does not offer.
func unsupported(c *cmd, detail string) *Error {
	msg := fmt.Sprintf("node %s does not support %s over the HTTP API yet", c.node, c.verb.name)
	if detail != "" {
		msg += " (" + detail + ")"
	}
	return &Error{Code: ExitUnavailable, Msg: msg}
}

func unwrapURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

// printErr prints an error as rabbitmqctl does and returns its exit code.
func printErr(env Env, v *verb, args []string, e *Error) int {
	w := env.Stderr
	switch {
	case e.usage:
		fmt.Fprintf(w, "Error (argument validation): %s\nArguments given:\n\t%s\n", e.Msg, strings.Join(args, " "))
		if v != nil {
			fmt.Fprintf(w, "\nUsage\n\n%s\n", usageLine(env.Prog, v))
		} else {
			fmt.Fprintf(w, "\nRun '%s help' for usage.\n", env.Prog)
		}
	case e.bare:
		fmt.Fprintln(w, e.Msg)
	case e.inline:
		fmt.Fprintf(w, "Error: %s\n", e.Msg)
	default:
		fmt.Fprintf(w, "Error:\n%s\n", e.Msg)
	}
	return e.Code
}

// suggest returns the verb closest to a mistyped name, if close enough.
func suggest(name string, table map[string]*verb) string {
	best, bestD := "", 4
	names := make([]string, 0, len(table))
	for n := range table {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		if d := editDistance(name, n); d < bestD {
			best, bestD = n, d
		}
	}
	return best
}

func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
