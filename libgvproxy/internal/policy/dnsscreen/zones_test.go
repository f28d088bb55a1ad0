package dnsscreen

import (
	"net/netip"
	"testing"

	"github.com/miekg/dns"

	"bun-gvproxy/libgvproxy/internal/audit"
)

func TestConfiguredZonesAreAnsweredButOpenNothing(t *testing.T) {
	p, auditor, upstream, udpAddr, tcpAddr := zoneScreenedDNS(t, "api.example.com")
	for _, tc := range []struct{ network, addr string }{{"udp", udpAddr}, {"tcp", tcpAddr}} {
		before := upstream.queries.Load()
		q := new(dns.Msg)
		q.SetQuestion("db.example.internal.", dns.TypeA)
		resp := exchange(t, tc.network, tc.addr, q)
		if resp.Rcode != dns.RcodeSuccess || len(resp.Answer) != 1 || resp.Answer[0].(*dns.A).A.String() != "192.168.127.50" {
			t.Fatalf("%s: A for a zone name: rcode %s, answers %v", tc.network, dns.RcodeToString[resp.Rcode], resp.Answer)
		}
		if upstream.queries.Load() != before {
			t.Fatalf("%s: the zone's A query reached the host's resolvers", tc.network)
		}
	}
	if auditor.Denied() != 0 {
		t.Fatalf("zone queries counted as denials: %d", auditor.Denied())
	}
	// The zone's answer is not an allowed name's: the address stays closed.
	if d := p.Decide("tcp", netip.MustParseAddrPort("192.168.127.50:80")); d.Allow {
		t.Fatalf("an answer for a zone name opened its address: %s", d.Reason)
	}
}

func TestOtherRecordTypesOfZoneNamesGetNoDataWithoutReachingTheServer(t *testing.T) {
	_, _, upstream, udpAddr, _ := zoneScreenedDNS(t, "api.example.com")
	for _, qtype := range []uint16{dns.TypeTXT, dns.TypeMX, dns.TypeAAAA, dns.TypeCNAME, dns.TypeANY} {
		q := new(dns.Msg)
		q.SetQuestion("secret.db.example.internal.", qtype)
		resp := exchange(t, "udp", udpAddr, q)
		if resp.Rcode != dns.RcodeSuccess || len(resp.Answer) != 0 || resp.Id != q.Id {
			t.Fatalf("%s: rcode %s with %d answers, want NODATA", dns.TypeToString[qtype], dns.RcodeToString[resp.Rcode], len(resp.Answer))
		}
	}
	if upstream.queries.Load() != 0 {
		t.Fatalf("%d non-A zone queries reached the server (and so the host's resolvers)", upstream.queries.Load())
	}
}

func TestOnlyNamesTheZoneItselfWouldAnswerAreExempt(t *testing.T) {
	_, auditor, upstream, udpAddr, _ := zoneScreenedDNS(t, "api.example.com")
	// The apex and a differently cased suffix are not matched by the zone (the server
	// would forward them), and a lookalike is another domain: all filtered.
	for _, name := range []string{"example.internal.", "db.EXAMPLE.internal.", "db.notexample.internal.", "evil.example."} {
		q := new(dns.Msg)
		q.SetQuestion(name, dns.TypeA)
		if resp := exchange(t, "udp", udpAddr, q); resp.Rcode != dns.RcodeNameError {
			t.Errorf("%s: rcode %s, want NXDOMAIN", name, dns.RcodeToString[resp.Rcode])
		}
	}
	if upstream.queries.Load() != 0 || auditor.Denied() != 4 {
		t.Fatalf("upstream saw %d queries, %d denials counted; want 0 and 4", upstream.queries.Load(), auditor.Denied())
	}
}

func TestAllowedNamesInsideAZoneKeepEveryRecordType(t *testing.T) {
	_, _, upstream, udpAddr, _ := zoneScreenedDNS(t, "*.example.internal")
	q := new(dns.Msg)
	q.SetQuestion("db.example.internal.", dns.TypeTXT)
	exchange(t, "udp", udpAddr, q)
	if upstream.queries.Load() != 1 {
		t.Fatal("a TXT query for an allowed name did not reach the server")
	}
}

// zoneScreenedDNS starts a screened DNS server for a policy allowing entry, with the
// zone example.internal. configured, in front of a fake upstream that counts queries.
func zoneScreenedDNS(t *testing.T, entry string) (rules *testRules, auditor *audit.Auditor, upstream *fakeUpstream, udpAddr, tcpAddr string) {
	t.Helper()
	screen, rules, auditor := newTestScreen(t, entry)
	screen.SetZones([]Zone{{Name: "example.internal.", Records: []Record{{Name: "db", IP: netip.MustParseAddr("192.168.127.50")}}}})
	upstream = &fakeUpstream{}
	udpAddr, tcpAddr = startScreenedDNS(t, screen, upstream)
	return rules, auditor, upstream, udpAddr, tcpAddr
}

func TestSetZonesReplacesTheZonesAtOnce(t *testing.T) {
	screen, _, _ := newTestScreen(t)
	upstream := &fakeUpstream{}
	udpAddr, _ := startScreenedDNS(t, screen, upstream)
	ask := func(name string) *dns.Msg { return exchange(t, "udp", udpAddr, query(name, dns.TypeA)) }
	screen.SetZones([]Zone{{Name: "box.internal.", DefaultIP: netip.MustParseAddr("192.168.127.60"),
		Records: []Record{{Name: "db", IP: netip.MustParseAddr("192.168.127.50")}}}})
	if a := ask("db.box.internal.").Answer; len(a) != 1 || a[0].(*dns.A).A.String() != "192.168.127.50" {
		t.Fatalf("record: %v", a)
	}
	if a := ask("x.y.box.internal.").Answer; len(a) != 1 || a[0].(*dns.A).A.String() != "192.168.127.60" {
		t.Fatalf("default: %v", a)
	}
	screen.SetZones([]Zone{{Name: "new.internal."}})
	if resp := ask("db.new.internal."); resp.Rcode != dns.RcodeNameError {
		t.Fatalf("a name without a record in a zone without default: %v", resp)
	}
	before := upstream.queries.Load()
	if resp := ask("db.box.internal."); len(resp.Answer) != 1 || resp.Answer[0].(*dns.A).A.String() != "203.0.113.53" || upstream.queries.Load() != before+1 {
		t.Fatalf("a removed zone still answered: %v", resp)
	}
}
