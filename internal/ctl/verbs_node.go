package ctl

import (
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"strings"

	"github.com/spf13/pflag"

	"github.com/warrenmq/warren/internal/mgmt/apitypes"
)

// status, cluster_status, and the node and cluster operations, which
// RabbitMQ's management API does not offer (rabbitmqctl does them over
// Erlang distribution): until Warren's API has endpoints for them they
// fail with exit 69 and say so, after checking the node is reachable.

// notYet marks the verbs no node supports over the HTTP API yet.
const notYet = " (not supported over the HTTP API yet: exits 69)"

func nodeVerbs() []*verb {
	return []*verb{
		{
			name: "status", group: "Nodes", max: 0,
			usage: "[--unit <unit>] [--timeout <timeout>]",
			short: "Displays status of a node",
			args: `--unit <bytes | mb | gb>
	byte multiple (bytes, megabytes, gigabytes) to use
--formatter <json | table>
	alternative formatter (JSON)
`,
			flags: func(fs *pflag.FlagSet, f *verbFlags) { fs.StringVar(&f.unit, "unit", "gb", "") },
			run:   status,
		},
		{
			name: "cluster_status", group: "Cluster", max: 0,
			usage: "[--timeout <timeout>]",
			short: "Displays all the nodes in the cluster grouped by node type, together with the currently running nodes",
			run:   clusterStatus,
		},
		{
			name: "join_cluster", group: "Cluster", min: 1, max: 1,
			usage: "[--disc|--ram] <existing_cluster_member>",
			short: "Instructs the node to become a member of the cluster that the specified node is in" + notYet,
			args: `<existing_cluster_member>
	Existing cluster member (node) to join
--disc
	new node should be a disk one (stores its schema on disk). Highly recommended, used by default.
--ram
	new node should be a RAM one (stores schema in RAM). Not recommended.
`,
			flags: func(fs *pflag.FlagSet, f *verbFlags) {
				fs.BoolVar(&f.disc, "disc", false, "")
				fs.BoolVar(&f.ram, "ram", false, "")
			},
			run: func(c *cmd) error {
				if c.flags.disc && c.flags.ram {
					return usageErr("--disc and --ram are mutually exclusive")
				}
				return c.notSupported(func(node string) string {
					return fmt.Sprintf("Clustering node %s with %s", node, c.args[0])
				})
			},
		},
		{
			name: "forget_cluster_node", group: "Cluster", min: 1, max: 1,
			usage: "[--offline] <existing_cluster_member_node>",
			short: "Removes a node from the cluster" + notYet,
			args: `--offline
	try to update cluster membership state directly. Use when target node is stopped.
`,
			flags: func(fs *pflag.FlagSet, f *verbFlags) { fs.BoolVar(&f.offline, "offline", false, "") },
			run: func(c *cmd) error {
				return c.notSupported(func(string) string {
					return fmt.Sprintf("Removing node %s from the cluster", c.args[0])
				})
			},
		},
		{
			name: "change_cluster_node_type", group: "Cluster", min: 1, max: 1,
			usage: "<disc | ram>",
			short: "Changes the type of the cluster node" + notYet,
			args: `<disc | ram>
	New node type
`,
			run: func(c *cmd) error {
				t := c.args[0]
				if t == "disk" {
					t = "disc"
				}
				if t != "disc" && t != "ram" {
					return &Error{Code: ExitDataErr, usage: true, Msg: "Bad argument: The node type must be either disc or ram."}
				}
				return c.notSupported(func(node string) string {
					return fmt.Sprintf("Turning %s into a %s node", node, t)
				})
			},
		},
		{
			name: "stop_app", group: "Nodes", max: 0,
			short: "Stops the broker application, leaving the node's process running" + notYet,
			run: func(c *cmd) error {
				return c.notSupported(func(node string) string {
					return fmt.Sprintf("Stopping rabbit application on node %s ...", node)
				})
			},
		},
		{
			name: "start_app", group: "Nodes", max: 0,
			short: "Starts the broker application in a running node process" + notYet,
			run: func(c *cmd) error {
				return c.notSupported(func(node string) string { return fmt.Sprintf("Starting node %s ...", node) })
			},
		},
		{
			name: "reset", group: "Nodes", max: 0,
			short: "Instructs a node to leave the cluster and return to its virgin state" + notYet,
			run: func(c *cmd) error {
				return c.notSupported(func(node string) string { return fmt.Sprintf("Resetting node %s ...", node) })
			},
		},
	}
}

