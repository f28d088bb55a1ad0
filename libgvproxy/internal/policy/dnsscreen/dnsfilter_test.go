package dnsscreen

import (
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"bun-gvproxy/libgvproxy/internal/audit"
	"bun-gvproxy/libgvproxy/internal/policy"
)

func query(name string, qtype uint16) *dns.Msg {
	m := new(dns.Msg)
	m.SetQuestion(dns.Fqdn(name), qtype)
	return m
}

func TestFilterQueryRefusesEveryTypeForBlockedNames(t *testing.T) {
	p := newTestRules(t, "example.com", "*.example.org")
	var denials []audit.Denial
	types := []uint16{dns.TypeA, dns.TypeAAAA, dns.TypeTXT, dns.TypeMX, dns.TypeCNAME, dns.TypeSRV, dns.TypeHTTPS, dns.TypeANY, dns.TypeNS, dns.TypePTR}
	blocked := []string{"evil.example", "www.example.com", "example.org", "example.com.evil.example", "4.3.2.1.in-addr.arpa"}
	for _, name := range blocked {
		for _, qtype := range types {
			q := query(name, qtype)
			allowed, denial := FilterQuery(p, q)
			denials = append(denials, denial)
			if allowed {
				t.Errorf("FilterQuery(%s %s) = allowed", dns.TypeToString[qtype], name)
				continue
			}
			reply := NXDomainReply(q)
			if reply.Rcode != dns.RcodeNameError || reply.Id != q.Id || !reply.Response ||
				len(reply.Answer) != 0 || len(reply.Question) != 1 || reply.Question[0] != q.Question[0] {
				t.Errorf("NXDomainReply(%s %s) = %v", dns.TypeToString[qtype], name, reply)
			}
		}
	}
	for _, d := range denials {
		if d.Reason != audit.DNSRefused || d.Proto != "dns" || d.Name == "" || d.QueryType == "" {
			t.Fatalf("denial = %+v, want a dns-refused denial naming the name and type", d)
		}
	}
	d := denials[0]
	if d.Name != "evil.example." || d.QueryType != "A" || !strings.Contains(d.Detail, "A query") {
		t.Errorf("first denial = %+v", d)
	}
}

func TestFilterQueryPassesAllowedNames(t *testing.T) {
	p := newTestRules(t, "example.com:443", "*.example.org", "10.0.0.0/8")
	for _, name := range []string{"example.com", "EXAMPLE.COM", "a.example.org", "x.y.example.org"} {
		for _, qtype := range []uint16{dns.TypeA, dns.TypeAAAA, dns.TypeTXT, dns.TypeMX, dns.TypeCNAME} {
			if allowed, _ := FilterQuery(p, query(name, qtype)); !allowed {
				t.Errorf("FilterQuery(%s %s) refused", dns.TypeToString[qtype], name)
			}
		}
	}
}

func TestFilterQueryRefusesOddMessages(t *testing.T) {
	p := newTestRules(t, "example.com")
	noQuestion := new(dns.Msg)
	mixed := query("example.com", dns.TypeA)
	mixed.Question = append(mixed.Question, dns.Question{Name: "evil.example.", Qtype: dns.TypeA, Qclass: dns.ClassINET})
	update := query("example.com", dns.TypeA)
	update.Opcode = dns.OpcodeUpdate
	for name, q := range map[string]*dns.Msg{"nil": nil, "no question": noQuestion, "one blocked question of two": mixed, "UPDATE": update} {
		allowed, denial := FilterQuery(p, q)
		if allowed || denial.Reason == "" {
			t.Errorf("%s: allowed (%+v)", name, denial)
		}
	}
	if reply := NXDomainReply(nil); reply.Rcode != dns.RcodeNameError {
		t.Errorf("NXDomainReply(nil).Rcode = %d", reply.Rcode)
	}
}

func TestFilterQueryWithoutFilteringAllowsAll(t *testing.T) {
	p := newTestRules(t)
	txt, _ := FilterQuery(p, query("anything.example", dns.TypeTXT))
	empty, _ := FilterQuery(p, nil)
	if !txt || !empty {
		t.Error("empty allowNet must not filter DNS")
	}
}

func answer(q *dns.Msg, rrs ...string) *dns.Msg {
	m := new(dns.Msg)
	m.SetReply(q)
	for _, s := range rrs {
		rr, err := dns.NewRR(s)
		if err != nil {
			panic(err)
		}
		m.Answer = append(m.Answer, rr)
	}
	return m
}

