package policy

import (
	"fmt"
	"net/netip"
	"strings"

	"bun-gvproxy/libgvproxy/internal/audit"
)

// Inspection says what the first bytes of an allowed TCP connection must prove before
// the host dials out.
type Inspection int

const (
	// InspectNone: the destination is allowed as is.
	InspectNone Inspection = iota
	// InspectTLS: the TLS ClientHello's server name must be an allowed name (port 443).
	InspectTLS
	// InspectHTTP: the HTTP request's host must be an allowed name (port 80).
	InspectHTTP
)

func (i Inspection) String() string {
	switch i {
	case InspectTLS:
		return "tls"
	case InspectHTTP:
		return "http"
	default:
		return "none"
	}
}

// Decision is the verdict on one new TCP connection or UDP flow.
type Decision struct {
	Allow  bool
	Reason string // for a person: which entry allowed it, or why it was refused
	// Code is the reason code of a refusal (empty when allowed).
	Code audit.Reason
	// Inspect is set when the destination is allowed only because an allowed name
	// resolved to it, on TCP 443 or 80: the address may serve many sites, so the first
	// bytes must name an allowed host (see ReadPrefix and CheckFirstBytes; for HTTP,
	// GuardHTTPRequests checks every later request of the connection too).
	Inspect Inspection
	// Names are the allowed names that resolved to the destination (sorted); set when
	// the destination was allowed by name.
	Names []string

	proto  string
	dst    netip.AddrPort
	policy *Policy
}

// Destination is the address and port the decision is about.
func (d Decision) Destination() netip.AddrPort { return d.dst }

// AcceptsName reports whether host may be reached on this decision's port: it is
// allowed by a name or wildcard entry covering the port.
func (d Decision) AcceptsName(host string) bool {
	_, ok := d.policy.nameRule(host, d.dst.Port())
	return ok
}

// Decide rules on a new outbound TCP connection or UDP flow from the guest to dst, as
// the guest addressed it (before any NAT), before the host dials anything. proto is
// "tcp" or "udp". A refusal is only returned: the caller reports it (Denial) to the
// auditor, which counts it.
//
// In order: an IP/CIDR entry covering dst and its port allows it (the host's own
// addresses only through an entry naming that exact address); otherwise an allowed
// name that resolved to dst through the gateway DNS, with an entry covering the port,
// allows it, with inspection on TCP 443/80 and never over UDP 443 (QUIC hides the name
// from inspection; clients fall back to TCP); everything else is refused.
func (p *Policy) Decide(proto string, dst netip.AddrPort) Decision {
	if !p.Enabled() {
		return Decision{Allow: true, Reason: "egress filtering off (allowNet empty)", proto: proto, dst: dst, policy: p}
	}
	dst = netip.AddrPortFrom(dst.Addr().Unmap().WithZone(""), dst.Port())
	d := p.decide(proto, dst)
	d.proto, d.dst, d.policy = proto, dst, p
	return d
}

// Denial is the refusal to report for a decision that did not allow the flow.
func (d Decision) Denial() audit.Denial {
	return audit.Denial{Reason: d.Code, Proto: d.proto, Destination: audit.AddrPort(d.dst), Detail: d.Reason}
}

func (p *Policy) decide(proto string, dst netip.AddrPort) Decision {
	deny := func(code audit.Reason, format string, args ...any) Decision {
		return Decision{Code: code, Reason: fmt.Sprintf(format, args...)}
	}
	if p.none {
		return deny(audit.EgressNone, "allowNet is \"none\": no egress")
	}
	if proto != "tcp" && proto != "udp" {
		return deny(audit.IPNotAllowed, "protocol %q is not filtered, so it is refused", proto)
	}
	addr, port := dst.Addr(), dst.Port()
	if !addr.IsValid() || port == 0 {
		return deny(audit.IPNotAllowed, "invalid destination")
	}
	isHost := p.isHostAddress(addr)
	hostBlockedBy := ""
	portBlockedBy := ""
	for _, r := range p.prefixes {
		if !r.prefix.Contains(addr) {
			continue
		}
		if !r.allowsPort(port) {
			portBlockedBy = r.String()
			continue
		}
		if isHost && !r.prefix.IsSingleIP() {
			hostBlockedBy = r.String()
			continue
		}
		return Decision{Allow: true, Reason: fmt.Sprintf("allowed by allowNet[%d] %s", r.index, r)}
	}
	if hostBlockedBy != "" {
		return deny(audit.HostLoopback, "%s is the host itself; %s covers it but only an entry naming the exact address opens the host", addr, hostBlockedBy)
	}

	learned := p.learned.namesFor(addr, p.now())
	if len(learned) == 0 && portBlockedBy != "" {
		return deny(audit.PortNotAllowed, "port %d is not allowed for %s (%s covers the address on another port)", port, addr, portBlockedBy)
	}
	if len(learned) == 0 {
		return deny(audit.IPNotAllowed, "no allowNet entry covers %s and no allowed name resolved to it", dst)
	}
	var names []string
	for _, n := range learned {
		if _, ok := p.nameRule(n, port); ok {
			names = append(names, n)
		}
	}
	if len(names) == 0 {
		return deny(audit.PortNotAllowed, "port %d is not allowed for %s", port, strings.Join(learned, ", "))
	}
	if isHost {
		return deny(audit.HostLoopback, "%s resolved to %s, the host itself (DNS rebinding); only an entry naming the exact address opens the host", strings.Join(names, ", "), addr)
	}
	d := Decision{Allow: true, Names: names, Reason: "resolved from allowed name " + strings.Join(names, ", ")}
	switch {
	case proto == "udp" && port == 443:
		return deny(audit.QUICRefused, "UDP 443 (QUIC) to %s cannot be checked by server name; use TCP", strings.Join(names, ", "))
	case proto == "tcp" && port == 443:
		d.Inspect = InspectTLS
	case proto == "tcp" && port == 80:
		d.Inspect = InspectHTTP
	}
	return d
}

// Rules is the policy that made the decision (nil for no filtering).
func (d Decision) Rules() *Policy { return d.policy }
