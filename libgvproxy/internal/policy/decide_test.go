package policy

import (
	"net"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"bun-gvproxy/libgvproxy/internal/audit"
)

func TestDecide(t *testing.T) {
	p, _ := newTestPolicy(t,
		"10.0.0.0/8:5432",
		"198.51.100.7",
		"example.com",
		"*.example.org:443",
		"api.example.net:8443",
		"[2001:db8::1]:53",
	)
	p.Learn("example.com", addrs("203.0.113.1"), time.Minute)
	p.Learn("www.example.org", addrs("203.0.113.2"), time.Minute)
	p.Learn("api.example.net", addrs("203.0.113.3"), time.Minute)

	cases := []struct {
		name    string
		proto   string
		dst     string
		allow   bool
		inspect Inspection
		reason  string // a fragment the reason must contain
	}{
		{"IP literal over TCP", "tcp", "8.8.8.8:53", false, InspectNone, "no allowNet entry covers 8.8.8.8:53 and no allowed name resolved to it"},
		{"IP literal over UDP (own DNS server)", "udp", "8.8.8.8:53", false, InspectNone, "no allowNet entry covers"},
		{"DNS over TLS to own server", "tcp", "1.1.1.1:853", false, InspectNone, "no allowNet entry covers"},
		{"CIDR with its port", "tcp", "10.1.2.3:5432", true, InspectNone, "allowNet[0] 10.0.0.0/8:5432"},
		{"CIDR with its port over UDP", "udp", "10.200.0.1:5432", true, InspectNone, "allowNet[0]"},
		{"CIDR with another port", "tcp", "10.1.2.3:22", false, InspectNone, "port 22 is not allowed for 10.1.2.3 (10.0.0.0/8:5432 covers"},
		{"IPv4-mapped destination", "tcp", "[::ffff:10.1.2.3]:5432", true, InspectNone, "allowNet[0]"},
		{"IP entry, any port, not inspected", "tcp", "198.51.100.7:443", true, InspectNone, "allowNet[1] 198.51.100.7"},
		{"learned name on 443 needs SNI", "tcp", "203.0.113.1:443", true, InspectTLS, "resolved from allowed name example.com"},
		{"learned name on 80 needs Host", "tcp", "203.0.113.1:80", true, InspectHTTP, "example.com"},
		{"learned name on another port", "tcp", "203.0.113.1:22", true, InspectNone, "example.com"},
		{"learned name over UDP", "udp", "203.0.113.1:123", true, InspectNone, "example.com"},
		{"QUIC to a learned name", "udp", "203.0.113.1:443", false, InspectNone, "UDP 443 (QUIC) to example.com cannot be checked"},
		{"wildcard-learned name on its port", "tcp", "203.0.113.2:443", true, InspectTLS, "www.example.org"},
		{"wildcard-learned name on another port", "tcp", "203.0.113.2:80", false, InspectNone, "port 80 is not allowed for www.example.org"},
		{"name with port on its port", "tcp", "203.0.113.3:8443", true, InspectNone, "api.example.net"},
		{"name with port on 443", "tcp", "203.0.113.3:443", false, InspectNone, "port 443 is not allowed for api.example.net"},
		{"IPv6 entry with port", "udp", "[2001:db8::1]:53", true, InspectNone, "allowNet[5] [2001:db8::1]:53"},
		{"IPv6 entry other port", "tcp", "[2001:db8::1]:80", false, InspectNone, "port 80 is not allowed"},
		{"host loopback", "tcp", "127.0.0.1:80", false, InspectNone, "no allowNet entry"},
		{"hostLoopback NAT address unless listed", "tcp", "192.168.127.254:8080", false, InspectNone, "no allowNet entry"},
		{"unknown protocol", "icmp", "10.1.2.3:5432", false, InspectNone, `protocol "icmp" is not filtered`},
		{"port zero", "tcp", "10.1.2.3:0", false, InspectNone, "invalid destination"},
	}
	codes := map[string]audit.Reason{
		"IP literal over TCP":                    audit.IPNotAllowed,
		"CIDR with another port":                 audit.PortNotAllowed,
		"QUIC to a learned name":                 audit.QUICRefused,
		"wildcard-learned name on another port":  audit.PortNotAllowed,
		"host loopback":                          audit.IPNotAllowed,
		"hostLoopback NAT address unless listed": audit.IPNotAllowed,
	}
	for _, c := range cases {
		d := p.Decide(c.proto, addrPort(c.dst))
		if d.Allow != c.allow || d.Inspect != c.inspect {
			t.Errorf("%s: Decide(%s, %s) = allow %v inspect %v (%s), want allow %v inspect %v",
				c.name, c.proto, c.dst, d.Allow, d.Inspect, d.Reason, c.allow, c.inspect)
		}
		if !strings.Contains(d.Reason, c.reason) {
			t.Errorf("%s: reason %q does not contain %q", c.name, d.Reason, c.reason)
		}
		if d.Allow {
			if d.Code != "" {
				t.Errorf("%s: allowed with code %q", c.name, d.Code)
			}
			continue
		}
		if d.Code == "" {
			t.Errorf("%s: refused without a code", c.name)
		}
		if want, ok := codes[c.name]; ok && d.Code != want {
			t.Errorf("%s: code %q, want %q", c.name, d.Code, want)
		}
	}
	first := p.Decide("tcp", addrPort("8.8.8.8:53")).Denial()
	if first.Proto != "tcp" || first.Destination != audit.AddrPort(addrPort("8.8.8.8:53")) || first.Detail == "" {
		t.Errorf("denial = %+v, want tcp 8.8.8.8:53 with a detail", first)
	}
	if s := first.String(); !strings.Contains(s, "tcp 8.8.8.8:53 [ip-not-allowed]: no allowNet entry") {
		t.Errorf("Denial.String() = %q", s)
	}
}

