package definitions

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/warrenmq/warren/internal/amqp"
	"github.com/warrenmq/warren/internal/broker"
)

// Tolerant readers for the loosely typed JSON RabbitMQ versions have
// written over the years, and the converters between JSON values and AMQP
// field tables.

// object is one definition item with its fields undecoded.
type object map[string]json.RawMessage

// list reads a top-level category: absent or null is empty; anything but
// an array is an error; items that are not objects are skipped, as
// RabbitMQ does.
func list(doc object, key string) ([]object, error) {
	raw, ok := doc[key]
	if !ok || isNull(raw) {
		return nil, nil
	}
	var items []json.RawMessage
	if err := json.Unmarshal(raw, &items); err != nil {
		return nil, fmt.Errorf("%s: want a list", key)
	}
	out := make([]object, 0, len(items))
	for _, it := range items {
		var o object
		if err := json.Unmarshal(it, &o); err != nil || o == nil {
			continue
		}
		out = append(out, o)
	}
	return out, nil
}

func isNull(raw json.RawMessage) bool {
	return len(bytes.TrimSpace(raw)) == 0 || string(bytes.TrimSpace(raw)) == "null"
}

func (o object) has(key string) bool {
	raw, ok := o[key]
	return ok && !isNull(raw)
}

// str reads a string field; absent or null is "".
func (o object) str(key string) (string, error) {
	raw, ok := o[key]
	if !ok || isNull(raw) {
		return "", nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", fmt.Errorf("%s: want a string", key)
	}
	return s, nil
}

// reqStr reads a string field that must be there.
func (o object) reqStr(key string) (string, error) {
	if !o.has(key) {
		return "", fmt.Errorf("%s: missing", key)
	}
	return o.str(key)
}

