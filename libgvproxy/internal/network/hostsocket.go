package network

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"sort"
	"sync"
	"time"

	"gvisor.dev/gvisor/pkg/tcpip/transport/tcp"

	"bun-gvproxy/libgvproxy/internal/audit"
	"bun-gvproxy/libgvproxy/internal/config"
	"bun-gvproxy/libgvproxy/internal/errs"
)

// hostSocketDialTimeout bounds connecting to a host socket: a local Unix socket answers
// at once or not at all.
const hostSocketDialTimeout = 5 * time.Second

// hostSockets maps guest TCP ports on the host loopback address to host Unix sockets
// (config hostSockets, addHostSocket). They are not egress: the policy does not see
// them, and they work with hostLoopback off, where they and its pings (answered by the
// network itself) are the only thing the address answers.
type hostSockets struct {
	mu     sync.RWMutex
	byPort map[uint16]*hostSocket
}

type hostSocket struct {
	path  string
	conns connSet
}

// hostSocketFor returns the host socket a guest connection to dst goes to, if any.
func (n *Network) hostSocketFor(dst netip.AddrPort) (*hostSocket, bool) {
	if dst.Addr() != n.cfg.HostLoopbackIP {
		return nil, false
	}
	n.sockets.mu.RLock()
	defer n.sockets.mu.RUnlock()
	hs, ok := n.sockets.byPort[dst.Port()]
	return hs, ok
}

// AddHostSocket makes guest port hs.Port on the host loopback address reach hs.Path.
// A port already mapped is INVALID_CONFIG and changes nothing. The socket need not
// exist yet: each guest connection dials it.
func (n *Network) AddHostSocket(hs config.HostSocket) error {
	n.sockets.mu.Lock()
	defer n.sockets.mu.Unlock()
	if old, dup := n.sockets.byPort[hs.Port]; dup {
		return errs.Field(errs.InvalidConfig, "hostSocket.port", "port %d already reaches host socket %s", hs.Port, old.path)
	}
	if n.sockets.byPort == nil {
		n.sockets.byPort = map[uint16]*hostSocket{}
	}
	n.sockets.byPort[hs.Port] = &hostSocket{path: hs.Path}
	if len(n.sockets.byPort) == 1 && !n.cfg.HostLoopback {
		n.claimHostSocketAddress(true)
	}
	n.log.Infof("host socket added: %s:%d -> %s", n.cfg.HostLoopbackIP, hs.Port, hs.Path)
	return nil
}

// claimHostSocketAddress makes the host loopback address the network's own while host
// sockets need it and host loopback is off: nothing answers ARP for it before. The
// network answers its pings itself, as the gateway answers its own: the guest can reach
// the address anyway, and a reply says nothing of the host, which is never pinged (a
// ping forwarded to 127.0.0.1 would be the host loopback that is off).
func (n *Network) claimHostSocketAddress(on bool) {
	addr := addrOf(n.cfg.HostLoopbackIP)
	n.link.SetVirtualIP(addr, on)
	n.divert.answerItself(addr, on)
}

// RemoveHostSocket unmaps port and closes its live connections; false if it was not
// mapped.
func (n *Network) RemoveHostSocket(port uint16) bool {
	n.sockets.mu.Lock()
	hs, ok := n.sockets.byPort[port]
	delete(n.sockets.byPort, port)
	if ok && len(n.sockets.byPort) == 0 && !n.cfg.HostLoopback {
		n.claimHostSocketAddress(false)
	}
	n.sockets.mu.Unlock()
	if ok {
		hs.conns.endAll()
		hs.conns.Close()
		n.log.Infof("host socket removed: %s:%d -> %s", n.cfg.HostLoopbackIP, port, hs.path)
	}
	return ok
}

// HostSocketInfo is one host socket as hostSockets() reports it.
type HostSocketInfo struct {
	Port uint16 `json:"port"`
	Path string `json:"path"`
}

// HostSockets lists the host sockets by port.
func (n *Network) HostSockets() []HostSocketInfo {
	n.sockets.mu.RLock()
	defer n.sockets.mu.RUnlock()
	out := make([]HostSocketInfo, 0, len(n.sockets.byPort))
	for port, hs := range n.sockets.byPort {
		out = append(out, HostSocketInfo{Port: port, Path: hs.path})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Port < out[j].Port })
	return out
}

// serveHostSocket connects the guest's connection to a host socket: dial first, so a
// socket nobody listens on is a refused connect for the guest.
func (n *Network) serveHostSocket(r *tcp.ForwarderRequest, src, dst netip.AddrPort, hs *hostSocket) {
	ctx, cancel := context.WithTimeout(n.group.Context(), hostSocketDialTimeout)
	defer cancel()
	// Timed from before the dial; it opens once both ends are connected.
	flow := n.audit.Attempt(audit.Conn{Proto: "tcp", Via: audit.ViaHostSocket, Source: audit.AddrPort(src), Destination: audit.Path(hs.path)})
	hostConn, guestConn, _, ok := n.dialBeforeAccept(r, flow, func() string { return fmt.Sprintf("host socket %s for guest port %d", hs.path, dst.Port()) }, n.log.Debugf, func() (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "unix", hs.path)
	})
	if !ok {
		return
	}
	flow.Opened()
	var fromGuest, toGuest uint64
	defer func() { flow.Close(fromGuest, toGuest) }()
	remove, ok := hs.conns.Add(guestConn, flow)
	defer remove()
	if !ok {
		_ = hostConn.Close()
		return
	}
	fromGuest, toGuest = n.spliceTracked(guestConn, hostConn)
}
