package link

import (
	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/header"
	"gvisor.dev/gvisor/pkg/tcpip/stack"
)

// mayClaim reports whether the gateway may send pkt to the guest. The stack runs in
// promiscuous + spoofing mode (so the NAT forwarders can answer as any destination),
// which makes gVisor's ARP answer requests for every address; the guest must only
// learn the gateway's own address and the virtual ones (host loopback), as with
// upstream's tap.LinkEndpoint. Everything but such an ARP reply passes.
func (e *Endpoint) mayClaim(pkt *stack.PacketBuffer) bool {
	if pkt.NetworkProtocolNumber != header.ARPProtocolNumber {
		return true
	}
	h := header.ARP(pkt.NetworkHeader().Slice())
	if !h.IsValid() || h.Op() != header.ARPReply {
		return true
	}
	_, ok := (*e.arpSenders.Load())[tcpip.AddrFromSlice(h.ProtocolAddressSender())]
	return ok
}
