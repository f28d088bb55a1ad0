package dnsscreen

import (
	"net/netip"
	"sync"
	"testing"
	"time"

	"bun-gvproxy/libgvproxy/internal/audit"
	"bun-gvproxy/libgvproxy/internal/policy"
)

// testRules is a real policy that also records what it was taught.
type testRules struct {
	*policy.Policy
	mu      sync.Mutex
	learned map[netip.Addr]time.Duration // address -> the TTL it was learned for
}

func (r *testRules) Learn(name string, addrs []netip.Addr, ttl time.Duration) {
	r.mu.Lock()
	for _, a := range addrs {
		r.learned[a.Unmap()] = ttl
	}
	r.mu.Unlock()
	r.Policy.Learn(name, addrs, ttl)
}

func (r *testRules) learnedTTL(addr string) (time.Duration, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	ttl, ok := r.learned[netip.MustParseAddr(addr)]
	return ttl, ok
}

func (r *testRules) learnedCount() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.learned)
}

// newTestRules parses entries (none: no filtering).
func newTestRules(t *testing.T, entries ...string) *testRules {
	t.Helper()
	p, err := policy.ParseAllowNet(entries)
	if err != nil {
		t.Fatalf("ParseAllowNet(%q) = %v", entries, err)
	}
	return &testRules{Policy: p, learned: map[netip.Addr]time.Duration{}}
}

// newTestScreen is a screen over rules for entries, reporting to a fresh auditor.
func newTestScreen(t *testing.T, entries ...string) (*Screen, *testRules, *audit.Auditor) {
	t.Helper()
	rules := newTestRules(t, entries...)
	a := audit.New(nil, 1024)
	return New(func() Rules { return rules }, a), rules, a
}

func addrPort(s string) netip.AddrPort { return netip.MustParseAddrPort(s) }
