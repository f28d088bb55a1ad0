package commands

import (
	"context"
	"encoding/json"
	"fmt"

	"bun-gvproxy/guest/internal/dhcp"
	"bun-gvproxy/guest/internal/netstack"
)

// leaseReport is the JSON shape of a lease.
type leaseReport struct {
	IP               string   `json:"ip"`
	PrefixLength     int      `json:"prefixLength"`
	Router           string   `json:"router"`
	DNSServers       []string `json:"dnsServers"`
	MTU              int      `json:"mtu"`
	SearchDomains    []string `json:"searchDomains"`
	LeaseTimeSeconds int      `json:"leaseTimeSeconds"`
	ServerID         string   `json:"serverId"`
	LinkMTU          uint32   `json:"linkMtu"`
}

func (g *Guest) report(l dhcp.Lease) leaseReport {
	r := leaseReport{
		IP: l.IP.String(), PrefixLength: l.PrefixLength, MTU: l.MTU,
		DNSServers: []string{}, SearchDomains: []string{},
		LeaseTimeSeconds: int(l.LeaseTime.Seconds()), LinkMTU: g.Stack.LinkMTU(),
	}
	if l.Router.IsValid() {
		r.Router = l.Router.String()
	}
	if l.ServerID.IsValid() {
		r.ServerID = l.ServerID.String()
	}
	for _, d := range l.DNSServers {
		r.DNSServers = append(r.DNSServers, d.String())
	}
	r.SearchDomains = append(r.SearchDomains, l.SearchDomains...)
	return r
}

// pumpTransport lets the DHCP client use the link before the stack has an address.
type pumpTransport struct{ g *Guest }

func (t pumpTransport) WriteFrame(frame []byte) error { return t.g.Pump.WriteFrame(frame) }

func (t pumpTransport) Listen(deliver func([]byte)) func() {
	t.g.Pump.SetTap(func(frame []byte) bool {
		payload, ok := dhcp.ClientPayload(frame)
		if ok {
			deliver(payload)
		}
		return ok
	})
	return func() { t.g.Pump.SetTap(nil) }
}

// dhcp acquires a lease and configures the stack from it.
func (g *Guest) dhcp(parent context.Context, raw json.RawMessage) (any, error) {
	ctx, cancel, err := g.begin(parent, raw)
	if err != nil {
		return nil, err
	}
	defer cancel()
	lease, err := dhcp.Acquire(ctx, pumpTransport{g}, g.MAC)
	if err != nil {
		return nil, g.classify(ctx, err)
	}
	if err := g.Stack.ApplyLease(lease); err != nil {
		return nil, fmt.Errorf("configure stack: %w", err)
	}
	g.mu.Lock()
	g.lease = &lease
	g.mu.Unlock()
	return g.report(lease), nil
}

// status reports connection, addressing and TCP settings.
func (g *Guest) status(context.Context, json.RawMessage) (any, error) {
	status := map[string]any{
		"connected": !g.disconnected(),
		"mac":       g.MAC.String(),
		"linkMtu":   g.Stack.LinkMTU(),
		"tcp":       g.Stack.TCPOptions(),
	}
	if lease, ok := g.currentLease(); ok {
		status["lease"] = g.report(lease)
	}
	return status, nil
}

// tcpOptions changes stack-wide TCP settings (SACK, buffer moderation, sizes).
func (g *Guest) tcpOptions(_ context.Context, raw json.RawMessage) (any, error) {
	opts, err := decode[netstack.TCPOptions](raw)
	if err != nil {
		return nil, err
	}
	return g.Stack.SetTCPOptions(opts)
}
