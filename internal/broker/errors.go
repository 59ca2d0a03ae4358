package broker

import (
	"errors"
	"fmt"
)

// Kind classifies a broker error independently of any wire protocol; the
// protocol edge (amqpserver) maps it to a reply code.
type Kind int

const (
	KindNotFound Kind = iota + 1
	KindPreconditionFailed
	KindAccessRefused
	KindResourceLocked
	KindNotAllowed
	KindCommandInvalid
	KindNotImplemented
	KindInternal
	KindResourceError
)

// Error is a broker error: a kind and RabbitMQ's reason text (without the
// "NOT_FOUND - " style prefix, which the protocol edge adds).
type Error struct {
	Kind Kind
	Text string
}

func (e *Error) Error() string { return e.Text }

// Is makes errors.Is(err, ErrNotFound) and friends match on kind.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Text == "" && t.Kind == e.Kind
}

// Sentinels for errors.Is.
var (
	ErrNotFound           = &Error{Kind: KindNotFound}
	ErrPreconditionFailed = &Error{Kind: KindPreconditionFailed}
	ErrAccessRefused      = &Error{Kind: KindAccessRefused}
	ErrResourceLocked     = &Error{Kind: KindResourceLocked}
	ErrNotAllowed         = &Error{Kind: KindNotAllowed}
	ErrCommandInvalid     = &Error{Kind: KindCommandInvalid}
)

func errorf(k Kind, format string, args ...any) *Error {
	return &Error{Kind: k, Text: fmt.Sprintf(format, args...)}
}

func notFoundQueue(vhost, name string) *Error {
	return errorf(KindNotFound, "no queue '%s' in vhost '%s'", name, vhost)
}

func notFoundExchange(vhost, name string) *Error {
	return errorf(KindNotFound, "no exchange '%s' in vhost '%s'", name, vhost)
}

func lockedQueue(vhost, name string) *Error {
	return errorf(KindResourceLocked, "cannot obtain exclusive access to locked queue '%s' in vhost '%s'. "+
		"It could be originally declared on another connection or the exclusive property value does not match that of the original declaration.", name, vhost)
}

// AsError returns err as a broker *Error, or nil.
func AsError(err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	return nil
}
