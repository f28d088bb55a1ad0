package link

import (
	"bytes"
	"context"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"

	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/adapters/gonet"
	"gvisor.dev/gvisor/pkg/tcpip/checksum"
	"gvisor.dev/gvisor/pkg/tcpip/header"
	"gvisor.dev/gvisor/pkg/tcpip/network/arp"
	"gvisor.dev/gvisor/pkg/tcpip/network/ipv4"
	"gvisor.dev/gvisor/pkg/tcpip/stack"
	"gvisor.dev/gvisor/pkg/tcpip/transport/tcp"

	"bun-gvproxy/framing"
	"bun-gvproxy/libgvproxy/internal/testguest"
)

// wireInspector checks every frame the gateway sends as a real NIC's peer would: no
// frame larger than the MTU allows, IPv4 and TCP checksums valid.
type wireInspector struct {
	maxFrame   int
	dataFrames atomic.Int64
	mu         sync.Mutex
	problems   []string
}

func (w *wireInspector) check(frame []byte) {
	bad := func(what string) {
		w.mu.Lock()
		defer w.mu.Unlock()
		if len(w.problems) < 5 {
			w.problems = append(w.problems, what)
		}
	}
	if len(frame) > w.maxFrame {
		bad("oversized frame")
		return
	}
	if header.Ethernet(frame).Type() != header.IPv4ProtocolNumber {
		return
	}
	ip := header.IPv4(frame[header.EthernetMinimumSize:])
	if !ip.IsValid(len(ip)) || !ip.IsChecksumValid() {
		bad("bad IPv4 header or checksum")
		return
	}
	if ip.TransportProtocol() != header.TCPProtocolNumber {
		return
	}
	seg := header.TCP(ip.Payload())
	payload := seg[seg.DataOffset():]
	if !seg.IsChecksumValid(ip.SourceAddress(), ip.DestinationAddress(), checksum.Checksum(payload, 0), uint16(len(payload))) {
		bad("bad TCP checksum")
	}
	if len(payload) > 0 {
		w.dataFrames.Add(1)
	}
}

// startGuestTCPStack runs a gVisor guest stack (which verifies checksums: its link
// offers no offload) on the guest's end of conn.
func startGuestTCPStack(t *testing.T, conn net.Conn, mtu uint32, inspect *wireInspector) *stack.Stack {
	t.Helper()
	g, err := testguest.Start(conn, testguest.Config{
		MTU:        mtu,
		MAC:        guestMAC,
		Addr:       guestIP,
		Transports: []stack.TransportProtocolFactory{tcp.NewProtocol},
		Inbound:    inspect.check,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(g.Close)
	return g.Stack
}

// newGatewayTCPStack is newGatewayStack with TCP.
func newGatewayTCPStack(t *testing.T, e *Endpoint) *stack.Stack {
	t.Helper()
	s := stack.New(stack.Options{
		NetworkProtocols:   []stack.NetworkProtocolFactory{ipv4.NewProtocol, arp.NewProtocol},
		TransportProtocols: []stack.TransportProtocolFactory{tcp.NewProtocol},
	})
	t.Cleanup(func() { s.Close(); s.Wait() })
	if err := s.CreateNIC(1, e); err != nil {
		t.Fatalf("create NIC: %s", err)
	}
	if err := s.AddProtocolAddress(1, tcpip.ProtocolAddress{Protocol: ipv4.ProtocolNumber, AddressWithPrefix: tcpip.AddressWithPrefix{Address: gatewayIP, PrefixLen: 24}}, stack.AddressProperties{}); err != nil {
		t.Fatalf("add address: %s", err)
	}
	s.SetRouteTable([]tcpip.Route{{Destination: header.IPv4EmptySubnet, NIC: 1}})
	return s
}

func pattern(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*7 + i/251)
	}
	return b
}

// Bulk TCP through a real gateway stack in both directions: the guest receives the
// gateway's offloaded segments as valid MTU-sized frames with correct checksums, and
// the gateway's coalescing of the guest's segments delivers every byte in order.
func TestBulkTCPThroughSegmentationOffloadAndCoalescing(t *testing.T) {
	const size = 4 << 20
	for _, mtu := range []uint32{1500, 9000} {
		t.Run(sizeName(mtu), func(t *testing.T) {
			log := &testLogger{}
			e, err := New(Config{MTU: mtu, MAC: gatewayMAC, GatewayIP: gatewayIP, Log: log})
			if err != nil {
				t.Fatal(err)
			}
			gwStack := newGatewayTCPStack(t, e)
			gw, guestEnd := socketPair(t, syscall.SOCK_STREAM)
			go func() { _ = e.Serve(gw, framing.Qemu) }()
			inspect := &wireInspector{maxFrame: maxFrameSize(mtu)}
			guestStack := startGuestTCPStack(t, guestEnd, mtu, inspect)

			ln, err := gonet.ListenTCP(gwStack, tcpip.FullAddress{NIC: 1, Addr: gatewayIP, Port: 80}, ipv4.ProtocolNumber)
			if err != nil {
				t.Fatal(err)
			}
			defer ln.Close()
			want := pattern(size)
			received := make(chan []byte, 1)
			go func() {
				c, err := ln.Accept()
				if err != nil {
					received <- nil
					return
				}
				defer c.Close()
				wrote := make(chan struct{})
				go func() {
					defer close(wrote)
					_, _ = c.Write(want)
					_ = c.(*gonet.TCPConn).CloseWrite()
				}()
				got, _ := io.ReadAll(c)
				<-wrote // closing earlier would cut the gateway's own transfer short
				received <- got
			}()

			ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
			defer cancel()
			c, err := gonet.DialContextTCP(ctx, guestStack, tcpip.FullAddress{NIC: 1, Addr: gatewayIP, Port: 80}, ipv4.ProtocolNumber)
			if err != nil {
				t.Fatalf("guest dial: %v", err)
			}
			defer c.Close()
			_ = c.SetDeadline(timeNowPlus())
			go func() { _, _ = c.Write(want); _ = c.CloseWrite() }()
			got, err := io.ReadAll(c)
			if err != nil || !bytes.Equal(got, want) {
				t.Fatalf("guest received %d bytes (%v), want the %d sent", len(got), err, size)
			}
			if back := <-received; !bytes.Equal(back, want) {
				t.Fatalf("gateway received %d bytes, want the %d sent", len(back), size)
			}
			inspect.mu.Lock()
			defer inspect.mu.Unlock()
			if len(inspect.problems) > 0 {
				t.Fatalf("invalid frames on the wire: %v", inspect.problems)
			}
			// The stack handed over fewer, larger segments than went on the wire.
			if sent := gwStack.Stats().TCP.SegmentsSent.Value(); uint64(inspect.dataFrames.Load()) <= sent {
				t.Fatalf("%d data frames on the wire for %d stack segments: no offload", inspect.dataFrames.Load(), sent)
			}
		})
	}
}
