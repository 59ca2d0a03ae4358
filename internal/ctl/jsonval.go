package ctl

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
)

// The list verbs print whatever columns the user asks for, from objects
// whose fields the API decides, so they decode responses into generic
// values that keep the order of object keys (AMQP tables such as
// arguments and client_properties print in the order the server sent):
//
//	nil, bool, json.Number, string, []any, *object

// object is a JSON object with its keys in document order.
type object struct {
	keys []string
	vals map[string]any
}

func newObject() *object { return &object{vals: map[string]any{}} }

// get returns the value at a dotted path ("queue.name"), or nil.
func (o *object) get(path string) any {
	var v any = o
	for _, k := range strings.Split(path, ".") {
		ob, ok := v.(*object)
		if !ok || ob == nil {
			return nil
		}
		v = ob.vals[k]
	}
	return v
}

// has reports whether the dotted path is present (even if null).
func (o *object) has(path string) bool {
	parts := strings.Split(path, ".")
	ob := o
	for i, k := range parts {
		v, ok := ob.vals[k]
		if !ok {
			return false
		}
		if i == len(parts)-1 {
			return true
		}
		if ob, ok = v.(*object); !ok || ob == nil {
			return false
		}
	}
	return false
}

func (o *object) set(k string, v any) {
	if _, ok := o.vals[k]; !ok {
		o.keys = append(o.keys, k)
	}
	o.vals[k] = v
}

// MarshalJSON writes the keys in order.
func (o *object) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, k := range o.keys {
		if i > 0 {
			b.WriteByte(',')
		}
		kb, err := marshal(k)
		if err != nil {
			return nil, err
		}
		b.Write(kb)
		b.WriteByte(':')
		vb, err := marshal(o.vals[k])
		if err != nil {
			return nil, err
		}
		b.Write(vb)
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

// marshal is json.Marshal without HTML escaping ("<" stays "<").
func marshal(v any) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), nil
}

// decodeValue decodes one JSON document into generic ordered values.
func decodeValue(data []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	v, err := decodeNext(dec)
	if err != nil {
		return nil, err
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, errors.New("invalid JSON: data after the top-level value")
	}
	return v, nil
}

func decodeNext(dec *json.Decoder) (any, error) {
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	switch t := tok.(type) {
	case json.Delim:
		switch t {
		case '{':
			o := newObject()
			for dec.More() {
				kt, err := dec.Token()
				if err != nil {
					return nil, err
				}
				k, ok := kt.(string)
				if !ok {
					return nil, fmt.Errorf("invalid JSON: object key %v", kt)
				}
				v, err := decodeNext(dec)
				if err != nil {
					return nil, err
				}
				o.set(k, v)
			}
			if _, err := dec.Token(); err != nil { // '}'
				return nil, err
			}
			return o, nil
		case '[':
			l := []any{}
			for dec.More() {
				v, err := decodeNext(dec)
				if err != nil {
					return nil, err
				}
				l = append(l, v)
			}
			if _, err := dec.Token(); err != nil { // ']'
				return nil, err
			}
			return l, nil
		}
		return nil, fmt.Errorf("invalid JSON: unexpected %v", t)
	default:
		return t, nil // nil, bool, json.Number, string
	}
}

// decodeList decodes a list endpoint's answer: a JSON array of objects,
// or RabbitMQ's paged object {"items": [...], ...}.
func decodeList(data []byte) ([]*object, error) {
	v, err := decodeValue(data)
	if err != nil {
		return nil, err
	}
	if o, ok := v.(*object); ok && o.has("items") {
		v = o.get("items")
	}
	l, ok := v.([]any)
	if !ok {
		return nil, fmt.Errorf("expected a JSON array, got %s", describe(v))
	}
	out := make([]*object, 0, len(l))
	for _, x := range l {
		o, ok := x.(*object)
		if !ok {
			return nil, fmt.Errorf("expected an array of objects, got an element that is %s", describe(x))
		}
		out = append(out, o)
	}
	return out, nil
}

func describe(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case bool:
		return "a boolean"
	case json.Number:
		return "a number"
	case string:
		return "a string"
	case []any:
		return "an array"
	case *object:
		return "an object"
	}
	return fmt.Sprintf("%T", v)
}
