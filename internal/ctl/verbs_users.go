package ctl

import (
	"net/http"
	"net/url"
	"strings"

	"github.com/spf13/pflag"

	"github.com/warrenmq/warren/internal/mgmt/apitypes"
)

// Users, virtual hosts and permissions.

func userVerbs() []*verb {
	return []*verb{
		{
			name: "add_user", group: "Users", usage: "<username> <password>", min: 2, max: 2,
			short: "Creates a new user in the internal database. This user will have no permissions for any virtual hosts by default",
			args: `<username>
	Self-explanatory
<password>
	Password this user will authenticate with. Use a blank string to disable password-based authentication.
`,
			run: addUser,
		},
		{
			name: "delete_user", group: "Users", usage: "<username>", min: 1, max: 1,
			short: "Removes a user from the internal database",
			args: `<username>
	Name of the user to delete.
`,
			run: deleteUser,
		},
		{
			name: "change_password", group: "Users", usage: "<username> <password>", min: 2, max: 2,
			short: "Changes the user password",
			args: `<username>
	Name of the user whose password should be changed
<password>
	New password to set
`,
			run: changePassword,
		},
		{
			name: "set_user_tags", group: "Users", usage: "<username> <tag> [...]", min: 1, max: -1,
			short: "Sets user tags",
			args: `<username>
	Self-explanatory
<tags>
	Space separated list of tags (administrator, monitoring, policymaker, management, ...); none clears them
`,
			run: setUserTags,
		},
		{
			name: "list_users", group: "Users", usage: "[--no-table-headers] [--timeout <timeout>]", max: 0,
			short: "List user names and tags",
			run:   listUsers,
		},
		{
			name: "add_vhost", group: "Virtual hosts", min: 1, max: 1,
			usage: `<vhost> [--description <description> --tags "<tag1>,<tag2>,<...>" --default-queue-type <quorum|classic|stream>]`,
			short: "Creates a virtual host",
			args: `<vhost>
	Virtual host name
--description <description>
	Virtual host description
--tags <tags>
	Comma separated list of tags
--default-queue-type <quorum|classic|stream>
	Queue type to use if no type is explicitly provided by the client
`,
			flags: func(fs *pflag.FlagSet, f *verbFlags) {
				fs.StringVar(&f.description, "description", "", "")
				fs.StringVar(&f.tags, "tags", "", "")
				fs.StringVar(&f.dqt, "default-queue-type", "", "")
			},
			run: addVhost,
		},
		{
			name: "delete_vhost", group: "Virtual hosts", usage: "<vhost>", min: 1, max: 1,
			short: "Deletes a virtual host",
			args: `<vhost>
	Name of the virtual host to delete.
`,
			run: deleteVhost,
		},
		{
			name: "list_vhosts", group: "Access Control", usage: "[--no-table-headers] [<column> ...] [--timeout <timeout>]",
			short:    "Lists virtual hosts",
			columns:  vhostColumns,
			defaults: []string{"name"},
			run:      listVhosts,
		},
		{
			name: "set_permissions", group: "Access Control", vhost: true, min: 4, max: 4,
			usage: "[--vhost <vhost>] <username> <conf> <write> <read>",
			short: "Sets user permissions for a vhost",
			args: `<username>
	Self-explanatory
<conf>
	Configuration permission pattern
<write>
	Write permission pattern
<read>
	Read permission pattern
`,
			run: setPermissions,
		},
		{
			name: "list_permissions", group: "Access Control", vhost: true, max: 0,
			usage: "[--vhost <vhost>] [--no-table-headers] [--timeout <timeout>]",
			short: "Lists user permissions in a virtual host",
			run:   listPermissions,
		},
	}
}

func q(s string) string { return `"` + s + `"` }

// user fetches a user; a missing one is exit 67.
func (c *cmd) user(name string) (*apitypes.User, error) {
	var u apitypes.User
	if err := c.cli.getJSON(c.ctx, apiPath("users", name), nil, &u); err != nil {
		if isStatus(err, http.StatusNotFound) {
			return nil, failure(ExitNoUser, "User %s does not exist", q(name))
		}
		return nil, err
	}
	return &u, nil
}

// passwordBody sets a password, or with a blank one a hash that matches
// nothing (password login disabled), as rabbitmqctl's add_user "".
func passwordBody(pw string, tags apitypes.Tags) apitypes.UserBody {
	b := apitypes.UserBody{Tags: tags}
	if pw == "" {
		empty := ""
		b.PasswordHash = &empty
	} else {
		b.Password = &pw
	}
	return b
}

