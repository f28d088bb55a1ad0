package socketpath

import (
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"bun-gvproxy/libgvproxy/internal/errs"

	"bun-gvproxy/framing"
)

// shortDir is a temp dir with a short path, so socket paths stay under sun_path.
func shortDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("/tmp", "sp")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	return dir
}

func wantCode(t *testing.T, err error, code errs.Code, fragment string) {
	t.Helper()
	var coded *errs.Error
	if !errors.As(err, &coded) {
		t.Fatalf("err = %v, want code %s", err, code)
	}
	if coded.Code != code || coded.Field != "socketPath" {
		t.Fatalf("err = %s/%s %q, want %s on socketPath", coded.Code, coded.Field, coded.Error(), code)
	}
	if !strings.Contains(coded.Error(), fragment) {
		t.Fatalf("message %q does not contain %q", coded.Error(), fragment)
	}
}

func TestBindCreatesAStreamSocketAndCloseRemovesIt(t *testing.T) {
	path := filepath.Join(shortDir(t), "net.sock")
	s, err := Bind(path, framing.Qemu)
	if err != nil {
		t.Fatalf("Bind: %v", err)
	}
	conn, err := net.Dial("unix", path)
	if err != nil {
		t.Fatalf("dial the new socket: %v", err)
	}
	_ = conn.Close()
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if _, err := os.Lstat(path); !os.IsNotExist(err) {
		t.Fatalf("socket file still there after Close: %v", err)
	}
}

func TestBindCreatesADatagramSocket(t *testing.T) {
	path := filepath.Join(shortDir(t), "net.sock")
	s, err := Bind(path, framing.Vfkit)
	if err != nil {
		t.Fatalf("Bind: %v", err)
	}
	defer s.Close()
	if s.PacketConn == nil || s.Listener != nil {
		t.Fatalf("datagram socket not a PacketConn: %+v", s)
	}
	if _, err := net.Dial("unixgram", path); err != nil {
		t.Fatalf("dial the datagram socket: %v", err)
	}
}

func TestBindRefusesAPathLongerThanSunPath(t *testing.T) {
	path := "/tmp/" + strings.Repeat("a", MaxLen()-len("/tmp/")+1)
	_, err := Bind(path, framing.Qemu)
	wantCode(t, err, errs.SocketPathTooLong, "limit")
}

func TestBindAcceptsAPathOfExactlyTheLimit(t *testing.T) {
	dir := shortDir(t)
	path := dir + "/" + strings.Repeat("b", MaxLen()-len(dir)-1)
	s, err := Bind(path, framing.Qemu)
	if err != nil {
		t.Fatalf("Bind(%d bytes): %v", len(path), err)
	}
	_ = s.Close()
}

func TestBindReplacesAStaleSocket(t *testing.T) {
	for _, transport := range []framing.Transport{framing.Qemu, framing.Vfkit} {
		path := filepath.Join(shortDir(t), "net.sock")
		makeStaleSocket(t, path, transport)
		s, err := Bind(path, framing.Qemu)
		if err != nil {
			t.Fatalf("Bind over a stale %v socket: %v", transport, err)
		}
		_ = s.Close()
	}
}

// makeStaleSocket leaves a socket file nobody listens on, as a crashed process would.
func makeStaleSocket(t *testing.T, path string, transport framing.Transport) {
	t.Helper()
	fd, err := syscall.Socket(syscall.AF_UNIX, map[framing.Transport]int{framing.Qemu: syscall.SOCK_STREAM, framing.Vfkit: syscall.SOCK_DGRAM}[transport], 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := syscall.Bind(fd, &syscall.SockaddrUnix{Name: path}); err != nil {
		t.Fatal(err)
	}
	_ = syscall.Close(fd)
}

func TestBindRefusesALiveSocketOfEitherType(t *testing.T) {
	for _, network := range []string{"unix", "unixgram"} {
		path := filepath.Join(shortDir(t), "net.sock")
		var closer interface{ Close() error }
		var err error
		if network == "unix" {
			closer, err = net.Listen(network, path)
		} else {
			closer, err = net.ListenPacket(network, path)
		}
		if err != nil {
			t.Fatal(err)
		}
		_, err = Bind(path, framing.Qemu)
		wantCode(t, err, errs.SocketInUse, "something is listening")
		if _, statErr := os.Lstat(path); statErr != nil {
			t.Fatalf("live %s socket was removed: %v", network, statErr)
		}
		_ = closer.Close()
	}
}

func TestBindNeverDeletesARegularFileOrADirectory(t *testing.T) {
	dir := shortDir(t)
	file := filepath.Join(dir, "file.sock")
	if err := os.WriteFile(file, []byte("keep me"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := Bind(file, framing.Qemu)
	wantCode(t, err, errs.NotASocket, "a regular file")
	if data, _ := os.ReadFile(file); string(data) != "keep me" {
		t.Fatalf("regular file changed: %q", data)
	}

	sub := filepath.Join(dir, "sub.sock")
	if err := os.Mkdir(sub, 0o700); err != nil {
		t.Fatal(err)
	}
	_, err = Bind(sub, framing.Qemu)
	wantCode(t, err, errs.NotASocket, "a directory")
	if info, err := os.Stat(sub); err != nil || !info.IsDir() {
		t.Fatalf("directory was touched: %v", err)
	}
}

func TestBindRefusesAMissingDirectory(t *testing.T) {
	_, err := Bind("/tmp/does-not-exist-gvproxy/net.sock", framing.Qemu)
	wantCode(t, err, errs.InvalidConfig, "directory /tmp/does-not-exist-gvproxy of socket /tmp/does-not-exist-gvproxy/net.sock does not exist")
}

func TestBindRefusesAParentThatIsAFile(t *testing.T) {
	file := filepath.Join(shortDir(t), "f")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := Bind(filepath.Join(file, "net.sock"), framing.Qemu)
	wantCode(t, err, errs.InvalidConfig, "is not a directory")
}

func TestBindReportsAnUnwritableDirectoryAsPermissionDenied(t *testing.T) {
	// sysfs refuses new files even to root (EPERM), which is how the tests run here; a
	// non-root run gets EACCES from a 0555 directory.
	path := "/sys/gvproxy-test.sock"
	if os.Geteuid() != 0 {
		dir := shortDir(t)
		if err := os.Chmod(dir, 0o555); err != nil {
			t.Fatal(err)
		}
		path = filepath.Join(dir, "net.sock")
	}
	_, err := Bind(path, framing.Qemu)
	wantCode(t, err, errs.PermissionDenied, path)
}

func TestCloseLeavesASuccessorsSocketAlone(t *testing.T) {
	path := filepath.Join(shortDir(t), "net.sock")
	first, err := Bind(path, framing.Qemu)
	if err != nil {
		t.Fatal(err)
	}
	// Someone else replaces the file while we still run (for example after deciding our
	// socket was stale); our Close must not delete their socket.
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	successor, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	defer successor.Close()
	if err := first.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Lstat(path); err != nil {
		t.Fatalf("successor's socket was removed: %v", err)
	}
}
