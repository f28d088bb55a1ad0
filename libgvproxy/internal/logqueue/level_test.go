package logqueue

import (
	"fmt"
	"testing"
)

func TestSetLevelRejectsOutOfRangeAndKeepsTheThreshold(t *testing.T) {
	withLevel(t, Warn)
	for _, bad := range []int{-1, 6, 255} {
		if err := SetLevel(bad); err == nil {
			t.Errorf("SetLevel(%d) accepted", bad)
		}
	}
	if CurrentLevel() != Warn {
		t.Errorf("threshold is %v after rejected calls, want warn", CurrentLevel())
	}
}

func TestLogQueuesOnlyLevelsAtOrAboveTheThreshold(t *testing.T) {
	for threshold := Trace; threshold <= Silent; threshold++ {
		t.Run(threshold.String(), func(t *testing.T) {
			withLevel(t, threshold)
			resetDefault(t)
			for level := Trace; level <= Error; level++ {
				Log(level, 9, "at", "level", level.String())
			}
			got := drainAll(t, Default)
			var want []string
			for level := threshold; level <= Error; level++ {
				want = append(want, fmt.Sprintf("at level=%s", level))
			}
			var messages []string
			for _, r := range got {
				messages = append(messages, r.Message)
				if r.Source != SourceLibgvproxy || r.InstanceID != 9 || r.Level.String() != r.Message[len("at level="):] {
					t.Errorf("record %+v: wrong source, instance or level", r)
				}
			}
			if fmt.Sprint(messages) != fmt.Sprint(want) {
				t.Errorf("queued %q, want %q", messages, want)
			}
		})
	}
}

// countingStringer counts how often it is formatted.
type countingStringer struct{ calls *int }

func (c countingStringer) String() string { *c.calls++; return "formatted" }

func TestDisabledLevelsAreNotFormatted(t *testing.T) {
	withLevel(t, Warn)
	resetDefault(t)
	calls := 0
	Log(Info, 0, "skipped", "value", countingStringer{&calls})
	Logf(Debug, 0, "skipped %v", countingStringer{&calls})
	Infof("skipped %v", countingStringer{&calls})
	if calls != 0 {
		t.Errorf("a disabled record was formatted %d times", calls)
	}
	Log(Warn, 0, "kept", "value", countingStringer{&calls})
	if calls != 1 {
		t.Errorf("an enabled record was formatted %d times, want 1", calls)
	}
	if got := drainAll(t, Default); len(got) != 1 || got[0].Message != "kept value=formatted" {
		t.Errorf("queued %+v, want only the warning", got)
	}
}

func TestPrintfHelpersUseTheirLevel(t *testing.T) {
	withLevel(t, Trace)
	resetDefault(t)
	Tracef("t%d", 0)
	Debugf("d%d", 1)
	Infof("i%d", 2)
	Warnf("w%d", 3)
	Errorf("e%d", 4)
	got := drainAll(t, Default)
	if len(got) != 5 {
		t.Fatalf("queued %d records, want 5", len(got))
	}
	for i, r := range got {
		if r.Level != Level(i) || r.Message[1:] != fmt.Sprint(i) || r.InstanceID != 0 {
			t.Errorf("record %d = %+v", i, r)
		}
	}
}
