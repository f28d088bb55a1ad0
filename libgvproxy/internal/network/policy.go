package network

import (
	"net/netip"

	"bun-gvproxy/libgvproxy/internal/audit"
	"bun-gvproxy/libgvproxy/internal/policy"
	"bun-gvproxy/libgvproxy/internal/policy/dnsscreen"
)

// Transport names the protocol of an outbound flow.
type Transport string

const (
	TCP Transport = "tcp"
	UDP Transport = "udp"
	// ICMP is the guest's echo requests (ping), the only ICMP forwarded.
	ICMP Transport = policy.EchoProto
)

// decide applies the egress policy in force to a new flow to dst (port 0 for ICMP).
func (n *Network) decide(proto Transport, dst netip.AddrPort) policy.Decision {
	if proto == ICMP {
		return n.rules.Load().DecideEcho(dst.Addr())
	}
	return n.rules.Load().Decide(string(proto), dst)
}

// buildRules is the egress policy of an allowNet list: nil (no filtering) for an empty
// list, policy.None() for "none", else the parsed rules with the host loopback address
// marked as the host's (reachable only when listed exactly).
func buildRules(allowNet []string, none bool, hostLoopback bool, hostLoopbackIP netip.Addr) (*policy.Policy, error) {
	if none {
		return policy.None(), nil
	}
	if len(allowNet) == 0 {
		return nil, nil
	}
	rules, err := policy.ParseAllowNet(allowNet)
	if err != nil {
		return nil, err
	}
	if hostLoopback {
		rules.MarkHostAddress(hostLoopbackIP)
	}
	return rules, nil
}

// dnsRules is the current policy as the DNS screen sees it.
func (n *Network) dnsRules() dnsscreen.Rules { return n.rules.Load() }

// destinationGuard holds the rules no policy can relax: the NAT forwarders never dial
// the host itself (loopback, 0.0.0.0) except through the host loopback address, never
// link-local addresses (cloud metadata services), never broadcast or multicast, and
// never another address of the virtual subnet (the gateway's own services, including
// the HTTP API upstream serves there, are not on the host network). With host loopback
// off, the host's own interface addresses are refused too: then no route reaches the
// host, whatever allowNet lists.
type destinationGuard struct {
	subnet       netip.Prefix
	loopbackIP   netip.Addr // valid only when host loopback is enabled
	hostLoopback bool
	isHostAddr   func(netip.Addr) bool
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
		hostLoopback: hostLoopback,
		isHostAddr:   policy.IsHostAddress,
	}
	if hostLoopback {
		g.loopbackIP = loopbackIP
	}
	return g
}

// resolve maps the guest's destination to the host address to dial, or says why there
// is none (a reason code and a sentence).
func (g *destinationGuard) resolve(dst netip.Addr) (netip.Addr, audit.Reason, string) {
	switch {
	case g.loopbackIP.IsValid() && dst == g.loopbackIP:
		return netip.AddrFrom4([4]byte{127, 0, 0, 1}), "", ""
	case g.isBroadcastOrMulticast(dst):
		return netip.Addr{}, audit.VirtualSubnet, "destination is broadcast or multicast"
	case g.subnet.Contains(dst):
		return netip.Addr{}, audit.VirtualSubnet, "destination is inside the virtual subnet"
	case g.loopbackNet.Contains(dst), dst.IsUnspecified():
		return netip.Addr{}, audit.HostLoopback, "destination is the host's loopback or unspecified address"
	case g.linkLocal.Contains(dst):
		return netip.Addr{}, audit.LinkLocal, "destination is link-local"
	case !g.hostLoopback && g.isHostAddr(dst):
		return netip.Addr{}, audit.HostLoopback, "destination is an address of the host itself, and hostLoopback is off"
	}
	return dst, "", ""
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
