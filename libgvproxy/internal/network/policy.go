package network

import (
	"net"
	"net/netip"

	"bun-gvproxy/libgvproxy/internal/policy"
)

// Transport names the protocol of an outbound flow for a Policy.
type Transport string

const (
	TCP Transport = "tcp"
	UDP Transport = "udp"
)

// Policy is the egress policy hook: it rules on every new outbound flow of the guest
// and screens the gateway DNS. Refusals it makes itself (connections, inspected first
// bytes, DNS queries) are reported to the OnDeny hook, which counts and logs them.
type Policy interface {
	// Decide rules on a new flow to dst as the guest addressed it (before NAT). An
	// allowed decision may ask for inspection of the connection's first bytes.
	Decide(proto Transport, dst netip.AddrPort) policy.Decision
	// ScreenDNS wraps the gateway DNS server's sockets; zones are the configured
	// dnsZones, whose names the gateway answers whatever the policy.
	ScreenDNS(udp net.PacketConn, tcp net.Listener, zones []string) (net.PacketConn, net.Listener)
	// OnDeny installs the function told of every refusal the policy makes.
	OnDeny(fn func(policy.Denial))
}

// AllowAll is the default policy: no egress filtering.
type AllowAll struct{}

func (AllowAll) Decide(Transport, netip.AddrPort) policy.Decision {
	return policy.Decision{Allow: true, Reason: "egress filtering off (allowNet empty)"}
}

func (AllowAll) ScreenDNS(udp net.PacketConn, tcp net.Listener, _ []string) (net.PacketConn, net.Listener) {
	return udp, tcp
}

func (AllowAll) OnDeny(func(policy.Denial)) {}

// allowNetPolicy adapts the egress policy engine (config `allowNet`) to Policy.
type allowNetPolicy struct{ engine *policy.Policy }

func (a allowNetPolicy) Decide(proto Transport, dst netip.AddrPort) policy.Decision {
	return a.engine.Decide(string(proto), dst)
}

func (a allowNetPolicy) ScreenDNS(udp net.PacketConn, tcp net.Listener, zones []string) (net.PacketConn, net.Listener) {
	a.engine.ExemptDNSZones(zones...)
	return a.engine.ScreenDNSPacketConn(udp), a.engine.ScreenDNSListener(tcp)
}

func (a allowNetPolicy) OnDeny(fn func(policy.Denial)) { a.engine.OnDeny(fn) }

// watchDenials counts every refusal the policy reports in policy.denied and logs it at
// debug with destination and reason.
func (n *Network) watchDenials() {
	n.policy.OnDeny(func(d policy.Denial) {
		n.policyDenied.Add(1)
		n.log.Debugf("egress denied: %s", d)
	})
}

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
	case !g.hostLoopback && g.isHostAddr(dst):
		return netip.Addr{}, "destination is an address of the host itself, and hostLoopback is off"
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
