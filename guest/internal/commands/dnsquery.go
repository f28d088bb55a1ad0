package commands

import (
	"context"
	"fmt"
	"net"

	"bun-gvproxy/guest/internal/control"
	"bun-gvproxy/guest/internal/dns"
)

type dnsQueryArgs struct {
	Name      string `json:"name"`
	Type      string `json:"type"`      // A (default), AAAA, TXT, MX, CNAME, ANY ...
	Server    string `json:"server"`    // an IPv4 literal; default: the lease's DNS server
	Port      uint16 `json:"port"`      // default 53
	Transport string `json:"transport"` // "udp" (default) or "tcp"

	qtype uint16 // Type, parsed by check
}

// check fills in the defaults and validates the record type.
func (a *dnsQueryArgs) check() error {
	if a.Name == "" {
		return control.WithCode(CodeBadRequest, fmt.Errorf("dnsQuery: name is required"))
	}
	if a.Type == "" {
		a.Type = "A"
	}
	qtype, err := dns.ParseType(a.Type)
	if err != nil {
		return control.WithCode(CodeBadRequest, err)
	}
	a.qtype = qtype
	if a.Port == 0 {
		a.Port = 53
	}
	return nil
}

// dnsQuery sends one query of any record type to any server and reports the server's
// rcode and answer records. Unlike resolve, an NXDOMAIN is a result, not a failure:
// tests compare what different servers say about a name.
func (g *Guest) dnsQuery(ctx context.Context, args dnsQueryArgs) (any, error) {
	server, err := g.dnsServer(args.Server)
	if err != nil {
		return nil, err
	}
	dial, err := g.dnsTo(endpoint{Host: server, Port: args.Port}, args.Transport)
	if err != nil {
		return nil, err
	}
	return over(ctx, dial, func(conn net.Conn) (any, error) {
		answer, err := dns.Query(ctx, conn, args.Transport == "tcp", args.Name, args.qtype)
		if err != nil {
			return nil, g.classify(ctx, err)
		}
		return answer, nil
	})
}

// dnsServer is server, or the lease's first DNS server when server is empty.
func (g *Guest) dnsServer(server string) (string, error) {
	if server != "" {
		return server, nil
	}
	lease, ok := g.currentLease()
	if !ok || len(lease.DNSServers) == 0 {
		return "", control.WithCode(CodeNoLease, fmt.Errorf("no DNS server known (run dhcp first)"))
	}
	return lease.DNSServers[0].String(), nil
}
