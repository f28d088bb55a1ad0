package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"bun-gvproxy/libgvproxy/internal/audit"
	"bun-gvproxy/libgvproxy/internal/errs"
)

// testDir is a fresh short directory (socket paths must fit sun_path).
func testDir(t testing.TB) string {
	t.Helper()
	dir, err := os.MkdirTemp("/tmp", "gvp")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	return dir
}

// configJSON is a config document with the given socket path and extra fields.
func configJSON(t testing.TB, socketPath string, extra map[string]any) []byte {
	t.Helper()
	doc := map[string]any{"socketPath": socketPath}
	for k, v := range extra {
		doc[k] = v
	}
	data, err := json.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// mustCreate creates an instance and destroys it at the end of the test if the test
// did not.
func mustCreate(t testing.TB, doc []byte) createResult {
	t.Helper()
	res, err := createInstance(doc)
	if err != nil {
		t.Fatalf("createInstance(%s): %v", doc, err)
	}
	t.Cleanup(func() { _ = destroyInstance(int64(res.ID)) })
	return res
}

// wantDenied fails unless the instance's policy has refused exactly want flows (what
// context adds, if anything, says which case of a test this is).
func wantDenied(t *testing.T, res createResult, want uint64, context string) {
	t.Helper()
	s, err := instanceStats(int64(res.ID))
	if err != nil {
		t.Fatalf("%sstats: %v", context, err)
	}
	if s.Policy.Denied != want {
		t.Fatalf("%spolicy.denied = %d, want %d", context, s.Policy.Denied, want)
	}
}

// wantCoded fails unless err carries code (and field, when given).
func wantCoded(t *testing.T, err error, code errs.Code, field string) *errs.Error {
	t.Helper()
	var coded *errs.Error
	if !errors.As(err, &coded) {
		t.Fatalf("err = %v, want %s", err, code)
	}
	if coded.Code != code || (field != "" && coded.Field != field) {
		t.Fatalf("err = %s field %q: %q; want %s field %q", coded.Code, coded.Field, coded.Error(), code, field)
	}
	return coded
}

// envelopeOf decodes an envelope rendered by guarded.
func envelopeOf(t *testing.T, text string) (ok bool, value json.RawMessage, e envelopeError) {
	t.Helper()
	var env struct {
		OK    bool            `json:"ok"`
		Value json.RawMessage `json:"value"`
		Error envelopeError   `json:"error"`
	}
	if err := json.Unmarshal([]byte(text), &env); err != nil {
		t.Fatalf("envelope %q: %v", text, err)
	}
	return env.OK, env.Value, env.Error
}

// openFDs counts this process's open file descriptors.
func openFDs(t *testing.T) int {
	t.Helper()
	entries, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skipf("cannot count fds: %v", err)
	}
	return len(entries)
}

func sockPath(dir string, i int) string { return filepath.Join(dir, fmt.Sprintf("n%d.sock", i)) }

// connectionRecord is the part of a `connection` event's JSON these tests check.
type connectionRecord struct {
	Type        string       `json:"type"`
	ID          uint64       `json:"id"`
	DurationMs  float64      `json:"durationMs"`
	Phase       string       `json:"phase"`
	Reason      audit.Reason `json:"reason"`
	Detail      string       `json:"detail"`
	Destination struct {
		IP   string `json:"ip"`
		Port uint16 `json:"port"`
	} `json:"destination"`
	BytesFromGuest uint64 `json:"bytesFromGuest"`
	BytesToGuest   uint64 `json:"bytesToGuest"`
}

// waitConnectionEvents polls the instance's event queue until want connection events
// have arrived (the network reports from its own goroutines) and returns them in order.
func waitConnectionEvents(t *testing.T, id int64, want int) []connectionRecord {
	t.Helper()
	var got []connectionRecord
	for deadline := time.Now().Add(testTimeout); len(got) < want; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%d connection events within the test timeout, want %d: %+v", len(got), want, got)
		}
		got = append(got, drainConnectionEvents(t, id)...)
	}
	return got
}

// drainConnectionEvents takes the connection events queued now (the others are dropped).
func drainConnectionEvents(t *testing.T, id int64) []connectionRecord {
	t.Helper()
	var env struct {
		Value struct {
			Events []json.RawMessage `json:"events"`
		} `json:"value"`
	}
	if err := json.Unmarshal([]byte(drainEventsEnvelope(id, 0)), &env); err != nil {
		t.Fatal(err)
	}
	var got []connectionRecord
	for _, raw := range env.Value.Events {
		var e connectionRecord
		if err := json.Unmarshal(raw, &e); err != nil {
			t.Fatal(err)
		}
		if e.Type == "connection" {
			got = append(got, e)
		}
	}
	return got
}
