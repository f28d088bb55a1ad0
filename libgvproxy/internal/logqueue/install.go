package logqueue

import (
	"io"
	stdlog "log"
	"sync"

	"github.com/sirupsen/logrus"
	gvlog "gvisor.dev/gvisor/pkg/log"
)

// sourcesMu serialises Install and the level changes it propagates, so a SetLevel racing
// Install cannot leave a source at a stale threshold.
var (
	sourcesMu sync.Mutex
	installed bool
)

// Install routes logrus' standard logger, the standard log package and gVisor's logger
// into the Default queue and silences their own output to stderr, which in a library
// loaded into Bun would bypass the JavaScript side. It is idempotent.
func Install() {
	sourcesMu.Lock()
	defer sourcesMu.Unlock()
	if installed {
		return
	}
	std := logrus.StandardLogger()
	std.SetFormatter(logrusFormatter{})
	// The formatter returns no bytes, so Out receives nothing; Discard also keeps
	// stderr clean should other code replace the formatter later.
	std.SetOutput(io.Discard)
	// logrus.Fatal would call os.Exit and take the host process (Bun) down with it; a
	// library must never end its host. The record is already queued at error level.
	std.ExitFunc = func(int) {}

	// Records carry their own timestamp; the log package's date prefix would repeat it.
	stdlog.SetFlags(0)

	// gVisor documents SetTarget as unsafe concurrently with logging: Install runs from
	// libgvproxy's init, before any network goroutine exists.
	gvlog.SetTarget(gvisorEmitter{})

	installed = true
	applyLevelLocked(CurrentLevel())
}

// applyLevelToSources gives the hooked loggers the current threshold, if they are
// hooked. It reads the threshold under the lock, so concurrent SetLevel calls leave the
// sources at whichever threshold was stored last.
func applyLevelToSources() {
	sourcesMu.Lock()
	defer sourcesMu.Unlock()
	if installed {
		applyLevelLocked(CurrentLevel())
	}
}

func applyLevelLocked(level Level) {
	logrus.StandardLogger().SetLevel(toLogrusLevel(level))
	gvlog.SetLevel(toGvisorLevel(level))
	// The log package skips formatting entirely when its output is io.Discard.
	if level <= Info {
		stdlog.SetOutput(stdlogWriter{})
	} else {
		stdlog.SetOutput(io.Discard)
	}
}
