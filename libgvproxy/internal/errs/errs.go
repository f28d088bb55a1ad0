// Package errs defines the coded errors libgvproxy reports across the C ABI. Every
// failure that reaches the caller carries one of the stable codes of docs/ABI.md, a
// message a person can act on and, when a config field is at fault, the field's path.
package errs

import (
	"errors"
	"fmt"
)

// Code is a stable error code of the C ABI (docs/ABI.md, "Result envelope").
type Code string

// The codes the C ABI defines. LIBRARY_NOT_FOUND is raised only by the TypeScript side.
const (
	InvalidConfig     Code = "INVALID_CONFIG"
	SocketPathTooLong Code = "SOCKET_PATH_TOO_LONG"
	SocketInUse       Code = "SOCKET_IN_USE"
	NotASocket        Code = "NOT_A_SOCKET"
	AddressInUse      Code = "ADDRESS_IN_USE"
	PermissionDenied  Code = "PERMISSION_DENIED"
	Destroyed         Code = "DESTROYED"
	Internal          Code = "INTERNAL"
)

// Error is a failure with a code, a message and optionally the config field at fault.
// It wraps the underlying cause (if any) so errors.Is keeps working.
type Error struct {
	Code    Code
	Message string
	Field   string
	Err     error
}

func (e *Error) Error() string {
	if e.Err != nil {
		return e.Message + ": " + e.Err.Error()
	}
	return e.Message
}

func (e *Error) Unwrap() error { return e.Err }

// New returns a coded error with a formatted message.
func New(code Code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// Field returns a coded error about one config field; the message starts with the
// field's path so it can be acted on without the field attribute.
func Field(code Code, field, format string, args ...any) *Error {
	return &Error{Code: code, Field: field, Message: field + ": " + fmt.Sprintf(format, args...)}
}

// Wrap returns a coded error whose message is msg followed by the cause.
func Wrap(code Code, err error, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...), Err: err}
}

// WithField returns a copy of e that names the config field at fault.
func (e *Error) WithField(field string) *Error {
	c := *e
	c.Field = field
	return &c
}

// As finds the first coded error in err's chain; any other error becomes INTERNAL so
// callers never lose a failure for lack of a code.
func As(err error) *Error {
	if err == nil {
		return nil
	}
	var coded *Error
	if errors.As(err, &coded) {
		return coded
	}
	return &Error{Code: Internal, Message: "internal error", Err: err}
}

// OrWrap returns err unchanged if it already carries a code, else wraps it with code and
// the formatted message, so the most specific code found deeper down wins.
func OrWrap(code Code, err error, format string, args ...any) error {
	var coded *Error
	if errors.As(err, &coded) {
		return err
	}
	return Wrap(code, err, format, args...)
}