func addUser(c *cmd) error {
	name, pw := c.args[0], c.args[1]
	c.info("Adding user %s ...", q(name))
	// PUT /api/users/{name} creates or updates; add_user must not update.
	_, err := c.cli.do(c.ctx, http.MethodGet, apiPath("users", name), nil, nil)
	if err == nil {
		return failure(ExitSoftware, "User %s already exists", q(name))
	}
	if !isStatus(err, http.StatusNotFound) {
		return err
	}
	if _, err := c.cli.do(c.ctx, http.MethodPut, apiPath("users", name), nil, passwordBody(pw, apitypes.Tags{})); err != nil {
		return err
	}
	c.info("Done. Don't forget to grant the user permissions to some virtual hosts! See '%s help set_permissions' to learn more.", c.env.Prog)
	return nil
}

func deleteUser(c *cmd) error {
	name := c.args[0]
	c.info("Deleting user %s ...", q(name))
	_, err := c.cli.do(c.ctx, http.MethodDelete, apiPath("users", name), nil, nil)
	if isStatus(err, http.StatusNotFound) {
		return failure(ExitNoUser, "User %s does not exist", q(name))
	}
	return err
}

func changePassword(c *cmd) error {
	name, pw := c.args[0], c.args[1]
	c.info("Changing password for user %s ...", q(name))
	u, err := c.user(name)
	if err != nil {
		return err
	}
	_, err = c.cli.do(c.ctx, http.MethodPut, apiPath("users", name), nil, passwordBody(pw, nonNilTags(u.Tags)))
	return err
}

func setUserTags(c *cmd) error {
	name := c.args[0]
	tags := apitypes.Tags{}
	for _, t := range c.args[1:] {
		tags = append(tags, apitypes.ParseTags(t)...)
	}
	c.info("Setting tags for user %s to [%s] ...", q(name), strings.Join(tags, ", "))
	u, err := c.user(name)
	if err != nil {
		return err
	}
	// Keep the password: send its hash back.
	b := apitypes.UserBody{PasswordHash: &u.PasswordHash, HashingAlgorithm: u.HashingAlgorithm, Tags: tags}
	_, err = c.cli.do(c.ctx, http.MethodPut, apiPath("users", name), nil, b)
	return err
}

func nonNilTags(t apitypes.Tags) apitypes.Tags {
	if t == nil {
		return apitypes.Tags{}
	}
	return t
}

// tagList reads a tags field, an array (3.10) or a comma-separated string
// (older RabbitMQ), as a list.
func tagList(v any) any {
	switch t := v.(type) {
	case string:
		out := []any{}
		for _, s := range apitypes.ParseTags(t) {
			out = append(out, s)
		}
		return out
	case nil:
		return []any{}
	}
	return v
}

var userColumns = []column{
	{name: "user", field: "name"},
	{name: "tags", get: func(o *object) any { return tagList(o.get("tags")) }, need: []string{"tags"}},
}

func listUsers(c *cmd) error {
	c.info("Listing users ...")
	return c.printList(apiPath("users"), nil, userColumns, nil)
}

// printList GETs a list endpoint and prints the columns of each item
// that keep passes (nil: all).
func (c *cmd) printList(path string, query url.Values, cols []column, keep func(*object) bool) error {
	objs, err := c.cli.getList(c.ctx, path, query)
	if err != nil {
		return err
	}
	return c.printObjects(objs, cols, keep)
}

func (c *cmd) printObjects(objs []*object, cols []column, keep func(*object) bool) error {
	rows := make([][]any, 0, len(objs))
	for _, o := range objs {
		if keep != nil && !keep(o) {
			continue
		}
		row := make([]any, len(cols))
		for i, col := range cols {
			row[i] = col.value(o)
		}
		rows = append(rows, row)
	}
	return c.listOutput(cols, rows)
}

func addVhost(c *cmd) error {
	name := c.args[0]
	c.info("Adding vhost %s ...", q(name))
	// rabbitmqctl leaves an existing vhost as it is (metadata too), where
	// PUT /api/vhosts/{name} would overwrite its description and tags.
	_, err := c.cli.do(c.ctx, http.MethodGet, apiPath("vhosts", name), nil, nil)
	if err == nil {
		return nil
	}
	if !isStatus(err, http.StatusNotFound) {
		return err
	}
	b := newObject()
	if d := c.flags.description; d != "" {
		b.set("description", d)
	}
	if c.flags.tags != "" {
		b.set("tags", apitypes.ParseTags(c.flags.tags))
	}
	if t := c.flags.dqt; t != "" {
		// RabbitMQ 3.10's API reads defaultqueuetype (what its UI sends);
		// apitypes.VhostBody names it default_queue_type. Send both.
		b.set("default_queue_type", t)
		b.set("defaultqueuetype", t)
	}
	_, err = c.cli.do(c.ctx, http.MethodPut, apiPath("vhosts", name), nil, b)
	return err
}

