package main

// #include <stdint.h>
import "C"

import (
	"fmt"
	"runtime"
	"strings"

	"bun-gvproxy/libgvproxy/internal/logqueue"
)

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

// logPanic logs a recovered panic with the stack a maintainer needs to fix it. It must
// run inside the deferred function that recovered, while the panicking frames are still
// on the stack. The error returned to JS names only the export and the value.
func logPanic(export string, r any) {
	logqueue.Errorf("%s: recovered panic: %v\n%s", export, r, panicStack())
}

// maxPanicFrames bounds the frames a panic record lists: the panicking function and its
// nearest callers are what a fix needs, and a runaway recursion must not fill the record.
const maxPanicFrames = 32

// panicStack is the calling goroutine's stack from the function that panicked down to
// its callers, one "function\n\tfile:line" per frame. What is above the panic (this
// function, the recovery, the deferred call, runtime.gopanic) and the runtime's own
// frames (a runtime error's panicIndex, the cgo callback that entered the export) are
// left out.
func panicStack() string {
	pcs := make([]uintptr, 256)
	frames := runtime.CallersFrames(pcs[:runtime.Callers(1, pcs)])
	var b strings.Builder
	b.WriteString("goroutine stack from the panic:")
	abovePanic, listed, omitted := true, 0, 0
	for more := true; more; {
		var f runtime.Frame
		f, more = frames.Next()
		if abovePanic {
			abovePanic = f.Function != "runtime.gopanic"
			continue
		}
		if strings.HasPrefix(f.Function, "runtime.") {
			continue
		}
		if listed == maxPanicFrames {
			omitted++
			continue
		}
		fmt.Fprintf(&b, "\n%s(...)\n\t%s:%d", f.Function, f.File, f.Line)
		listed++
	}
	if omitted > 0 {
		fmt.Fprintf(&b, "\n… %d more frames", omitted)
	}
	return b.String()
}
