package dnsscreen

import (
	"net"
	"sync/atomic"
	"testing"
	"time"

	"github.com/miekg/dns"

	"bun-gvproxy/libgvproxy/internal/audit"
	"bun-gvproxy/libgvproxy/internal/policy"
)

// fakeUpstream is a DNS handler answering every A query with 203.0.113.53 and a TTL of
// a day, counting the queries that reach it.
type fakeUpstream struct{ queries atomic.Int32 }

func (u *fakeUpstream) ServeDNS(w dns.ResponseWriter, r *dns.Msg) {
	u.queries.Add(1)
	m := new(dns.Msg)
	m.SetReply(r)
	if q := r.Question[0]; q.Qtype == dns.TypeA {
		rr, _ := dns.NewRR(q.Name + " 86400 IN A 203.0.113.53")
		m.Answer = append(m.Answer, rr)
	}
	_ = w.WriteMsg(m)
}

// startScreenedDNS serves upstream through the screen's wrappers on loopback UDP and
// TCP and returns the two addresses.
func startScreenedDNS(t *testing.T, s *Screen, upstream dns.Handler) (udpAddr, tcpAddr string) {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	udpSrv := &dns.Server{PacketConn: s.PacketConn(pc), Handler: upstream}
	tcpSrv := &dns.Server{Listener: s.Listener(ln), Handler: upstream}
	for _, srv := range []*dns.Server{udpSrv, tcpSrv} {
		go func() { _ = srv.ActivateAndServe() }()
	}
	t.Cleanup(func() {
		_ = udpSrv.Shutdown()
		_ = tcpSrv.Shutdown()
	})
	return pc.LocalAddr().String(), ln.Addr().String()
}

func exchange(t *testing.T, network, addr string, q *dns.Msg) *dns.Msg {
	t.Helper()
	c := &dns.Client{Net: network, Timeout: 5 * time.Second}
	var lastErr error
	for attempt := 0; attempt < 3; attempt++ { // UDP on loopback may still lose a datagram
		resp, _, err := c.Exchange(q, addr)
		if err == nil {
			return resp
		}
		lastErr = err
	}
	t.Fatalf("%s exchange with %s: %v", network, addr, lastErr)
	return nil
}

func TestScreenedDNSServer(t *testing.T) {
	screen, p, _ := newTestScreen(t, "allowed.example")
	upstream := &fakeUpstream{}
	udpAddr, tcpAddr := startScreenedDNS(t, screen, upstream)

	for _, transport := range []struct{ network, addr string }{{"udp", udpAddr}, {"tcp", tcpAddr}} {
		t.Run(transport.network, func(t *testing.T) {
			before := upstream.queries.Load()
			for _, qtype := range []uint16{dns.TypeA, dns.TypeTXT, dns.TypeMX} {
				resp := exchange(t, transport.network, transport.addr, query("blocked.example", qtype))
				if resp.Rcode != dns.RcodeNameError || len(resp.Answer) != 0 {
					t.Errorf("%s blocked.example: rcode %s, %d answers; want NXDOMAIN, none",
						dns.TypeToString[qtype], dns.RcodeToString[resp.Rcode], len(resp.Answer))
				}
			}
			if got := upstream.queries.Load() - before; got != 0 {
				t.Errorf("%d refused queries reached the server", got)
			}

			resp := exchange(t, transport.network, transport.addr, query("allowed.example", dns.TypeA))
			if resp.Rcode != dns.RcodeSuccess || len(resp.Answer) != 1 {
				t.Fatalf("allowed.example: %v", resp)
			}
			if ttl := resp.Answer[0].Header().Ttl; ttl != uint32(policy.MaxLearnTTL.Seconds()) {
				t.Errorf("answer TTL %d, want it capped to %d", ttl, uint32(policy.MaxLearnTTL.Seconds()))
			}
			if d := p.Decide("tcp", addrPort("203.0.113.53:22")); !d.Allow {
				t.Errorf("answered address not learned: %s", d.Reason)
			}
		})
	}
}

func TestScreenedDNSOverTCPHandlesSplitAndBatchedFrames(t *testing.T) {
	screen, _, _ := newTestScreen(t, "allowed.example")
	_, tcpAddr := startScreenedDNS(t, screen, &fakeUpstream{})
	conn, err := net.Dial("tcp", tcpAddr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))

	var wire []byte
	for _, name := range []string{"blocked.example", "allowed.example"} {
		q := query(name, dns.TypeA)
		packed, err := q.Pack()
		if err != nil {
			t.Fatal(err)
		}
		wire = appendFrame(wire, packed)
	}
	// Both queries in one stream, written a byte at a time.
	for i := range wire {
		if _, err := conn.Write(wire[i : i+1]); err != nil {
			t.Fatal(err)
		}
	}
	dc := &dns.Conn{Conn: conn}
	rcodes := map[string]int{}
	for i := 0; i < 2; i++ {
		resp, err := dc.ReadMsg()
		if err != nil {
			t.Fatal(err)
		}
		rcodes[resp.Question[0].Name] = resp.Rcode
	}
	if rcodes["blocked.example."] != dns.RcodeNameError || rcodes["allowed.example."] != dns.RcodeSuccess {
		t.Errorf("rcodes = %v; want NXDOMAIN for blocked, NOERROR for allowed", rcodes)
	}
}

