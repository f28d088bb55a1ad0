package main

import (
	"encoding/json"
	"fmt"

	"bun-gvproxy/libgvproxy/internal/errs"
)

// success and failure are the two shapes of the JSON result of every export that can
// fail (docs/ABI.md): a success always has "value" (null included), a failure never.
type success struct {
	OK    bool `json:"ok"`
	Value any  `json:"value"`
}

type failure struct {
	OK    bool          `json:"ok"`
	Error envelopeError `json:"error"`
}

type envelopeError struct {
	Code    errs.Code `json:"code"`
	Message string    `json:"message"`
	Field   string    `json:"field,omitempty"`
}

// render turns a result into its envelope text; it cannot fail, because whatever it
// returns crosses the C ABI.
func render(value any, err error) string {
	var env any = success{OK: true, Value: value}
	if err != nil {
		coded := errs.As(err)
		env = failure{Error: envelopeError{Code: coded.Code, Message: coded.Error(), Field: coded.Field}}
	}
	out, mErr := json.Marshal(env)
	if mErr != nil {
		fallback, _ := json.Marshal(failure{Error: envelopeError{
			Code: errs.Internal, Message: fmt.Sprintf("cannot encode result: %v", mErr),
		}})
		return string(fallback)
	}
	return string(out)
}

// testPanicHook, when set by a test, runs at the start of every guarded call so tests
// can prove that a panic becomes an INTERNAL envelope.
var testPanicHook func(export string)

// guarded runs fn and renders its result; a panic in fn becomes an INTERNAL error.
func guarded(export string, fn func() (any, error)) string {
	return guardedRaw(export, func() string { return render(fn()) })
}

// guardedRaw is guarded for an export that writes its envelope text itself (the event
// drain); a panic becomes an INTERNAL envelope.
func guardedRaw(export string, fn func() string) (out string) {
	defer func() {
		if r := recover(); r != nil {
			logPanic(export, r)
			out = render(nil, errs.New(errs.Internal, "%s: internal error (recovered panic: %v)", export, r))
		}
	}()
	if testPanicHook != nil {
		testPanicHook(export)
	}
	return fn()
}
