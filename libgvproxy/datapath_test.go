package main

import (
	"context"
	"errors"
	"io"
	"net"
	"net/netip"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// testTimeout bounds network waits so a broken build fails instead of hanging; no test
// asserts anything about how fast things are.
const testTimeout = 30 * time.Second

// echoOnce accepts one connection on ln, echoes what it reads until EOF, then closes.
func echoOnce(ln net.Listener) {
	conn, err := ln.Accept()
	if err != nil {
		return
	}
	defer conn.Close()
	_, _ = io.Copy(conn, conn)
}

// replyOnce answers the first datagram pc receives with reply(datagram), then returns.
func replyOnce(pc net.PacketConn, reply func(string) string) {
	buf := make([]byte, 1500)
	n, from, err := pc.ReadFrom(buf)
	if err == nil {
		_, _ = pc.WriteTo([]byte(reply(string(buf[:n]))), from)
	}
}

// exchangeDatagram sends msg on conn and returns the datagram that comes back.
func exchangeDatagram(t *testing.T, conn net.Conn, msg string) string {
	t.Helper()
	_ = conn.SetDeadline(time.Now().Add(testTimeout))
	if _, err := conn.Write([]byte(msg)); err != nil {
		t.Fatalf("send %q: %v", msg, err)
	}
	buf := make([]byte, 1500)
	n, err := conn.Read(buf)
	if err != nil {
		t.Fatalf("no reply to %q: %v", msg, err)
	}
	return string(buf[:n])
}

// roundTrip writes msg on conn, half-closes, and returns everything read back.
func roundTrip(t *testing.T, conn net.Conn, msg string) string {
	t.Helper()
	_ = conn.SetDeadline(time.Now().Add(testTimeout))
	if _, err := conn.Write([]byte(msg)); err != nil {
		t.Fatalf("write: %v", err)
	}
	if cw, ok := conn.(interface{ CloseWrite() error }); ok {
		_ = cw.CloseWrite()
	}
	got, err := io.ReadAll(conn)
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	return string(got)
}

// hostEchoServer listens on the host's loopback and echoes its first connection; the
// port is returned.
func hostEchoServer(t *testing.T) uint16 {
	t.Helper()
	ln, port := hostListener(t)
	go echoOnce(ln)
	return port
}

func hostListener(t *testing.T) (net.Listener, uint16) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ln.Close() })
	return ln, uint16(ln.Addr().(*net.TCPAddr).Port)
}

func TestHostPortForwardReachesTheGuestOverTCPAndUDP(t *testing.T) {
	path := filepath.Join(testDir(t), "net.sock")
	tcpPort, udpPort := freeTCPPort(t), freeUDPPort(t)
	mustCreate(t, configJSON(t, path, map[string]any{"portMappings": []any{
		map[string]any{"hostPort": tcpPort, "guestPort": 80},
		map[string]any{"hostPort": udpPort, "guestPort": 5353, "protocol": "udp"},
	}}))
	g := startGuestStack(t, path)
	go echoOnce(g.listenTCP(t, 80))
	go replyOnce(g.listenUDP(t, 5353), strings.ToUpper)

	conn, err := net.Dial("tcp", addr(tcpPort))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	msg := strings.Repeat("host to guest ", 10000)
	if got := roundTrip(t, conn, msg); got != msg {
		t.Fatalf("tcp echo returned %d bytes, want %d", len(got), len(msg))
	}

	udpConn, err := net.Dial("udp", addr(udpPort))
	if err != nil {
		t.Fatal(err)
	}
	defer udpConn.Close()
	if got := exchangeDatagram(t, udpConn, "datagram"); got != "DATAGRAM" {
		t.Fatalf("udp reply %q", got)
	}
}

