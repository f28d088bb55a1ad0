package policy

import (
	"errors"
	"net/netip"
	"strings"
	"sync/atomic"
	"time"

	"bun-gvproxy/libgvproxy/internal/audit"
)

// Policy is a parsed allowNet list plus what it learned from DNS answers. Rules never
// change after ParseAllowNet (setAllowNet builds a new Policy, see Replace); learned
// names change under their own lock. It counts nothing: refusals come back as values
// (Decision, *DeniedError) for the caller to report to internal/audit, the one place
// denials are counted. All methods are safe for concurrent use, and a nil or empty
// Policy allows everything (no filtering).
type Policy struct {
	exact     map[string][]rule // kindName rules by name
	wildcards map[string][]rule // kindWildcard rules by the domain below "*."
	prefixes  []rule            // kindPrefix rules, in entry order
	learned   *learnedNames
	hostAddrs *hostAddresses
	aliases   atomic.Pointer[[]netip.Addr] // guest-visible addresses NATed to the host
	none      bool                         // allowNet "none": every egress flow is refused
	now       func() time.Time
}

// None is the policy of allowNet "none": every egress flow is refused and no name
// resolves through the host's resolvers (configured zones still answer).
func None() *Policy {
	return &Policy{exact: map[string][]rule{}, wildcards: map[string][]rule{}, learned: newLearnedNames(),
		hostAddrs: defaultHostAddresses, none: true, now: time.Now}
}

// IsNone reports whether this is the "none" policy.
func (p *Policy) IsNone() bool { return p != nil && p.none }

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
	return p != nil && (p.none || len(p.exact) > 0 || len(p.wildcards) > 0 || len(p.prefixes) > 0)
}

// Rules returns the entries in canonical form (lowercase names, no trailing dot,
// IPv6 with a port in brackets), for logs and diagnostics.
func (p *Policy) Rules() []string {
	if p == nil {
		return nil
	}
	if p.none {
		return []string{"none"}
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
	return p.nameRuleWhere(host, func(r rule) bool { return port == 0 || r.allowsPort(port) })
}

// nameRuleWhere finds the first name or wildcard rule covering host that ok accepts.
func (p *Policy) nameRuleWhere(host string, ok func(rule) bool) (rule, bool) {
	if p == nil {
		return rule{}, false
	}
	name, err := normaliseName(host)
	if err != nil {
		return rule{}, false
	}
	for _, r := range p.exact[name] {
		if ok(r) {
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
			if ok(r) {
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

// DeniedError is returned when inspected bytes refuse a connection; Denial is what to
// report to the auditor.
type DeniedError struct{ Denial audit.Denial }

func (e *DeniedError) Error() string { return "egress denied: " + e.Denial.String() }

// IsDenied reports whether err is a policy denial (as opposed to an I/O error).
func IsDenied(err error) bool {
	var d *DeniedError
	return errors.As(err, &d)
}

// AsDenied returns the denial err carries, if it is one.
func AsDenied(err error) (audit.Denial, bool) {
	var d *DeniedError
	if errors.As(err, &d) {
		return d.Denial, true
	}
	return audit.Denial{}, false
}
