// Package link connects the guest's network stack to a gvisor-tap-vsock socket, the
// way a VM's virtio-net backend would.
package link

import (
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"sync"
	"time"

	"bun-gvproxy/framing"
)

// FrameConn carries whole Ethernet frames to and from the virtual network.
type FrameConn interface {
	// ReadFrame reads one frame into buf (MaxFrameSize bytes) and returns its length.
	ReadFrame(buf []byte) (int, error)
	// WriteFrame queues one frame; safe for concurrent use. It may sit in a buffer
	// until Flush.
	WriteFrame(frame []byte) error
	// Flush sends every queued frame.
	Flush() error
	Close() error
}

// Dial connects to the virtual network's socket with the given transport.
func Dial(socketPath string, transport framing.Transport) (FrameConn, error) {
	switch transport {
	case framing.Qemu:
		return dialStream(socketPath)
	case framing.Vfkit:
		return dialDatagram(socketPath)
	default:
		return nil, fmt.Errorf("unknown transport %q (want qemu or vfkit)", transport)
	}
}

// streamBufferSize batches frames into fewer writes (a burst of TCP segments
// becomes one syscall) while staying well under the socket buffer.
const streamBufferSize = 256 * 1024

// streamConn is the QEMU protocol: a SOCK_STREAM socket with length-prefixed frames.
type streamConn struct {
	conn    *net.UnixConn
	reader  *framing.StreamReader
	writeMu sync.Mutex
	writer  *framing.StreamWriter
}

// streamLimits are the frames the guest accepts from the network: any size up to the
// largest either transport carries.
var streamLimits = framing.Limits{Max: framing.MaxFrameSize}

func dialStream(socketPath string) (*streamConn, error) {
	conn, err := net.DialUnix("unix", nil, &net.UnixAddr{Name: socketPath, Net: "unix"})
	if err != nil {
		return nil, fmt.Errorf("connect to qemu socket %s: %w", socketPath, err)
	}
	return &streamConn{
		conn:   conn,
		reader: framing.NewStreamReader(conn, streamBufferSize, streamLimits),
		writer: framing.NewStreamWriter(conn, streamBufferSize, framing.MaxFrameSize),
	}, nil
}

func (s *streamConn) ReadFrame(buf []byte) (int, error) { return s.reader.ReadFrame(buf) }

func (s *streamConn) WriteFrame(frame []byte) error {
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	if err := s.writer.WriteFrame(frame); err != nil {
		return fmt.Errorf("write frame: %w", err)
	}
	return nil
}

func (s *streamConn) Flush() error {
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	if err := s.writer.Flush(); err != nil {
		return fmt.Errorf("flush frames: %w", err)
	}
	return nil
}

func (s *streamConn) Close() error { return s.conn.Close() }

// datagramConn is the vfkit protocol: SOCK_DGRAM, one frame per datagram. The
// server learns our address from the datagrams we send, so we bind a path of our own.
type datagramConn struct {
	conn       *net.UnixConn
	serverPath string
	localDir   string

	stopWatch chan struct{}
	closeOnce sync.Once
	goneMu    sync.Mutex
	gone      error
}

// serverWatchInterval is how often a vfkit client checks that the server socket still
// exists: a datagram socket gets no end-of-stream when its peer goes away.
const serverWatchInterval = 200 * time.Millisecond

func dialDatagram(socketPath string) (*datagramConn, error) {
	// A private directory keeps the client path short (sun_path is ~104 bytes) and unique.
	dir, err := os.MkdirTemp("", "gvguest-")
	if err != nil {
		return nil, fmt.Errorf("create directory for vfkit client socket: %w", err)
	}
	local := filepath.Join(dir, "guest.sock")
	conn, err := net.DialUnix("unixgram",
		&net.UnixAddr{Name: local, Net: "unixgram"},
		&net.UnixAddr{Name: socketPath, Net: "unixgram"})
	if err != nil {
		_ = os.RemoveAll(dir)
		return nil, fmt.Errorf("connect to vfkit socket %s from %s: %w", socketPath, local, err)
	}
	d := &datagramConn{conn: conn, serverPath: socketPath, localDir: dir, stopWatch: make(chan struct{})}
	if _, err := conn.Write(framing.VfkitHandshake); err != nil {
		_ = d.Close()
		return nil, fmt.Errorf("send vfkit handshake to %s: %w", socketPath, err)
	}
	go d.watchServer()
	return d, nil
}

// watchServer closes the connection when the server's socket file disappears, which
// is how a vfkit client learns that the network was destroyed.
func (d *datagramConn) watchServer() {
	ticker := time.NewTicker(serverWatchInterval)
	defer ticker.Stop()
	for {
		select {
		case <-d.stopWatch:
			return
		case <-ticker.C:
			if _, err := os.Stat(d.serverPath); err != nil {
				d.goneMu.Lock()
				d.gone = io.EOF
				d.goneMu.Unlock()
				_ = d.Close()
				return
			}
		}
	}
}

func (d *datagramConn) ReadFrame(buf []byte) (int, error) {
	n, err := d.conn.Read(buf)
	if err != nil {
		d.goneMu.Lock()
		gone := d.gone
		d.goneMu.Unlock()
		if gone != nil {
			return 0, fmt.Errorf("vfkit server socket %s is gone: %w", d.serverPath, gone)
		}
		return 0, fmt.Errorf("read datagram: %w", err)
	}
	return n, nil
}

func (d *datagramConn) WriteFrame(frame []byte) error {
	if _, err := d.conn.Write(frame); err != nil {
		return fmt.Errorf("write datagram: %w", err)
	}
	return nil
}

// Flush is a no-op: every datagram is sent by WriteFrame.
func (d *datagramConn) Flush() error { return nil }

func (d *datagramConn) Close() error {
	var err error
	d.closeOnce.Do(func() {
		close(d.stopWatch)
		err = d.conn.Close()
		_ = os.RemoveAll(d.localDir)
	})
	return err
}
