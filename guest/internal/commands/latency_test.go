package commands

import (
	"testing"
	"time"
)

func TestSummarizeOrdersSamplesAndPicksPercentiles(t *testing.T) {
	var samples []time.Duration
	for i := 100; i >= 1; i-- { // unsorted on purpose
		samples = append(samples, time.Duration(i)*time.Microsecond)
	}
	s := summarize(samples)
	if s.Count != 100 || s.MinUs != 1 || s.MaxUs != 100 || s.MeanUs != 50.5 {
		t.Fatalf("summary %+v", s)
	}
	if s.P50Us != 51 || s.P90Us != 91 || s.P99Us != 100 {
		t.Fatalf("percentiles %+v", s)
	}
}

func TestSummarizeOfNothingIsZero(t *testing.T) {
	if s := summarize(nil); s != (latencySummary{}) {
		t.Fatalf("summary %+v", s)
	}
}
