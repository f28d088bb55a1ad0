package main

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
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
	drained := make(chan struct{})
	draining := false
	t.Cleanup(func() {
		// Closing a listening socket does not wake an accept(2) blocked on it; shutting
		// it down does, and the drain ends before the descriptor is released.
		_ = syscall.Shutdown(fd, syscall.SHUT_RDWR)
		if draining {
			<-drained
		}
		_ = syscall.Close(fd)
	})
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
		draining = true
		go func() {
			defer close(drained)
			for {
				c, _, err := syscall.Accept(fd)
				if err != nil {
					return // shut down at cleanup
				}
				_ = syscall.Close(c)
			}
		}()
	}
}

// stalledNAT is a network with a guest, its connection events subscribed, and a
// stalledListener on the host for the guest to reach through the NAT.
func stalledNAT(t *testing.T) (id int64, g *guestStack, port uint16, drain func()) {
	t.Helper()
	path := filepath.Join(testDir(t), "net.sock")
	id = int64(mustCreate(t, configJSON(t, path, nil)).ID)
	if _, err := subscribeEvents(id, int64(audit.KindConnection)); err != nil {
		t.Fatal(err)
	}
	port, drain = stalledListener(t)
	return id, startGuestStack(t, path), port, drain
}

// A guest that gives up its connect while the NAT still dials the host: the host's
// connection, made after the guest left, is closed, and the attempt is a lone
// connect-failed close saying the guest's handshake did not complete, counted as a
// failed attempt (once) — not a connection the audit never mentions.
func TestAGuestThatGivesUpWhileTheHostIsDialedIsAFailedConnect(t *testing.T) {
	id, g, port, drain := stalledNAT(t)

	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	if conn, err := g.dialTCP(ctx, netip.AddrPortFrom(guestHostLoopback, port)); err == nil {
		_ = conn.Close()
		t.Fatal("the guest connected to a host port whose accept queue is full")
	}
	drain() // the NAT's dial completes at its next SYN retransmit, after the guest left

	e := waitConnectionEvents(t, id, 1)[0]
	if e.Phase != audit.PhaseClose || e.Reason != audit.ConnectFailed || !strings.Contains(e.Detail, "the guest's handshake did not complete") ||
		e.Destination.IP != guestHostLoopback.String() || e.Destination.Port != port || e.BytesFromGuest != 0 || e.BytesToGuest != 0 {
		t.Fatalf("event %+v, want a lone connect-failed close to the host port saying the guest's handshake did not complete", e)
	}
	// The close comes after the host's connection was closed: the path is done, and
	// nothing follows it.
	if rest := drainConnectionEvents(t, id); len(rest) != 0 {
		t.Fatalf("events after the close %+v, want none", rest)
	}
	s, err := instanceStats(id)
	if err != nil {
		t.Fatal(err)
	}
	if s.TCP.FailedConnectionAttempts != 1 {
		t.Fatalf("tcp.failedConnectionAttempts = %d, want the abandoned attempt counted once", s.TCP.FailedConnectionAttempts)
	}
}

// A NAT connection's record begins before the dial, as a forward's and a host socket's
// do: one id from open to close, and a duration that counts a dial the host made slow
// (its first SYN dropped, so at least TCP's one-second initial retransmission timeout).
func TestANATConnectionsRecordCountsItsDial(t *testing.T) {
	id, g, port, drain := stalledNAT(t)

	overflows := listenOverflows(t)
	dialed := make(chan error, 1)
	go func() {
		conn, err := g.dialHostLoopback(port)
		if err == nil {
			_ = conn.Close()
		}
		dialed <- err
	}()
	// The NAT's dial is under way (its socket is in SYN_SENT to the port) and a SYN met
	// the full queue. A loopback SYN is delivered within the connect that sends it, so
	// the two together mean this dial's first SYN was dropped (the overflow count is the
	// whole namespace's; the socket is this dial's own).
	for deadline := time.Now().Add(testTimeout); !synSentTo(t, port) || listenOverflows(t) == overflows; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the NAT's SYN to the full accept queue was never dropped")
		}
	}
	drain()
	if err := <-dialed; err != nil {
		t.Fatalf("guest dial once the host accepts: %v", err)
	}
	events := waitConnectionEvents(t, id, 2)
	open, closed := events[0], events[1]
	if open.Phase != audit.PhaseOpen || closed.Phase != audit.PhaseClose || open.ID != closed.ID {
		t.Fatalf("events %+v, %+v: want the connection's open and close, one id", open, closed)
	}
	if closed.DurationMs < 900 {
		t.Fatalf("durationMs %.1f: the record began after the dial, not before it", closed.DurationMs)
	}
}

// listenOverflows is the kernel's count of connections dropped at a full accept queue
// (TcpExt ListenOverflows in /proc/net/netstat).
func listenOverflows(t *testing.T) uint64 {
	t.Helper()
	data, err := os.ReadFile("/proc/net/netstat")
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(string(data), "\n")
	for i := 0; i+1 < len(lines); i++ {
		names, values := strings.Fields(lines[i]), strings.Fields(lines[i+1])
		if len(names) == 0 || names[0] != "TcpExt:" || len(values) != len(names) {
			continue
		}
		for j, name := range names {
			if name == "ListenOverflows" {
				n, err := strconv.ParseUint(values[j], 10, 64)
				if err != nil {
					t.Fatal(err)
				}
				return n
			}
		}
	}
	t.Fatal("no TcpExt ListenOverflows in /proc/net/netstat")
	return 0
}

// synSentTo reports whether a socket on this host is in SYN_SENT to 127.0.0.1:port
// (/proc/net/tcp: addresses in hex, the IPv4 address in host byte order).
func synSentTo(t *testing.T, port uint16) bool {
	t.Helper()
	data, err := os.ReadFile("/proc/net/tcp")
	if err != nil {
		t.Fatal(err)
	}
	remote := fmt.Sprintf("0100007F:%04X", port)
	for _, line := range strings.Split(string(data), "\n")[1:] {
		// sl local_address rem_address st ...; st 02 is SYN_SENT
		if f := strings.Fields(line); len(f) > 3 && f[2] == remote && f[3] == "02" {
			return true
		}
	}
	return false
}
