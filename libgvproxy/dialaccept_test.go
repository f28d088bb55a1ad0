package main

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/netip"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"bun-gvproxy/libgvproxy/internal/audit"
)

// stalledListener is a host TCP listener on the loopback whose accept queue is full
// (backlog 0 and one connection waiting): the kernel drops further SYNs, so a dial to it
// hangs in SYN retransmits until drain accepts what waits. The port is returned.
func stalledListener(t *testing.T) (port uint16, drain func()) {
	t.Helper()
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = syscall.Close(fd) })
	if err := syscall.Bind(fd, &syscall.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Listen(fd, 0); err != nil {
		t.Fatal(err)
	}
	sa, err := syscall.Getsockname(fd)
	if err != nil {
		t.Fatal(err)
	}
	port = uint16(sa.(*syscall.SockaddrInet4).Port)
	filler, err := net.Dial("tcp", addr(int(port)))
	if err != nil {
		t.Fatalf("fill the accept queue: %v", err)
	}
	t.Cleanup(func() { _ = filler.Close() })
	return port, func() {
		go func() {
			for {
				c, _, err := syscall.Accept(fd)
				if err != nil {
					return // closed at cleanup
				}
				_ = syscall.Close(c)
			}
		}()
	}
}

// A guest that gives up its connect while the NAT still dials the host: the host's
// connection, made after the guest left, is closed, and the attempt is a lone
// connect-failed close saying the guest's handshake did not complete, counted as a
// failed attempt (once) — not a connection the audit never mentions.
func TestAGuestThatGivesUpWhileTheHostIsDialedIsAFailedConnect(t *testing.T) {
	path := filepath.Join(testDir(t), "net.sock")
	res := mustCreate(t, configJSON(t, path, nil))
	id := int64(res.ID)
	if _, err := subscribeEvents(id, int64(audit.KindConnection)); err != nil {
		t.Fatal(err)
	}
	port, drain := stalledListener(t)
	g := startGuestStack(t, path)

	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	if conn, err := g.dialTCP(ctx, netip.AddrPortFrom(guestHostLoopback, port)); err == nil {
		_ = conn.Close()
		t.Fatal("the guest connected to a host port whose accept queue is full")
	}
	drain() // the NAT's dial completes at its next SYN retransmit, after the guest left

	e := waitConnectionEvent(t, id)
	if e.Phase != audit.PhaseClose || e.Reason != audit.ConnectFailed || !strings.Contains(e.Detail, "the guest's handshake did not complete") ||
		e.Destination.IP != guestHostLoopback.String() || e.Destination.Port != port || e.BytesFromGuest != 0 || e.BytesToGuest != 0 {
		t.Fatalf("event %+v, want a lone connect-failed close to the host port saying the guest's handshake did not complete", e)
	}
	s, err := instanceStats(id)
	if err != nil {
		t.Fatal(err)
	}
	if s.TCP.FailedConnectionAttempts != 1 {
		t.Fatalf("tcp.failedConnectionAttempts = %d, want the abandoned attempt counted once", s.TCP.FailedConnectionAttempts)
	}
}

// connectionRecord is the part of a `connection` event's JSON these tests check.
type connectionRecord struct {
	Type        string       `json:"type"`
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

// waitConnectionEvent polls the instance's event queue until a connection event
// arrives (the NAT reports from its own goroutine) and returns the first.
func waitConnectionEvent(t *testing.T, id int64) *connectionRecord {
	t.Helper()
	deadline := time.Now().Add(testTimeout)
	for time.Now().Before(deadline) {
		var env struct {
			Value struct {
				Events []json.RawMessage `json:"events"`
			} `json:"value"`
		}
		if err := json.Unmarshal([]byte(drainEventsEnvelope(id, 0)), &env); err != nil {
			t.Fatal(err)
		}
		for _, raw := range env.Value.Events {
			var e connectionRecord
			if err := json.Unmarshal(raw, &e); err != nil {
				t.Fatal(err)
			}
			if e.Type == "connection" {
				return &e
			}
		}
		time.Sleep(5 * time.Millisecond) // between polls of the queue, not a wait for time to pass
	}
	t.Fatal(errors.New("no connection event within the test timeout"))
	return nil
}
