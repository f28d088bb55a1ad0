package logqueue

import (
	"fmt"
	"strings"
	"time"

	gvlog "gvisor.dev/gvisor/pkg/log"
)

// gvisorEmitter is the target of gVisor's pkg/log (its netstack logs through it).
type gvisorEmitter struct{}

func (gvisorEmitter) Emit(_ int, level gvlog.Level, at time.Time, format string, v ...any) {
	l := fromGvisorLevel(level)
	if Enabled(l) {
		emit(l, SourceGvisor, 0, at, strings.TrimSuffix(fmt.Sprintf(format, v...), "\n"))
	}
}

func fromGvisorLevel(l gvlog.Level) Level {
	switch l {
	case gvlog.Warning:
		return Warn
	case gvlog.Info:
		return Info
	default:
		return Debug
	}
}

// toGvisorLevel is gVisor's threshold for ours. gVisor always emits warnings, so for
// Error and Silent the emitter's own check discards them.
func toGvisorLevel(l Level) gvlog.Level {
	switch {
	case l <= Debug:
		return gvlog.Debug
	case l == Info:
		return gvlog.Info
	default:
		return gvlog.Warning
	}
}