func TestGuestReachesTheHostThroughTheHostLoopbackAddress(t *testing.T) {
	path := filepath.Join(testDir(t), "net.sock")
	res := mustCreate(t, configJSON(t, path, nil))
	port := hostEchoServer(t)
	g := startGuestStack(t, path)
	conn := g.connectHostLoopback(t, port)
	if got := roundTrip(t, conn, "guest to host"); got != "guest to host" {
		t.Fatalf("echo %q", got)
	}
	wantDenied(t, res, 0, "")
}

func TestGuestReachesAHostUDPServiceThroughTheHostLoopbackAddress(t *testing.T) {
	path := filepath.Join(testDir(t), "net.sock")
	mustCreate(t, configJSON(t, path, nil))
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	go replyOnce(pc, func(msg string) string { return "re:" + msg })
	g := startGuestStack(t, path)
	port := uint16(pc.LocalAddr().(*net.UDPAddr).Port)
	conn := g.dialUDP(t, netip.AddrPortFrom(guestHostLoopback, port))
	if got := exchangeDatagram(t, conn, "hello"); got != "re:hello" {
		t.Fatalf("reply %q", got)
	}
}

func TestWithoutHostLoopbackTheGuestCannotReachTheHost(t *testing.T) {
	path := filepath.Join(testDir(t), "net.sock")
	res := mustCreate(t, configJSON(t, path, map[string]any{"hostLoopback": false}))
	ln, port := hostListener(t)
	g := startGuestStack(t, path)
	// The test guest routes everything via the gateway, so the SYN reaches the NAT
	// forwarder, which must refuse it (a RST) instead of dialing 127.0.0.1.
	err := g.refusedHostLoopback(t, port, "guest reached the host loopback address with hostLoopback false")
	if errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("dial was not refused: %v", err)
	}
	_ = ln.Close()
	if c, err := ln.Accept(); err == nil {
		_ = c.Close()
		t.Fatal("the host listener had accepted a connection from the guest")
	}
	wantDenied(t, res, 1, "")
}

func TestAllowNetRefusesUnlistedDestinations(t *testing.T) {
	path := filepath.Join(testDir(t), "net.sock")
	res := mustCreate(t, configJSON(t, path, map[string]any{"allowNet": []string{"192.0.2.0/24"}}))
	_, port := hostListener(t)
	g := startGuestStack(t, path)
	g.refusedHostLoopback(t, port, "an address outside allowNet was reached")
	wantDenied(t, res, 1, "")
}

func TestTheGatewayServesNoHTTPAPI(t *testing.T) {
	path := filepath.Join(testDir(t), "net.sock")
	mustCreate(t, configJSON(t, path, nil))
	g := startGuestStack(t, path)
	for _, port := range []uint16{80, 8080} {
		ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
		conn, err := g.dialTCP(ctx, netip.AddrPortFrom(netip.MustParseAddr("192.168.127.1"), port))
		cancel()
		if err == nil {
			_ = conn.Close()
			t.Fatalf("gateway port %d accepted a connection", port)
		}
	}
}

func TestGatewayDNSAnswersFromConfiguredZones(t *testing.T) {
	path := filepath.Join(testDir(t), "net.sock")
	mustCreate(t, configJSON(t, path, map[string]any{"dnsZones": []any{map[string]any{
		"name": "example.internal.", "records": []any{map[string]any{"name": "db", "ip": "192.168.127.50"}},
	}}}))
	g := startGuestStack(t, path)
	conn := g.dialUDP(t, netip.MustParseAddrPort("192.168.127.1:53"))
	q := new(dns.Msg)
	q.SetQuestion("db.example.internal.", dns.TypeA)
	wire, err := q.Pack()
	if err != nil {
		t.Fatal(err)
	}
	var reply dns.Msg
	if err := reply.Unpack([]byte(exchangeDatagram(t, conn, string(wire)))); err != nil {
		t.Fatal(err)
	}
	if len(reply.Answer) != 1 || reply.Answer[0].(*dns.A).A.String() != "192.168.127.50" {
		t.Fatalf("answer %v", reply.Answer)
	}
}