// boolean reads true/false (also as strings, which old exports used).
func (o object) boolean(key string) (bool, error) {
	raw, ok := o[key]
	if !ok || isNull(raw) {
		return false, nil
	}
	var b bool
	if err := json.Unmarshal(raw, &b); err == nil {
		return b, nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err == nil {
		switch s {
		case "true":
			return true, nil
		case "false", "":
			return false, nil
		}
	}
	return false, fmt.Errorf("%s: want true or false", key)
}

// integer reads a whole number (also as a string).
func (o object) integer(key string) (int64, bool, error) {
	raw, ok := o[key]
	if !ok || isNull(raw) {
		return 0, false, nil
	}
	n, err := intValue(raw)
	if err != nil {
		return 0, false, fmt.Errorf("%s: %v", key, err)
	}
	return n, true, nil
}

func intValue(raw json.RawMessage) (int64, error) {
	var num json.Number
	if err := json.Unmarshal(raw, &num); err != nil {
		var s string
		if json.Unmarshal(raw, &s) != nil {
			return 0, fmt.Errorf("want a whole number")
		}
		num = json.Number(s)
	}
	n, err := strconv.ParseInt(string(num), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("want a whole number")
	}
	return n, nil
}

// tags reads tags as RabbitMQ's tag_list_from: a list of strings or one
// comma-separated string.
func (o object) tags(key string) ([]string, error) {
	raw, ok := o[key]
	if !ok || isNull(raw) {
		return nil, nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err == nil {
		var out []string
		for _, t := range strings.Split(s, ",") {
			if t = strings.TrimSpace(t); t != "" {
				out = append(out, t)
			}
		}
		return out, nil
	}
	var l []string
	if err := json.Unmarshal(raw, &l); err != nil {
		return nil, fmt.Errorf("%s: want a list of strings", key)
	}
	out := make([]string, 0, len(l))
	for _, t := range l {
		if t = strings.TrimSpace(t); t != "" {
			out = append(out, t)
		}
	}
	return out, nil
}

// limits reads {"max-connections": N, …}; [] and {} are no limits.
func (o object) limits(key string) (map[string]int64, error) {
	raw, ok := o[key]
	if !ok || isNull(raw) {
		return nil, nil
	}
	return limitsValue(raw, key)
}

func limitsValue(raw json.RawMessage, what string) (map[string]int64, error) {
	var arr []json.RawMessage
	if json.Unmarshal(raw, &arr) == nil && len(arr) == 0 {
		return nil, nil
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, fmt.Errorf("%s: want an object", what)
	}
	if len(m) == 0 {
		return nil, nil
	}
	out := make(map[string]int64, len(m))
	for k, v := range m {
		n, err := intValue(v)
		if err != nil {
			return nil, fmt.Errorf("%s: %s: %v", what, k, err)
		}
		out[k] = n
	}
	return out, nil
}

// table reads AMQP arguments: an object (or an empty list, as some old
// exports wrote) of JSON values.
func (o object) table(key string) (amqp.Table, error) {
	raw, ok := o[key]
	if !ok || isNull(raw) {
		return nil, nil
	}
	var arr []json.RawMessage
	if json.Unmarshal(raw, &arr) == nil && len(arr) == 0 {
		return nil, nil
	}
	d := json.NewDecoder(bytes.NewReader(raw))
	d.UseNumber()
	var m map[string]any
	if err := d.Decode(&m); err != nil {
		return nil, fmt.Errorf("%s: want an object", key)
	}
	if len(m) == 0 {
		return nil, nil
	}
	t, err := toTable(m, 0)
	if err != nil {
		return nil, fmt.Errorf("%s: %v", key, err)
	}
	return t, nil
}

// maxDepth bounds nesting, so a hostile document cannot exhaust the stack
// of the table encoder.
const maxDepth = 32

// toTable converts decoded JSON (with json.Number) to an AMQP table as
// rabbit_misc:to_amqp_table does: integers become signed 64-bit, other
// numbers doubles, objects tables, lists arrays.
func toTable(m map[string]any, depth int) (amqp.Table, error) {
	t := make(amqp.Table, len(m))
	for k, v := range m {
		if len(k) > 255 {
			return nil, fmt.Errorf("key %.20q…: longer than 255 bytes", k)
		}
		av, err := toAMQP(v, depth+1)
		if err != nil {
			return nil, fmt.Errorf("%s: %v", k, err)
		}
		t[k] = av
	}
	return t, nil
}

func toAMQP(v any, depth int) (any, error) {
	if depth > maxDepth {
		return nil, fmt.Errorf("nested too deeply")
	}
	switch v := v.(type) {
	case nil, string, bool:
		return v, nil
	case json.Number:
		if n, err := strconv.ParseInt(string(v), 10, 64); err == nil {
			return n, nil
		}
		f, err := strconv.ParseFloat(string(v), 64)
		if err != nil || math.IsInf(f, 0) {
			return nil, fmt.Errorf("number %s out of range", v)
		}
		return f, nil
	case map[string]any:
		return toTable(v, depth)
	case []any:
		out := make([]any, len(v))
		for i, e := range v {
			av, err := toAMQP(e, depth+1)
			if err != nil {
				return nil, err
			}
			out[i] = av
		}
		return out, nil
	}
	return nil, fmt.Errorf("unsupported value %T", v)
}

// fromTable converts AMQP arguments to JSON values, as
// rabbit_misc:amqp_table does for the management API.
func fromTable(t amqp.Table) map[string]any {
	out := make(map[string]any, len(t))
	for k, v := range t {
		out[k] = fromAMQP(v)
	}
	return out
}

func fromAMQP(v any) any {
	switch v := v.(type) {
	case amqp.Table:
		return fromTable(v)
	case map[string]any:
		return fromTable(amqp.Table(v))
	case []any:
		out := make([]any, len(v))
		for i, e := range v {
			out[i] = fromAMQP(e)
		}
		return out
	case []byte:
		return string(v)
	case time.Time:
		return v.Unix()
	case amqp.Decimal:
		return float64(v.Value) / math.Pow10(int(v.Scale))
	case float32:
		return float64(v)
	}
	return v
}

// sortedKeys is for deterministic iteration.
func sortedKeys[V any](m map[string]V) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

func sortQueues(qs []*broker.Queue) []*broker.Queue {
	sort.Slice(qs, func(i, j int) bool { return qs[i].Name < qs[j].Name })
	return qs
}

func sortExchanges(xs []*broker.Exchange) []*broker.Exchange {
	sort.Slice(xs, func(i, j int) bool { return xs[i].Name < xs[j].Name })
	return xs
}
