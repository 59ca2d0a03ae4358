package mgmt

import (
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/warrenmq/warren/internal/amqp"
)

// tableJSON converts an AMQP field table to JSON values as RabbitMQ's
// rabbit_mgmt_format does: byte arrays as strings, timestamps as seconds,
// nested tables as objects. Never nil, so "arguments" is {} when empty.
func tableJSON(t map[string]any) map[string]any {
	out := make(map[string]any, len(t))
	for k, v := range t {
		out[k] = valueJSON(v)
	}
	return out
}

func valueJSON(v any) any {
	switch x := v.(type) {
	case amqp.Table:
		return tableJSON(x)
	case map[string]any:
		return tableJSON(x)
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = valueJSON(e)
		}
		return out
	case []byte:
		return string(x)
	case time.Time:
		return x.Unix()
	case amqp.Decimal:
		return float64(x.Value) / math.Pow10(int(x.Scale))
	case float32:
		return float64(x)
	}
	return v
}

// jsonTable converts JSON (decoded with UseNumber) to an AMQP table:
// integers as int64 ('l'), other numbers as float64, objects as tables.
func jsonTable(m map[string]any) (amqp.Table, error) {
	if len(m) == 0 {
		return nil, nil
	}
	t := make(amqp.Table, len(m))
	for k, v := range m {
		x, err := jsonValue(v)
		if err != nil {
			return nil, fmt.Errorf("argument %q: %w", k, err)
		}
		t[k] = x
	}
	return t, nil
}

func jsonValue(v any) (any, error) {
	switch x := v.(type) {
	case json.Number:
		if i, err := x.Int64(); err == nil {
			return i, nil
		}
		f, err := x.Float64()
		return f, err
	case float64:
		if x == math.Trunc(x) && math.Abs(x) < 1<<53 {
			return int64(x), nil
		}
		return x, nil
	case map[string]any:
		return jsonTable(x)
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			y, err := jsonValue(e)
			if err != nil {
				return nil, err
			}
			out[i] = y
		}
		return out, nil
	case string, bool, nil:
		return x, nil
	}
	return nil, fmt.Errorf("unsupported value %v", v)
}

// propsJSON is the "properties" object of a message, as RabbitMQ's
// management plugin writes it.
func propsJSON(p *amqp.Properties) map[string]any {
	out := map[string]any{}
	f := p.Flags
	if f&amqp.FlagContentType != 0 {
		out["content_type"] = p.ContentType
	}
	if f&amqp.FlagContentEncoding != 0 {
		out["content_encoding"] = p.ContentEncoding
	}
	if f&amqp.FlagHeaders != 0 {
		out["headers"] = tableJSON(p.Headers)
	}
	if f&amqp.FlagDeliveryMode != 0 {
		out["delivery_mode"] = p.DeliveryMode
	}
	if f&amqp.FlagPriority != 0 {
		out["priority"] = p.Priority
	}
	if f&amqp.FlagCorrelationID != 0 {
		out["correlation_id"] = p.CorrelationID
	}
	if f&amqp.FlagReplyTo != 0 {
		out["reply_to"] = p.ReplyTo
	}
	if f&amqp.FlagExpiration != 0 {
		out["expiration"] = p.Expiration
	}
	if f&amqp.FlagMessageID != 0 {
		out["message_id"] = p.MessageID
	}
	if f&amqp.FlagTimestamp != 0 {
		out["timestamp"] = p.Timestamp.Unix()
	}
	if f&amqp.FlagType != 0 {
		out["type"] = p.Type
	}
	if f&amqp.FlagUserID != 0 {
		out["user_id"] = p.UserID
	}
	if f&amqp.FlagAppID != 0 {
		out["app_id"] = p.AppID
	}
	if f&amqp.FlagClusterID != 0 {
		out["cluster_id"] = p.ClusterID
	}
	return out
}

