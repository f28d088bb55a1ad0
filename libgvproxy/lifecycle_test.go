package main

import (
	"io"
	"net"
	"runtime"
	"testing"
	"time"
)

// oneCycle creates an instance with TCP and UDP forwards, exercises its guest socket
// (DHCP), its host ports (a TCP client whose guest never answers, a UDP datagram) and
// destroys it.
func oneCycle(t *testing.T, path string, tcpPort, udpPort int) {
	t.Helper()
	res, err := createInstance(configJSON(t, path, map[string]any{"portMappings": []any{
		map[string]any{"hostPort": tcpPort, "guestPort": 80},
		map[string]any{"hostPort": udpPort, "guestPort": 53, "protocol": "udp"},
	}}))
	if err != nil {
		t.Fatalf("create: %v", err)
	}
	g := dialGuest(t, path)
	g.discover()
	client, err := net.Dial("tcp", addr(tcpPort))
	if err != nil {
		t.Fatalf("dial forward: %v", err)
	}
	udpClient, err := net.Dial("udp", addr(udpPort))
	if err != nil {
		t.Fatalf("dial udp forward: %v", err)
	}
	if _, err := udpClient.Write([]byte("ping")); err != nil {
		t.Fatalf("udp write: %v", err)
	}
	if err := destroyInstance(int64(res.ID)); err != nil {
		t.Fatalf("destroy: %v", err)
	}
	_ = client.Close()
	_ = udpClient.Close()
	_ = g.conn.Close()
}

// busyCycle destroys an instance while a guest has an open NAT connection to the host
// and a host client has an open forwarded connection to the guest.
func busyCycle(t *testing.T, path string, tcpPort int) {
	t.Helper()
	res, err := createInstance(configJSON(t, path, map[string]any{"portMappings": []any{
		map[string]any{"hostPort": tcpPort, "guestPort": 80},
	}}))
	if err != nil {
		t.Fatalf("create: %v", err)
	}
	g := startGuestStack(t, path)
	guestLn := g.listenTCP(t, 80)
	go echoOnce(guestLn)
	hostLn, port := hostListener(t) // closed below, before the leak count
	go echoOnce(hostLn)

	out, err := g.dialHostLoopback(port)
	if err != nil {
		t.Fatalf("guest -> host: %v", err)
	}
	in, err := net.Dial("tcp", addr(tcpPort))
	if err != nil {
		t.Fatalf("host -> guest: %v", err)
	}
	for _, c := range []net.Conn{out, in} {
		_ = c.SetDeadline(time.Now().Add(testTimeout))
		if _, err := c.Write([]byte("x")); err != nil {
			t.Fatal(err)
		}
		if _, err := io.ReadFull(c, make([]byte, 1)); err != nil {
			t.Fatalf("echo before destroy: %v", err)
		}
	}
	if err := destroyInstance(int64(res.ID)); err != nil {
		t.Fatalf("destroy: %v", err)
	}
	_ = in.Close()
	_ = out.Close()
	_ = guestLn.Close()
	_ = hostLn.Close()
	g.Close()
}

// settle waits until the counts drop to the baseline: goroutines of closed client
// connections and the runtime's own may take a moment to be reaped. It returns the
// last counts seen.
func settle(t *testing.T, goroutines, fds int) (int, int) {
	t.Helper()
	var g, f int
	for i := 0; i < 100; i++ {
		runtime.GC()
		g, f = runtime.NumGoroutine(), openFDs(t)
		if g <= goroutines && f <= fds {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	return g, f
}

func TestTwoHundredCreateDestroyCyclesLeakNothing(t *testing.T) {
	if testing.Short() {
		t.Skip("long")
	}
	dir := testDir(t)
	path := sockPath(dir, 0)
	tcpPort, udpPort := freeTCPPort(t), freeUDPPort(t)

	oneCycle(t, path, tcpPort, udpPort) // warm up lazily started runtime goroutines
	runtime.GC()
	baseGoroutines, baseFDs := runtime.NumGoroutine(), openFDs(t)

	const cycles = 200
	for i := 0; i < cycles; i++ {
		if i%20 == 0 {
			busyCycle(t, path, tcpPort)
			continue
		}
		oneCycle(t, path, tcpPort, udpPort)
	}
	goroutines, fds := settle(t, baseGoroutines, baseFDs)
	t.Logf("after %d cycles: goroutines %d (baseline %d), fds %d (baseline %d)", cycles, goroutines, baseGoroutines, fds, baseFDs)
	if goroutines > baseGoroutines {
		buf := make([]byte, 1<<20)
		t.Fatalf("goroutines grew from %d to %d:\n%s", baseGoroutines, goroutines, buf[:runtime.Stack(buf, true)])
	}
	if fds > baseFDs {
		t.Fatalf("file descriptors grew from %d to %d", baseFDs, fds)
	}
}
