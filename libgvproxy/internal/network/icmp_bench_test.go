package network

import (
	"testing"

	"gvisor.dev/gvisor/pkg/buffer"
	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/header"
	"gvisor.dev/gvisor/pkg/tcpip/stack"
)

// countingDispatcher stands in for the stack: it only counts what it is handed.
type countingDispatcher struct{ n int }

func (c *countingDispatcher) DeliverNetworkPacket(tcpip.NetworkProtocolNumber, *stack.PacketBuffer) {
	c.n++
}
func (c *countingDispatcher) DeliverLinkPacket(tcpip.NetworkProtocolNumber, *stack.PacketBuffer) {}

// BenchmarkEchoDivertPassThrough is what echoDivert adds to every packet that is not a
// diverted ping (a guest's TCP segment here): the cost of the check on the hot path.
func BenchmarkEchoDivertPassThrough(b *testing.B) {
	seg := make([]byte, header.IPv4MinimumSize+header.TCPMinimumSize+1400)
	ip := header.IPv4(seg)
	ip.Encode(&header.IPv4Fields{TotalLength: uint16(len(seg)), TTL: 64, Protocol: uint8(header.TCPProtocolNumber),
		SrcAddr: testGuest, DstAddr: tcpip.AddrFrom4([4]byte{203, 0, 113, 1})})
	pkt := stack.NewPacketBuffer(stack.PacketBufferOptions{Payload: buffer.MakeWithData(seg)})
	defer pkt.DecRef()
	stackSide := &countingDispatcher{}
	d := &echoDivert{gateway: testGateway, broadcast: testBroadcast}
	d.stack.Store(&dispatcherRef{d: stackSide})
	var direct stack.NetworkDispatcher = stackSide // an interface call, as the link makes
	b.Run("direct", func(b *testing.B) {
		for range b.N {
			direct.DeliverNetworkPacket(header.IPv4ProtocolNumber, pkt)
		}
	})
	b.Run("through-divert", func(b *testing.B) {
		for range b.N {
			d.DeliverNetworkPacket(header.IPv4ProtocolNumber, pkt)
		}
	})
}
