package netstack

import (
	"context"
	"io"
	"net"
	"net/netip"
	"testing"

	"gvisor.dev/gvisor/pkg/buffer"
	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/adapters/gonet"
	"gvisor.dev/gvisor/pkg/tcpip/network/ipv4"
	"gvisor.dev/gvisor/pkg/tcpip/stack"

	"bun-gvproxy/guest/internal/dhcp"
)

// cable carries every frame one stack sends into the other, like a crossover cable.
func cable(ctx context.Context, from, to *Stack) {
	for {
		pkt := from.Channel.ReadContext(ctx)
		if pkt == nil {
			return
		}
		frame := pkt.ToView().AsSlice()
		pkt.DecRef()
		in := stack.NewPacketBuffer(stack.PacketBufferOptions{Payload: buffer.MakeWithData(frame)})
		to.Channel.InjectInbound(0, in)
		in.DecRef()
	}
}

func newStack(t *testing.T, mac string) *Stack {
	t.Helper()
	hw, _ := net.ParseMAC(mac)
	s, err := New(hw, 1500)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s
}

func lease(ip string, mtu int) dhcp.Lease {
	return dhcp.Lease{IP: netip.MustParseAddr(ip), PrefixLength: 24, Router: netip.MustParseAddr("10.0.0.1"), MTU: mtu}
}

func TestTwoLeasedStacksTalkTCP(t *testing.T) {
	guest, peer := newStack(t, "02:00:00:00:00:02"), newStack(t, "02:00:00:00:00:01")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go cable(ctx, guest, peer)
	go cable(ctx, peer, guest)
	if err := guest.ApplyLease(lease("10.0.0.2", 1400)); err != nil {
		t.Fatal(err)
	}
	if err := peer.ApplyLease(lease("10.0.0.1", 0)); err != nil {
		t.Fatal(err)
	}
	if got := guest.LinkMTU(); got != 1400 {
		t.Fatalf("guest MTU %d after a lease with MTU 1400", got)
	}
	if got := peer.LinkMTU(); got != 1500 {
		t.Fatalf("a lease without MTU changed the MTU to %d", got)
	}

	ln, err := gonet.ListenTCP(peer.Stack, tcpip.FullAddress{NIC: NICID, Port: 80}, ipv4.ProtocolNumber)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		_, _ = io.Copy(c, c)
	}()
	conn, err := gonet.DialContextTCP(ctx, guest.Stack, FullAddress(netip.MustParseAddr("10.0.0.1"), 80), ipv4.ProtocolNumber)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	payload := make([]byte, 100_000) // larger than one MTU: segmentation both ways
	for i := range payload {
		payload[i] = byte(i)
	}
	go func() {
		_, _ = conn.Write(payload)
		_ = conn.CloseWrite()
	}()
	got, err := io.ReadAll(conn)
	if err != nil || len(got) != len(payload) || got[99_999] != payload[99_999] {
		t.Fatalf("echoed %d bytes, %v", len(got), err)
	}
}

func TestApplyingTheSameLeaseTwiceSucceeds(t *testing.T) {
	s := newStack(t, "02:00:00:00:00:02")
	for i := 0; i < 2; i++ {
		if err := s.ApplyLease(lease("10.0.0.2", 1500)); err != nil {
			t.Fatalf("apply #%d: %v", i+1, err)
		}
	}
}

func TestTCPOptionsAreAppliedAndReported(t *testing.T) {
	s := newStack(t, "02:00:00:00:00:02")
	off := false
	got, err := s.SetTCPOptions(TCPOptions{SACK: &off, ModerateReceiveBuffer: &off, SendBufferSize: 2 << 20, ReceiveBufferSize: 3 << 20})
	if err != nil {
		t.Fatal(err)
	}
	if *got.SACK || *got.ModerateReceiveBuffer || got.SendBufferSize != 2<<20 || got.ReceiveBufferSize != 3<<20 {
		t.Fatalf("options after set: sack=%v moderate=%v send=%d recv=%d", *got.SACK, *got.ModerateReceiveBuffer, got.SendBufferSize, got.ReceiveBufferSize)
	}
}
