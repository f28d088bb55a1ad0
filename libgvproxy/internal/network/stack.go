package network

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/netip"
	"os"
	"syscall"

	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/network/arp"
	"gvisor.dev/gvisor/pkg/tcpip/network/ipv4"
	"gvisor.dev/gvisor/pkg/tcpip/stack"
	"gvisor.dev/gvisor/pkg/tcpip/transport/icmp"
	"gvisor.dev/gvisor/pkg/tcpip/transport/tcp"
	"gvisor.dev/gvisor/pkg/tcpip/transport/udp"

	"bun-gvproxy/libgvproxy/internal/config"
	"bun-gvproxy/libgvproxy/internal/errs"
	"bun-gvproxy/libgvproxy/internal/link"
)

// nicID is the only NIC of the stack: the gateway's side of the link to the guest.
const nicID tcpip.NICID = 1

// TCP buffer sizes of the gateway's stack. The defaults of gVisor (1 MiB default, 4 MiB
// max) limit one flow's throughput at high MTU; auto-tuning grows buffers up to the max.
const (
	tcpBufferMin     = 4 << 10
	tcpBufferDefault = 1 << 20
	tcpBufferMax     = 8 << 20
)

func addrOf(ip netip.Addr) tcpip.Address { return tcpip.AddrFrom4(ip.As4()) }

// newLink builds the gateway's link to its guest (internal/link). Host loopback's
// address is claimed in ARP only when host loopback is enabled. capture (nil for none)
// receives an Ethernet pcap of every frame on the guest connection; debug logs a line
// per frame.
func newLink(cfg *config.Config, log Logger, capture io.Writer) (*link.Endpoint, error) {
	var virtualIPs []tcpip.Address
	if cfg.HostLoopback {
		virtualIPs = []tcpip.Address{addrOf(cfg.HostLoopbackIP)}
	}
	ep, err := link.New(link.Config{
		MTU:        uint32(cfg.MTU),
		MAC:        tcpip.LinkAddress(cfg.GatewayMAC),
		GatewayIP:  addrOf(cfg.GatewayIP),
		VirtualIPs: virtualIPs,
		Log:        log,
		LogFrames:  cfg.Debug,
		Capture:    capture,
	})
	if err != nil {
		return nil, fmt.Errorf("create guest link: %w", err)
	}
	return ep, nil
}

// openCapture creates the capture file when one is configured (nil without capture).
// It must be closed after the stack is gone.
func openCapture(path string) (*os.File, error) {
	if path == "" {
		return nil, nil
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o644)
	if err != nil {
		if errors.Is(err, fs.ErrPermission) || errors.Is(err, syscall.EROFS) {
			return nil, errs.Field(errs.PermissionDenied, "captureFile", "cannot create capture file %s: %v", path, err)
		}
		// Validation caught the predictable cases; whatever else the file system refuses
		// (a name it cannot store, a read-only special file) is still the caller's field.
		return nil, errs.Field(errs.InvalidConfig, "captureFile", "cannot create capture file %s: %v", path, err)
	}
	return f, nil
}

// newStack creates the gateway's IPv4 stack on link: the gateway address, a route for
// the subnet, and spoofing + promiscuous mode so the NAT forwarders see (and can answer
// as) every destination the guest talks to.
func newStack(cfg *config.Config, link stack.LinkEndpoint) (*stack.Stack, error) {
	s := stack.New(stack.Options{
		NetworkProtocols:   []stack.NetworkProtocolFactory{ipv4.NewProtocol, arp.NewProtocol},
		TransportProtocols: []stack.TransportProtocolFactory{tcp.NewProtocol, udp.NewProtocol, icmp.NewProtocol4},
	})
	if err := configureStack(s, cfg, link); err != nil {
		s.Destroy()
		return nil, err
	}
	return s, nil
}

func configureStack(s *stack.Stack, cfg *config.Config, link stack.LinkEndpoint) error {
	if err := tuneTCP(s); err != nil {
		return err
	}
	if err := s.CreateNIC(nicID, link); err != nil {
		return fmt.Errorf("create NIC: %s", err)
	}
	if err := s.AddProtocolAddress(nicID, tcpip.ProtocolAddress{
		Protocol:          ipv4.ProtocolNumber,
		AddressWithPrefix: addrOf(cfg.GatewayIP).WithPrefix(),
	}, stack.AddressProperties{}); err != nil {
		return fmt.Errorf("add gateway address %s: %s", cfg.GatewayIP, err)
	}
	if err := s.SetSpoofing(nicID, true); err != nil {
		return fmt.Errorf("enable spoofing: %s", err)
	}
	if err := s.SetPromiscuousMode(nicID, true); err != nil {
		return fmt.Errorf("enable promiscuous mode: %s", err)
	}
	mask := net4Mask(cfg.Subnet.Bits())
	subnet, err := tcpip.NewSubnet(addrOf(cfg.Subnet.Addr()), mask)
	if err != nil {
		return fmt.Errorf("subnet %s: %w", cfg.Subnet, err)
	}
	s.SetRouteTable([]tcpip.Route{{Destination: subnet, NIC: nicID}})
	return nil
}

func net4Mask(bits int) tcpip.AddressMask {
	var m [4]byte
	for i := 0; i < bits; i++ {
		m[i/8] |= 0x80 >> (i % 8)
	}
	return tcpip.MaskFromBytes(m[:])
}

func tuneTCP(s *stack.Stack) error {
	sack := tcpip.TCPSACKEnabled(true)
	moderate := tcpip.TCPModerateReceiveBufferOption(true)
	rcv := tcpip.TCPReceiveBufferSizeRangeOption{Min: tcpBufferMin, Default: tcpBufferDefault, Max: tcpBufferMax}
	snd := tcpip.TCPSendBufferSizeRangeOption{Min: tcpBufferMin, Default: tcpBufferDefault, Max: tcpBufferMax}
	for _, opt := range []tcpip.SettableTransportProtocolOption{&sack, &moderate, &rcv, &snd} {
		if err := s.SetTransportProtocolOption(tcp.ProtocolNumber, opt); err != nil {
			return errors.New("set TCP option: " + err.String())
		}
	}
	return nil
}
