package policy

import (
	"net/netip"
	"testing"
	"time"
)

// testHostAddr stands in for one of the host's interface addresses, so decisions do not
// depend on the machine the tests run on.
var testHostAddr = netip.MustParseAddr("192.0.2.10")

// fakeClock is a settable time source.
type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time          { return c.t }
func (c *fakeClock) advance(d time.Duration) { c.t = c.t.Add(d) }

// newTestPolicy parses entries into a Policy with a fake clock and fake host interface
// addresses (testHostAddr).
func newTestPolicy(t *testing.T, entries ...string) (*Policy, *fakeClock) {
	t.Helper()
	p, err := ParseAllowNet(entries)
	if err != nil {
		t.Fatalf("ParseAllowNet(%q) = %v", entries, err)
	}
	clock := &fakeClock{t: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
	p.now = clock.now
	p.hostAddrs = &hostAddresses{
		list: func() ([]netip.Addr, error) { return []netip.Addr{testHostAddr}, nil },
		now:  clock.now,
	}
	return p, clock
}

func addrPort(s string) netip.AddrPort { return netip.MustParseAddrPort(s) }

func addrs(ss ...string) []netip.Addr {
	out := make([]netip.Addr, len(ss))
	for i, s := range ss {
		out[i] = netip.MustParseAddr(s)
	}
	return out
}
