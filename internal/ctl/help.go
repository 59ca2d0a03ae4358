package ctl

import (
	"fmt"
	"io"
	"sort"
	"strings"
)

// groups orders the verb groups in the general help, as rabbitmqctl's.
var groups = []string{"Nodes", "Cluster", "Users", "Access Control", "Monitoring, observability and health checks",
	"Policies", "Virtual hosts", "Definitions", "Queues"}

// verbTable is every verb by name.
func verbTable() map[string]*verb {
	m := map[string]*verb{}
	for _, list := range [][]*verb{userVerbs(), listVerbs(), queueVerbs(), policyVerbs(), nodeVerbs(), definitionVerbs()} {
		for _, v := range list {
			if m[v.name] != nil {
				panic("ctl: verb " + v.name + " defined twice")
			}
			m[v.name] = v
		}
	}
	return m
}

func usageLine(prog string, v *verb) string {
	s := prog + " [--node <node>] [-u <user> -p <password>] [--quiet] " + v.name
	if v.usage != "" {
		s += " " + v.usage
	}
	return s
}

func printGeneralHelp(w io.Writer, prog string, table map[string]*verb) {
	fmt.Fprintf(w, `
Usage

%s [--node <node>] [-u <user> -p <password>] [--timeout <timeout>] [--quiet] <command> [<command options>]

rabbitmqctl's commands, run against a Warren (or RabbitMQ) node over its
management HTTP API.

Available commands:
`, prog)
	byGroup := map[string][]*verb{}
	for _, v := range table {
		byGroup[v.group] = append(byGroup[v.group], v)
	}
	for _, g := range groups {
		vs := byGroup[g]
		if len(vs) == 0 {
			continue
		}
		sort.Slice(vs, func(i, j int) bool { return vs[i].name < vs[j].name })
		fmt.Fprintf(w, "\n%s:\n\n", g)
		for _, v := range vs {
			fmt.Fprintf(w, "   %-29s %s\n", v.name, v.short)
		}
	}
	fmt.Fprintf(w, "\nUse '%s help <command>' to learn more about a specific command\n", prog)
	printGeneralOptions(w)
	printExitCodes(w)
}

func printVerbHelp(w io.Writer, prog string, v *verb) {
	fmt.Fprintf(w, "\nUsage\n\n%s\n\n%s\n", usageLine(prog, v), v.short+".")
	var args strings.Builder
	if v.columns != nil {
		names := make([]string, len(v.columns))
		for i, c := range v.columns {
			names[i] = c.name
		}
		sort.Strings(names)
		fmt.Fprintf(&args, "<column>\n\tmust be one of %s\n\tdefault: %s\n", strings.Join(names, ", "), strings.Join(v.defaults, " "))
	}
	if v.args != "" {
		if args.Len() > 0 {
			args.WriteString("\n")
		}
		args.WriteString(strings.TrimLeft(v.args, "\n"))
	}
	if args.Len() > 0 {
		fmt.Fprintf(w, "\n\nArguments and Options\n\n%s", args.String())
	}
	fmt.Fprintln(w)
	printGeneralOptions(w)
}

func printGeneralOptions(w io.Writer) {
	fmt.Fprintf(w, `
General Options

The following options are accepted by most or all commands. -u and -p
before the command are the credentials; after it, -p is the vhost.

short            | long               | description
-----------------|--------------------|--------------------------------
-?, -h           | --help             | displays command help
-n <node>        | --node <node>      | node to connect to: the management URL
                 |                    | (http://host:15672), or rabbit@host for
                 |                    | http://host:15672; default $%s,
                 |                    | else %s
-u <user>        | --username <user>  | management API user (default guest,
                 |                    | or $%s)
-p <password>    | --password <pass>  | its password (default guest, or
                 |                    | $%s)
-t <n>           | --timeout <n>      | operation timeout in seconds
-q               | --quiet            | suppress informational messages
-s               | --silent           | suppress informational messages
                 |                    | and table header row
                 | --no-table-headers | suppress the table header row
-p <vhost>       | --vhost <vhost>    | for commands that are scoped to a
                 |                    | virtual host, virtual host to use
                 | --formatter <f>    | table (tab-separated, the default),
                 |                    | json, csv or pretty_table
-l               | --longnames        | accepted for rabbitmqctl scripts; no effect
`, EnvNode, DefaultNode, EnvUser, EnvPassword)
}

func printExitCodes(w io.Writer) {
	fmt.Fprint(w, `
Exit codes (rabbitmqctl's)

 0  success
64  usage: bad command line, unknown command, column or option
65  data error: bad input, or (some commands) the vhost does not exist
66  an input file cannot be read
67  the user does not exist
69  the node is unreachable, the object does not exist (some commands),
    or the node does not support the operation
70  the operation failed (e.g. the user already exists)
73  an output file cannot be written
75  timed out
76  the node's answer is not the management API
77  the node refused the credentials
`)
}
