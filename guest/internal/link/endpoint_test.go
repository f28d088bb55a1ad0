package link

import (
	"errors"
	"sync"
	"testing"

	"gvisor.dev/gvisor/pkg/tcpip/link/channel"
)

// fakeConn is a FrameConn fed from a channel; closing inbound is the server hanging up.
type fakeConn struct {
	inbound chan []byte
	mu      sync.Mutex
	written [][]byte
	flushes int
}

func (f *fakeConn) ReadFrame(buf []byte) (int, error) {
	frame, ok := <-f.inbound
	if !ok {
		return 0, ErrNetworkClosed
	}
	return copy(buf, frame), nil
}

func (f *fakeConn) WriteFrame(frame []byte) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.written = append(f.written, append([]byte(nil), frame...))
	return nil
}

func (f *fakeConn) Flush() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.flushes++
	return nil
}

func (f *fakeConn) Close() error { return nil }

func TestTapConsumesFramesBeforeTheStack(t *testing.T) {
	conn := &fakeConn{inbound: make(chan []byte)}
	pump := NewPump(conn, channel.New(8, 1514, ""))
	defer pump.Close()
	seen := make(chan string, 2)
	pump.SetTap(func(frame []byte) bool {
		seen <- string(frame)
		return true
	})
	conn.inbound <- []byte("for the tap")
	if got := <-seen; got != "for the tap" {
		t.Fatalf("tap saw %q", got)
	}
}

func TestWriteFrameFlushesImmediately(t *testing.T) {
	conn := &fakeConn{inbound: make(chan []byte)}
	pump := NewPump(conn, channel.New(8, 1514, ""))
	defer pump.Close()
	if err := pump.WriteFrame([]byte("dhcp")); err != nil {
		t.Fatal(err)
	}
	conn.mu.Lock()
	defer conn.mu.Unlock()
	if len(conn.written) != 1 || string(conn.written[0]) != "dhcp" || conn.flushes != 1 {
		t.Fatalf("written %q, %d flushes", conn.written, conn.flushes)
	}
}

func TestServerHangUpEndsThePumpWithItsReason(t *testing.T) {
	conn := &fakeConn{inbound: make(chan []byte)}
	pump := NewPump(conn, channel.New(8, 1514, ""))
	close(conn.inbound)
	<-pump.Done()
	if err := pump.Err(); !errors.Is(err, ErrNetworkClosed) {
		t.Fatalf("got %v, want ErrNetworkClosed", err)
	}
}

func TestCloseIsNotReportedAsAFailure(t *testing.T) {
	conn := &fakeConn{inbound: make(chan []byte)}
	pump := NewPump(conn, channel.New(8, 1514, ""))
	_ = pump.Close()
	if err := pump.Err(); err != nil {
		t.Fatalf("Err after Close = %v, want nil", err)
	}
}
