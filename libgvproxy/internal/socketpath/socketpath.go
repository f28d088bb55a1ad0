// Package socketpath prepares and owns the unix socket a VM connects to. It refuses
// paths that do not fit sun_path, never deletes anything that is not a socket, refuses a
// socket that something is still listening on, and replaces a stale one (connect gets
// ECONNREFUSED). On close it removes the file only if it is still the socket it created.
package socketpath

import (
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"syscall"

	"bun-gvproxy/framing"
	"bun-gvproxy/libgvproxy/internal/errs"
)

// MaxLen is the longest path a unix socket address holds on this platform: sun_path is
// 108 bytes on Linux and 104 on macOS, one of which is the terminating NUL.
func MaxLen() int {
	if runtime.GOOS == "darwin" {
		return 103
	}
	return 107
}

// Socket is a bound socket file: Listener for the QEMU transport (SOCK_STREAM),
// PacketConn for vfkit (SOCK_DGRAM).
type Socket struct {
	Path       string
	Listener   *net.UnixListener
	PacketConn *net.UnixConn
	ino        uint64
}

// Bind checks path, clears a stale socket and binds a new one of the transport's type;
// errors name the field socketPath.
func Bind(path string, transport framing.Transport) (*Socket, error) {
	return BindField(path, transport, "socketPath")
}

// BindField is Bind for a socket path given as another field (a Unix listener forward).
func BindField(path string, transport framing.Transport, field string) (*Socket, error) {
	if len(path) > MaxLen() {
		return nil, &errs.Error{Code: errs.SocketPathTooLong, Field: field,
			Message: fmt.Sprintf("socket path %s is %d bytes; the limit on %s is %d", path, len(path), runtime.GOOS, MaxLen())}
	}
	if err := checkDirectory(path, field); err != nil {
		return nil, err
	}
	if err := clearStale(path, field); err != nil {
		return nil, err
	}
	s, err := listen(path, transport, field)
	if err != nil {
		return nil, err
	}
	info, err := os.Lstat(path)
	if err != nil {
		s.closeFD()
		return nil, errs.Wrap(errs.Internal, err, "socket %s vanished right after bind", path).WithField(field)
	}
	s.ino = inode(info)
	return s, nil
}

func checkDirectory(path, field string) error {
	dir := filepath.Dir(path)
	info, err := os.Stat(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return errs.Field(errs.InvalidConfig, field, "directory %s of socket %s does not exist", dir, path)
	case errors.Is(err, fs.ErrPermission):
		return errs.Field(errs.PermissionDenied, field, "directory %s of socket %s is not accessible: %v", dir, path, err)
	case err != nil:
		return errs.Field(errs.InvalidConfig, field, "directory %s of socket %s: %v", dir, path, err)
	case !info.IsDir():
		return errs.Field(errs.InvalidConfig, field, "%s (parent of socket %s) is not a directory", dir, path)
	}
	return nil
}

// clearStale removes a socket file nothing listens on. Anything else at the path is left
// untouched and reported.
func clearStale(path, field string) error {
	info, err := os.Lstat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return mapPathError(path, err, field)
	}
	if info.Mode().Type() != fs.ModeSocket {
		return errs.Field(errs.NotASocket, field, "%s exists and is not a socket (%s); it was left untouched", path, describe(info))
	}
	if live, err := isLive(path, field); err != nil {
		return err
	} else if live {
		return errs.Field(errs.SocketInUse, field, "socket %s is in use: something is listening on it", path)
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return mapPathError(path, fmt.Errorf("cannot remove stale socket: %w", err), field)
	}
	return nil
}

// isLive connects to the socket with both socket types: a listener of either type means
// the path is in use; ECONNREFUSED from both means nobody is bound to it any more.
func isLive(path, field string) (bool, error) {
	for _, network := range []string{"unix", "unixgram"} {
		conn, err := net.Dial(network, path)
		if err == nil {
			_ = conn.Close()
			return true, nil
		}
		switch {
		case errors.Is(err, syscall.EAGAIN):
			// A listener whose backlog is full is very much alive.
			return true, nil
		case errors.Is(err, syscall.ECONNREFUSED), errors.Is(err, syscall.EPROTOTYPE):
			continue
		case errors.Is(err, syscall.EACCES), errors.Is(err, syscall.EPERM):
			return false, errs.Field(errs.PermissionDenied, field, "cannot probe socket %s: %v", path, err)
		default:
			return false, errs.Wrap(errs.Internal, err, "cannot probe socket %s", path).WithField(field)
		}
	}
	return false, nil
}

func listen(path string, transport framing.Transport, field string) (*Socket, error) {
	addr := &net.UnixAddr{Name: path, Net: transport.Network()}
	s := &Socket{Path: path}
	var err error
	if transport.Datagram() {
		s.PacketConn, err = net.ListenUnixgram(addr.Net, addr)
	} else {
		s.Listener, err = net.ListenUnix(addr.Net, addr)
		if err == nil {
			// We remove the file ourselves, and only if it is still ours (see Close).
			s.Listener.SetUnlinkOnClose(false)
		}
	}
	if err != nil {
		if errors.Is(err, syscall.EADDRINUSE) {
			return nil, errs.Field(errs.SocketInUse, field, "socket %s was created by someone else meanwhile", path)
		}
		return nil, mapPathError(path, err, field)
	}
	return s, nil
}

func mapPathError(path string, err error, field string) error {
	switch {
	case errors.Is(err, syscall.EACCES), errors.Is(err, syscall.EPERM), errors.Is(err, syscall.EROFS):
		return errs.Field(errs.PermissionDenied, field, "cannot create socket %s: %v", path, err)
	case errors.Is(err, syscall.ENOENT), errors.Is(err, syscall.ENOTDIR):
		return errs.Field(errs.InvalidConfig, field, "cannot create socket %s: %v", path, err)
	default:
		return errs.Wrap(errs.Internal, err, "cannot create socket %s", path).WithField(field)
	}
}

func describe(info fs.FileInfo) string {
	if info.IsDir() {
		return "a directory"
	}
	if info.Mode().IsRegular() {
		return "a regular file"
	}
	return info.Mode().Type().String()
}

func inode(info fs.FileInfo) uint64 {
	if st, ok := info.Sys().(*syscall.Stat_t); ok {
		return uint64(st.Ino)
	}
	return 0
}

func (s *Socket) closeFD() {
	if s.Listener != nil {
		_ = s.Listener.Close()
	}
	if s.PacketConn != nil {
		_ = s.PacketConn.Close()
	}
}

// Close closes the socket and removes its file, but only if the file is still the socket
// this Socket created (same inode): a successor may already have replaced it.
func (s *Socket) Close() error {
	s.closeFD()
	info, err := os.Lstat(s.Path)
	if err != nil {
		return nil
	}
	if info.Mode().Type() != fs.ModeSocket || inode(info) != s.ino {
		return nil
	}
	if err := os.Remove(s.Path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("remove socket %s: %w", s.Path, err)
	}
	return nil
}
