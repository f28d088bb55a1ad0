package dnsscreen

import (
	"net/netip"
	"strings"

	"github.com/miekg/dns"
)

// Zone is a DNS zone the gateway answers itself (config dnsZones). Name is fully
// qualified and lowercase ("box.internal."); record names are relative to it.
type Zone struct {
	Name      string
	Records   []Record
	DefaultIP netip.Addr // invalid: names without a record are NXDOMAIN
}

// Record maps a name inside a zone to an IPv4 address.
type Record struct {
	Name string
	IP   netip.Addr
}

// SetZones replaces the zones the gateway answers itself, at once: every later query
// sees the new set (setDnsZones). The caller configured those names, so an A query for
// a name inside a zone is always answered from the zone, whatever allowNet says. Such an
// answer opens no address unless the name is allowed too.
//
// A zone answers only A queries; every other record type goes to the host's resolvers,
// and a name under a zone may well exist outside (the zone shadows it), so with
// filtering on a TXT query there would be a way out for names allowNet does not allow.
// Those are answered here with NODATA (no error, no records), which is what the zone
// means: the name exists, with no record of that type.
func (s *Screen) SetZones(zones []Zone) {
	z := append([]Zone(nil), zones...)
	s.zones.Store(&z)
}

// zoneOf returns the first zone name falls inside, matched as gvisor-tap-vsock's server
// matches (a case-sensitive suffix below the zone: names arrive as the guest wrote them).
func (s *Screen) zoneOf(name string) (*Zone, bool) {
	zones := s.zones.Load()
	if zones == nil {
		return nil, false
	}
	for i := range *zones {
		if strings.HasSuffix(name, "."+(*zones)[i].Name) {
			return &(*zones)[i], true
		}
	}
	return nil, false
}

func (s *Screen) hasZones() bool {
	zones := s.zones.Load()
	return zones != nil && len(*zones) > 0
}

// screenZoneQuery answers a single-question query for a name inside a zone: an A query
// from the zone, any other type with NODATA when filtering is on and the name is not
// allowed. handled is false for queries the zones have nothing to say about (they go on
// to the filter and the server).
func (s *Screen) screenZoneQuery(rules Rules, q *dns.Msg) (handled bool, reply *dns.Msg) {
	if len(q.Question) != 1 || q.Opcode != dns.OpcodeQuery {
		return false, nil
	}
	question := q.Question[0]
	zone, ok := s.zoneOf(question.Name)
	if !ok {
		return false, nil
	}
	if question.Qtype == dns.TypeA && question.Qclass == dns.ClassINET {
		return true, zone.answer(q)
	}
	if !rules.Enabled() || rules.MatchesName(question.Name) {
		return false, nil
	}
	reply = new(dns.Msg)
	reply.SetReply(q)
	reply.RecursionAvailable = true
	return true, reply
}

// answer is the zone's reply to an A query: the record's address, else the default
// address, else NXDOMAIN; TTL 0, as the upstream server answers zones.
func (z *Zone) answer(q *dns.Msg) *dns.Msg {
	m := new(dns.Msg)
	m.SetReply(q)
	m.RecursionAvailable = true
	name := q.Question[0].Name
	relative := strings.TrimSuffix(name, "."+z.Name)
	ip := z.DefaultIP
	for _, r := range z.Records {
		if r.Name == relative {
			ip = r.IP
			break
		}
	}
	if !ip.IsValid() {
		m.Rcode = dns.RcodeNameError
		return m
	}
	m.Answer = append(m.Answer, &dns.A{
		Hdr: dns.RR_Header{Name: name, Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: 0},
		A:   ip.AsSlice(),
	})
	return m
}
