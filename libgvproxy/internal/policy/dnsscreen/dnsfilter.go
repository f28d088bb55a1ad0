package dnsscreen

import (
	"net/netip"
	"strings"
	"time"

	"github.com/miekg/dns"

	"bun-gvproxy/libgvproxy/internal/audit"
	"bun-gvproxy/libgvproxy/internal/policy"
)

// maxCNAMEHops bounds how far ObserveResponse follows a CNAME chain inside one answer
// (resolvers give up well before; a loop ends at a name already visited).
const maxCNAMEHops = 16

// FilterQuery reports whether the gateway DNS may answer q under rules, and if not, the
// refusal to report. Every question's name must be allowed by a name or wildcard entry,
// whatever the record type (A, AAAA, TXT, MX, CNAME, SRV, HTTPS, ANY, PTR ...): TXT or
// other records of a blocked name would be a data channel. Answer a refused query with
// NXDomainReply. With filtering off every query is allowed.
func FilterQuery(rules Rules, q *dns.Msg) (allowed bool, denial audit.Denial) {
	if !rules.Enabled() {
		return true, audit.Denial{}
	}
	if q == nil || len(q.Question) == 0 {
		return false, audit.Denial{Reason: audit.DNSMalformed, Proto: "dns", Detail: "query without a question"}
	}
	if q.Opcode != dns.OpcodeQuery {
		return false, audit.Denial{Reason: audit.DNSMalformed, Proto: "dns", Detail: "DNS opcode " + dns.OpcodeToString[q.Opcode] + " refused"}
	}
	for _, question := range q.Question {
		if !rules.MatchesName(question.Name) {
			return false, audit.Denial{Reason: audit.DNSRefused, Proto: "dns", Name: question.Name,
				QueryType: dns.TypeToString[question.Qtype], Detail: dns.TypeToString[question.Qtype] + " query for a name allowNet does not allow"}
		}
	}
	return true, audit.Denial{}
}

// NXDomainReply is the answer to a refused query: NXDOMAIN, question echoed, no
// records, so the guest's resolver learns nothing about the name.
func NXDomainReply(q *dns.Msg) *dns.Msg {
	m := new(dns.Msg)
	if q == nil {
		m.Rcode = dns.RcodeNameError
		m.Response = true
		return m
	}
	m.SetRcode(q, dns.RcodeNameError)
	m.RecursionAvailable = true
	return m
}

// ObserveResponse teaches rules the addresses the gateway DNS is about to give the guest for
// each allowed question name, so policy.Decide allows connecting to them. A/AAAA records are
// attributed to the name the guest asked for when they belong to it or to a name its
// CNAME chain inside the answer leads to: "www.example.com CNAME cdn.provider.net, A
// 203.0.113.7" opens 203.0.113.7 for www.example.com. The chain's target does not have
// to be allowed (the guest asked for, and will present in SNI/Host, the allowed name),
// and it is not learned as allowed itself: a later direct query for cdn.provider.net is
// refused. Records for names outside the chain are ignored. Each binding lasts the
// shortest TTL along its chain (the rules clamp it).
func ObserveResponse(rules Rules, resp *dns.Msg) {
	if !rules.Enabled() || resp == nil || resp.Rcode != dns.RcodeSuccess {
		return
	}
	for _, question := range resp.Question {
		if !rules.MatchesName(question.Name) {
			continue
		}
		chain, chainTTL := cnameChain(resp.Answer, canonicalName(question.Name))
		for _, rr := range resp.Answer {
			addr, ok := addressOf(rr)
			if !ok || !chain[canonicalName(rr.Header().Name)] {
				continue
			}
			ttl := min(chainTTL, rr.Header().Ttl)
			rules.Learn(question.Name, []netip.Addr{addr}, time.Duration(ttl)*time.Second)
		}
	}
}

// cnameChain follows CNAME records from name and returns every name on the chain and
// the smallest CNAME TTL met (MaxUint32 when there is none).
func cnameChain(answer []dns.RR, name string) (map[string]bool, uint32) {
	chain := map[string]bool{name: true}
	ttl := ^uint32(0)
	for hop := 0; hop < maxCNAMEHops; hop++ {
		next, nextTTL, found := cnameOf(answer, name)
		if !found || chain[next] {
			break
		}
		chain[next] = true
		ttl = min(ttl, nextTTL)
		name = next
	}
	return chain, ttl
}

func cnameOf(answer []dns.RR, name string) (target string, ttl uint32, found bool) {
	for _, rr := range answer {
		if c, ok := rr.(*dns.CNAME); ok && canonicalName(c.Hdr.Name) == name {
			return canonicalName(c.Target), c.Hdr.Ttl, true
		}
	}
	return "", 0, false
}

func addressOf(rr dns.RR) (netip.Addr, bool) {
	switch r := rr.(type) {
	case *dns.A:
		return netip.AddrFromSlice(r.A)
	case *dns.AAAA:
		return netip.AddrFromSlice(r.AAAA)
	}
	return netip.Addr{}, false
}

func canonicalName(name string) string { return strings.ToLower(dns.Fqdn(name)) }

// CapTTLs lowers every record TTL in resp to policy.MaxLearnTTL, so no guest cache keeps
// an address longer than the policy keeps it open. Call it on allowed answers before
// they are sent. With filtering off it does nothing.
func CapTTLs(rules Rules, resp *dns.Msg) {
	if !rules.Enabled() || resp == nil {
		return
	}
	limit := uint32(policy.MaxLearnTTL / time.Second)
	for _, section := range [][]dns.RR{resp.Answer, resp.Ns, resp.Extra} {
		for _, rr := range section {
			if h := rr.Header(); h.Rrtype != dns.TypeOPT && h.Ttl > limit {
				h.Ttl = limit
			}
		}
	}
}
