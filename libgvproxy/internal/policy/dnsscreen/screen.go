// Package dnsscreen screens the gateway DNS for the egress policy: queries for names the
// rules do not allow are answered NXDOMAIN before the server sees them, A queries inside
// the configured zones are answered from the zones (replaceable at runtime), answers teach the rules which
// addresses allowed names resolve to (with TTLs capped to how long they stay open), and
// every query becomes a `dns` event when one has a listener. The DNS server
// (gvisor-tap-vsock's, built on miekg/dns) is not ours to change, so the screen sits on
// its sockets (PacketConn, Listener). Refusals are reported to internal/audit.
package dnsscreen

import (
	"net/netip"
	"sync/atomic"
	"time"

	"bun-gvproxy/libgvproxy/internal/audit"
)

// Rules is what the screen needs of the egress policy (a *policy.Policy).
type Rules interface {
	// Enabled reports whether names are filtered at all.
	Enabled() bool
	// MatchesName reports whether a name is allowed (any case, optional trailing dot).
	MatchesName(name string) bool
	// Learn records that an allowed name resolved to addrs for ttl.
	Learn(name string, addrs []netip.Addr, ttl time.Duration)
}

// Screen holds the rules and zones of one network's gateway DNS. Both may be replaced
// while it runs (setAllowNet, setDnsZones); each query sees one consistent pair.
type Screen struct {
	rules func() Rules
	zones atomic.Pointer[[]Zone]
	audit *audit.Auditor
}

// New returns a screen asking rules for the current rules on every message and
// reporting refusals and events to a.
func New(rules func() Rules, a *audit.Auditor) *Screen {
	return &Screen{rules: rules, audit: a}
}

// active reports whether a message needs looking at: filtering is on, zones are
// configured, or a listener wants DNS events.
func (s *Screen) active(rules Rules) bool {
	return rules.Enabled() || s.hasZones() || s.audit.Wants(audit.KindDNS)
}
