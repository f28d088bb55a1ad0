package dhcp

import (
	"net"

	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/checksum"
	"gvisor.dev/gvisor/pkg/tcpip/header"
)

// Well-known DHCP ports.
const (
	ClientPort = 68
	ServerPort = 67
)

// EncapsulateBroadcast wraps a DHCP message in Ethernet/IPv4/UDP from 0.0.0.0:68 to
// 255.255.255.255:67, as a client without an address must send it.
func EncapsulateBroadcast(mac net.HardwareAddr, payload []byte) []byte {
	const headers = header.EthernetMinimumSize + header.IPv4MinimumSize + header.UDPMinimumSize
	frame := make([]byte, headers+len(payload))

	header.Ethernet(frame).Encode(&header.EthernetFields{
		SrcAddr: tcpip.LinkAddress(mac),
		DstAddr: header.EthernetBroadcastAddress,
		Type:    header.IPv4ProtocolNumber,
	})

	ipPacket := frame[header.EthernetMinimumSize:]
	ip := header.IPv4(ipPacket)
	src, dst := header.IPv4Any, header.IPv4Broadcast
	ip.Encode(&header.IPv4Fields{
		TotalLength: uint16(len(ipPacket)),
		TTL:         64,
		Protocol:    uint8(header.UDPProtocolNumber),
		SrcAddr:     src,
		DstAddr:     dst,
	})
	ip.SetChecksum(^ip.CalculateChecksum())

	udpPacket := ipPacket[header.IPv4MinimumSize:]
	udp := header.UDP(udpPacket)
	udp.Encode(&header.UDPFields{
		SrcPort: ClientPort,
		DstPort: ServerPort,
		Length:  uint16(len(udpPacket)),
	})
	copy(udpPacket[header.UDPMinimumSize:], payload)
	sum := header.PseudoHeaderChecksum(header.UDPProtocolNumber, src, dst, uint16(len(udpPacket)))
	sum = checksum.Checksum(udpPacket, sum)
	udp.SetChecksum(^sum)
	return frame
}

// ClientPayload returns the UDP payload of frame if it is an IPv4 UDP datagram to
// the DHCP client port, and false otherwise (the frame then belongs to the stack).
func ClientPayload(frame []byte) ([]byte, bool) {
	eth := header.Ethernet(frame)
	if len(frame) < header.EthernetMinimumSize || eth.Type() != header.IPv4ProtocolNumber {
		return nil, false
	}
	ip := header.IPv4(frame[header.EthernetMinimumSize:])
	if !ip.IsValid(len(ip)) || ip.TransportProtocol() != header.UDPProtocolNumber || ip.More() || ip.FragmentOffset() != 0 {
		return nil, false
	}
	udpPacket := ip.Payload()
	if len(udpPacket) < header.UDPMinimumSize {
		return nil, false
	}
	udp := header.UDP(udpPacket)
	if udp.DestinationPort() != ClientPort || int(udp.Length()) > len(udpPacket) || udp.Length() < header.UDPMinimumSize {
		return nil, false
	}
	return udpPacket[header.UDPMinimumSize:udp.Length()], true
}
