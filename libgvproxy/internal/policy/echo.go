package policy

import (
	"fmt"
	"net/netip"
	"strings"

	"bun-gvproxy/libgvproxy/internal/audit"
)

// EchoProto is the protocol of an ICMP echo request (ping) in decisions and denials.
const EchoProto = "icmp"

// DecideEcho rules on an ICMP echo request from the guest to dst, as the guest
// addressed it, before the host sends anything.
//
// Ping has no port, so it is allowed only where the guest may reach every port: an
// IP/CIDR entry without a port covering dst (the host itself only through an entry
// naming that exact address), or an allowed name without a port that resolved to dst
// and is not the host. An entry with a port opens that port and nothing else: ping is
// a channel too (payloads reach the destination and come back), so it needs an entry
// that opens the whole address.
func (p *Policy) DecideEcho(dst netip.Addr) Decision {
	dst = dst.Unmap().WithZone("")
	at := netip.AddrPortFrom(dst, 0)
	if !p.Enabled() {
		return Decision{Allow: true, Reason: "egress filtering off (allowNet empty)", proto: EchoProto, dst: at, policy: p}
	}
	d := p.decideEcho(dst)
	d.proto, d.dst, d.policy = EchoProto, at, p
	return d
}

func (p *Policy) decideEcho(addr netip.Addr) Decision {
	deny := func(code audit.Reason, format string, args ...any) Decision {
		return Decision{Code: code, Reason: fmt.Sprintf(format, args...)}
	}
	if p.none {
		return deny(audit.EgressNone, "allowNet is \"none\": no egress")
	}
	if !addr.IsValid() {
		return deny(audit.IPNotAllowed, "invalid destination")
	}
	isHost := p.isHostAddress(addr)
	hostBlockedBy, portOnly := "", ""
	for _, r := range p.prefixes {
		switch {
		case !r.prefix.Contains(addr):
		case r.port != 0:
			if portOnly == "" {
				portOnly = r.String()
			}
		case isHost && !r.prefix.IsSingleIP():
			hostBlockedBy = r.String()
		default:
			return Decision{Allow: true, Reason: fmt.Sprintf("allowed by allowNet[%d] %s", r.index, r)}
		}
	}
	if hostBlockedBy != "" {
		return deny(audit.HostLoopback, "%s is the host itself; %s covers it but only an entry naming the exact address opens the host", addr, hostBlockedBy)
	}
	learned := p.learned.namesFor(addr, p.now())
	var names []string
	for _, n := range learned {
		if _, ok := p.nameRuleWhere(n, func(r rule) bool { return r.port == 0 }); ok {
			names = append(names, n)
		}
	}
	switch {
	case len(names) > 0 && isHost:
		return deny(audit.HostLoopback, "%s resolved to %s, the host itself (DNS rebinding); only an entry naming the exact address opens the host", strings.Join(names, ", "), addr)
	case len(names) > 0:
		return Decision{Allow: true, Names: names, Reason: "resolved from allowed name " + strings.Join(names, ", ")}
	case len(learned) > 0:
		return deny(audit.PortNotAllowed, "ping to %s needs an entry without a port; %s is allowed on a port only", addr, strings.Join(learned, ", "))
	case portOnly != "":
		return deny(audit.PortNotAllowed, "ping to %s needs an entry without a port; %s covers the address on a port only", addr, portOnly)
	}
	return deny(audit.IPNotAllowed, "no allowNet entry covers %s and no allowed name resolved to it", addr)
}
