package main

import (
	"encoding/binary"
	"strconv"
	"strings"
	"testing"

	"bun-gvproxy/libgvproxy/internal/logqueue"
)

// loggedRecord is the part of a queued log record the recovery tests look at, decoded
// from the packed layout the JS side reads (docs/ABI.md "Log record layout").
type loggedRecord struct {
	level    logqueue.Level
	source   logqueue.Source
	instance uint32
	message  string
}

// drainLog empties the default log queue and returns its records in order.
func drainLog(t *testing.T) []loggedRecord {
	t.Helper()
	var out []loggedRecord
	buf := make([]byte, logqueue.BatchBufferSize)
	_, err := logqueue.Default.Drain(buf, 0, func(batch []byte, _ int) {
		for off := 0; off < len(batch); {
			size := int(binary.LittleEndian.Uint32(batch[off:]))
			out = append(out, loggedRecord{
				level:    logqueue.Level(batch[off+4]),
				source:   logqueue.Source(batch[off+5]),
				instance: binary.LittleEndian.Uint32(batch[off+8:]),
				message:  string(batch[off+logqueue.RecordHeaderSize : off+logqueue.RecordHeaderSize+size]),
			})
			off += logqueue.RecordHeaderSize + size
		}
	})
	if err != nil {
		t.Fatalf("drain the log queue: %v", err)
	}
	return out
}

// panicRecordsOf runs fn, which must recover a panic in export, and returns the records
// it logged that name export. Records queued before (by other tests' networks) are
// drained first, so a full queue cannot drop the one under test.
func panicRecordsOf(t *testing.T, export string, fn func()) []loggedRecord {
	t.Helper()
	drainLog(t)
	fn()
	var named []loggedRecord
	for _, r := range drainLog(t) {
		if strings.HasPrefix(r.message, export+":") {
			named = append(named, r)
		}
	}
	return named
}

// expectOnePanicRecord checks that exactly one record names export and that it is the
// error an operator needs: level error, from libgvproxy, tied to no instance, saying
// which export panicked and with what value on its first line, then the goroutine's
// stack from the panicking function (panicker, a function name's prefix, in file) down
// to its callers, without the recovery machinery above it.
func expectOnePanicRecord(t *testing.T, records []loggedRecord, want, panicker, file string) {
	t.Helper()
	if len(records) != 1 {
		t.Fatalf("want one record %q, got %+v", want, records)
	}
	r := records[0]
	first, stack, _ := strings.Cut(r.message, "\n")
	if r.level != logqueue.Error || r.source != logqueue.SourceLibgvproxy || r.instance != 0 || first != want {
		t.Fatalf("panic record %+v (level %s), want level error, source libgvproxy, instance 0, first line %q", r, r.level, want)
	}
	lines := strings.Split(stack, "\n")
	if len(lines) < 3 || lines[0] != "goroutine stack from the panic:" {
		t.Fatalf("panic record %q: want the stack after the first line", r.message)
	}
	if !strings.HasPrefix(lines[1], panicker) || !strings.HasPrefix(lines[2], "\t") || !strings.Contains(lines[2], file+":") {
		t.Fatalf("stack %q: want it to start at the panicking function %s in %s", stack, panicker, file)
	}
	for _, machinery := range []string{"runtime.", "logPanic", "recoverExport", "recoverInt32", "debug.Stack"} {
		if strings.Contains(stack, machinery) {
			t.Fatalf("stack %q: want the recovery machinery (%s) trimmed", stack, machinery)
		}
	}
	if len(lines) > 2*maxPanicFrames+2 {
		t.Fatalf("stack of %d lines, want at most %d frames", len(lines), maxPanicFrames)
	}
}

// recoverExport must stop the panic where it is deferred (one that escaped would crash
// this test binary) and log it.
func TestRecoverExportStopsAPanicAndLogsItsValueAsAnError(t *testing.T) {
	returned := false
	records := panicRecordsOf(t, "gvproxy_test_recover", func() {
		func() {
			defer recoverExport("gvproxy_test_recover")
			panic("boom")
		}()
		returned = true
	})
	if !returned {
		t.Fatal("the function that panicked did not return to its caller")
	}
	expectOnePanicRecord(t, records, "gvproxy_test_recover: recovered panic: boom",
		"bun-gvproxy/libgvproxy.TestRecoverExportStopsAPanicAndLogsItsValueAsAnError.func", "recovery_test.go")
}

// A runtime panic's value is an error; the record carries its text.
func TestRecoverExportLogsARuntimeErrorsText(t *testing.T) {
	records := panicRecordsOf(t, "gvproxy_test_index", func() {
		defer recoverExport("gvproxy_test_index")
		var frames []int
		_ = frames[len(t.Name())] // out of range: frames is empty
	})
	want := "gvproxy_test_index: recovered panic: runtime error: index out of range [" +
		strconv.Itoa(len(t.Name())) + "] with length 0"
	expectOnePanicRecord(t, records, want, "bun-gvproxy/libgvproxy.TestRecoverExportLogsARuntimeErrorsText.func", "recovery_test.go")
}

// An export with an envelope answers INTERNAL (api_test.go) and logs the same record.
func TestAGuardedExportsPanicIsLoggedAsAnError(t *testing.T) {
	testPanicHook = func(export string) { panic("boom in " + export) }
	defer func() { testPanicHook = nil }()
	var envelope string
	records := panicRecordsOf(t, "gvproxy_guest", func() {
		envelope = guarded("gvproxy_guest", func() (any, error) { return guestInfo(0) })
	})
	// The stack is for the log; the error JS gets stays one short sentence.
	if _, _, e := envelopeOf(t, envelope); e.Message != "gvproxy_guest: internal error (recovered panic: boom in gvproxy_guest)" {
		t.Fatalf("envelope error %+v, want the short message without the stack", e)
	}
	expectOnePanicRecord(t, records, "gvproxy_guest: recovered panic: boom in gvproxy_guest",
		"bun-gvproxy/libgvproxy.TestAGuardedExportsPanicIsLoggedAsAnError.func", "recovery_test.go")
}

// panicsAfter recurses depth calls deep, then panics.
func panicsAfter(depth int) {
	if depth == 0 {
		panic("deep")
	}
	panicsAfter(depth - 1)
}

// A deep stack is cut at maxPanicFrames frames, saying how many were left out.
func TestAPanicRecordsStackIsBounded(t *testing.T) {
	records := panicRecordsOf(t, "gvproxy_test_deep", func() {
		defer recoverExport("gvproxy_test_deep")
		panicsAfter(3 * maxPanicFrames)
	})
	expectOnePanicRecord(t, records, "gvproxy_test_deep: recovered panic: deep", "bun-gvproxy/libgvproxy.panicsAfter", "recovery_test.go")
	lines := strings.Split(records[0].message, "\n")
	if last := lines[len(lines)-1]; !strings.HasPrefix(last, "… ") || !strings.HasSuffix(last, " more frames") {
		t.Fatalf("last line %q, want the count of frames left out", last)
	}
}
