package logqueue

import (
	"fmt"
	"sync/atomic"
)

// Level is the severity of a record, numbered as in the ABI record layout.
type Level uint8

// Record levels, plus Silent, which is only a threshold: nothing is ever logged at it.
const (
	Trace Level = iota
	Debug
	Info
	Warn
	Error
	Silent
)

// DefaultLevel is the threshold in effect until SetLevel is called.
const DefaultLevel = Info

// String names the level as the TypeScript side does.
func (l Level) String() string {
	switch l {
	case Trace:
		return "trace"
	case Debug:
		return "debug"
	case Info:
		return "info"
	case Warn:
		return "warn"
	case Error:
		return "error"
	case Silent:
		return "silent"
	default:
		return fmt.Sprintf("level(%d)", uint8(l))
	}
}

// Source says which logger produced a record, numbered as in the ABI record layout.
type Source uint8

// Record sources.
const (
	SourceLibgvproxy Source = iota // libgvproxy's own code, through Log and its helpers
	SourceLogrus                   // gvisor-tap-vsock, through logrus' standard logger
	SourceStdlog                   // the Go standard library log package
	SourceGvisor                   // gVisor's pkg/log
)

// threshold is the lowest level that is recorded. It is read on every log call, so it is
// a lone atomic: a disabled record costs one load and a compare, nothing is formatted.
var threshold atomic.Uint32

func init() { threshold.Store(uint32(DefaultLevel)) }

// Enabled reports whether a record at level would be kept under the current threshold.
func Enabled(level Level) bool {
	return level < Silent && uint32(level) >= threshold.Load()
}

// CurrentLevel returns the threshold set by SetLevel.
func CurrentLevel() Level { return Level(threshold.Load()) }

// SetLevel sets the threshold for every source (0 trace .. 4 error, 5 silent). It also
// lowers or raises the thresholds of logrus, the standard log package and gVisor, once
// Install has hooked them, so that they do not even format records that would be
// discarded here.
func SetLevel(level int) error {
	if level < int(Trace) || level > int(Silent) {
		return fmt.Errorf("log level %d out of range %d..%d", level, Trace, Silent)
	}
	threshold.Store(uint32(level))
	applyLevelToSources()
	return nil
}
