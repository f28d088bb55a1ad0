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
// which export panicked and with what value.
func expectOnePanicRecord(t *testing.T, records []loggedRecord, want string) {
	t.Helper()
	if len(records) != 1 {
		t.Fatalf("want one record %q, got %+v", want, records)
	}
	r := records[0]
	if r.level != logqueue.Error || r.source != logqueue.SourceLibgvproxy || r.instance != 0 || r.message != want {
		t.Fatalf("panic record %+v (level %s), want level error, source libgvproxy, instance 0, message %q", r, r.level, want)
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
	expectOnePanicRecord(t, records, "gvproxy_test_recover: recovered panic: boom")
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
	expectOnePanicRecord(t, records, want)
}

// An export with an envelope answers INTERNAL (api_test.go) and logs the same record.
func TestAGuardedExportsPanicIsLoggedAsAnError(t *testing.T) {
	testPanicHook = func(export string) { panic("boom in " + export) }
	defer func() { testPanicHook = nil }()
	records := panicRecordsOf(t, "gvproxy_guest", func() {
		_ = guarded("gvproxy_guest", func() (any, error) { return guestInfo(0) })
	})
	expectOnePanicRecord(t, records, "gvproxy_guest: recovered panic: boom in gvproxy_guest")
}