func TestNoneRefusesEveryFlowAndName(t *testing.T) {
	p := None()
	if !p.Enabled() || !p.IsNone() || p.MatchesName("example.com") {
		t.Fatalf("None() = enabled %v, none %v", p.Enabled(), p.IsNone())
	}
	for _, dst := range []string{"203.0.113.1:443", "10.0.0.1:53", "127.0.0.1:80"} {
		if d := p.Decide("tcp", addrPort(dst)); d.Allow || d.Code != audit.EgressNone {
			t.Errorf("Decide(%s) under none = %+v", dst, d)
		}
	}
	p.Learn("example.com", addrs("203.0.113.1"), time.Hour)
	if d := p.Decide("tcp", addrPort("203.0.113.1:443")); d.Allow {
		t.Error("none learned a name")
	}
	if got := p.Rules(); len(got) != 1 || got[0] != "none" {
		t.Errorf("Rules() = %q", got)
	}
}

func TestDecideNamesOfAnInspectedDestination(t *testing.T) {
	p, _ := newTestPolicy(t, "a.example", "b.example:443", "c.example:80")
	shared := addrs("203.0.113.9")
	for _, name := range []string{"c.example", "b.example", "a.example"} {
		p.Learn(name, shared, time.Minute)
	}
	d := p.Decide("tcp", addrPort("203.0.113.9:443"))
	if !d.Allow || d.Inspect != InspectTLS {
		t.Fatalf("Decide = %+v, want allowed with TLS inspection", d)
	}
	if got := strings.Join(d.Names, ","); got != "a.example,b.example" {
		t.Errorf("Names = %s, want the names allowed on 443: a.example,b.example", got)
	}
	for host, want := range map[string]bool{
		"a.example": true, "B.EXAMPLE.": true, "c.example": false, "d.example": false, "": false,
	} {
		if got := d.AcceptsName(host); got != want {
			t.Errorf("AcceptsName(%q) on 443 = %v, want %v", host, got, want)
		}
	}
}

func TestDecideWithoutFilteringAllowsEverything(t *testing.T) {
	for _, p := range []*Policy{nil, mustParse(t)} {
		d := p.Decide("tcp", addrPort("127.0.0.1:22"))
		if !d.Allow || d.Inspect != InspectNone {
			t.Errorf("Decide with empty allowNet = %+v, want allowed", d)
		}
	}
}