func deleteVhost(c *cmd) error {
	name := c.args[0]
	c.info("Deleting vhost %s ...", q(name))
	_, err := c.cli.do(c.ctx, http.MethodDelete, apiPath("vhosts", name), nil, nil)
	if isStatus(err, http.StatusNotFound) {
		return noVhost(name)
	}
	return err
}

// noVhost is rabbitmqctl's answer when a vhost-scoped listing or
// delete_vhost names a missing vhost: a bare message, exit 65.
func noVhost(name string) *Error {
	return &Error{Code: ExitDataErr, Msg: "Virtual host '" + name + "' does not exist", bare: true}
}

// firstOf returns the first of the dotted fields that is present.
func firstOf(o *object, fields ...string) any {
	for _, f := range fields {
		if o.has(f) {
			return o.get(f)
		}
	}
	return nil
}

var vhostColumns = []column{
	{name: "name"},
	{name: "tracing"},
	{name: "cluster_state", table: func(v any) string {
		o, ok := v.(*object)
		if !ok {
			return cellText(v)
		}
		parts := make([]string, len(o.keys))
		for i, k := range o.keys {
			parts[i] = "{" + erlAtom(k) + ", " + cellText(o.vals[k]) + "}"
		}
		return "[" + strings.Join(parts, ", ") + "]"
	}},
	{name: "description", get: func(o *object) any { return firstOf(o, "description", "metadata.description") },
		need: []string{"description", "metadata"}},
	{name: "tags", get: func(o *object) any { return tagList(firstOf(o, "tags", "metadata.tags")) },
		need: []string{"tags", "metadata"}},
	{name: "default_queue_type", get: func(o *object) any {
		v := firstOf(o, "default_queue_type", "metadata.default_queue_type")
		if v == nil || v == "" {
			return "undefined"
		}
		return v
	}, need: []string{"default_queue_type", "metadata"}},
}

func listVhosts(c *cmd) error {
	c.info("Listing vhosts ...")
	return c.printList(apiPath("vhosts"), nil, c.cols, nil)
}

func setPermissions(c *cmd) error {
	user, vhost := c.args[0], c.opts.vhost
	c.info("Setting permissions for user %s in vhost %s ...", q(user), q(vhost))
	_, err := c.cli.do(c.ctx, http.MethodPut, apiPath("permissions", vhost, user), nil,
		map[string]string{"configure": c.args[1], "write": c.args[2], "read": c.args[3]})
	if err == nil {
		return nil
	}
	if isStatus(err, http.StatusBadRequest) || isStatus(err, http.StatusNotFound) {
		// RabbitMQ answers vhost_or_user_not_found; tell which, as rabbitmqctl.
		if _, verr := c.cli.do(c.ctx, http.MethodGet, apiPath("vhosts", vhost), nil, nil); isStatus(verr, http.StatusNotFound) {
			return failure(ExitUnavailable, "Virtual host %s does not exist", vhost)
		}
		if _, uerr := c.cli.do(c.ctx, http.MethodGet, apiPath("users", user), nil, nil); isStatus(uerr, http.StatusNotFound) {
			return failure(ExitNoUser, "User %s does not exist", user)
		}
	}
	return err
}

var permissionColumns = []column{{name: "user"}, {name: "configure"}, {name: "write"}, {name: "read"}}

func listPermissions(c *cmd) error {
	vhost := c.opts.vhost
	c.info("Listing permissions for vhost %s ...", q(vhost))
	err := c.printList(apiPath("vhosts", vhost, "permissions"), nil, permissionColumns, nil)
	if isStatus(err, http.StatusNotFound) {
		if _, verr := c.cli.do(c.ctx, http.MethodGet, apiPath("vhosts", vhost), nil, nil); isStatus(verr, http.StatusNotFound) {
			return noVhost(vhost)
		}
	}
	return err
}

// jsonCompact renders a value as compact JSON text (policy definitions
// print that way).
func jsonCompact(v any) any {
	if v == nil {
		return nil
	}
	b, err := marshal(v)
	if err != nil {
		return nil
	}
	return string(b)
}