// notSupported reaches the node (so a wrong address or password is
// reported as such), prints rabbitmqctl's info line and fails with 69.
func (c *cmd) notSupported(infoLine func(node string) string) error {
	ov, err := c.cli.overview(c.ctx)
	if err != nil {
		return err
	}
	c.info("%s", infoLine(ov.Node))
	return unsupported(c, "")
}

// fetchNode reads /api/nodes/{name}, falling back to the list.
func (c *cmd) fetchNode(name string) (*apitypes.Node, error) {
	var n apitypes.Node
	err := c.cli.getJSON(c.ctx, apiPath("nodes", name), nil, &n)
	if err == nil {
		return &n, nil
	}
	if !isStatus(err, http.StatusNotFound) {
		return nil, err
	}
	nodes, lerr := c.nodes()
	if lerr != nil {
		return nil, err
	}
	for i := range nodes {
		if nodes[i].Name == name {
			return &nodes[i], nil
		}
	}
	return nil, err
}

func (c *cmd) nodes() ([]apitypes.Node, error) {
	var nodes []apitypes.Node
	err := c.cli.getJSON(c.ctx, apiPath("nodes"), nil, &nodes)
	return nodes, err
}

// bytesIn formats a byte count in the --unit, as rabbitmqctl: "0.1316 gb".
func bytesIn(n uint64, unit string) string {
	switch unit {
	case "bytes":
		return strconv.FormatUint(n, 10) + " bytes"
	case "mb":
		return strconv.FormatFloat(round4(float64(n)/1e6), 'f', -1, 64) + " mb"
	}
	return strconv.FormatFloat(round4(float64(n)/1e9), 'f', -1, 64) + " gb"
}

func round4(f float64) float64 {
	s := strconv.FormatFloat(f, 'f', 4, 64)
	r, _ := strconv.ParseFloat(s, 64)
	return r
}

// listenerPurpose is what rabbitmqctl prints for a listener's protocol.
func listenerPurpose(proto string) string {
	switch proto {
	case "amqp":
		return "AMQP 0-9-1 and AMQP 1.0"
	case "amqp/ssl":
		return "AMQP 0-9-1 and AMQP 1.0 over TLS"
	case "http":
		return "HTTP API"
	case "https":
		return "HTTP API over TLS (HTTPS)"
	case "http/prometheus":
		return "Prometheus exporter API over HTTP"
	case "https/prometheus":
		return "Prometheus exporter API over TLS (HTTPS)"
	case "clustering":
		return "inter-node and CLI tool communication"
	}
	return proto
}

func listenerInterface(ip string) string {
	if strings.Contains(ip, ":") {
		return "[" + ip + "]"
	}
	return ip
}

func listenerJSON(l listener) map[string]any {
	return map[string]any{"interface": listenerInterface(l.IPAddress), "node": l.Node, "port": l.Port,
		"protocol": l.Protocol, "purpose": listenerPurpose(l.Protocol)}
}

// runtimeLine is the versions line's "on ...": Erlang for RabbitMQ, the Go
// runtime for Warren.
func runtimeOn(v string) string {
	if v == "" {
		return ""
	}
	if strings.HasPrefix(v, "go") {
		return " on Go " + strings.TrimPrefix(v, "go")
	}
	return " on Erlang " + v
}

func alarmsOf(nodes []apitypes.Node) []map[string]any {
	out := []map[string]any{}
	for _, n := range nodes {
		if n.MemAlarm {
			out = append(out, map[string]any{"node": n.Name, "resource": "memory"})
		}
		if n.DiskFreeAlarm {
			out = append(out, map[string]any{"node": n.Name, "resource": "disk"})
		}
	}
	return out
}

func alarmText(a map[string]any) string {
	if a["resource"] == "memory" {
		return fmt.Sprintf("Memory alarm on node %s", a["node"])
	}
	return fmt.Sprintf("Free disk space alarm on node %s", a["node"])
}