func mustParse(t *testing.T, entries ...string) *Policy {
	t.Helper()
	p, err := ParseAllowNet(entries)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestHostAddressesNeedAnExactEntry(t *testing.T) {
	t.Run("broad CIDRs do not open the host", func(t *testing.T) {
		p, _ := newTestPolicy(t, "0.0.0.0/0", "::/0")
		for _, dst := range []string{"127.0.0.1:22", "127.8.9.10:80", "0.0.0.0:80", "[::1]:22", "[::]:22", "192.0.2.10:22", "[::ffff:127.0.0.1]:22"} {
			d := p.Decide("tcp", addrPort(dst))
			if d.Allow {
				t.Errorf("Decide(tcp %s) allowed by a broad CIDR: %s", dst, d.Reason)
			} else if !strings.Contains(d.Reason, "is the host itself") {
				t.Errorf("Decide(tcp %s) reason %q does not say it is the host", dst, d.Reason)
			}
		}
		if d := p.Decide("tcp", addrPort("8.8.8.8:53")); !d.Allow {
			t.Errorf("0.0.0.0/0 must still allow other addresses: %s", d.Reason)
		}
	})
	t.Run("an exact entry opens that address and port", func(t *testing.T) {
		p, _ := newTestPolicy(t, "127.0.0.1:8080", "192.0.2.10")
		cases := map[string]bool{"127.0.0.1:8080": true, "127.0.0.1:22": false, "192.0.2.10:22": true, "127.0.0.2:8080": false}
		for dst, want := range cases {
			if got := p.Decide("tcp", addrPort(dst)).Allow; got != want {
				t.Errorf("Decide(tcp %s).Allow = %v, want %v", dst, got, want)
			}
		}
	})
	t.Run("the hostLoopback NAT address is the host", func(t *testing.T) {
		p, _ := newTestPolicy(t, "192.168.127.0/24")
		p.MarkHostAddress(netip.MustParseAddr("192.168.127.254"))
		if d := p.Decide("tcp", addrPort("192.168.127.254:8080")); d.Allow {
			t.Errorf("NAT address opened by a CIDR: %s", d.Reason)
		}
		if d := p.Decide("tcp", addrPort("192.168.127.3:8080")); !d.Allow {
			t.Errorf("other subnet address refused: %s", d.Reason)
		}
		exact, _ := newTestPolicy(t, "192.168.127.254:8080")
		exact.MarkHostAddress(netip.MustParseAddr("192.168.127.254"))
		if d := exact.Decide("tcp", addrPort("192.168.127.254:8080")); !d.Allow {
			t.Errorf("NAT address refused despite an exact entry: %s", d.Reason)
		}
	})
	t.Run("a name resolving to the host does not open it (DNS rebinding)", func(t *testing.T) {
		p, _ := newTestPolicy(t, "rebind.example")
		p.Learn("rebind.example", addrs("127.0.0.1", "192.0.2.10"), time.Minute)
		for _, dst := range []string{"127.0.0.1:8080", "192.0.2.10:22"} {
			d := p.Decide("tcp", addrPort(dst))
			if d.Allow || !strings.Contains(d.Reason, "DNS rebinding") {
				t.Errorf("Decide(tcp %s) = allow %v (%s), want a DNS rebinding denial", dst, d.Allow, d.Reason)
			}
		}
	})
}

func TestLearnedNamesExpire(t *testing.T) {
	dst := addrPort("203.0.113.1:22")
	cases := []struct {
		name      string
		ttl       time.Duration
		openUntil time.Duration // allowed just before, refused at
	}{
		{"TTL 0 gets the minimum", 0, MinLearnTTL},
		{"short TTL gets the minimum", 5 * time.Second, MinLearnTTL},
		{"TTL honoured in range", 300 * time.Second, 300 * time.Second},
		{"long TTL capped", 7 * 24 * time.Hour, MaxLearnTTL},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p, clock := newTestPolicy(t, "example.com")
			p.ObserveDNSAnswer("example.com.", []net.IP{net.ParseIP("203.0.113.1")}, c.ttl)
			clock.advance(c.openUntil - time.Second)
			if d := p.Decide("tcp", dst); !d.Allow {
				t.Fatalf("refused before expiry: %s", d.Reason)
			}
			clock.advance(time.Second)
			if d := p.Decide("tcp", dst); d.Allow {
				t.Fatalf("still allowed at expiry: %s", d.Reason)
			}
		})
	}
}

func TestReResolutionExtendsButNeverShortens(t *testing.T) {
	p, clock := newTestPolicy(t, "example.com")
	dst := addrPort("203.0.113.1:22")
	p.Learn("example.com", addrs("203.0.113.1"), 60*time.Second)
	clock.advance(50 * time.Second)
	p.Learn("example.com", addrs("203.0.113.1"), 60*time.Second) // now open until 110 s
	p.Learn("example.com", addrs("203.0.113.1"), 0)              // a shorter answer changes nothing
	clock.advance(59 * time.Second)
	if d := p.Decide("tcp", dst); !d.Allow {
		t.Fatalf("re-resolved name refused at 109 s: %s", d.Reason)
	}
	clock.advance(time.Second)
	if d := p.Decide("tcp", dst); d.Allow {
		t.Fatalf("allowed at 110 s, after the re-resolved TTL")
	}
}

func TestNameMovingToNewAddress(t *testing.T) {
	p, clock := newTestPolicy(t, "example.com")
	p.Learn("example.com", addrs("203.0.113.1"), MinLearnTTL)
	clock.advance(MinLearnTTL)
	p.Learn("example.com", addrs("203.0.113.2", "2001:db8::2"), MinLearnTTL)
	for dst, want := range map[string]bool{"203.0.113.1:22": false, "203.0.113.2:22": true, "[2001:db8::2]:22": true} {
		if got := p.Decide("tcp", addrPort(dst)).Allow; got != want {
			t.Errorf("Decide(tcp %s).Allow = %v, want %v", dst, got, want)
		}
	}
}

