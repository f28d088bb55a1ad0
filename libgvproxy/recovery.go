package main

// #include <stdint.h>
import "C"

import "bun-gvproxy/libgvproxy/internal/logqueue"

// A panic must never unwind out of an export into the host process: Go would abort it.
// Exports with an envelope recover in guarded (envelope.go); the others defer one of
// these. Both must be deferred directly, or recover returns nil.

// recoverExport turns a panic in an export without a result into a logged no-op.
func recoverExport(export string) {
	if r := recover(); r != nil {
		logPanic(export, r)
	}
}

// recoverInt32 turns a panic in an export returning an int32 status into a logged
// fallback result.
func recoverInt32(export string, result *C.int32_t, fallback C.int32_t) {
	if r := recover(); r != nil {
		logPanic(export, r)
		*result = fallback
	}
}

func logPanic(export string, r any) {
	logqueue.Errorf("%s: recovered panic: %v", export, r)
}
