package network

import (
	"time"

	"bun-gvproxy/libgvproxy/internal/audit"
	"bun-gvproxy/libgvproxy/internal/config"
	"bun-gvproxy/libgvproxy/internal/errs"
)

// The runtime controls of a running network (DESIGN.md "Public API, live control").
// Their arguments come validated from internal/config; each either changes the network
// or returns an error having changed nothing.

// SetAllowNet replaces the egress policy. New flows follow the new rules when it
// returns; live NAT connections and UDP flows they no longer allow are cut (the guest's
// TCP connections are reset) with reason policy-changed; names the new rules do not
// allow stop resolving, and what was learned about them is forgotten. It returns how
// many flows it cut.
func (n *Network) SetAllowNet(allow config.AllowNet) (int, error) {
	rules, err := buildRules(allow.Entries, allow.None, n.cfg.HostLoopback, n.cfg.HostLoopbackIP)
	if err != nil {
		return 0, errs.Wrap(errs.InvalidConfig, err, "allowNet").WithField("allowNet")
	}
	rules.InheritLearned(n.rules.Load())
	n.rules.Store(rules)
	cut := n.cutDisallowed(rules)
	n.log.Infof("allowNet replaced: %v (%d live flow(s) cut)", rules.Rules(), cut)
	return cut, nil
}

// SetDNSZones replaces the zones the gateway DNS answers itself, at once.
func (n *Network) SetDNSZones(zones []config.DNSZone) {
	n.dns.SetZones(screenZones(zones))
	n.log.Infof("dnsZones replaced: %d zone(s)", len(zones))
}

// GuestInfo is what guest() reports.
type GuestInfo struct {
	Connected   bool    `json:"connected"`
	MACAddress  string  `json:"macAddress"`
	IP          string  `json:"ip,omitempty"`
	ConnectedAt float64 `json:"connectedAt,omitempty"` // Unix milliseconds
	Connections uint64  `json:"connections"`
}

// Guest reports the guest side: whether a VM is attached, its MAC, the address it
// leased (once it sent from it), since when it is attached, and how many NAT
// connections and flows it opened so far.
func (n *Network) Guest() GuestInfo {
	info := GuestInfo{
		Connected:   n.guests.active.Load() > 0,
		MACAddress:  n.cfg.GuestMAC.String(),
		Connections: n.guests.flows.Load(),
	}
	if info.Connected {
		if at := n.guests.since.Load(); at != 0 {
			info.ConnectedAt = float64(time.Unix(0, at).UnixMicro()) / 1000
		}
		if n.guests.leased.Load() {
			info.IP = n.cfg.GuestIP.String()
		}
	}
	return info
}

// Subscribe sets the event kinds that have a listener.
func (n *Network) Subscribe(kinds audit.Kind) { n.audit.Subscribe(kinds) }

// DrainEvents removes and returns up to limit queued events (<= 0: all).
func (n *Network) DrainEvents(limit int) []any { return n.audit.Drain(limit) }

// Audit is the network's auditor, for code outside the package that records events on
// its behalf (the benchmark's event flood hook).
func (n *Network) Audit() *audit.Auditor { return n.audit }