func status(c *cmd) error {
	unit := c.flags.unit
	if unit != "gb" && unit != "mb" && unit != "bytes" {
		return usageErr("unit must be one of bytes, mb, gb")
	}
	ov, err := c.cli.overview(c.ctx)
	if err != nil {
		return err
	}
	n, err := c.fetchNode(ov.Node)
	if err != nil {
		return err
	}
	vhosts, err := c.cli.getList(c.ctx, apiPath("vhosts"), columnsQuery([]column{{name: "name"}}))
	if err != nil {
		return err
	}
	var listeners []listener
	for _, l := range ov.Listeners {
		if l.Node == "" || l.Node == n.Name {
			listeners = append(listeners, l)
		}
	}
	alarms := alarmsOf([]apitypes.Node{*n})
	pid, _ := strconv.Atoi(n.OSPid)

	if c.opts.formatter == fmtJSON {
		ls := []map[string]any{}
		for _, l := range listeners {
			ls = append(ls, listenerJSON(l))
		}
		return writeJSONValue(c.stdout, map[string]any{
			"active_plugins":                 nonNil(n.EnabledPlugins),
			"alarms":                         alarms,
			"config_files":                   nonNil(n.ConfigFiles),
			"data_directory":                 n.DBDir,
			"disk_free":                      n.DiskFree,
			"disk_free_limit":                n.DiskFreeLimit,
			"erlang_version":                 firstNonEmpty(ov.ErlangFullVersion, ov.ErlangVersion),
			"file_descriptors":               map[string]any{"sockets_limit": n.SocketsTotal, "sockets_used": n.SocketsUsed, "total_limit": n.FDTotal, "total_used": n.FDUsed},
			"is_under_maintenance":           n.BeingDrained,
			"listeners":                      ls,
			"log_files":                      nonNil(n.LogFiles),
			"memory":                         map[string]any{"strategy": n.MemCalculationStrategy, "total": map[string]any{"rss": n.MemUsed}},
			"net_ticktime":                   n.NetTicktime,
			"node":                           n.Name,
			"pid":                            pid,
			"processes":                      map[string]any{"limit": n.ProcTotal, "used": n.ProcUsed},
			"product_name":                   ov.ProductName,
			"product_version":                ov.ProductVersion,
			"rabbitmq_version":               ov.RabbitMQVersion,
			"run_queue":                      n.RunQueue,
			"totals":                         map[string]any{"virtual_host_count": len(vhosts), "connection_count": ov.ObjectTotals.Connections, "queue_count": ov.ObjectTotals.Queues},
			"uptime":                         n.Uptime / 1000,
			"vm_memory_calculation_strategy": n.MemCalculationStrategy,
			"vm_memory_high_watermark_limit": n.MemLimit,
		})
	}

	w := c.stdout
	c.info("Status of node %s ...", n.Name)
	section := func(title string) { fmt.Fprintf(w, "%s\n\n", title) }
	bullets := func(l []string) {
		for _, s := range l {
			fmt.Fprintf(w, " * %s\n", s)
		}
		fmt.Fprintln(w)
	}
	section("Runtime")
	fmt.Fprintf(w, "OS PID: %s\n", n.OSPid)
	fmt.Fprintf(w, "Uptime (seconds): %d\n", n.Uptime/1000)
	fmt.Fprintf(w, "Is under maintenance?: %t\n", n.BeingDrained)
	if ov.ProductName != "" && ov.ProductName != "RabbitMQ" {
		fmt.Fprintf(w, "%s version: %s\n", ov.ProductName, ov.ProductVersion)
	}
	fmt.Fprintf(w, "RabbitMQ version: %s\n", ov.RabbitMQVersion)
	fmt.Fprintf(w, "Node name: %s\n", n.Name)
	if rt := firstNonEmpty(ov.ErlangFullVersion, ov.ErlangVersion); strings.HasPrefix(rt, "go") {
		fmt.Fprintf(w, "Go runtime: %s\n", rt)
		fmt.Fprintf(w, "Goroutines: %d used\n", n.ProcUsed)
	} else {
		fmt.Fprintf(w, "Erlang configuration: %s\n", rt)
		fmt.Fprintf(w, "Erlang processes: %d used, %d limit\n", n.ProcUsed, n.ProcTotal)
	}
	fmt.Fprintf(w, "Scheduler run queue: %d\n", n.RunQueue)
	fmt.Fprintf(w, "Cluster heartbeat timeout (net_ticktime): %d\n\n", n.NetTicktime)
	if len(n.EnabledPlugins) > 0 {
		section("Plugins")
		fmt.Fprintf(w, "Enabled plugins:\n\n")
		bullets(n.EnabledPlugins)
	}
	section("Data directory")
	fmt.Fprintf(w, "Node data directory: %s\n\n", n.DBDir)
	if len(n.ConfigFiles) > 0 {
		section("Config files")
		bullets(n.ConfigFiles)
	}
	if len(n.LogFiles) > 0 {
		section("Log file(s)")
		bullets(n.LogFiles)
	}
	section("Alarms")
	if len(alarms) == 0 {
		fmt.Fprintf(w, "(none)\n\n")
	} else {
		for _, a := range alarms {
			fmt.Fprintln(w, alarmText(a))
		}
		fmt.Fprintln(w)
	}
	section("Memory")
	fmt.Fprintf(w, "Total memory used: %s\n", bytesIn(n.MemUsed, unit))
	if n.MemCalculationStrategy != "" {
		fmt.Fprintf(w, "Calculation strategy: %s\n", n.MemCalculationStrategy)
	}
	fmt.Fprintf(w, "Memory high watermark: %s\n\n", bytesIn(n.MemLimit, unit))
	section("File Descriptors")
	fmt.Fprintf(w, "Total: %d, limit: %d\n", n.FDUsed, n.FDTotal)
	fmt.Fprintf(w, "Sockets: %d, limit: %d\n\n", n.SocketsUsed, n.SocketsTotal)
	section("Free Disk Space")
	fmt.Fprintf(w, "Low free disk space watermark: %s\n", bytesIn(n.DiskFreeLimit, unit))
	fmt.Fprintf(w, "Free disk space: %s\n\n", bytesIn(n.DiskFree, unit))
	section("Totals")
	fmt.Fprintf(w, "Connection count: %d\n", ov.ObjectTotals.Connections)
	fmt.Fprintf(w, "Queue count: %d\n", ov.ObjectTotals.Queues)
	fmt.Fprintf(w, "Virtual host count: %d\n\n", len(vhosts))
	section("Listeners")
	for _, l := range listeners {
		fmt.Fprintf(w, "Interface: %s, port: %d, protocol: %s, purpose: %s\n",
			listenerInterface(l.IPAddress), l.Port, l.Protocol, listenerPurpose(l.Protocol))
	}
	return nil
}

