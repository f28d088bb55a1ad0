package commands

import (
	"context"
	"encoding/json"
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
}

// dnsQuery sends one query of any record type to any server and reports the server's
// rcode and answer records. Unlike resolve, an NXDOMAIN is a result, not a failure:
// tests compare what different servers say about a name.
func (g *Guest) dnsQuery(parent context.Context, raw json.RawMessage) (any, error) {
	args, err := decode[dnsQueryArgs](raw)
	if err != nil {
		return nil, err
	}
	if args.Name == "" {
		return nil, control.WithCode(CodeBadRequest, fmt.Errorf("dnsQuery: name is required"))
	}
	if args.Type == "" {
		args.Type = "A"
	}
	qtype, err := dns.ParseType(args.Type)
	if err != nil {
		return nil, control.WithCode(CodeBadRequest, err)
	}
	if args.Port == 0 {
		args.Port = 53
	}
	ctx, cancel, err := g.begin(parent, raw)
	if err != nil {
		return nil, err
	}
	defer cancel()
	server, err := g.dnsServer(args.Server)
	if err != nil {
		return nil, err
	}
	var conn net.Conn
	switch args.Transport {
	case "", "udp":
		conn, err = g.dialUDP(ctx, server, args.Port)
	case "tcp":
		conn, err = g.dialTCP(ctx, server, args.Port)
	default:
		return nil, control.WithCode(CodeBadRequest, fmt.Errorf("transport %q (want udp or tcp)", args.Transport))
	}
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	defer bindToContext(ctx, conn)()
	answer, err := dns.Query(ctx, conn, args.Transport == "tcp", args.Name, qtype)
	if err != nil {
		return nil, g.classify(ctx, err)
	}
	return answer, nil
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
