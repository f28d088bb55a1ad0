package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"

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
