package logqueue

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestTruncateKeepsMessagesThatFit(t *testing.T) {
	for _, msg := range []string{"", "short", strings.Repeat("a", MaxMessageBytes)} {
		if got := Truncate(msg); got != msg {
			t.Errorf("Truncate changed a %d-byte message", len(msg))
		}
	}
}

func TestTruncateCutsHugeMessagesWithAMarker(t *testing.T) {
	for _, tc := range []struct {
		name string
		msg  string
	}{
		{"one byte over", strings.Repeat("a", MaxMessageBytes+1)},
		{"a megabyte", strings.Repeat("b", 1<<20)},
		// Multi-byte runes straddle every possible cut point.
		{"multi-byte runes", strings.Repeat("é✓😀", MaxMessageBytes)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := Truncate(tc.msg)
			if len(got) > MaxMessageBytes {
				t.Fatalf("truncated to %d bytes, bound is %d", len(got), MaxMessageBytes)
			}
			if !utf8.ValidString(got) {
				t.Fatal("truncation split a UTF-8 sequence")
			}
			head, marker, ok := strings.Cut(got, "… [truncated ")
			if !ok || !strings.HasPrefix(tc.msg, head) {
				t.Fatalf("no marker after a prefix of the message: %q", got[len(got)-40:])
			}
			var removed int
			if _, err := fmt.Sscanf(marker, "%d bytes]", &removed); err != nil {
				t.Fatalf("marker %q: %v", marker, err)
			}
			if removed != len(tc.msg)-len(head) {
				t.Errorf("marker says %d bytes removed, %d were", removed, len(tc.msg)-len(head))
			}
		})
	}
}

type stringer struct{}

func (stringer) String() string { return "from-stringer" }

type nilPointerError struct{ text *string }

func (e *nilPointerError) Error() string { return *e.text }

func TestFieldsAreAppendedAsKeyValuePairs(t *testing.T) {
	for _, tc := range []struct {
		name string
		kv   []any
		want string
	}{
		{"none", nil, "msg"},
		{"common types", []any{"port", 8080, "ok", true, "id", uint32(7), "n", int64(-3)}, "msg port=8080 ok=true id=7 n=-3"},
		{"error and stringer", []any{"err", errors.New("boom"), "s", stringer{}}, "msg err=boom s=from-stringer"},
		{"values needing quotes", []any{"path", "/tmp/a b", "empty", "", "eq", "a=b"}, `msg path="/tmp/a b" empty="" eq="a=b"`},
		{"odd count", []any{"lonely"}, "msg lonely=(MISSING)"},
		{"panicking error", []any{"err", (*nilPointerError)(nil)}, "msg err=<nil>"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := appendFields("msg", tc.kv); got != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}
