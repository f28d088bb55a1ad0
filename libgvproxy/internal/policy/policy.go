package policy

import (
	"errors"
	"net/netip"
	"strings"
	"sync/atomic"
	"time"
)

// Policy is a parsed allowNet list plus what it learned from DNS answers. Rules never
// change after ParseAllowNet; learned names change under their own lock; the denial
// counter and hook are atomic. All methods are safe for concurrent use, and a nil or
// empty Policy allows everything (no filtering).
type Policy struct {
	exact     map[string][]rule // kindName rules by name
	wildcards map[string][]rule // kindWildcard rules by the domain below "*."
	prefixes  []rule            // kindPrefix rules, in entry order
	learned   *learnedNames
	hostAddrs *hostAddresses
	aliases   atomic.Pointer[[]netip.Addr] // guest-visible addresses NATed to the host
	zones     []string                     // dnsZones the gateway answers itself (ExemptDNSZones)
	denied    atomic.Uint64
	onDeny    atomic.Pointer[func(Denial)]
	now       func() time.Time
}

// ParseAllowNet validates and normalises the allowNet entries. The first bad entry
// is reported as an *EntryError naming its index. An empty list yields a Policy that
// allows everything (Enabled reports false).
func ParseAllowNet(entries []string) (*Policy, error) {
	p := &Policy{
		exact:     map[string][]rule{},
		wildcards: map[string][]rule{},
		learned:   newLearnedNames(),
		hostAddrs: defaultHostAddresses,
		now:       time.Now,
	}
	for i, entry := range entries {
		r, err := parseEntry(i, entry)
		if err != nil {
			return nil, err
		}
		switch r.kind {
		case kindName:
			p.exact[r.name] = append(p.exact[r.name], r)
		case kindWildcard:
			p.wildcards[r.name] = append(p.wildcards[r.name], r)
		case kindPrefix:
			p.prefixes = append(p.prefixes, r)
		}
	}
	return p, nil
}

// Enabled reports whether the policy filters anything (allowNet was non-empty).
func (p *Policy) Enabled() bool {
	return p != nil && (len(p.exact) > 0 || len(p.wildcards) > 0 || len(p.prefixes) > 0)
}

// Rules returns the entries in canonical form (lowercase names, no trailing dot,
// IPv6 with a port in brackets), for logs and diagnostics.
func (p *Policy) Rules() []string {
	if p == nil {
		return nil
	}
	all := make([]rule, 0, len(p.prefixes))
	for _, rs := range p.exact {
		all = append(all, rs...)
	}
	for _, rs := range p.wildcards {
		all = append(all, rs...)
	}
	all = append(all, p.prefixes...)
	out := make([]string, len(all))
	for _, r := range all {
		out[r.index] = r.String()
	}
	return out
}

// MarkHostAddress declares guest-visible addresses that reach the host itself (the
// hostLoopback NAT address). Like the host's own addresses they are reachable only
// through an allowNet entry naming that exact address, never through a broader CIDR
// or a learned name. Call it while setting up, before the network runs.
func (p *Policy) MarkHostAddress(addrs ...netip.Addr) {
	if p == nil {
		return
	}
	var merged []netip.Addr
	if old := p.aliases.Load(); old != nil {
		merged = append(merged, *old...)
	}
	for _, a := range addrs {
		merged = append(merged, a.Unmap().WithZone(""))
	}
	p.aliases.Store(&merged)
}

// MatchesName reports whether host (a DNS name, any case, optional trailing dot) is
// allowed by a name or wildcard entry, on any port.
func (p *Policy) MatchesName(host string) bool {
	_, ok := p.nameRule(host, 0)
	return ok
}

// nameRule finds the name or wildcard rule allowing host on port (0: any port).
func (p *Policy) nameRule(host string, port uint16) (rule, bool) {
	if p == nil {
		return rule{}, false
	}
	name, err := normaliseName(host)
	if err != nil {
		return rule{}, false
	}
	for _, r := range p.exact[name] {
		if port == 0 || r.allowsPort(port) {
			return r, true
		}
	}
	// A wildcard covers names strictly below its domain, at any depth.
	for rest := name; ; {
		dot := strings.IndexByte(rest, '.')
		if dot < 0 {
			break
		}
		rest = rest[dot+1:]
		for _, r := range p.wildcards[rest] {
			if port == 0 || r.allowsPort(port) {
				return r, true
			}
		}
	}
	return rule{}, false
}

// isHostAddress reports whether addr is the host itself, by address or by NAT alias.
func (p *Policy) isHostAddress(addr netip.Addr) bool {
	if aliases := p.aliases.Load(); aliases != nil {
		for _, a := range *aliases {
			if a == addr {
				return true
			}
		}
	}
	return p.hostAddrs.contains(addr)
}

// Denial describes one refused attempt, for the debug log.
type Denial struct {
	Proto  string         // "tcp", "udp" or "dns"
	Dst    netip.AddrPort // zero for DNS
	Name   string         // the DNS name, SNI or Host involved, if any
	Reason string
}

func (d Denial) String() string {
	var b strings.Builder
	b.WriteString(d.Proto)
	if d.Dst.IsValid() {
		b.WriteString(" ")
		b.WriteString(d.Dst.String())
	}
	if d.Name != "" {
		b.WriteString(" name=")
		b.WriteString(d.Name)
	}
	b.WriteString(": ")
	b.WriteString(d.Reason)
	return b.String()
}

// OnDeny installs a function called (synchronously, on the connecting goroutine) for
// every denial, so the network core can log it at debug. It must not block.
func (p *Policy) OnDeny(fn func(Denial)) {
	if p != nil {
		p.onDeny.Store(&fn)
	}
}

// Denied is the number of attempts refused so far: connections, inspected first bytes
// and DNS queries. It feeds the `policy.denied` stat.
func (p *Policy) Denied() uint64 {
	if p == nil {
		return 0
	}
	return p.denied.Load()
}

func (p *Policy) recordDenial(d Denial) {
	p.denied.Add(1)
	if fn := p.onDeny.Load(); fn != nil && *fn != nil {
		(*fn)(d)
	}
}

// DeniedError is returned when inspected first bytes refuse a connection.
type DeniedError struct{ Denial Denial }

func (e *DeniedError) Error() string { return "egress denied: " + e.Denial.String() }

// IsDenied reports whether err is a policy denial (as opposed to an I/O error).
func IsDenied(err error) bool {
	var d *DeniedError
	return errors.As(err, &d)
}
