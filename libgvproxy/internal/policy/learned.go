package policy

import (
	"net"
	"net/netip"
	"sort"
	"sync"
	"time"
)

// Bounds on how long a learned name-to-address binding lasts. The minimum keeps a name
// usable right after a TTL-0 answer (gvisor-tap-vsock's DNS answers with TTL 0, and a
// client connects a moment after resolving). The maximum bounds how long an address a
// name has moved away from stays open; the gateway DNS should not hand the guest a TTL
// above it (see CapTTLs), or the guest's cache could outlive the binding.
const (
	MinLearnTTL = 30 * time.Second
	MaxLearnTTL = time.Hour
)

// maxLearnedBindings bounds memory: a guest resolving endless names under an allowed
// wildcard cannot grow the table without limit. At the bound the bindings closest to
// expiry are evicted.
const (
	maxLearnedBindings = 1 << 16
	evictBatch         = maxLearnedBindings / 16
)

// learnedNames maps an address to the allowed names that resolved to it and when each
// binding expires.
type learnedNames struct {
	mu        sync.RWMutex
	byAddr    map[netip.Addr]map[string]time.Time
	size      int
	nextPrune time.Time
}

func newLearnedNames() *learnedNames {
	return &learnedNames{byAddr: map[netip.Addr]map[string]time.Time{}}
}

// clampTTL applies MinLearnTTL and MaxLearnTTL.
func clampTTL(ttl time.Duration) time.Duration {
	return min(max(ttl, MinLearnTTL), MaxLearnTTL)
}

func (l *learnedNames) observe(name string, addrs []netip.Addr, ttl time.Duration, now time.Time) {
	expiry := now.Add(clampTTL(ttl))
	l.mu.Lock()
	defer l.mu.Unlock()
	if !now.Before(l.nextPrune) {
		l.pruneLocked(now)
	}
	for _, addr := range addrs {
		names := l.byAddr[addr]
		if names == nil {
			names = map[string]time.Time{}
			l.byAddr[addr] = names
		}
		old, known := names[name]
		if known {
			// A later answer with a shorter TTL does not shorten what an earlier one promised.
			if expiry.After(old) {
				names[name] = expiry
			}
			continue
		}
		if l.size >= maxLearnedBindings {
			l.pruneLocked(now)
			if l.size >= maxLearnedBindings {
				l.evictSoonestLocked()
			}
			// Eviction may have removed this address's (then empty) set.
			names = l.byAddr[addr]
			if names == nil {
				names = map[string]time.Time{}
				l.byAddr[addr] = names
			}
		}
		names[name] = expiry
		l.size++
	}
}

// namesFor returns the unexpired names bound to addr, sorted.
func (l *learnedNames) namesFor(addr netip.Addr, now time.Time) []string {
	l.mu.RLock()
	defer l.mu.RUnlock()
	var out []string
	for name, expiry := range l.byAddr[addr] {
		if now.Before(expiry) {
			out = append(out, name)
		}
	}
	sort.Strings(out)
	return out
}

// len is the number of bindings held, expired or not (for tests of pruning).
func (l *learnedNames) len() int {
	l.mu.RLock()
	defer l.mu.RUnlock()
	return l.size
}

func (l *learnedNames) pruneLocked(now time.Time) {
	for addr, names := range l.byAddr {
		for name, expiry := range names {
			if !now.Before(expiry) {
				delete(names, name)
				l.size--
			}
		}
		if len(names) == 0 {
			delete(l.byAddr, addr)
		}
	}
	l.nextPrune = now.Add(MinLearnTTL)
}

// evictSoonestLocked drops the evictBatch bindings closest to expiry. Evicting a batch
// rather than one keeps a flood from paying a full scan on every insert.
func (l *learnedNames) evictSoonestLocked() {
	type binding struct {
		addr   netip.Addr
		name   string
		expiry time.Time
	}
	all := make([]binding, 0, l.size)
	for addr, names := range l.byAddr {
		for name, expiry := range names {
			all = append(all, binding{addr, name, expiry})
		}
	}
	sort.Slice(all, func(i, j int) bool { return all[i].expiry.Before(all[j].expiry) })
	for _, b := range all[:min(evictBatch, len(all))] {
		delete(l.byAddr[b.addr], b.name)
		if len(l.byAddr[b.addr]) == 0 {
			delete(l.byAddr, b.addr)
		}
		l.size--
	}
}

// ObserveDNSAnswer records that qname resolved to ips, for ttl (clamped to
// [MinLearnTTL, MaxLearnTTL]). It is ignored unless qname is allowed by a name or
// wildcard entry: only allowed names open addresses. Call it with the name the guest
// asked for, even when the addresses came at the end of a CNAME chain.
func (p *Policy) ObserveDNSAnswer(qname string, ips []net.IP, ttl time.Duration) {
	addrs := make([]netip.Addr, 0, len(ips))
	for _, ip := range ips {
		if addr, ok := netip.AddrFromSlice(ip); ok {
			addrs = append(addrs, addr)
		}
	}
	p.Learn(qname, addrs, ttl)
}

// Learn records that qname resolved to addrs, for ttl (clamped to [MinLearnTTL,
// MaxLearnTTL]); ignored unless qname is allowed by a name or wildcard entry.
func (p *Policy) Learn(qname string, addrs []netip.Addr, ttl time.Duration) {
	if !p.Enabled() || !p.MatchesName(qname) {
		return
	}
	name, err := normaliseName(qname)
	if err != nil {
		return
	}
	usable := addrs[:0:0]
	for _, a := range addrs {
		a = a.Unmap()
		if a.IsValid() && !a.IsUnspecified() {
			usable = append(usable, a)
		}
	}
	if len(usable) > 0 {
		p.learned.observe(name, usable, ttl, p.now())
	}
}

// InheritLearned copies from old the unexpired bindings of names p allows too, so that
// replacing the rules (setAllowNet) keeps addresses open for names still allowed and
// forgets those of names no longer allowed. Either may be nil.
func (p *Policy) InheritLearned(old *Policy) {
	if !p.Enabled() || p.none || old == nil || old.learned == nil {
		return
	}
	now := p.now()
	type binding struct {
		addr   netip.Addr
		name   string
		expiry time.Time
	}
	var keep []binding
	old.learned.mu.RLock()
	for addr, names := range old.learned.byAddr {
		for name, expiry := range names {
			if now.Before(expiry) && p.MatchesName(name) {
				keep = append(keep, binding{addr, name, expiry})
			}
		}
	}
	old.learned.mu.RUnlock()
	for _, b := range keep {
		p.learned.observe(b.name, []netip.Addr{b.addr}, b.expiry.Sub(now), now)
	}
}
