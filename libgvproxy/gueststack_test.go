package main

import (
	"context"
	"net"
	"net/netip"
	"testing"

	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/adapters/gonet"
	"gvisor.dev/gvisor/pkg/tcpip/network/ipv4"
	"gvisor.dev/gvisor/pkg/tcpip/stack"
	"gvisor.dev/gvisor/pkg/tcpip/transport/icmp"
	"gvisor.dev/gvisor/pkg/tcpip/transport/tcp"
	"gvisor.dev/gvisor/pkg/tcpip/transport/udp"

	"bun-gvproxy/libgvproxy/internal/testguest"
)

// guestStack is a userspace VM for tests: a gVisor stack with the static lease address
// 192.168.127.2/24 and a default route via the gateway, attached to the instance's QEMU
// socket.
type guestStack struct {
	*testguest.Guest
}

func startGuestStack(t testing.TB, socketPath string) *guestStack {
	return startGuestStackMTU(t, socketPath, 1500)
}

func startGuestStackMTU(t testing.TB, socketPath string, mtu uint32) *guestStack {
	t.Helper()
	conn, err := net.Dial("unix", socketPath)
	if err != nil {
		t.Fatalf("connect guest: %v", err)
	}
	g, err := testguest.Start(conn, testguest.Config{
		MTU:        mtu,
		MAC:        tcpip.LinkAddress(testGuestMAC),
		Addr:       tcpip.AddrFrom4([4]byte{192, 168, 127, 2}),
		Gateway:    tcpip.AddrFrom4([4]byte{192, 168, 127, 1}),
		Transports: []stack.TransportProtocolFactory{tcp.NewProtocol, udp.NewProtocol, icmp.NewProtocol4},
	})
	if err != nil {
		_ = conn.Close()
		t.Fatal(err)
	}
	t.Cleanup(g.Close)
	return &guestStack{g}
}

func (g *guestStack) dialTCP(ctx context.Context, dst netip.AddrPort) (net.Conn, error) {
	return gonet.DialContextTCP(ctx, g.Stack, tcpip.FullAddress{NIC: testguest.NIC, Addr: tcpip.AddrFrom4(dst.Addr().As4()), Port: dst.Port()}, ipv4.ProtocolNumber)
}

// guestHostLoopback is the address at which the guest reaches the host's 127.0.0.1.
var guestHostLoopback = netip.MustParseAddr("192.168.127.254")

// dialHostLoopback dials port on the host's loopback from the guest, through the
// gateway's host-loopback address, giving up after testTimeout.
func (g *guestStack) dialHostLoopback(port uint16) (net.Conn, error) {
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	return g.dialTCP(ctx, netip.AddrPortFrom(guestHostLoopback, port))
}

// connectHostLoopback is dialHostLoopback that must succeed; the connection is closed at
// the end of the test.
func (g *guestStack) connectHostLoopback(t testing.TB, port uint16) net.Conn {
	t.Helper()
	conn, err := g.dialHostLoopback(port)
	if err != nil {
		t.Fatalf("guest dial of host loopback port %d: %v", port, err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	return conn
}

// refusedHostLoopback fails the test with failure if the guest can connect to port on
// the host's loopback, and returns how the dial failed.
func (g *guestStack) refusedHostLoopback(t testing.TB, port uint16, failure string) error {
	t.Helper()
	conn, err := g.dialHostLoopback(port)
	if err == nil {
		_ = conn.Close()
		t.Fatal(failure)
	}
	return err
}

func (g *guestStack) listenTCP(t testing.TB, port uint16) net.Listener {
	t.Helper()
	ln, err := gonet.ListenTCP(g.Stack, tcpip.FullAddress{NIC: testguest.NIC, Port: port}, ipv4.ProtocolNumber)
	if err != nil {
		t.Fatalf("guest listen :%d: %v", port, err)
	}
	t.Cleanup(func() { _ = ln.Close() })
	return ln
}

func (g *guestStack) dialUDP(t *testing.T, dst netip.AddrPort) net.Conn {
	t.Helper()
	conn, err := gonet.DialUDP(g.Stack, nil, &tcpip.FullAddress{NIC: testguest.NIC, Addr: tcpip.AddrFrom4(dst.Addr().As4()), Port: dst.Port()}, ipv4.ProtocolNumber)
	if err != nil {
		t.Fatalf("guest udp dial %s: %v", dst, err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	return conn
}

func (g *guestStack) listenUDP(t *testing.T, port uint16) *gonet.UDPConn {
	t.Helper()
	conn, err := gonet.DialUDP(g.Stack, &tcpip.FullAddress{NIC: testguest.NIC, Port: port}, nil, ipv4.ProtocolNumber)
	if err != nil {
		t.Fatalf("guest udp bind :%d: %v", port, err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	return conn
}
