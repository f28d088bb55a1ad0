package link

import (
	"bytes"
	"encoding/binary"
	"net"
	"syscall"
	"testing"

	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/checksum"
	"gvisor.dev/gvisor/pkg/tcpip/header"
	"gvisor.dev/gvisor/pkg/tcpip/network/arp"
	"gvisor.dev/gvisor/pkg/tcpip/network/ipv4"
	"gvisor.dev/gvisor/pkg/tcpip/stack"

	"bun-gvproxy/libgvproxy/internal/testguest"
)

// newGatewayStack puts the endpoint under a gVisor stack configured like the
// network package's: the gateway address, spoofing and promiscuous mode.
func newGatewayStack(t *testing.T, e *Endpoint) *stack.Stack {
	t.Helper()
	s := stack.New(stack.Options{NetworkProtocols: []stack.NetworkProtocolFactory{ipv4.NewProtocol, arp.NewProtocol}})
	t.Cleanup(func() { s.Close(); s.Wait() })
	if err := s.CreateNIC(1, e); err != nil {
		t.Fatalf("create NIC: %s", err)
	}
	if err := s.AddProtocolAddress(1, tcpip.ProtocolAddress{Protocol: ipv4.ProtocolNumber, AddressWithPrefix: gatewayIP.WithPrefix()}, stack.AddressProperties{}); err != nil {
		t.Fatalf("add address: %s", err)
	}
	if err := s.SetSpoofing(1, true); err != nil {
		t.Fatal(err)
	}
	if err := s.SetPromiscuousMode(1, true); err != nil {
		t.Fatal(err)
	}
	subnet, err := tcpip.NewSubnet(tcpip.AddrFrom4([4]byte{192, 168, 127, 0}), tcpip.MaskFromBytes([]byte{255, 255, 255, 0}))
	if err != nil {
		t.Fatal(err)
	}
	s.SetRouteTable([]tcpip.Route{{Destination: subnet, NIC: 1}})
	return s
}

func arpRequestFrame(target tcpip.Address) []byte {
	return testguest.ARPFrame(header.ARPRequest, guestMAC, guestIP, header.EthernetBroadcastAddress, "", target)
}

// nextARPReply reads frames from the guest's end until an ARP reply and returns the
// address it claims and the Ethernet header it came with.
func nextARPReply(t *testing.T, conn net.Conn) (tcpip.Address, header.Ethernet) {
	t.Helper()
	for {
		frame := readStreamFrame(t, conn)
		eth := header.Ethernet(frame)
		if eth.Type() != header.ARPProtocolNumber {
			continue
		}
		a := header.ARP(frame[header.EthernetMinimumSize:])
		if a.IsValid() && a.Op() == header.ARPReply {
			return tcpip.AddrFromSlice(a.ProtocolAddressSender()), eth
		}
	}
}

// Under a real stack, the gateway answers ARP for its own address and the virtual
// ones, and for nothing else although the NIC is promiscuous. Requests are answered in
// order, so the gateway's own address asked last is the barrier proving the earlier
// request got no answer.
func TestTheGatewayClaimsOnlyItsOwnAndVirtualAddressesInARP(t *testing.T) {
	e, _, _ := newTestEndpoint(t, testMTU)
	newGatewayStack(t, e)
	g := serve(t, e, syscall.SOCK_STREAM)
	stranger := tcpip.AddrFrom4([4]byte{192, 168, 127, 77})
	_, _ = g.guest.Write(streamEncode(arpRequestFrame(loopbackIP), arpRequestFrame(stranger), arpRequestFrame(gatewayIP)))
	for _, want := range []tcpip.Address{loopbackIP, gatewayIP} {
		got, eth := nextARPReply(t, g.guest)
		if got != want {
			t.Fatalf("ARP reply claims %s, want %s", got, want)
		}
		if eth.SourceAddress() != gatewayMAC || eth.DestinationAddress() != guestMAC {
			t.Fatalf("reply from %s to %s", eth.SourceAddress(), eth.DestinationAddress())
		}
	}
}

// An ICMP echo to the gateway comes back: inbound parsing, the stack's IP layer and
// outbound framing all line up.
func TestTheGatewayAnswersAPingThroughTheLink(t *testing.T) {
	e, _, _ := newTestEndpoint(t, testMTU)
	newGatewayStack(t, e)
	g := serve(t, e, syscall.SOCK_STREAM)
	// Let the gateway learn the guest's MAC first, so the reply needs no ARP round.
	_, _ = g.guest.Write(streamEncode(arpRequestFrame(gatewayIP)))
	nextARPReply(t, g.guest)

	payload := []byte("ping through the link")
	_, _ = g.guest.Write(streamEncode(echoRequestFrame(payload)))
	for {
		frame := readStreamFrame(t, g.guest)
		if header.Ethernet(frame).Type() != header.IPv4ProtocolNumber {
			continue
		}
		ip := header.IPv4(frame[header.EthernetMinimumSize:])
		icmp := header.ICMPv4(ip.Payload())
		if ip.SourceAddress() != gatewayIP || icmp.Type() != header.ICMPv4EchoReply {
			t.Fatalf("got %s -> %s ICMP type %d", ip.SourceAddress(), ip.DestinationAddress(), icmp.Type())
		}
		if !bytes.Equal(icmp.Payload(), payload) {
			t.Fatal("the echo reply carries a different payload")
		}
		return
	}
}

func echoRequestFrame(payload []byte) []byte {
	ipLen := header.IPv4MinimumSize + header.ICMPv4MinimumSize + len(payload)
	frame := make([]byte, header.EthernetMinimumSize+ipLen)
	header.Ethernet(frame).Encode(&header.EthernetFields{SrcAddr: guestMAC, DstAddr: gatewayMAC, Type: header.IPv4ProtocolNumber})
	ip := header.IPv4(frame[header.EthernetMinimumSize:])
	ip.Encode(&header.IPv4Fields{TotalLength: uint16(ipLen), TTL: 64, Protocol: uint8(header.ICMPv4ProtocolNumber), SrcAddr: guestIP, DstAddr: gatewayIP})
	ip.SetChecksum(^ip.CalculateChecksum())
	icmp := header.ICMPv4(ip.Payload())
	icmp.SetType(header.ICMPv4Echo)
	binary.BigEndian.PutUint16(icmp[4:], 1) // identifier
	binary.BigEndian.PutUint16(icmp[6:], 1) // sequence
	copy(icmp.Payload(), payload)
	icmp.SetChecksum(^checksum.Checksum(icmp, 0))
	return frame
}
