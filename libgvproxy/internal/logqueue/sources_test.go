package logqueue

import (
	"bytes"
	stdlog "log"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/sirupsen/logrus"
	gvlog "gvisor.dev/gvisor/pkg/log"
)

// recordsFrom drains the default queue, keeping the records of one source.
func recordsFrom(t *testing.T, source Source) []Record {
	t.Helper()
	var out []Record
	for _, r := range drainAll(t, Default) {
		if r.Source == source {
			out = append(out, r)
		}
	}
	return out
}

type levelAndMessage struct {
	Level   Level
	Message string
}

func levelsAndMessages(records []Record) []levelAndMessage {
	out := make([]levelAndMessage, len(records))
	for i, r := range records {
		out[i] = levelAndMessage{r.Level, r.Message}
	}
	return out
}

func expectRecords(t *testing.T, got []Record, want []levelAndMessage) {
	t.Helper()
	g := levelsAndMessages(got)
	if len(g) != len(want) {
		t.Fatalf("got %+v, want %+v", g, want)
	}
	for i := range want {
		if g[i] != want[i] {
			t.Errorf("record %d = %+v, want %+v", i, g[i], want[i])
		}
	}
}

func TestLogrusRecordsArriveWithSourceAndMappedLevels(t *testing.T) {
	Install()
	withLevel(t, Trace)
	resetDefault(t)
	before := unixMillis(time.Now())
	logrus.Trace("t")
	logrus.Debug("d")
	logrus.Info("i")
	logrus.Warn("w")
	logrus.Error("e")
	func() {
		defer func() { _ = recover() }() // logrus.Panic logs, then panics
		logrus.Panic("p")
	}()
	logrus.WithFields(logrus.Fields{"zeta": 1, "alpha": "a b"}).Infof("port %d", 80)
	got := recordsFrom(t, SourceLogrus)
	expectRecords(t, got, []levelAndMessage{
		{Trace, "t"}, {Debug, "d"}, {Info, "i"}, {Warn, "w"}, {Error, "e"}, {Error, "p"},
		{Info, `port 80 alpha="a b" zeta=1`},
	})
	if got[0].UnixMillis < before || got[0].UnixMillis > unixMillis(time.Now()) {
		t.Errorf("record time %f is not the time of the call", got[0].UnixMillis)
	}
}

// logrus and gVisor follow the threshold: their own level checks agree with it (so they
// skip formatting what would be dropped), a record below it is dropped, one at it kept,
// and at quietThreshold what the library still emits at quietLevel is dropped.
func TestLibrariesFollowTheThreshold(t *testing.T) {
	cases := []struct {
		name           string
		source         Source
		threshold      Level
		enabled        func() (below, at bool) // the library's own check for the two levels
		below, at      func(msg string)
		quietThreshold Level
		quiet          func(msg string)
	}{
		{
			name: "logrus", source: SourceLogrus, threshold: Warn,
			enabled: func() (bool, bool) {
				return logrus.IsLevelEnabled(logrus.InfoLevel), logrus.IsLevelEnabled(logrus.WarnLevel)
			},
			below:          func(msg string) { logrus.Info(msg) },
			at:             func(msg string) { logrus.Warn(msg) },
			quietThreshold: Silent,
			quiet:          func(msg string) { logrus.Error(msg) },
		},
		{
			name: "gVisor", source: SourceGvisor, threshold: Info,
			enabled: func() (bool, bool) {
				return gvlog.IsLogging(gvlog.Debug), gvlog.IsLogging(gvlog.Info)
			},
			below: func(msg string) { gvlog.Debugf("%s", msg) },
			at:    func(msg string) { gvlog.Infof("%s", msg) },
			// gVisor cannot be told to drop warnings; the emitter does it.
			quietThreshold: Error,
			quiet:          func(msg string) { gvlog.Warningf("%s", msg) },
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			Install()
			withLevel(t, c.threshold)
			resetDefault(t)
			if below, at := c.enabled(); below || !at {
				t.Errorf("%s's own level check (below %t, at %t) does not match threshold %v", c.name, below, at, c.threshold)
			}
			c.below("dropped")
			c.at("kept")
			expectRecords(t, recordsFrom(t, c.source), []levelAndMessage{{c.threshold, "kept"}})

			withLevel(t, c.quietThreshold)
			c.quiet("dropped too")
			if got := recordsFrom(t, c.source); len(got) != 0 {
				t.Errorf("%s queued at threshold %v: %+v", c.name, c.quietThreshold, got)
			}
		})
	}
}

func TestStandardLogRecordsArriveAsInfo(t *testing.T) {
	Install()
	withLevel(t, Info)
	resetDefault(t)
	stdlog.Printf("hello %s", "std")
	stdlog.Println("second")
	expectRecords(t, recordsFrom(t, SourceStdlog), []levelAndMessage{{Info, "hello std"}, {Info, "second"}})

	withLevel(t, Warn)
	stdlog.Print("below the threshold")
	if got := recordsFrom(t, SourceStdlog); len(got) != 0 {
		t.Errorf("standard log queued %+v at threshold warn", got)
	}
}

func TestGvisorRecordsArriveWithSourceAndMappedLevels(t *testing.T) {
	Install()
	withLevel(t, Trace)
	resetDefault(t)
	gvlog.Debugf("d %d", 1)
	gvlog.Infof("i %d", 2)
	gvlog.Warningf("w %d", 3)
	expectRecords(t, recordsFrom(t, SourceGvisor), []levelAndMessage{{Debug, "d 1"}, {Info, "i 2"}, {Warn, "w 3"}})
}

func TestInstallIsIdempotent(t *testing.T) {
	Install()
	Install()
	withLevel(t, Info)
	resetDefault(t)
	logrus.Info("once")
	stdlog.Print("once")
	gvlog.Infof("once")
	if got := drainAll(t, Default); len(got) != 3 {
		t.Errorf("one call per source queued %d records, want 3", len(got))
	}
}

// stderrChildEnv selects what the re-executed test binary does in
// TestInstalledSourcesWriteNothingToStderr.
const stderrChildEnv = "LOGQUEUE_STDERR_CHILD"

func TestInstalledSourcesWriteNothingToStderr(t *testing.T) {
	if mode := os.Getenv(stderrChildEnv); mode != "" {
		if mode == "installed" {
			Install()
		}
		if err := SetLevel(int(Trace)); err != nil {
			t.Fatal(err)
		}
		logrus.Error("logrus line")
		stdlog.Print("std line")
		gvlog.Warningf("gvisor line")
		return
	}
	run := func(mode string) string {
		cmd := exec.Command(os.Args[0], "-test.run=^TestInstalledSourcesWriteNothingToStderr$", "-test.count=1")
		cmd.Env = append(os.Environ(), stderrChildEnv+"="+mode)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		if err := cmd.Run(); err != nil {
			t.Fatalf("child (%s): %v; stderr: %s", mode, err, stderr.String())
		}
		return stderr.String()
	}
	// Control: without Install every source writes to stderr, so an empty stderr below
	// means Install silenced them rather than the child not logging.
	if out := run("uninstalled"); !strings.Contains(out, "logrus line") ||
		!strings.Contains(out, "std line") || !strings.Contains(out, "gvisor line") {
		t.Fatalf("uninstalled child did not log all three lines to stderr: %q", out)
	}
	if out := run("installed"); out != "" {
		t.Errorf("installed sources wrote to stderr: %q", out)
	}
}
