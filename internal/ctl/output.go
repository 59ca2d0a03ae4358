package ctl

import (
	"encoding/json"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Formatters, as rabbitmqctl's --formatter.
const (
	fmtTable  = "table"        // tab-separated, a header line (the default)
	fmtJSON   = "json"         // [\n{...}\n,{...}\n]
	fmtCSV    = "csv"          // every field double-quoted
	fmtPretty = "pretty_table" // aligned, boxed
)

var formatters = []string{fmtTable, fmtJSON, fmtCSV, fmtPretty}

// column is one column a list verb can print: its rabbitmqctl name and how
// to get its value from an API object.
type column struct {
	name string
	// field is the dotted API field holding the value; empty means the
	// column's name.
	field string
	// get computes the value when it is not a plain field.
	get func(o *object) any
	// table renders the value in table, csv and pretty_table output when
	// rabbitmqctl prints it differently from the generic rendering.
	table func(v any) string
	// need lists the API fields get reads, for the columns= query; nil
	// means field (or name).
	need []string
}

func (c column) value(o *object) any {
	if c.get != nil {
		return c.get(o)
	}
	return o.get(c.apiField())
}

func (c column) apiField() string {
	if c.field != "" {
		return c.field
	}
	return c.name
}

// apiFields are the API fields the columns read, for ?columns=.
func apiFields(cols []column) []string {
	var out []string
	seen := map[string]bool{}
	add := func(f string) {
		if f != "" && !seen[f] {
			seen[f] = true
			out = append(out, f)
		}
	}
	for _, c := range cols {
		if c.get != nil {
			for _, f := range c.need {
				add(f)
			}
			continue
		}
		add(c.apiField())
	}
	return out
}

// cellText renders a value as rabbitmqctl's table formatter does: strings
// bare, lists as [a, b], AMQP tables (JSON objects) as Erlang proplists
// [{"key",value}], null as nothing.
func cellText(v any) string {
	switch t := v.(type) {
	case nil:
		return ""
	case string:
		return t
	case bool:
		return strconv.FormatBool(t)
	case json.Number:
		return t.String()
	case []any:
		parts := make([]string, len(t))
		for i, x := range t {
			if _, ok := x.(*object); ok {
				parts[i] = erlTerm(x)
			} else {
				parts[i] = cellText(x)
			}
		}
		return "[" + strings.Join(parts, ", ") + "]"
	case *object:
		return erlTerm(t)
	}
	return fmt.Sprint(v)
}

// erlTerm renders a value inside an AMQP table the way rabbitmqctl prints
// one: [{"x-max-length",10},{"k","v"}].
func erlTerm(v any) string {
	switch t := v.(type) {
	case nil:
		return "undefined"
	case string:
		return strconv.Quote(t)
	case bool:
		return strconv.FormatBool(t)
	case json.Number:
		return t.String()
	case []any:
		parts := make([]string, len(t))
		for i, x := range t {
			parts[i] = erlTerm(x)
		}
		return "[" + strings.Join(parts, ",") + "]"
	case *object:
		parts := make([]string, len(t.keys))
		for i, k := range t.keys {
			parts[i] = "{" + strconv.Quote(k) + "," + erlTerm(t.vals[k]) + "}"
		}
		return "[" + strings.Join(parts, ",") + "]"
	}
	return fmt.Sprint(v)
}

var bareAtom = regexp.MustCompile(`^[a-z][a-zA-Z0-9_@]*$`)

// erlAtom renders a name as an Erlang atom: bare when it may be, else
// single-quoted ('rabbit-1@host').
func erlAtom(s string) string {
	if bareAtom.MatchString(s) {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `\'`) + "'"
}

// listOutput writes rows of values under column names in the chosen
// format. Info lines have been written already.
func (c *cmd) listOutput(cols []column, rows [][]any) error {
	names := make([]string, len(cols))
	for i, col := range cols {
		names[i] = col.name
	}
	text := func(row []any) []string {
		out := make([]string, len(cols))
		for i, col := range cols {
			if col.table != nil {
				out[i] = col.table(row[i])
			} else {
				out[i] = cellText(row[i])
			}
		}
		return out
	}
	w := c.stdout
	headers := !c.opts.silent && !c.opts.noHeaders && len(rows) > 0
	switch c.opts.formatter {
	case fmtJSON:
		return writeJSONRows(w, names, rows)
	case fmtCSV:
		if headers {
			writeCSVLine(w, names)
		}
		for _, r := range rows {
			writeCSVLine(w, text(r))
		}
	case fmtPretty:
		var cells [][]string
		if headers {
			cells = append(cells, names)
		}
		for _, r := range rows {
			cells = append(cells, text(r))
		}
		writePretty(w, cells)
	default:
		if headers {
			fmt.Fprintln(w, strings.Join(names, "\t"))
		}
		for _, r := range rows {
			fmt.Fprintln(w, strings.Join(text(r), "\t"))
		}
	}
	return nil
}

// writeJSONRows writes rabbitmqctl's JSON list shape: one object a line,
// the commas leading.
func writeJSONRows(w io.Writer, names []string, rows [][]any) error {
	var b strings.Builder
	b.WriteString("[\n")
	for i, r := range rows {
		o := newObject()
		for j, n := range names {
			v := r[j]
			if v == nil {
				v = "" // rabbitmqctl prints a missing value as ""
			}
			o.set(n, v)
		}
		line, err := marshal(o)
		if err != nil {
			return err
		}
		if i > 0 {
			b.WriteByte(',')
		}
		b.Write(line)
		b.WriteByte('\n')
	}
	b.WriteString("]\n")
	_, err := io.WriteString(w, b.String())
	return err
}

func writeCSVLine(w io.Writer, fields []string) {
	q := make([]string, len(fields))
	for i, f := range fields {
		q[i] = `"` + strings.ReplaceAll(f, `"`, `""`) + `"`
	}
	fmt.Fprintln(w, strings.Join(q, ","))
}

// writePretty draws an aligned box around the cells, a rule under every
// row as rabbitmqctl's pretty_table does.
func writePretty(w io.Writer, cells [][]string) {
	if len(cells) == 0 {
		return
	}
	widths := make([]int, len(cells[0]))
	for _, r := range cells {
		for i, s := range r {
			widths[i] = max(widths[i], utf8.RuneCountInString(s))
		}
	}
	rule := func(l, m, r string) string {
		var b strings.Builder
		b.WriteString(l)
		for i, wd := range widths {
			if i > 0 {
				b.WriteString(m)
			}
			b.WriteString(strings.Repeat("─", wd+2))
		}
		b.WriteString(r)
		return b.String()
	}
	fmt.Fprintln(w, rule("┌", "┬", "┐"))
	for ri, r := range cells {
		var b strings.Builder
		b.WriteString("│")
		for i, s := range r {
			b.WriteString(" " + s + strings.Repeat(" ", widths[i]-utf8.RuneCountInString(s)) + " │")
		}
		fmt.Fprintln(w, b.String())
		if ri < len(cells)-1 {
			fmt.Fprintln(w, rule("├", "┼", "┤"))
		}
	}
	fmt.Fprintln(w, rule("└", "┴", "┘"))
}

// writeJSONValue writes one JSON document and a newline (status,
// cluster_status with --formatter json).
func writeJSONValue(w io.Writer, v any) error {
	b, err := marshal(v)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(w, "%s\n", b)
	return err
}