func TestObserveIgnoresNamesNotAllowedAndUselessAddresses(t *testing.T) {
	p, _ := newTestPolicy(t, "example.com")
	p.ObserveDNSAnswer("evil.example", []net.IP{net.ParseIP("203.0.113.66")}, time.Hour)
	p.ObserveDNSAnswer("example.com", []net.IP{net.IPv4zero, nil, {1, 2, 3}}, time.Hour)
	if n := p.learned.len(); n != 0 {
		t.Errorf("learned %d bindings, want 0", n)
	}
	if d := p.Decide("tcp", addrPort("203.0.113.66:443")); d.Allow {
		t.Errorf("an address of a name not allowed was opened: %s", d.Reason)
	}
}

func TestLearnedTableIsPrunedAndBounded(t *testing.T) {
	p, clock := newTestPolicy(t, "*.example.com")
	p.Learn("a.example.com", addrs("203.0.113.1"), 0)
	p.Learn("b.example.com", addrs("203.0.113.2"), time.Hour)
	clock.advance(MinLearnTTL)
	p.Learn("c.example.com", addrs("203.0.113.3"), time.Hour) // prunes a.example.com
	if n := p.learned.len(); n != 2 {
		t.Errorf("after pruning: %d bindings, want 2", n)
	}

	// A flood of bindings expiring sooner than b and c: at the bound the ones closest to
	// expiry go first, in a batch, and the table never exceeds the bound.
	flood := func(i int) netip.Addr { return netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)}) }
	total := maxLearnedBindings + 100
	for i := 0; i < total; i++ {
		p.Learn("flood.example.com", []netip.Addr{flood(i)}, 30*time.Minute+time.Duration(i)*time.Millisecond)
		if n := p.learned.len(); n > maxLearnedBindings {
			t.Fatalf("after %d insertions: %d bindings, above the bound %d", i+1, n, maxLearnedBindings)
		}
	}
	allowed := func(a netip.Addr) bool { return p.Decide("tcp", netip.AddrPortFrom(a, 22)).Allow }
	if allowed(flood(0)) || allowed(flood(evictBatch-1)) {
		t.Error("the bindings closest to expiry survived the flood")
	}
	if !allowed(flood(evictBatch)) || !allowed(flood(total-1)) {
		t.Error("bindings further from expiry, or the newest, were evicted")
	}
	if !allowed(netip.MustParseAddr("203.0.113.2")) || !allowed(netip.MustParseAddr("203.0.113.3")) {
		t.Error("long-lived bindings were evicted before short ones")
	}
}

func TestConcurrentDecideAndObserve(t *testing.T) {
	p, _ := newTestPolicy(t, "*.example.com", "10.0.0.0/8")
	var wg sync.WaitGroup
	for w := 0; w < 4; w++ {
		wg.Add(2)
		go func() {
			defer wg.Done()
			for i := 0; i < 500; i++ {
				p.Learn("x.example.com", []netip.Addr{netip.AddrFrom4([4]byte{203, 0, 113, byte(i)})}, time.Minute)
			}
		}()
		go func() {
			defer wg.Done()
			for i := 0; i < 500; i++ {
				p.Decide("tcp", netip.AddrPortFrom(netip.AddrFrom4([4]byte{203, 0, 113, byte(i)}), 443))
			}
		}()
	}
	wg.Wait()
	if d := p.Decide("tcp", addrPort("203.0.113.250:443")); !d.Allow {
		t.Errorf("binding lost under concurrency: %s", d.Reason)
	}
}

func TestInheritLearnedKeepsOnlyNamesStillAllowed(t *testing.T) {
	old, _ := newTestPolicy(t, "keep.example", "drop.example")
	old.Learn("keep.example", addrs("203.0.113.1"), time.Hour)
	old.Learn("drop.example", addrs("203.0.113.2"), time.Hour)
	next, _ := newTestPolicy(t, "keep.example")
	next.InheritLearned(old)
	if d := next.Decide("tcp", addrPort("203.0.113.1:22")); !d.Allow {
		t.Errorf("a name still allowed lost its address: %s", d.Reason)
	}
	if d := next.Decide("tcp", addrPort("203.0.113.2:22")); d.Allow {
		t.Error("a name no longer allowed kept its address")
	}
	None().InheritLearned(old) // nothing to keep, and no panic
	var nilPolicy *Policy
	nilPolicy.InheritLearned(old)
	next.InheritLearned(nil)
}