func nonNil(l []string) []string {
	if l == nil {
		return []string{}
	}
	return l
}

func firstNonEmpty(s ...string) string {
	for _, x := range s {
		if x != "" {
			return x
		}
	}
	return ""
}

func clusterStatus(c *cmd) error {
	ov, err := c.cli.overview(c.ctx)
	if err != nil {
		return err
	}
	nodes, err := c.nodes()
	if err != nil {
		return err
	}
	sort.Slice(nodes, func(i, j int) bool { return nodes[i].Name < nodes[j].Name })
	disc, ram, running := []string{}, []string{}, []string{}
	versions := map[string]any{}
	maint := map[string]any{}
	partitions := map[string]any{}
	for _, n := range nodes {
		if n.Type == "ram" {
			ram = append(ram, n.Name)
		} else {
			disc = append(disc, n.Name)
		}
		if n.Running {
			running = append(running, n.Name)
		}
		// The node's own version is its application's ("rabbit" for
		// RabbitMQ, "warren" for Warren); the overview has the answering node's.
		product := firstNonEmpty(ov.ProductName, "RabbitMQ")
		app := strings.ToLower(product)
		if product == "RabbitMQ" {
			app = "rabbit"
		}
		version := firstNonEmpty(ov.ProductVersion, ov.RabbitMQVersion)
		for _, a := range n.Applications {
			if a.Name == app && a.Version != "" {
				version = a.Version
			}
		}
		versions[n.Name] = map[string]any{"erlang_version": ov.ErlangVersion, "rabbitmq_name": product,
			"rabbitmq_version": ov.RabbitMQVersion, "product_version": version}
		if n.BeingDrained {
			maint[n.Name] = "being drained"
		} else {
			maint[n.Name] = "not under maintenance"
		}
		if len(n.Partitions) > 0 {
			partitions[n.Name] = n.Partitions
		}
	}
	listeners := map[string][]map[string]any{}
	var lnodes []string
	for _, l := range ov.Listeners {
		if _, ok := listeners[l.Node]; !ok {
			lnodes = append(lnodes, l.Node)
		}
		listeners[l.Node] = append(listeners[l.Node], listenerJSON(l))
	}
	alarms := alarmsOf(nodes)
	var flags []map[string]any
	if err := c.cli.getJSON(c.ctx, apiPath("feature-flags"), nil, &flags); err != nil {
		flags = nil // not every node serves them; the section is left out
	}

	if c.opts.formatter == fmtJSON {
		ff := flags
		if ff == nil {
			ff = []map[string]any{}
		}
		return writeJSONValue(c.stdout, map[string]any{
			"alarms": alarms, "cluster_name": ov.ClusterName, "disk_nodes": disc, "ram_nodes": ram,
			"running_nodes": running, "versions": versions, "maintenance_status": maint,
			"partitions": partitions, "listeners": listeners, "feature_flags": ff,
		})
	}
	w := c.stdout
	c.info("Cluster status of node %s ...", ov.Node)
	list := func(title string, l []string) {
		fmt.Fprintf(w, "%s\n\n", title)
		for _, s := range l {
			fmt.Fprintln(w, s)
		}
		fmt.Fprintln(w)
	}
	fmt.Fprintf(w, "Basics\n\nCluster name: %s\n\n", ov.ClusterName)
	list("Disk Nodes", disc)
	if len(ram) > 0 {
		list("RAM Nodes", ram)
	}
	list("Running Nodes", running)
	var vl, ml []string
	for _, n := range nodes {
		v := versions[n.Name].(map[string]any)
		name := v["rabbitmq_name"].(string)
		if name == "RabbitMQ" {
			vl = append(vl, fmt.Sprintf("%s: RabbitMQ %s%s", n.Name, v["product_version"], runtimeOn(ov.ErlangVersion)))
		} else {
			vl = append(vl, fmt.Sprintf("%s: %s %s (RabbitMQ %s compatible)%s", n.Name, name, v["product_version"], ov.RabbitMQVersion, runtimeOn(ov.ErlangVersion)))
		}
		ml = append(ml, fmt.Sprintf("Node: %s, status: %s", n.Name, maint[n.Name]))
	}
	list("Versions", vl)
	list("Maintenance status", ml)
	var al []string
	for _, a := range alarms {
		al = append(al, alarmText(a))
	}
	list("Alarms", orNone(al))
	var pl []string
	for _, n := range nodes {
		if p := n.Partitions; len(p) > 0 {
			pl = append(pl, fmt.Sprintf("Node %s cannot communicate with %s", n.Name, strings.Join(p, ", ")))
		}
	}
	list("Network Partitions", orNone(pl))
	var ll []string
	for _, node := range lnodes {
		for _, l := range listeners[node] {
			ll = append(ll, fmt.Sprintf("Node: %s, interface: %s, port: %v, protocol: %s, purpose: %s",
				node, l["interface"], l["port"], l["protocol"], l["purpose"]))
		}
	}
	list("Listeners", orNone(ll))
	if flags != nil {
		var fl []string
		for _, f := range flags {
			fl = append(fl, fmt.Sprintf("Flag: %v, state: %v", f["name"], f["state"]))
		}
		fmt.Fprintf(w, "Feature flags\n\n")
		for _, s := range orNone(fl) {
			fmt.Fprintln(w, s)
		}
	}
	return nil
}

func orNone(l []string) []string {
	if len(l) == 0 {
		return []string{"(none)"}
	}
	return l
}
