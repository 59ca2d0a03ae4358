package broker

import (
	"bytes"
	"fmt"
	"reflect"
	"time"

	"github.com/warrenmq/warren/internal/amqp"
	"github.com/warrenmq/warren/internal/broker/routing"
)

// inequivalent is RabbitMQ's error for a redeclare whose flags differ.
func inequivalent(field, what string, received, current any) *Error {
	return errorf(KindPreconditionFailed, "inequivalent arg '%s' for %s: received '%v' but current is '%v'",
		field, what, received, current)
}

// argsEquivalent compares the arguments RabbitMQ checks on redeclare,
// treating all integer types alike as RabbitMQ's type classes do.
func argsEquivalent(what string, keys []string, received, current amqp.Table) error {
	for _, k := range keys {
		nv, nok := received[k]
		ov, ook := current[k]
		if !nok && !ook {
			continue
		}
		if nok && ook && valuesEquivalent(nv, ov) {
			continue
		}
		if k == "x-queue-type" && ((!nok && ov == "classic") || (!ook && nv == "classic")) {
			continue
		}
		// rabbit_misc:assert_args_equivalence1: with both values present
		// only the values are shown, otherwise value and type.
		rcv, cur := describeArg(nv, nok), describeArg(ov, ook)
		if nok && ook {
			rcv, cur = fmt.Sprintf("'%v'", nv), fmt.Sprintf("'%v'", ov)
		}
		return errorf(KindPreconditionFailed, "inequivalent arg '%s' for %s: received %s but current is %s",
			k, what, rcv, cur)
	}
	return nil
}

func describeArg(v any, present bool) string {
	if !present {
		return "none"
	}
	return fmt.Sprintf("the value '%v' of type '%s'", v, typeName(v))
}

// typeName is the name RabbitMQ gives a field-table type in messages.
func typeName(v any) string {
	switch v.(type) {
	case nil:
		return "void"
	case bool:
		return "bool"
	case int8:
		return "byte"
	case uint8:
		return "unsignedbyte"
	case int16:
		return "short"
	case uint16:
		return "unsignedshort"
	case int32:
		return "signedint"
	case uint32:
		return "unsignedint"
	case int64, int, uint64:
		return "long"
	case float32:
		return "float"
	case float64:
		return "double"
	case amqp.Decimal:
		return "decimal"
	case string:
		return "longstr"
	case []byte:
		return "binary"
	case time.Time:
		return "timestamp"
	case amqp.Table:
		return "table"
	case []any:
		return "array"
	}
	return fmt.Sprintf("%T", v)
}

// asInt returns an integer-class value as int64.
func asInt(v any) (int64, bool) {
	switch n := v.(type) {
	case int8:
		return int64(n), true
	case uint8:
		return int64(n), true
	case int16:
		return int64(n), true
	case uint16:
		return int64(n), true
	case int32:
		return int64(n), true
	case uint32:
		return int64(n), true
	case int64:
		return n, true
	case int:
		return int64(n), true
	case uint64:
		return int64(n), true
	}
	return 0, false
}

func valuesEquivalent(a, b any) bool {
	if x, ok := asInt(a); ok {
		y, ok := asInt(b)
		return ok && x == y
	}
	switch x := a.(type) {
	case float32:
		y, ok := b.(float32)
		if !ok {
			if z, ok2 := b.(float64); ok2 {
				return float64(x) == z
			}
		}
		return ok && x == y
	case float64:
		if y, ok := b.(float32); ok {
			return x == float64(y)
		}
		y, ok := b.(float64)
		return ok && x == y
	case []byte:
		y, ok := b.([]byte)
		return ok && bytes.Equal(x, y)
	}
	return reflect.DeepEqual(a, b)
}

// tablesEqual compares binding arguments for binding identity.
func tablesEqual(a, b amqp.Table) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		w, ok := b[k]
		if !ok || !reflect.DeepEqual(v, w) {
			return false
		}
	}
	return true
}

func validateHeadersBinding(args amqp.Table) error {
	if err := routing.ValidateHeadersArgs(args); err != nil {
		return errorf(KindPreconditionFailed, "%s", err.Error())
	}
	return nil
}