func TestObserveResponseLearnsAddressesOfAllowedNames(t *testing.T) {
	p := newTestRules(t, "example.com", "www.example.net")
	q := query("example.com", dns.TypeA)
	if allowed, _ := FilterQuery(p, q); !allowed {
		t.Fatal("allowed name refused")
	}
	ObserveResponse(p, answer(q, "example.com. 300 IN A 203.0.113.1", "example.com. 300 IN A 203.0.113.2"))
	ObserveResponse(p, answer(query("example.com", dns.TypeAAAA), "Example.COM. 60 IN AAAA 2001:db8::1"))
	for _, dst := range []string{"203.0.113.1:22", "203.0.113.2:22", "[2001:db8::1]:22"} {
		if d := p.Decide("tcp", addrPort(dst)); !d.Allow {
			t.Errorf("Decide(tcp %s) refused after the answer: %s", dst, d.Reason)
		}
	}

	// A CNAME chain: the final addresses belong to the name asked for, with the
	// shortest TTL on the chain; the chain's target (not allowed) is not learned.
	q = query("www.example.net", dns.TypeA)
	ObserveResponse(p, answer(q,
		"www.example.net. 600 IN CNAME edge.cdn.example.",
		"edge.cdn.example. 120 IN CNAME node7.cdn.example.",
		"node7.cdn.example. 600 IN A 198.51.100.7",
		"unrelated.example. 600 IN A 198.51.100.99",
	))
	d := p.Decide("tcp", addrPort("198.51.100.7:443"))
	if !d.Allow || strings.Join(d.Names, ",") != "www.example.net" {
		t.Fatalf("CNAME-chained address: %+v", d)
	}
	if d := p.Decide("tcp", addrPort("198.51.100.99:443")); d.Allow {
		t.Errorf("address of a name outside the chain was learned")
	}
	if allowed, _ := FilterQuery(p, query("edge.cdn.example", dns.TypeA)); allowed {
		t.Errorf("CNAME target became an allowed name")
	}
	if ttl, _ := p.learnedTTL("198.51.100.7"); ttl != 120*time.Second {
		t.Errorf("chained binding learned for %s, want the chain's shortest TTL, 120s", ttl)
	}
	if ttl, _ := p.learnedTTL("203.0.113.1"); ttl != 300*time.Second {
		t.Errorf("binding learned for %s, want 300s", ttl)
	}
}

func TestObserveResponseIgnoresWhatItMustNotLearn(t *testing.T) {
	p := newTestRules(t, "example.com")
	loop := answer(query("example.com", dns.TypeA),
		"example.com. 60 IN CNAME a.example.",
		"a.example. 60 IN CNAME example.com.",
	)
	nx := answer(query("example.com", dns.TypeA), "example.com. 60 IN A 203.0.113.5")
	nx.Rcode = dns.RcodeNameError
	responses := map[string]*dns.Msg{
		"nil":                      nil,
		"blocked name":             answer(query("evil.example", dns.TypeA), "evil.example. 60 IN A 203.0.113.6"),
		"record for another owner": answer(query("example.com", dns.TypeA), "evil.example. 60 IN A 203.0.113.7"),
		"NXDOMAIN":                 nx,
		"CNAME loop":               loop,
		"TXT":                      answer(query("example.com", dns.TypeTXT), `example.com. 60 IN TXT "203.0.113.8"`),
	}
	for name, resp := range responses {
		ObserveResponse(p, resp)
		if n := p.learnedCount(); n != 0 {
			t.Fatalf("%s: learned %d bindings", name, n)
		}
	}
}

func TestCapTTLsKeepsGuestCachesWithinTheBinding(t *testing.T) {
	p := newTestRules(t, "example.com")
	resp := answer(query("example.com", dns.TypeA), "example.com. 86400 IN A 203.0.113.1", "example.com. 60 IN A 203.0.113.2")
	CapTTLs(p, resp)
	if got := resp.Answer[0].Header().Ttl; got != uint32(policy.MaxLearnTTL.Seconds()) {
		t.Errorf("long TTL = %d, want %d", got, uint32(policy.MaxLearnTTL.Seconds()))
	}
	if got := resp.Answer[1].Header().Ttl; got != 60 {
		t.Errorf("short TTL = %d, want 60 (unchanged)", got)
	}
	off := answer(query("example.com", dns.TypeA), "example.com. 86400 IN A 203.0.113.1")
	CapTTLs(newTestRules(t), off)
	if off.Answer[0].Header().Ttl != 86400 {
		t.Errorf("CapTTLs changed an answer with filtering off")
	}
}
