package network

import (
	"errors"
	"fmt"
	"io/fs"
	"math"
	"net/netip"
	"os"
	"syscall"

	"github.com/containers/gvisor-tap-vsock/pkg/tap"
	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/link/sniffer"
	"gvisor.dev/gvisor/pkg/tcpip/network/arp"
	"gvisor.dev/gvisor/pkg/tcpip/network/ipv4"
	"gvisor.dev/gvisor/pkg/tcpip/stack"
	"gvisor.dev/gvisor/pkg/tcpip/transport/icmp"
	"gvisor.dev/gvisor/pkg/tcpip/transport/tcp"
	"gvisor.dev/gvisor/pkg/tcpip/transport/udp"

	"bun-gvproxy/libgvproxy/internal/config"
	"bun-gvproxy/libgvproxy/internal/errs"
	"bun-gvproxy/libgvproxy/internal/l2switch"
)

// nicID is the only NIC of the stack: the gateway's side of the virtual switch.
const nicID tcpip.NICID = 1

// TCP buffer sizes of the gateway's stack. The defaults of gVisor (1 MiB default, 4 MiB
// max) limit one flow's throughput at high MTU; auto-tuning grows buffers up to the max.
const (
	tcpBufferMin     = 4 << 10
	tcpBufferDefault = 1 << 20
	tcpBufferMax     = 8 << 20
)

func addrOf(ip netip.Addr) tcpip.Address { return tcpip.AddrFrom4(ip.As4()) }

// newLink builds the gateway's link endpoint and the switch the guest connections plug
// into. Host loopback's address is answered by ARP only when host loopback is enabled.
func newLink(cfg *config.Config) (*tap.LinkEndpoint, *l2switch.Switch, error) {
	var virtualIPs []string
	if cfg.HostLoopback {
		virtualIPs = []string{cfg.HostLoopbackIP.String()}
	}
	link, err := tap.NewLinkEndpoint(cfg.Debug, uint32(cfg.MTU), cfg.GatewayMAC.String(), cfg.GatewayIP.String(), virtualIPs)
	if err != nil {
		return nil, nil, fmt.Errorf("create tap link endpoint: %w", err)
	}
	sw := l2switch.New(link)
	link.Connect(sw)
	return link, sw, nil
}

// withCapture wraps the link in a pcap writer when a capture file is configured. The
// returned file (nil without capture) must be closed after the stack is gone.
func withCapture(link stack.LinkEndpoint, path string) (stack.LinkEndpoint, *os.File, error) {
	if path == "" {
		return link, nil, nil
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o644)
	if err != nil {
		if errors.Is(err, fs.ErrPermission) || errors.Is(err, syscall.EROFS) {
			return nil, nil, errs.Field(errs.PermissionDenied, "captureFile", "cannot create capture file %s: %v", path, err)
		}
		// Validation caught the predictable cases; whatever else the file system refuses
		// (a name it cannot store, a read-only special file) is still the caller's field.
		return nil, nil, errs.Field(errs.InvalidConfig, "captureFile", "cannot create capture file %s: %v", path, err)
	}
	wrapped, err := sniffer.NewWithWriter(link, f, math.MaxUint32)
	if err != nil {
		_ = f.Close()
		return nil, nil, fmt.Errorf("start packet capture to %s: %w", path, err)
	}
	return wrapped, f, nil
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
