package broker

import (
	"github.com/warrenmq/warren/internal/amqp"
)

// Checks that let a caller validate a whole batch of commands before
// applying any (definitions import).

// ValidExchangeType reports whether kind is an exchange type the broker
// can declare.
func ValidExchangeType(kind string) bool {
	_, ok := exchangeMatcher(kind, nil)
	return ok
}

// ValidateExchangeArgs checks the arguments of a new exchange of the given
// kind as a declare would (x-delayed-message requires x-delayed-type).
func ValidateExchangeArgs(kind string, args amqp.Table) error {
	return validateExchangeArgs(kind, args)
}

// ValidateBindingArgs checks the arguments of a binding from an exchange
// of the given kind, as a bind command would.
func ValidateBindingArgs(kind string, args amqp.Table) error {
	if kind == KindHeaders {
		return validateHeadersBinding(args)
	}
	return nil
}