func TestScreenedDNSDropsGarbageAndKeepsServing(t *testing.T) {
	screen, _, auditor := newTestScreen(t, "allowed.example")
	upstream := &fakeUpstream{}
	udpAddr, _ := startScreenedDNS(t, screen, upstream)
	conn, err := net.Dial("udp", udpAddr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.Write([]byte{0xde, 0xad, 0xbe, 0xef}); err != nil {
		t.Fatal(err)
	}
	resp := exchange(t, "udp", udpAddr, query("allowed.example", dns.TypeA))
	if resp.Rcode != dns.RcodeSuccess {
		t.Fatalf("server stopped answering after garbage: %v", resp)
	}
	if auditor.Denied() != 1 {
		t.Errorf("Denied() = %d, want the garbage datagram counted once", auditor.Denied())
	}
}

func TestUnfilteredScreenPassesEverythingAndReportsQueriesToListeners(t *testing.T) {
	screen, _, auditor := newTestScreen(t)
	upstream := &fakeUpstream{}
	udpAddr, tcpAddr := startScreenedDNS(t, screen, upstream)
	resp := exchange(t, "udp", udpAddr, query("anything.example", dns.TypeA))
	if resp.Rcode != dns.RcodeSuccess || resp.Answer[0].Header().Ttl != 86400 {
		t.Fatalf("unfiltered answer changed: %v", resp)
	}
	if got := auditor.Drain(0); len(got) != 0 {
		t.Fatalf("events without a listener: %v", got)
	}

	auditor.Subscribe(audit.KindDNS)
	exchange(t, "tcp", tcpAddr, query("other.example", dns.TypeTXT))
	events := auditor.Drain(0)
	if len(events) != 1 {
		t.Fatalf("events = %v, want one dns event", events)
	}
	e := events[0].(*audit.DNSEvent)
	if e.Name != "other.example." || e.Query != "TXT" || e.Protocol != "tcp" || e.Decision != audit.DNSAllowed || e.Rcode != "NOERROR" {
		t.Errorf("dns event = %+v", e)
	}
	if upstream.queries.Load() != 2 || auditor.Denied() != 0 {
		t.Errorf("upstream saw %d queries, %d denied; want 2 and 0", upstream.queries.Load(), auditor.Denied())
	}
}

func TestFilteredScreenReportsAnswersAndRefusals(t *testing.T) {
	screen, _, auditor := newTestScreen(t, "allowed.example")
	auditor.Subscribe(audit.KindDNS)
	udpAddr, _ := startScreenedDNS(t, screen, &fakeUpstream{})
	exchange(t, "udp", udpAddr, query("allowed.example", dns.TypeA))
	exchange(t, "udp", udpAddr, query("blocked.example", dns.TypeAAAA))
	events := auditor.Drain(0)
	if len(events) != 2 {
		t.Fatalf("events = %v, want two", events)
	}
	allowed, refused := events[0].(*audit.DNSEvent), events[1].(*audit.DNSEvent)
	if allowed.Decision != audit.DNSAllowed || len(allowed.Answer) != 1 || allowed.Answer[0] != "203.0.113.53" {
		t.Errorf("allowed query event = %+v", allowed)
	}
	if refused.Decision != audit.DNSDenied || refused.Reason != audit.DNSRefused || refused.Name != "blocked.example." ||
		refused.Query != "AAAA" || refused.Rcode != "NXDOMAIN" || refused.Protocol != "udp" {
		t.Errorf("refused query event = %+v", refused)
	}
}

func TestReplacedRulesApplyToTheNextQuery(t *testing.T) {
	first, second := newTestRules(t, "kept.example", "removed.example"), newTestRules(t, "kept.example")
	var current atomic.Pointer[testRules]
	current.Store(first)
	auditor := audit.New(nil, 16)
	screen := New(func() Rules { return current.Load() }, auditor)
	udpAddr, _ := startScreenedDNS(t, screen, &fakeUpstream{})
	if resp := exchange(t, "udp", udpAddr, query("removed.example", dns.TypeA)); resp.Rcode != dns.RcodeSuccess {
		t.Fatalf("before the change: %v", resp)
	}
	current.Store(second) // setAllowNet
	if resp := exchange(t, "udp", udpAddr, query("removed.example", dns.TypeA)); resp.Rcode != dns.RcodeNameError {
		t.Fatalf("a removed name still resolves: %v", resp)
	}
	if resp := exchange(t, "udp", udpAddr, query("kept.example", dns.TypeA)); resp.Rcode != dns.RcodeSuccess {
		t.Fatalf("a kept name stopped resolving: %v", resp)
	}
	if _, learned := second.learnedTTL("203.0.113.53"); !learned || auditor.Denied() != 1 {
		t.Fatalf("the new rules learned nothing from the kept name's answer, or the refusal was not counted once (%d)", auditor.Denied())
	}
}
