package main

import (
	"bufio"
	"context"
	"encoding/binary"
	"io"
	"net"
	"net/netip"
	"sync"
	"testing"

	"gvisor.dev/gvisor/pkg/buffer"
	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/adapters/gonet"
	"gvisor.dev/gvisor/pkg/tcpip/header"
	"gvisor.dev/gvisor/pkg/tcpip/link/channel"
	"gvisor.dev/gvisor/pkg/tcpip/link/ethernet"
	"gvisor.dev/gvisor/pkg/tcpip/network/arp"
	"gvisor.dev/gvisor/pkg/tcpip/network/ipv4"
	"gvisor.dev/gvisor/pkg/tcpip/stack"
	"gvisor.dev/gvisor/pkg/tcpip/transport/icmp"
	"gvisor.dev/gvisor/pkg/tcpip/transport/tcp"
	"gvisor.dev/gvisor/pkg/tcpip/transport/udp"
)

// guestStack is a userspace VM for tests: a gVisor stack with the static lease address
// 192.168.127.2/24 and a default route via the gateway, attached to the instance's QEMU
// socket.
type guestStack struct {
	stack  *stack.Stack
	link   *channel.Endpoint
	conn   net.Conn
	cancel context.CancelFunc
	wg     sync.WaitGroup
	once   sync.Once
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
	link := channel.New(1024, mtu, tcpip.LinkAddress(testGuestMAC))
	s := stack.New(stack.Options{
		NetworkProtocols:   []stack.NetworkProtocolFactory{ipv4.NewProtocol, arp.NewProtocol},
		TransportProtocols: []stack.TransportProtocolFactory{tcp.NewProtocol, udp.NewProtocol, icmp.NewProtocol4},
	})
	if err := s.CreateNIC(1, ethernet.New(link)); err != nil {
		t.Fatalf("guest NIC: %s", err)
	}
	if err := s.AddProtocolAddress(1, tcpip.ProtocolAddress{
		Protocol:          ipv4.ProtocolNumber,
		AddressWithPrefix: tcpip.AddressWithPrefix{Address: tcpip.AddrFrom4([4]byte{192, 168, 127, 2}), PrefixLen: 24},
	}, stack.AddressProperties{}); err != nil {
		t.Fatalf("guest address: %s", err)
	}
	s.SetRouteTable([]tcpip.Route{{
		Destination: header.IPv4EmptySubnet,
		Gateway:     tcpip.AddrFrom4([4]byte{192, 168, 127, 1}),
		NIC:         1,
	}})
	ctx, cancel := context.WithCancel(context.Background())
	g := &guestStack{stack: s, link: link, conn: conn, cancel: cancel}
	g.wg.Add(2)
	go g.pumpOut(ctx)
	go g.pumpIn()
	t.Cleanup(g.close)
	return g
}

// pumpOut frames the guest stack's outgoing packets onto the socket.
func (g *guestStack) pumpOut(ctx context.Context) {
	defer g.wg.Done()
	for {
		pkt := g.link.ReadContext(ctx)
		if pkt == nil {
			return
		}
		view := pkt.ToView()
		frame := make([]byte, 4+view.Size())
		binary.BigEndian.PutUint32(frame, uint32(view.Size()))
		copy(frame[4:], view.AsSlice())
		view.Release()
		pkt.DecRef()
		if _, err := g.conn.Write(frame); err != nil {
			return
		}
	}
}

// pumpIn delivers frames from the socket to the guest stack.
func (g *guestStack) pumpIn() {
	defer g.wg.Done()
	r := bufio.NewReader(g.conn)
	var size [4]byte
	for {
		if _, err := io.ReadFull(r, size[:]); err != nil {
			return
		}
		frame := make([]byte, binary.BigEndian.Uint32(size[:]))
		if _, err := io.ReadFull(r, frame); err != nil {
			return
		}
		pkt := stack.NewPacketBuffer(stack.PacketBufferOptions{Payload: buffer.MakeWithData(frame)})
		g.link.InjectInbound(0, pkt)
		pkt.DecRef()
	}
}

func (g *guestStack) close() {
	g.once.Do(func() {
		g.cancel()
		_ = g.conn.Close()
		g.wg.Wait()
		g.stack.Destroy()
	})
}

func (g *guestStack) dialTCP(ctx context.Context, dst netip.AddrPort) (net.Conn, error) {
	return gonet.DialContextTCP(ctx, g.stack, tcpip.FullAddress{NIC: 1, Addr: tcpip.AddrFrom4(dst.Addr().As4()), Port: dst.Port()}, ipv4.ProtocolNumber)
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

func (g *guestStack) listenTCP(t testing.TB, port uint16) net.Listener {
	t.Helper()
	ln, err := gonet.ListenTCP(g.stack, tcpip.FullAddress{NIC: 1, Port: port}, ipv4.ProtocolNumber)
	if err != nil {
		t.Fatalf("guest listen :%d: %v", port, err)
	}
	t.Cleanup(func() { _ = ln.Close() })
	return ln
}

func (g *guestStack) dialUDP(t *testing.T, dst netip.AddrPort) net.Conn {
	t.Helper()
	conn, err := gonet.DialUDP(g.stack, nil, &tcpip.FullAddress{NIC: 1, Addr: tcpip.AddrFrom4(dst.Addr().As4()), Port: dst.Port()}, ipv4.ProtocolNumber)
	if err != nil {
		t.Fatalf("guest udp dial %s: %v", dst, err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	return conn
}

func (g *guestStack) listenUDP(t *testing.T, port uint16) *gonet.UDPConn {
	t.Helper()
	conn, err := gonet.DialUDP(g.stack, &tcpip.FullAddress{NIC: 1, Port: port}, nil, ipv4.ProtocolNumber)
	if err != nil {
		t.Fatalf("guest udp bind :%d: %v", port, err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	return conn
}
