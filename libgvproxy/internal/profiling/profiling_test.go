package profiling

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

type recordingLogger struct {
	mu    sync.Mutex
	lines []string
}

func (l *recordingLogger) Infof(f string, a ...any) { l.add("info: " + fmt.Sprintf(f, a...)) }
func (l *recordingLogger) Warnf(f string, a ...any) { l.add("warn: " + fmt.Sprintf(f, a...)) }
func (l *recordingLogger) add(s string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lines = append(l.lines, s)
}

func (l *recordingLogger) text() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Join(l.lines, "\n")
}

// oneNetwork opens and closes one network with EnvVar set to value and returns what the
// profiler logged.
func oneNetwork(t *testing.T, value string) string {
	t.Helper()
	t.Setenv(EnvVar, value)
	var p Profiler
	log := &recordingLogger{}
	p.Opened(log)
	p.Closed(log)
	return log.text()
}

func TestParse(t *testing.T) {
	cases := []struct {
		value   string
		want    Target
		wantErr string
	}{
		{value: "", want: Target{}},
		{value: "  ", want: Target{}},
		{value: "/tmp/prof", want: Target{Dir: "/tmp/prof"}},
		{value: "unix:/tmp/p.sock", want: Target{Socket: "/tmp/p.sock"}},
		{value: "unix:p.sock", wantErr: "must be absolute"},
		{value: "127.0.0.1:6060", wantErr: "TCP listeners are not offered"},
		{value: "localhost:6060", wantErr: "TCP listeners are not offered"},
	}
	for _, c := range cases {
		got, err := Parse(c.value)
		if c.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), c.wantErr) || !strings.Contains(err.Error(), EnvVar) {
				t.Errorf("Parse(%q) error = %v, want one naming %s and saying %q", c.value, err, EnvVar, c.wantErr)
			}
			continue
		}
		if err != nil || got != c.want {
			t.Errorf("Parse(%q) = %+v, %v; want %+v", c.value, got, err, c.want)
		}
	}
}

func TestOffWithoutTheVariable(t *testing.T) {
	if logged := oneNetwork(t, ""); logged != "" {
		t.Fatalf("profiler logged without %s: %s", EnvVar, logged)
	}
}

// isPprof reports whether b looks like a pprof file: gzip-compressed protobuf.
func isPprof(b []byte) bool { return len(b) > 20 && bytes.HasPrefix(b, []byte{0x1f, 0x8b}) }

func TestDirectoryWritesProfilesWhenTheLastNetworkCloses(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "profiles")
	t.Setenv(EnvVar, dir)
	var p Profiler
	log := &recordingLogger{}
	p.Opened(log)
	p.Opened(log)
	p.Closed(log)
	cpu := filepath.Join(dir, fmt.Sprintf("gvproxy-%d-1.cpu.pprof", os.Getpid()))
	heap := filepath.Join(dir, fmt.Sprintf("gvproxy-%d-1.heap.pprof", os.Getpid()))
	if _, err := os.Stat(heap); err == nil {
		t.Fatal("heap profile written while a network is still open")
	}
	p.Closed(log)
	for _, path := range []string{cpu, heap} {
		b, err := os.ReadFile(path)
		if err != nil || !isPprof(b) {
			t.Fatalf("%s: %v, %d bytes, not a pprof file (log: %s)", path, err, len(b), log.text())
		}
	}
	// The next stretch of open networks gets a profile of its own.
	p.Opened(log)
	p.Closed(log)
	if _, err := os.Stat(filepath.Join(dir, fmt.Sprintf("gvproxy-%d-2.cpu.pprof", os.Getpid()))); err != nil {
		t.Fatalf("second profile: %v", err)
	}
}

func TestAnExistingProfileIsNeverReplaced(t *testing.T) {
	dir := t.TempDir()
	existing := filepath.Join(dir, fmt.Sprintf("gvproxy-%d-1.cpu.pprof", os.Getpid()))
	if err := os.WriteFile(existing, []byte("mine"), 0o600); err != nil {
		t.Fatal(err)
	}
	logged := oneNetwork(t, dir)
	if b, _ := os.ReadFile(existing); string(b) != "mine" {
		t.Fatalf("existing file changed to %d bytes", len(b))
	}
	if !strings.Contains(logged, "warn: profiling off") {
		t.Fatalf("no warning: %s", logged)
	}
}

func TestUnixSocketServesPprofWhileNetworksAreOpen(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "pprof.sock")
	t.Setenv(EnvVar, "unix:"+sock)
	var p Profiler
	log := &recordingLogger{}
	p.Opened(log)
	info, err := os.Stat(sock)
	if err != nil || info.Mode().Perm() != 0o600 {
		t.Fatalf("socket %s: %v, mode %v; want 0600", sock, err, info)
	}
	client := &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, "unix", sock)
	}}}
	resp, err := client.Get("http://pprof/debug/pprof/goroutine?debug=1")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), "goroutine profile") {
		t.Fatalf("GET goroutine profile: %d %.200s", resp.StatusCode, body)
	}
	client.CloseIdleConnections()
	p.Closed(log)
	if _, err := os.Stat(sock); !os.IsNotExist(err) {
		t.Fatalf("socket still there after the last close: %v", err)
	}
}

func TestUnixSocketPathInUseIsLeftAlone(t *testing.T) {
	path := filepath.Join(t.TempDir(), "taken")
	if err := os.WriteFile(path, []byte("user data"), 0o600); err != nil {
		t.Fatal(err)
	}
	logged := oneNetwork(t, "unix:"+path)
	if b, _ := os.ReadFile(path); string(b) != "user data" {
		t.Fatal("file at the socket path was changed")
	}
	if !strings.Contains(logged, "exists already") {
		t.Fatalf("no warning naming the path: %s", logged)
	}
}

func TestBadValueIsReportedAndIgnored(t *testing.T) {
	if logged := oneNetwork(t, "127.0.0.1:6060"); !strings.Contains(logged, "warn: profiling off") || !strings.Contains(logged, EnvVar) {
		t.Fatalf("log: %s", logged)
	}
}
