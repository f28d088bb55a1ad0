// Package netstack builds the guest's gVisor TCP/IP stack on one Ethernet NIC and
// configures it from a DHCP lease.
package netstack

import (
	"fmt"
	"net"
	"net/netip"

	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/header"
	"gvisor.dev/gvisor/pkg/tcpip/link/channel"
	"gvisor.dev/gvisor/pkg/tcpip/link/ethernet"
	"gvisor.dev/gvisor/pkg/tcpip/network/arp"
	"gvisor.dev/gvisor/pkg/tcpip/network/ipv4"
	"gvisor.dev/gvisor/pkg/tcpip/stack"
	"gvisor.dev/gvisor/pkg/tcpip/transport/icmp"
	"gvisor.dev/gvisor/pkg/tcpip/transport/tcp"
	"gvisor.dev/gvisor/pkg/tcpip/transport/udp"

	"bun-gvproxy/guest/internal/dhcp"
)

// NICID is the guest's only interface.
const NICID tcpip.NICID = 1

// outboundQueueFrames bounds frames waiting for the socket; a full queue drops
// packets (TCP retransmits), so make it deep enough for bulk transfers.
const outboundQueueFrames = 4096

// Stack is the guest's network stack and the channel its frames flow through.
type Stack struct {
	*stack.Stack
	Channel *channel.Endpoint
}

// New creates a stack whose NIC has mac and an IP MTU of mtu.
func New(mac net.HardwareAddr, mtu uint32) (*Stack, error) {
	s := stack.New(stack.Options{
		NetworkProtocols:   []stack.NetworkProtocolFactory{ipv4.NewProtocol, arp.NewProtocol},
		TransportProtocols: []stack.TransportProtocolFactory{tcp.NewProtocol, udp.NewProtocol, icmp.NewProtocol4},
		// Traffic to the guest's own address stays inside the guest, as a VM's kernel
		// routes it over its loopback: it must not depend on the gateway reflecting it.
		HandleLocal: true,
	})
	// The channel carries whole Ethernet frames, so its MTU includes the header.
	ch := channel.New(outboundQueueFrames, mtu+header.EthernetMinimumSize, tcpip.LinkAddress(mac))
	if err := s.CreateNIC(NICID, ethernet.New(ch)); err != nil {
		s.Close()
		return nil, fmt.Errorf("create NIC: %s", err)
	}
	return &Stack{Stack: s, Channel: ch}, nil
}

// ApplyLease gives the NIC the leased address, a default route via the router and,
// when the lease carries one, the MTU option.
func (s *Stack) ApplyLease(lease dhcp.Lease) error {
	if lease.MTU > 0 {
		if err := s.SetNICMTU(NICID, uint32(lease.MTU)+header.EthernetMinimumSize); err != nil {
			return fmt.Errorf("set MTU %d from lease: %s", lease.MTU, err)
		}
	}
	addr := tcpip.ProtocolAddress{
		Protocol:          ipv4.ProtocolNumber,
		AddressWithPrefix: tcpip.AddrFrom4(lease.IP.As4()).WithPrefix(),
	}
	addr.AddressWithPrefix.PrefixLen = lease.PrefixLength
	// A repeated DHCP (same lease) must not fail on the address already being there.
	_ = s.RemoveAddress(NICID, addr.AddressWithPrefix.Address)
	if err := s.AddProtocolAddress(NICID, addr, stack.AddressProperties{}); err != nil {
		return fmt.Errorf("add address %s/%d: %s", lease.IP, lease.PrefixLength, err)
	}
	subnet := addr.AddressWithPrefix.Subnet()
	routes := []tcpip.Route{{Destination: subnet, NIC: NICID}}
	if lease.Router.IsValid() {
		routes = append(routes, tcpip.Route{Destination: header.IPv4EmptySubnet, Gateway: tcpip.AddrFrom4(lease.Router.As4()), NIC: NICID})
	}
	s.SetRouteTable(routes)
	return nil
}

// LinkMTU is the NIC's current IP MTU.
func (s *Stack) LinkMTU() uint32 {
	return s.Channel.MTU() - header.EthernetMinimumSize
}

// FullAddress converts an address and port for gonet dialers.
func FullAddress(addr netip.Addr, port uint16) tcpip.FullAddress {
	return tcpip.FullAddress{NIC: NICID, Addr: tcpip.AddrFrom4(addr.As4()), Port: port}
}

// TCPOptions are the stack-wide TCP knobs benchmarks turn. Zero values keep the
// current setting.
type TCPOptions struct {
	SACK                  *bool `json:"sack,omitempty"`
	ModerateReceiveBuffer *bool `json:"moderateReceiveBuffer,omitempty"`
	SendBufferSize        int   `json:"sendBufferSize,omitempty"`
	ReceiveBufferSize     int   `json:"receiveBufferSize,omitempty"`
}

// SetTCPOptions applies opts and returns the resulting settings.
func (s *Stack) SetTCPOptions(opts TCPOptions) (TCPOptions, error) {
	if opts.SACK != nil {
		v := tcpip.TCPSACKEnabled(*opts.SACK)
		if err := s.SetTransportProtocolOption(tcp.ProtocolNumber, &v); err != nil {
			return TCPOptions{}, fmt.Errorf("set SACK: %s", err)
		}
	}
	if opts.ModerateReceiveBuffer != nil {
		v := tcpip.TCPModerateReceiveBufferOption(*opts.ModerateReceiveBuffer)
		if err := s.SetTransportProtocolOption(tcp.ProtocolNumber, &v); err != nil {
			return TCPOptions{}, fmt.Errorf("set moderate receive buffer: %s", err)
		}
	}
	if opts.SendBufferSize > 0 {
		v := tcpip.TCPSendBufferSizeRangeOption{Min: 4096, Default: opts.SendBufferSize, Max: max(opts.SendBufferSize, 4<<20)}
		if err := s.SetTransportProtocolOption(tcp.ProtocolNumber, &v); err != nil {
			return TCPOptions{}, fmt.Errorf("set send buffer %d: %s", opts.SendBufferSize, err)
		}
	}
	if opts.ReceiveBufferSize > 0 {
		v := tcpip.TCPReceiveBufferSizeRangeOption{Min: 4096, Default: opts.ReceiveBufferSize, Max: max(opts.ReceiveBufferSize, 4<<20)}
		if err := s.SetTransportProtocolOption(tcp.ProtocolNumber, &v); err != nil {
			return TCPOptions{}, fmt.Errorf("set receive buffer %d: %s", opts.ReceiveBufferSize, err)
		}
	}
	return s.TCPOptions(), nil
}

// TCPOptions reads the current stack-wide TCP settings.
func (s *Stack) TCPOptions() TCPOptions {
	var sack tcpip.TCPSACKEnabled
	var moderate tcpip.TCPModerateReceiveBufferOption
	var send tcpip.TCPSendBufferSizeRangeOption
	var recv tcpip.TCPReceiveBufferSizeRangeOption
	_ = s.TransportProtocolOption(tcp.ProtocolNumber, &sack)
	_ = s.TransportProtocolOption(tcp.ProtocolNumber, &moderate)
	_ = s.TransportProtocolOption(tcp.ProtocolNumber, &send)
	_ = s.TransportProtocolOption(tcp.ProtocolNumber, &recv)
	sackOn, moderateOn := bool(sack), bool(moderate)
	return TCPOptions{SACK: &sackOn, ModerateReceiveBuffer: &moderateOn, SendBufferSize: send.Default, ReceiveBufferSize: recv.Default}
}
