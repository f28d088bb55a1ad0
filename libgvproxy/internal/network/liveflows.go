package network

import (
	"net/netip"
	"sync"

	"bun-gvproxy/libgvproxy/internal/audit"
	"bun-gvproxy/libgvproxy/internal/policy"
)

// liveFlow is one NAT connection or UDP flow the egress policy admitted, kept so that a
// later setAllowNet can re-judge it and cut it when the new rules no longer allow it.
type liveFlow struct {
	proto Transport
	dst   netip.AddrPort // as the guest addressed it
	// name is the server name the connection's first bytes proved (TLS SNI, HTTP Host);
	// empty when it was not inspected.
	name string
	flow *audit.Flow
	// cut ends the flow at once: a reset for the guest's TCP connection, the host side
	// closed.
	cut func()
}

// liveFlows is the set of admitted NAT flows of a network.
type liveFlows struct {
	mu    sync.Mutex
	flows map[*liveFlow]struct{}
}

func (l *liveFlows) add(f *liveFlow) (remove func()) {
	l.mu.Lock()
	if l.flows == nil {
		l.flows = map[*liveFlow]struct{}{}
	}
	l.flows[f] = struct{}{}
	l.mu.Unlock()
	return func() {
		l.mu.Lock()
		delete(l.flows, f)
		l.mu.Unlock()
	}
}

func (l *liveFlows) snapshot() []*liveFlow {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make([]*liveFlow, 0, len(l.flows))
	for f := range l.flows {
		out = append(out, f)
	}
	return out
}

// stillAllowed re-judges a live flow under rules: its destination must be allowed, and
// where the new rules would inspect it, by a name its first bytes proved.
func (f *liveFlow) stillAllowed(rules *policy.Policy) bool {
	d := rules.Decide(string(f.proto), f.dst)
	if !d.Allow {
		return false
	}
	if d.Inspect == policy.InspectNone {
		return true
	}
	return f.name != "" && d.AcceptsName(f.name)
}

// cutDisallowed ends every live flow rules no longer allow, with reason policy-changed,
// and returns how many it cut.
func (n *Network) cutDisallowed(rules *policy.Policy) int {
	cut := 0
	for _, f := range n.live.snapshot() {
		if f.stillAllowed(rules) {
			continue
		}
		f.flow.EndedBy(audit.PolicyChanged)
		f.cut()
		cut++
	}
	return cut
}
