package policy

import (
	"strings"

	"github.com/miekg/dns"
)

// ExemptDNSZones declares the zones the gateway DNS answers itself (config dnsZones,
// names in canonical form: lowercase with a trailing dot). The caller configured those
// names, so an A query for a name inside a zone is always answered, whatever allowNet
// says. Such an answer opens no address unless the name is allowed too.
//
// A zone answers only A queries itself; the upstream server hands every other record
// type to the host's resolvers, and a name under a zone may well exist outside (the
// zone shadows it), so a TXT query there would be a way out for names allowNet does
// not allow. Those are answered here with NODATA (no error, no records), which is what
// the zone means: the name exists, with no record of that type.
//
// Call it while setting up, before the DNS server runs.
func (p *Policy) ExemptDNSZones(zones ...string) {
	if p == nil {
		return
	}
	p.zones = append([]string(nil), zones...)
}

// inExemptZone reports whether name falls inside a configured zone, matched as the
// upstream server matches it (a case-sensitive suffix below the zone), so exactly the
// queries the zone answers are exempt.
func (p *Policy) inExemptZone(name string) bool {
	for _, zone := range p.zones {
		if strings.HasSuffix(name, "."+zone) {
			return true
		}
	}
	return false
}

// screenZoneQuery applies ExemptDNSZones to a single-question query for a name allowNet
// does not allow: handled reports whether it is a zone's query; then pass says whether
// the server may answer it, and otherwise reply is the NODATA answer to send.
func (p *Policy) screenZoneQuery(q *dns.Msg) (handled, pass bool, reply *dns.Msg) {
	if len(q.Question) != 1 || q.Opcode != dns.OpcodeQuery {
		return false, false, nil
	}
	question := q.Question[0]
	if p.MatchesName(question.Name) || !p.inExemptZone(question.Name) {
		return false, false, nil
	}
	if question.Qtype == dns.TypeA && question.Qclass == dns.ClassINET {
		return true, true, nil
	}
	reply = new(dns.Msg)
	reply.SetReply(q)
	reply.RecursionAvailable = true
	return true, false, reply
}
