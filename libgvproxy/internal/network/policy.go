package network

import (
	"net/netip"

	"bun-gvproxy/libgvproxy/internal/policy"
)

// Transport names the protocol of an outbound flow for a Policy.
type Transport string

const (
	TCP Transport = "tcp"
	UDP Transport = "udp"
)

// Policy decides whether the guest may open an outbound flow to dst:port on the host's
// network. It is the hook of the egress policy; reason is logged when a flow is denied.
type Policy interface {
	Allow(proto Transport, dst netip.Addr, port uint16) (allowed bool, reason string)
}

// AllowAll is the default policy: no egress filtering.
type AllowAll struct{}

func (AllowAll) Allow(Transport, netip.Addr, uint16) (bool, string) { return true, "" }

// allowNetPolicy adapts the egress policy engine (config `allowNet`) to Policy. It
// fails closed where the engine asks for first-byte inspection (TCP 443/80 allowed only
// by a name): the NAT forwarder does not run that inspection yet.
type allowNetPolicy struct{ engine *policy.Policy }

func (a allowNetPolicy) Allow(proto Transport, dst netip.Addr, port uint16) (bool, string) {
	d := a.engine.Decide(string(proto), netip.AddrPortFrom(dst, port))
	if !d.Allow {
		return false, d.Reason
	}
	if d.Inspect != policy.InspectNone {
		return false, "allowed only after " + d.Inspect.String() + " inspection, which this forwarder does not run"
	}
	return true, ""
}

// destinationGuard holds the rules no policy can relax: the NAT forwarders never dial
// the host itself (loopback, 0.0.0.0) except through the host loopback address, never
// link-local addresses (cloud metadata services), never broadcast or multicast, and
// never another address of the virtual subnet (the gateway's own services, including
// the HTTP API upstream serves there, are not on the host network).
type destinationGuard struct {
	subnet       netip.Prefix
	loopbackIP   netip.Addr // valid only when host loopback is enabled
	linkLocal    netip.Prefix
	loopbackNet  netip.Prefix
	multicastNet netip.Prefix
}

func newDestinationGuard(subnet netip.Prefix, hostLoopback bool, loopbackIP netip.Addr) *destinationGuard {
	g := &destinationGuard{
		subnet:       subnet,
		linkLocal:    netip.MustParsePrefix("169.254.0.0/16"),
		loopbackNet:  netip.MustParsePrefix("127.0.0.0/8"),
		multicastNet: netip.MustParsePrefix("224.0.0.0/4"),
	}
	if hostLoopback {
		g.loopbackIP = loopbackIP
	}
	return g
}

// resolve maps the guest's destination to the host address to dial, or explains why
// there is none.
func (g *destinationGuard) resolve(dst netip.Addr) (netip.Addr, string) {
	switch {
	case g.loopbackIP.IsValid() && dst == g.loopbackIP:
		return netip.AddrFrom4([4]byte{127, 0, 0, 1}), ""
	case g.isBroadcastOrMulticast(dst):
		return netip.Addr{}, "destination is broadcast or multicast"
	case g.subnet.Contains(dst):
		return netip.Addr{}, "destination is inside the virtual subnet"
	case g.loopbackNet.Contains(dst), dst.IsUnspecified():
		return netip.Addr{}, "destination is the host's loopback or unspecified address"
	case g.linkLocal.Contains(dst):
		return netip.Addr{}, "destination is link-local"
	}
	return dst, ""
}

// isBroadcastOrMulticast reports local-network chatter (mDNS, SSDP, broadcasts) that is
// never forwarded and, not being an attempt to reach anything, is not counted as denied.
func (g *destinationGuard) isBroadcastOrMulticast(dst netip.Addr) bool {
	return g.multicastNet.Contains(dst) || dst == netip.AddrFrom4([4]byte{255, 255, 255, 255}) ||
		dst == lastAddr(g.subnet)
}

func lastAddr(p netip.Prefix) netip.Addr {
	b := p.Masked().Addr().As4()
	hostBits := 32 - p.Bits()
	for i := 3; i >= 0 && hostBits > 0; i-- {
		n := min(hostBits, 8)
		b[i] |= byte(1<<n - 1)
		hostBits -= n
	}
	return netip.AddrFrom4(b)
}
