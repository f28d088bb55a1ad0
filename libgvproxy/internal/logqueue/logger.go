package logqueue

import (
	"fmt"
	"time"
)

// Default is the process-wide queue that every source writes to and the
// gvproxy_drain_logs export drains.
var Default = mustNew(DefaultCapacity, DefaultMaxBytes)

func mustNew(capacity, maxBytes int) *Queue {
	q, err := New(capacity, maxBytes)
	if err != nil {
		panic(err)
	}
	return q
}

// Log queues msg from libgvproxy's own code, with kv rendered as " key=value" pairs.
// instanceID ties the record to an instance (0: none). Nothing is formatted when level
// is below the threshold.
func Log(level Level, instanceID uint32, msg string, kv ...any) {
	if !Enabled(level) {
		return
	}
	emit(level, SourceLibgvproxy, instanceID, time.Now(), appendFields(msg, kv))
}

// Logf is Log with a printf-style message and no fields.
func Logf(level Level, instanceID uint32, format string, args ...any) {
	if !Enabled(level) {
		return
	}
	emit(level, SourceLibgvproxy, instanceID, time.Now(), fmt.Sprintf(format, args...))
}

// Tracef, Debugf, Infof, Warnf and Errorf log a printf-style message not tied to an
// instance.
func Tracef(format string, args ...any) { Logf(Trace, 0, format, args...) }
func Debugf(format string, args ...any) { Logf(Debug, 0, format, args...) }
func Infof(format string, args ...any)  { Logf(Info, 0, format, args...) }
func Warnf(format string, args ...any)  { Logf(Warn, 0, format, args...) }
func Errorf(format string, args ...any) { Logf(Error, 0, format, args...) }

// emit pushes an already formatted record onto the default queue. A full queue counts
// the drop; the caller, often a network goroutine, carries on.
func emit(level Level, source Source, instanceID uint32, at time.Time, msg string) {
	Default.Push(Record{
		Message:    msg,
		UnixMillis: unixMillis(at),
		InstanceID: instanceID,
		Level:      level,
		Source:     source,
	})
}
