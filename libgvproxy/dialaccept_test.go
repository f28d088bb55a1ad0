package main

import (
	"context"
	"encoding/json"
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
	for deadline := time.Now().Add(testTimeout); listenOverflows(t) == overflows; time.Sleep(time.Millisecond) {
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

// waitConnectionEvents polls the instance's event queue until want connection events
// have arrived (the NAT reports from its own goroutines) and returns them in order.
func waitConnectionEvents(t *testing.T, id int64, want int) []connectionRecord {
	t.Helper()
	var got []connectionRecord
	for deadline := time.Now().Add(testTimeout); len(got) < want; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%d connection events within the test timeout, want %d: %+v", len(got), want, got)
		}
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
				got = append(got, e)
			}
		}
	}
	return got
}
