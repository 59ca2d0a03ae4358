package ctl

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/spf13/pflag"
)

// purge_queue, delete_queue and the policy verbs.

func queueVerbs() []*verb {
	return []*verb{
		{
			name: "purge_queue", group: "Queues", vhost: true, min: 1, max: 1,
			usage: "[--vhost <vhost>] <queue> [--timeout <timeout>]",
			short: "Purges a queue (removes all messages in it)",
			args: `<queue>
	Name of the queue to purge
`,
			run: purgeQueue,
		},
		{
			name: "delete_queue", group: "Queues", vhost: true, min: 1, max: 1,
			usage: "[--vhost <vhost>] <queue_name> [--if-empty|-e] [--if-unused|-u] [--timeout <timeout>]",
			short: "Deletes a queue",
			args: `<queue_name>
	name of the queue to delete
--if-empty
	delete the queue if it is empty (has no messages ready for delivery)
--if-unused
	delete the queue only if it has no consumers
`,
			flags: func(fs *pflag.FlagSet, f *verbFlags) {
				fs.BoolVarP(&f.ifEmpty, "if-empty", "e", false, "")
				fs.BoolVarP(&f.ifUnused, "if-unused", "u", false, "")
			},
			run: deleteQueue,
		},
	}
}

func purgeQueue(c *cmd) error {
	name, vhost := c.args[0], c.opts.vhost
	c.info("Purging queue '%s' in vhost '%s' ...", name, vhost)
	_, err := c.cli.do(c.ctx, http.MethodDelete, apiPath("queues", vhost, name, "contents"), nil, nil)
	if isStatus(err, http.StatusNotFound) {
		return failure(ExitUnavailable, "not_found: no queue '%s' in vhost '%s'", name, vhost)
	}
	return err
}

func deleteQueue(c *cmd) error {
	name, vhost := c.args[0], c.opts.vhost
	var cond []string
	if c.flags.ifEmpty {
		cond = append(cond, "if queue is empty")
	}
	if c.flags.ifUnused {
		cond = append(cond, "if queue is unused")
	}
	if len(cond) > 0 {
		c.info("Deleting queue '%s' on vhost '%s' %s ...", name, vhost, strings.Join(cond, " and "))
	} else {
		c.info("Deleting queue '%s' on vhost '%s' ...", name, vhost)
	}
	// rabbitmqctl reports the ready messages deleted; the API's DELETE
	// does not say, so read the count first.
	var qi struct {
		MessagesReady json.Number `json:"messages_ready"`
	}
	err := c.cli.getJSON(c.ctx, apiPath("queues", vhost, name), nil, &qi)
	if isStatus(err, http.StatusNotFound) {
		// Exit 64, as rabbitmqctl 3.10 for a missing queue.
		return failure(ExitUsage, "Queue not found")
	}
	if err != nil {
		return err
	}
	query := url.Values{}
	if c.flags.ifEmpty {
		query.Set("if-empty", "true")
	}
	if c.flags.ifUnused {
		query.Set("if-unused", "true")
	}
	_, err = c.cli.do(c.ctx, http.MethodDelete, apiPath("queues", vhost, name), query, nil)
	var he *httpError
	switch {
	case err == nil:
	case isStatus(err, http.StatusNotFound):
		return failure(ExitUsage, "Queue not found")
	case asHTTP(err, &he) && he.Status == http.StatusBadRequest:
		reason := he.message()
		switch {
		case strings.Contains(reason, "in use"):
			return failure(ExitUsage, "Queue is in use")
		case strings.Contains(reason, "not empty"):
			return failure(ExitUsage, "Queue is not empty")
		}
		return failure(ExitUsage, "%s", reason)
	default:
		return err
	}
	n := qi.MessagesReady.String()
	if n == "" {
		n = "0"
	}
	fmt.Fprintf(c.stdout, "Queue was successfully deleted with %s ready messages\n", n)
	return nil
}

func asHTTP(err error, he **httpError) bool {
	e, ok := err.(*httpError)
	if ok {
		*he = e
	}
	return ok
}

func policyVerbs() []*verb {
	return []*verb{
		setPolicyVerb("set_policy", "Sets or updates a policy", regularPolicies),
		{
			name: "clear_policy", group: "Policies", vhost: true, min: 1, max: 1,
			usage: "[--vhost <vhost>] <name>",
			short: "Clears (removes) a policy",
			args: `<name>
	Name of policy to clear (remove)
`,
			run: func(c *cmd) error { return clearPolicy(c, regularPolicies) },
		},
		{
			name: "list_policies", group: "Policies", vhost: true, max: 0,
			usage: "[--vhost <vhost>] [--no-table-headers] [--timeout <timeout>]",
			short: "Lists all policies in a virtual host",
			run:   func(c *cmd) error { return listPolicies(c, regularPolicies) },
		},
		setPolicyVerb("set_operator_policy", "Sets an operator policy that overrides a subset of arguments in user policies", operatorPolicies),
		{
			name: "clear_operator_policy", group: "Policies", vhost: true, min: 1, max: 1,
			usage: "[--vhost <vhost>] <name>",
			short: "Clears an operator policy",
			args: `<name>
	policy name (identifier)
`,
			run: func(c *cmd) error { return clearPolicy(c, operatorPolicies) },
		},
		{
			name: "list_operator_policies", group: "Policies", vhost: true, max: 0,
			usage: "[--vhost <vhost>] [--no-table-headers] [--timeout <timeout>]",
			short: "Lists operator policy overrides for a virtual host",
			run:   func(c *cmd) error { return listPolicies(c, operatorPolicies) },
		},
	}
}

