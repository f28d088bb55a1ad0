package commands

import (
	"context"
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

func (a *resolveArgs) check() error {
	if a.Name == "" {
		return control.WithCode(CodeBadRequest, fmt.Errorf("resolve: name is required"))
	}
	return nil
}

// resolve looks up A records through the gateway's DNS; NXDOMAIN fails with its own code.
func (g *Guest) resolve(ctx context.Context, args resolveArgs) (any, error) {
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
