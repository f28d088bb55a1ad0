package network

import (
	"net/netip"
	"sync/atomic"

	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/checksum"
	"gvisor.dev/gvisor/pkg/tcpip/header"
	"gvisor.dev/gvisor/pkg/tcpip/link/nested"
	"gvisor.dev/gvisor/pkg/tcpip/stack"
)

// echoRequest is one ICMP echo request (ping) of the guest, copied out of its packet.
type echoRequest struct {
	src, dst   netip.Addr
	ident, seq uint16
	payload    []byte
}

// echoDivert sits between the guest's link and the stack and takes the guest's ICMP
// echo requests to any unicast address but the gateway's out of the stack's way, to
// the echo forwarder (icmp_echo.go). The stack runs in promiscuous mode (the NAT needs
// it to accept every destination), so it treats every address as its own and would
// answer every ping itself: the guest would see 192.0.2.1, or an address allowNet
// refuses, answer from inside the gateway. The gateway's own pings, broadcasts and all
// other traffic pass through untouched, as do pings to the host loopback address
// while it answers only host sockets (answerItself).
type echoDivert struct {
	nested.Endpoint
	gateway   tcpip.Address
	broadcast tcpip.Address // the subnet's directed broadcast
	forward   func(echoRequest)
	// own is another address the stack answers pings to itself, like the gateway's;
	// nil for none.
	own atomic.Pointer[tcpip.Address]
	// stack is the stack's dispatcher, read on every inbound packet without the lock
	// nested.Endpoint takes.
	stack atomic.Pointer[dispatcherRef]
	// fragments holds the diverted pings that came in pieces until they are whole.
	fragments echoReassembly
}

type dispatcherRef struct{ d stack.NetworkDispatcher }

// newEchoDivert wraps link; forward receives every diverted request, on the goroutine
// that read the guest's frame (it must not block).
func newEchoDivert(link stack.LinkEndpoint, gateway, broadcast tcpip.Address, forward func(echoRequest)) *echoDivert {
	d := &echoDivert{gateway: gateway, broadcast: broadcast, forward: forward}
	d.Init(link, d)
	return d
}

// answerItself makes the stack answer pings to addr itself (on), or forwards them
// again (off).
func (d *echoDivert) answerItself(addr tcpip.Address, on bool) {
	if on {
		d.own.Store(&addr)
	} else {
		d.own.Store(nil)
	}
}

func (d *echoDivert) isOwn(dst tcpip.Address) bool {
	own := d.own.Load()
	return own != nil && *own == dst
}

// Attach implements stack.LinkEndpoint.
func (d *echoDivert) Attach(dispatcher stack.NetworkDispatcher) {
	if dispatcher == nil {
		d.stack.Store(nil)
	} else {
		d.stack.Store(&dispatcherRef{d: dispatcher})
	}
	d.Endpoint.Attach(dispatcher)
}

// DeliverNetworkPacket implements stack.NetworkDispatcher.
func (d *echoDivert) DeliverNetworkPacket(protocol tcpip.NetworkProtocolNumber, pkt *stack.PacketBuffer) {
	if protocol == header.IPv4ProtocolNumber {
		if req, divert := d.echoRequestOf(pkt); divert {
			if req != nil {
				d.forward(*req)
			}
			return
		}
	}
	if ref := d.stack.Load(); ref != nil {
		ref.d.DeliverNetworkPacket(protocol, pkt)
	}
}

// echoRequestOf decides whether pkt (an IPv4 packet, not yet parsed) is diverted, and
// returns the echo request in it. Fragments are diverted and reassembled here: the
// request they complete is returned with the last one. A diverted packet the forwarder
// cannot use (a bad checksum, a reassembled message that is no echo request, a
// fragment of an incomplete one) comes back as (nil, true) and is dropped: left to the
// stack, it would be reassembled or answered by the stack itself.
func (d *echoDivert) echoRequestOf(pkt *stack.PacketBuffer) (*echoRequest, bool) {
	hdr, ok := pkt.Data().PullUp(header.IPv4MinimumSize)
	if !ok {
		return nil, false
	}
	ip := header.IPv4(hdr)
	if ip.TransportProtocol() != header.ICMPv4ProtocolNumber {
		return nil, false
	}
	dst := ip.DestinationAddress()
	if dst == d.gateway || d.isOwn(dst) || dst == d.broadcast || dst == header.IPv4Broadcast || header.IsV4MulticastAddress(dst) {
		return nil, false
	}
	// No host answers a ping from an address that names no one (the stack drops such
	// sources on every path): its reply would go to every guest on the link, and its
	// event would name a source that is not the guest.
	if src := ip.SourceAddress(); src == header.IPv4Any || src == header.IPv4Broadcast || src == d.broadcast || header.IsV4MulticastAddress(src) {
		return nil, true
	}
	headerLen, total := int(ip.HeaderLength()), int(ip.TotalLength())
	if !ip.IsValid(pkt.Data().Size()) {
		return nil, false // malformed (or not version 4): the stack drops it and counts it
	}
	whole, ok := pkt.Data().PullUp(total)
	if !ok {
		return nil, false
	}
	msg := header.ICMPv4(whole[headerLen:total])
	if ip.More() || ip.FragmentOffset() != 0 {
		reassembled, complete := d.fragments.add(ip, msg)
		if !complete || len(reassembled) < header.ICMPv4MinimumSize || header.ICMPv4(reassembled).Type() != header.ICMPv4Echo {
			return nil, true
		}
		msg = reassembled
	} else if len(msg) < header.ICMPv4MinimumSize {
		return nil, false // too short for ICMP: the stack drops it and counts it
	}
	if msg.Type() != header.ICMPv4Echo {
		return nil, false // errors and replies are the stack's
	}
	if checksum.Checksum(msg, 0) != 0xffff {
		return nil, true
	}
	return &echoRequest{
		src:     netip.AddrFrom4(ip.SourceAddress().As4()),
		dst:     netip.AddrFrom4(dst.As4()),
		ident:   msg.Ident(),
		seq:     msg.Sequence(),
		payload: append([]byte(nil), msg.Payload()...),
	}, true
}