// setPolicyVerb is set_policy or set_operator_policy: the same arguments
// and flags, another table.
func setPolicyVerb(name, short string, k policyKind) *verb {
	return &verb{
		name: name, group: "Policies", vhost: true, min: 3, max: 3,
		usage: "[--vhost <vhost>] [--priority <priority>] [--apply-to <apply-to>] <name> <pattern> <definition>",
		short: short,
		args: `<name>
	policy name (identifier)
<pattern>
	regular expression pattern that will be used to match queues, exchanges, etc
<definition>
	policy definition (arguments). Must be a valid JSON document
--priority <priority>
	policy priority
--apply-to <queues | exchanges | all>
	policy should only apply to queues, exchanges, or all entities (both of the above)
`,
		flags: func(fs *pflag.FlagSet, f *verbFlags) {
			fs.IntVar(&f.priority, "priority", 0, "")
			fs.StringVar(&f.applyTo, "apply-to", "all", "")
		},
		run: func(c *cmd) error { return setPolicy(c, k) },
	}
}

// policyKind says which table a policy verb works on: its API path and
// the words rabbitmqctl prints.
type policyKind struct{ path, set, clear, list string }

var (
	regularPolicies  = policyKind{"policies", "Setting policy", "Clearing policy", "Listing policies"}
	operatorPolicies = policyKind{"operator-policies", "Setting operator policy override", "Clearing operator policy", "Listing operator policy overrides"}
)

func setPolicy(c *cmd, k policyKind) error {
	name, pattern, def := c.args[0], c.args[1], c.args[2]
	vhost := c.opts.vhost
	c.info("%s %s for pattern %s to %s with priority %s for vhost %s ...",
		k.set, q(name), q(pattern), q(def), q(fmt.Sprint(c.flags.priority)), q(vhost))
	// Exit 69 for a bad definition, as rabbitmqctl's.
	dv, err := decodeValue([]byte(def))
	if err != nil {
		return failure(ExitUnavailable, "JSON decoding error. Reason: %v", err)
	}
	if _, ok := dv.(*object); !ok {
		return failure(ExitUnavailable, "JSON decoding error. Reason: the definition must be a JSON object, not %s", describe(dv))
	}
	body := newObject()
	body.set("pattern", pattern)
	body.set("definition", dv)
	body.set("priority", c.flags.priority)
	body.set("apply-to", c.flags.applyTo)
	_, err = c.cli.do(c.ctx, http.MethodPut, apiPath(k.path, vhost, name), nil, body)
	var he *httpError
	if asHTTP(err, &he) {
		switch he.Status {
		case http.StatusBadRequest:
			return failure(ExitUnavailable, "%s", he.message())
		case http.StatusNotFound:
			if _, verr := c.cli.do(c.ctx, http.MethodGet, apiPath("vhosts", vhost), nil, nil); isStatus(verr, http.StatusNotFound) {
				return failure(ExitUnavailable, "Virtual host %s does not exist", vhost)
			}
		}
	}
	return err
}

func clearPolicy(c *cmd, k policyKind) error {
	name, vhost := c.args[0], c.opts.vhost
	c.info("%s %s on vhost %s ...", k.clear, q(name), q(vhost))
	_, err := c.cli.do(c.ctx, http.MethodDelete, apiPath(k.path, vhost, name), nil, nil)
	if isStatus(err, http.StatusNotFound) {
		return failure(ExitUnavailable, "Parameter does not exist")
	}
	return err
}

var policyColumns = []column{
	{name: "vhost"},
	{name: "name"},
	{name: "pattern"},
	{name: "apply-to"},
	// rabbitmqctl prints the definition as JSON text, also in JSON output.
	{name: "definition", get: func(o *object) any { return jsonCompact(o.get("definition")) }},
	{name: "priority"},
}

func listPolicies(c *cmd, k policyKind) error {
	vhost := c.opts.vhost
	c.info("%s for vhost %s ...", k.list, q(vhost))
	err := c.printList(apiPath(k.path, vhost), nil, policyColumns, nil)
	if isStatus(err, http.StatusNotFound) {
		if _, verr := c.cli.do(c.ctx, http.MethodGet, apiPath("vhosts", vhost), nil, nil); isStatus(verr, http.StatusNotFound) {
			return noVhost(vhost)
		}
	}
	return err
}