// jsonProps builds message properties from a publish request's
// "properties" object.
func jsonProps(m map[string]any) (*amqp.Properties, error) {
	p := &amqp.Properties{}
	str := func(k string, dst *string, flag uint16) error {
		v, ok := m[k]
		if !ok {
			return nil
		}
		s, ok := v.(string)
		if !ok {
			return fmt.Errorf("property %s: not a string", k)
		}
		*dst = s
		p.Flags |= flag
		return nil
	}
	num := func(k string) (int64, bool, error) {
		v, ok := m[k]
		if !ok {
			return 0, false, nil
		}
		switch x := v.(type) {
		case json.Number:
			i, err := x.Int64()
			return i, true, err
		case float64:
			return int64(x), true, nil
		case string:
			var i int64
			_, err := fmt.Sscan(x, &i)
			return i, true, err
		}
		return 0, false, fmt.Errorf("property %s: not a number", k)
	}
	for _, e := range []struct {
		k    string
		dst  *string
		flag uint16
	}{
		{"content_type", &p.ContentType, amqp.FlagContentType},
		{"content_encoding", &p.ContentEncoding, amqp.FlagContentEncoding},
		{"correlation_id", &p.CorrelationID, amqp.FlagCorrelationID},
		{"reply_to", &p.ReplyTo, amqp.FlagReplyTo},
		{"expiration", &p.Expiration, amqp.FlagExpiration},
		{"message_id", &p.MessageID, amqp.FlagMessageID},
		{"type", &p.Type, amqp.FlagType},
		{"user_id", &p.UserID, amqp.FlagUserID},
		{"app_id", &p.AppID, amqp.FlagAppID},
		{"cluster_id", &p.ClusterID, amqp.FlagClusterID},
	} {
		if err := str(e.k, e.dst, e.flag); err != nil {
			return nil, err
		}
	}
	if n, ok, err := num("delivery_mode"); err != nil {
		return nil, err
	} else if ok {
		p.DeliveryMode, p.Flags = uint8(n), p.Flags|amqp.FlagDeliveryMode
	}
	if n, ok, err := num("priority"); err != nil {
		return nil, err
	} else if ok {
		p.Priority, p.Flags = uint8(n), p.Flags|amqp.FlagPriority
	}
	if n, ok, err := num("timestamp"); err != nil {
		return nil, err
	} else if ok {
		p.Timestamp, p.Flags = time.Unix(n, 0).UTC(), p.Flags|amqp.FlagTimestamp
	}
	if h, ok := m["headers"]; ok {
		hm, ok := h.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("property headers: not an object")
		}
		t, err := jsonTable(hm)
		if err != nil {
			return nil, err
		}
		if t == nil {
			t = amqp.Table{}
		}
		p.Headers, p.Flags = t, p.Flags|amqp.FlagHeaders
	}
	return p, nil
}

// idleSince formats a time as RabbitMQ's idle_since.
func idleSince(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05") }

// body is a request's JSON object, read leniently as RabbitMQ's
// rabbit_mgmt_util does: booleans may come as "true"/"false" and numbers
// as strings (rabbitmqadmin sends both that way).
type body map[string]any

func decodeBody(r *http.Request) (body, error) {
	b := body{}
	if err := decode(r, &b); err != nil {
		return nil, err
	}
	return b, nil
}

func (b body) has(k string) bool { _, ok := b[k]; return ok }

func (b body) str(k string) string {
	switch v := b[k].(type) {
	case string:
		return v
	case json.Number:
		return v.String()
	case bool:
		return strconv.FormatBool(v)
	}
	return ""
}

func (b body) boolean(k string, def bool) (bool, error) {
	switch v := b[k].(type) {
	case nil:
		return def, nil
	case bool:
		return v, nil
	case string:
		switch v {
		case "true":
			return true, nil
		case "false":
			return false, nil
		}
	}
	return false, badRequest("%s: not a boolean: %v", k, b[k])
}

func (b body) integer(k string, def int64) (int64, error) {
	switch v := b[k].(type) {
	case nil:
		return def, nil
	case json.Number:
		if i, err := v.Int64(); err == nil {
			return i, nil
		}
	case string:
		if i, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64); err == nil {
			return i, nil
		}
	}
	return 0, badRequest("%s: not an integer: %v", k, b[k])
}

// arguments reads the "arguments" object as an AMQP table; a value that
// has no AMQP type is a 400.
func (b body) arguments() (amqp.Table, error) {
	m, err := b.object("arguments")
	if err != nil {
		return nil, err
	}
	t, err := jsonTable(m)
	if err != nil {
		return nil, badRequest("%v", err)
	}
	return t, nil
}

func (b body) object(k string) (map[string]any, error) {
	switch v := b[k].(type) {
	case nil:
		return nil, nil
	case map[string]any:
		return v, nil
	case string:
		if v == "" {
			return nil, nil
		}
		var m map[string]any
		dec := json.NewDecoder(strings.NewReader(v))
		dec.UseNumber()
		if err := dec.Decode(&m); err == nil {
			return m, nil
		}
	}
	return nil, badRequest("%s: not an object", k)
}
