package main

import (
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestCSharedLibraryFromC builds the c-shared library and a plain C program that loads
// it with dlopen (as Bun does), then checks what the exports returned.
func TestCSharedLibraryFromC(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the c-shared library")
	}
	cc, err := exec.LookPath("cc")
	if err != nil {
		t.Skip("no C compiler")
	}
	dir := testDir(t)
	lib := filepath.Join(dir, "libgvproxy.so")
	if out, err := exec.Command("go", "build", "-buildmode=c-shared", "-o", lib, ".").CombinedOutput(); err != nil {
		t.Fatalf("build library: %v\n%s", err, out)
	}
	smoke := filepath.Join(dir, "smoke")
	if out, err := exec.Command(cc, "-o", smoke, "testdata/csmoke/smoke.c", "-ldl").CombinedOutput(); err != nil {
		t.Fatalf("compile smoke.c: %v\n%s", err, out)
	}
	out, err := exec.Command(smoke, lib, filepath.Join(dir, "net.sock")).CombinedOutput()
	if err != nil {
		t.Fatalf("smoke: %v\n%s", err, out)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	want := []string{
		"abi 1",
		`{"ok":true,"value":{"gvisorTapVsock":"v0.8.9"`,
		`{"ok":true,"value":{"id":1,"socketPath":"` + filepath.Join(dir, "net.sock") + `","protocol":"qemu","connectionType":"unix-stream","forwards":[],"config":{"socketPath":"` + filepath.Join(dir, "net.sock") + `","protocol":"qemu"`,
		`{"ok":false,"error":{"code":"SOCKET_IN_USE"`,
		`{"ok":true,"value":{"bytesSent":0`,
		`{"ok":true,"value":null}`,
		`{"ok":false,"error":{"code":"DESTROYED"`,
		`{"ok":false,"error":{"code":"INVALID_CONFIG"`,
	}
	if len(lines) != len(want) {
		t.Fatalf("smoke printed %d lines, want %d:\n%s", len(lines), len(want), out)
	}
	for i, prefix := range want {
		if !strings.HasPrefix(lines[i], prefix) {
			t.Errorf("line %d = %s\nwant prefix %s", i+1, lines[i], prefix)
		}
	}
}
