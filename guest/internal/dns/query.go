package dns

import (
	"context"
	"fmt"
	"net"
	"strings"

	mdns "github.com/miekg/dns"
)

// Record is one resource record of an answer, in the form the control protocol reports.
type Record struct {
	Name string `json:"name"`
	Type string `json:"type"`
	TTL  uint32 `json:"ttl"`
	// Data is the record's value in presentation form: an address, a target name, the
	// joined TXT strings, "10 mail.example." for MX.
	Data string `json:"data"`
}

// Answer is what a server said to one query.
type Answer struct {
	Rcode   string   `json:"rcode"` // NOERROR, NXDOMAIN, SERVFAIL, REFUSED ...
	Answers []Record `json:"answers"`
}

// ParseType maps a record type name (A, AAAA, TXT, MX, CNAME, ANY ...) to its number.
func ParseType(name string) (uint16, error) {
	t, ok := mdns.StringToType[strings.ToUpper(name)]
	if !ok {
		return 0, fmt.Errorf("unknown DNS record type %q", name)
	}
	return t, nil
}

// Query sends one recursive query for name and qtype on conn (stream: TCP framing) and
// returns the server's answer, whatever its rcode: a raw query reports what the server
// said rather than judging it.
func Query(ctx context.Context, conn net.Conn, stream bool, name string, qtype uint16) (Answer, error) {
	reply, err := exchange(ctx, conn, stream, name, qtype)
	if err != nil {
		return Answer{}, err
	}
	return summarise(reply), nil
}

// exchange sends one recursive query on conn and returns the reply that answers it
// (same id). stream selects TCP framing (a 2-byte length prefix, RFC 1035 4.2.2);
// otherwise conn is a UDP socket.
func exchange(ctx context.Context, conn net.Conn, stream bool, name string, qtype uint16) (*mdns.Msg, error) {
	if deadline, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(deadline)
	}
	msg := new(mdns.Msg)
	msg.SetQuestion(mdns.Fqdn(name), qtype)
	client := &mdns.Conn{Conn: conn}
	if !stream {
		client.UDPSize = mdns.MaxMsgSize
	}
	if err := client.WriteMsg(msg); err != nil {
		return nil, fmt.Errorf("send %s query for %s: %w", mdns.TypeToString[qtype], name, err)
	}
	reply, err := client.ReadMsg()
	if err != nil {
		return nil, fmt.Errorf("read answer to %s query for %s: %w", mdns.TypeToString[qtype], name, err)
	}
	if reply.Id != msg.Id {
		return nil, fmt.Errorf("answer to %s query for %s: id %d does not match query %d", mdns.TypeToString[qtype], name, reply.Id, msg.Id)
	}
	return reply, nil
}

func summarise(reply *mdns.Msg) Answer {
	out := Answer{Rcode: mdns.RcodeToString[reply.Rcode], Answers: []Record{}}
	for _, rr := range reply.Answer {
		h := rr.Header()
		out.Answers = append(out.Answers, Record{
			Name: h.Name,
			Type: mdns.TypeToString[h.Rrtype],
			TTL:  h.Ttl,
			Data: recordData(rr),
		})
	}
	return out
}

// recordData is the value part of rr's presentation form (after name, TTL, class, type).
func recordData(rr mdns.RR) string {
	switch r := rr.(type) {
	case *mdns.A:
		return r.A.String()
	case *mdns.AAAA:
		return r.AAAA.String()
	case *mdns.CNAME:
		return r.Target
	case *mdns.TXT:
		return strings.Join(r.Txt, "")
	case *mdns.MX:
		return fmt.Sprintf("%d %s", r.Preference, r.Mx)
	}
	full := rr.String()
	header := rr.Header().String()
	return strings.TrimSpace(strings.TrimPrefix(full, header))
}
