package commands

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"bun-gvproxy/guest/internal/control"
	"bun-gvproxy/guest/internal/dns"
)

type resolveArgs struct {
	Name      string `json:"name"`
	Transport string `json:"transport"` // "udp" (default) or "tcp"
	Server    string `json:"server"`    // default: the lease's DNS server
}

// resolve looks up A records through the gateway's DNS; NXDOMAIN fails with its own code.
func (g *Guest) resolve(parent context.Context, raw json.RawMessage) (any, error) {
	args, err := decode[resolveArgs](raw)
	if err != nil {
		return nil, err
	}
	if args.Name == "" {
		return nil, control.WithCode(CodeBadRequest, fmt.Errorf("resolve: name is required"))
	}
	ctx, cancel, err := g.begin(parent, raw)
	if err != nil {
		return nil, err
	}
	defer cancel()
	addrs, err := g.lookup(ctx, args.Name, args.Transport, args.Server)
	if err != nil {
		return nil, err
	}
	out := make([]string, 0, len(addrs))
	for _, a := range addrs {
		out = append(out, a.String())
	}
	transport := args.Transport
	if transport == "" {
		transport = "udp"
	}
	return map[string]any{"name": args.Name, "addresses": out, "transport": transport}, nil
}

func isNXDomain(err error) bool { return errors.Is(err, dns.ErrNXDomain) }
