package commands

import (
	"errors"
	"testing"
	"time"
)

// countingWriter accepts every byte and counts them; failAfter > 0 makes the write
// that would pass that many bytes fail after taking only up to the limit.
type countingWriter struct {
	written   int64
	failAfter int64
}

var errWriterFull = errors.New("writer full")

func (w *countingWriter) Write(p []byte) (int, error) {
	if w.failAfter > 0 && w.written+int64(len(p)) > w.failAfter {
		n := w.failAfter - w.written
		w.written = w.failAfter
		return int(n), errWriterFull
	}
	w.written += int64(len(p))
	return len(p), nil
}

func TestSendForReportsExactlyWhatTheWriterTook(t *testing.T) {
	var w countingWriter
	sent, err := sendFor(&w, 20*time.Millisecond)
	if err != nil {
		t.Fatalf("sendFor: %v", err)
	}
	if sent == 0 || sent != w.written {
		t.Fatalf("sendFor reported %d bytes, the writer took %d", sent, w.written)
	}
}

func TestSendForStopsAtAWriteErrorCountingThePartialWrite(t *testing.T) {
	w := countingWriter{failAfter: 100_000}
	sent, err := sendFor(&w, time.Hour)
	if !errors.Is(err, errWriterFull) {
		t.Fatalf("error %v, want the writer's", err)
	}
	if sent != 100_000 {
		t.Fatalf("sent %d, want the 100000 bytes the writer took", sent)
	}
}

func TestBulkSendArgsCheck(t *testing.T) {
	cases := []argsCase[bulkSendArgs]{
		{"a byte count", bulkSendArgs{Bytes: 1 << 20}, ""},
		{"no bound at all sends nothing", bulkSendArgs{}, ""},
		{"seconds within the default timeout", bulkSendArgs{Seconds: 2}, ""},
		{"seconds within an explicit timeout", bulkSendArgs{Seconds: 30, timing: timing{TimeoutMs: 40_000}}, ""},
		{"negative seconds", bulkSendArgs{Seconds: -1}, "negative"},
		{"both bounds", bulkSendArgs{Bytes: 10, Seconds: 1}, "not both"},
		{"seconds as long as the default timeout", bulkSendArgs{Seconds: defaultTimeout.Seconds()}, "must exceed seconds"},
		{"seconds beyond an explicit timeout", bulkSendArgs{Seconds: 5, timing: timing{TimeoutMs: 4000}}, "timeoutMs (4000)"},
	}
	testArgsCheck(t, cases)
}
