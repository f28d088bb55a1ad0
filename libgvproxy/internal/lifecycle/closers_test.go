package lifecycle

import (
	"slices"
	"testing"
)

func TestClosersCloseTheirMembersOnceAndNewcomersAtOnce(t *testing.T) {
	var s Closers[string]
	kept, released := &closer{}, &closer{}
	s.Add(kept, "kept")
	release, ok := s.Add(released, "released")
	if !ok {
		t.Fatal("an open set refused a member")
	}
	release()
	var seen []string
	s.Each(func(v string) { seen = append(seen, v) })
	if !slices.Equal(seen, []string{"kept"}) {
		t.Fatalf("Each saw %v, want only the member not released", seen)
	}

	s.Close()
	s.Close() // idempotent
	if kept.closed.Load() != 1 || released.closed.Load() != 0 {
		t.Fatalf("closed: member %d times, released one %d times", kept.closed.Load(), released.closed.Load())
	}
	late := &closer{}
	if _, ok := s.Add(late, "late"); ok || late.closed.Load() != 1 {
		t.Fatalf("a newcomer to a closed set: ok %v, closed %d times; want refused and closed", ok, late.closed.Load())
	}
}
