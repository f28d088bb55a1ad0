package network

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"sync"
	"syscall"

	"gvisor.dev/gvisor/pkg/tcpip"

	"bun-gvproxy/framing"
	"bun-gvproxy/libgvproxy/internal/config"
	"bun-gvproxy/libgvproxy/internal/errs"
	"bun-gvproxy/libgvproxy/internal/socketpath"
)

// ForwardInfo is one active forward as forwards() reports it: a host port (the port
// actually bound, also when the OS picked it) or a host Unix socket, to a guest port.
type ForwardInfo struct {
	HostIP    string `json:"hostIp,omitempty"`
	HostPort  uint16 `json:"hostPort,omitempty"`
	HostPath  string `json:"hostPath,omitempty"`
	GuestPort uint16 `json:"guestPort"`
	Protocol  string `json:"protocol"`
}

// forward is one bound host listener forwarding to a guest port.
type forward struct {
	info   ForwardInfo
	closer io.Closer          // the listener or packet socket
	unix   *socketpath.Socket // for a Unix listener: removes its file on close
	serve  func()             // the accept or read loop
	done   chan struct{}      // closed when serve has returned
	conns  connSet            // its live connections, closed by unexpose
}

// forwards is a network's set of active forwards.
type forwards struct {
	mu   sync.Mutex
	list []*forward
}

// bindForward binds fw's host side (nothing is served yet). field names the argument
// in errors: portMappings[i] or the expose argument.
func (n *Network) bindForward(fw config.Forward, field string) (*forward, error) {
	guest := tcpip.FullAddress{NIC: nicID, Addr: addrOf(n.cfg.GuestIP), Port: fw.GuestPort}
	f := &forward{done: make(chan struct{})}
	if fw.HostPath != "" {
		s, err := socketpath.BindField(fw.HostPath, framing.Qemu, field+".hostPath")
		if err != nil {
			return nil, err
		}
		f.info = ForwardInfo{HostPath: fw.HostPath, GuestPort: fw.GuestPort, Protocol: string(config.TCP)}
		f.closer, f.unix = s.Listener, s
		f.serve = func() { n.serveTCPForward(f, s.Listener, guest) }
		return f, nil
	}
	hostAddr := netip.AddrPortFrom(fw.HostIP, fw.HostPort)
	var lc net.ListenConfig
	switch fw.Protocol {
	case config.UDP:
		pc, err := lc.ListenPacket(context.Background(), "udp", hostAddr.String())
		if err != nil {
			return nil, bindError(field, hostAddr, fw.Protocol, err)
		}
		f.closer = pc
		f.info = forwardInfo(fw, pc.LocalAddr())
		f.serve = func() { n.serveUDPForward(f, pc.(*net.UDPConn), guest) }
	default:
		ln, err := lc.Listen(context.Background(), "tcp", hostAddr.String())
		if err != nil {
			return nil, bindError(field, hostAddr, fw.Protocol, err)
		}
		f.closer = ln
		f.info = forwardInfo(fw, ln.Addr())
		f.serve = func() { n.serveTCPForward(f, ln, guest) }
	}
	return f, nil
}

func forwardInfo(fw config.Forward, bound net.Addr) ForwardInfo {
	port := fw.HostPort
	if ap, err := netip.ParseAddrPort(bound.String()); err == nil {
		port = ap.Port()
	}
	return ForwardInfo{HostIP: fw.HostIP.String(), HostPort: port, GuestPort: fw.GuestPort, Protocol: string(fw.Protocol)}
}

// start serves a bound forward and adds it to the active set.
func (n *Network) startForward(f *forward) bool {
	n.fwd.mu.Lock()
	n.fwd.list = append(n.fwd.list, f)
	n.fwd.mu.Unlock()
	release, ok := n.group.Track(f.closer)
	if !ok {
		f.close()
		close(f.done)
		return false
	}
	if !n.group.Go(func() {
		defer close(f.done)
		defer release()
		f.serve()
	}) {
		release()
		f.close()
		close(f.done)
		return false
	}
	return true
}

// close stops accepting and closes the forward's live connections; a Unix listener's
// socket file is removed.
func (f *forward) close() {
	if f.unix != nil {
		_ = f.unix.Close()
	} else {
		_ = f.closer.Close()
	}
	f.conns.Close()
}

func bindError(field string, addr netip.AddrPort, proto config.Transport, err error) error {
	portField := field + ".hostPort"
	switch {
	case errors.Is(err, syscall.EADDRINUSE):
		return errs.Field(errs.AddressInUse, portField, "cannot bind %s/%s: address already in use", addr, proto)
	case errors.Is(err, syscall.EACCES), errors.Is(err, syscall.EPERM):
		return errs.Field(errs.PermissionDenied, portField, "cannot bind %s/%s: permission denied (ports below 1024 need privileges)", addr, proto)
	case errors.Is(err, syscall.EADDRNOTAVAIL):
		return errs.Field(errs.InvalidConfig, field+".hostIp", "cannot bind %s/%s: %s is not an address of this host", addr, proto, addr.Addr())
	default:
		return errs.Wrap(errs.Internal, err, "%s: cannot bind %s/%s", portField, addr, proto).WithField(portField)
	}
}

// bindPortMappings binds every configured host port before anything is served, so
// creation fails (with the mapping named) rather than half-working.
func (n *Network) bindPortMappings(cfg *config.Config) error {
	for i, pm := range cfg.PortMappings {
		f, err := n.bindForward(config.Forward{PortMapping: pm}, fmt.Sprintf("portMappings[%d]", i))
		if err != nil {
			return err
		}
		n.pendingForwards = append(n.pendingForwards, f)
	}
	return nil
}

// servePortMappings starts the configured forwards bound by bindPortMappings.
func (n *Network) servePortMappings() {
	for _, f := range n.pendingForwards {
		n.startForward(f)
	}
	n.pendingForwards = nil
}

// Expose binds and serves a new forward. When it returns without error the listener is
// up; on error nothing changed.
func (n *Network) Expose(fw config.Forward) (ForwardInfo, error) {
	if n.group.Closing() {
		return ForwardInfo{}, errs.New(errs.Destroyed, "the network is closing")
	}
	if fw.HostPath == "" && fw.HostPort != 0 {
		// A host port this network already forwards is in use, whatever the OS says
		// (a UDP and a TCP forward may share a number).
		for _, f := range n.Forwards() {
			if f.HostPort == fw.HostPort && f.Protocol == string(fw.Protocol) && sameHostIP(f.HostIP, fw.HostIP) {
				return ForwardInfo{}, errs.Field(errs.AddressInUse, "forward.hostPort",
					"%s:%d/%s is already forwarded by this network", f.HostIP, f.HostPort, f.Protocol)
			}
		}
	}
	f, err := n.bindForward(fw, "forward")
	if err != nil {
		return ForwardInfo{}, err
	}
	if !n.startForward(f) {
		return ForwardInfo{}, errs.New(errs.Destroyed, "the network is closing")
	}
	n.log.Infof("forward added: %s -> guest port %d", describeForward(f.info), f.info.GuestPort)
	return f.info, nil
}

func sameHostIP(a string, b netip.Addr) bool {
	ip, err := netip.ParseAddr(a)
	return err == nil && (ip == b || ip.IsUnspecified() || b.IsUnspecified())
}

func describeForward(f ForwardInfo) string {
	if f.HostPath != "" {
		return f.HostPath
	}
	return fmt.Sprintf("%s/%s", netip.AddrPortFrom(netip.MustParseAddr(f.HostIP), f.HostPort), f.Protocol)
}

// Unexpose removes the forwards sel names, closes their live connections and returns
// once their ports or paths are free. It reports how many it removed.
func (n *Network) Unexpose(sel config.ForwardSelector) int {
	n.fwd.mu.Lock()
	var removed []*forward
	kept := n.fwd.list[:0]
	for _, f := range n.fwd.list {
		if selects(sel, f.info) {
			removed = append(removed, f)
		} else {
			kept = append(kept, f)
		}
	}
	n.fwd.list = kept
	n.fwd.mu.Unlock()
	for _, f := range removed {
		f.conns.endAll()
		f.close()
		<-f.done
		n.log.Infof("forward removed: %s -> guest port %d", describeForward(f.info), f.info.GuestPort)
	}
	return len(removed)
}

func selects(sel config.ForwardSelector, f ForwardInfo) bool {
	if sel.HostPath != "" {
		return f.HostPath == sel.HostPath
	}
	return f.HostPath == "" && f.HostPort == sel.HostPort && f.Protocol == string(sel.Protocol) &&
		(sel.HostIP == "" || sel.HostIP == f.HostIP)
}

// Forwards lists the active forwards, configured ones first, in the order added.
func (n *Network) Forwards() []ForwardInfo {
	n.fwd.mu.Lock()
	defer n.fwd.mu.Unlock()
	out := make([]ForwardInfo, 0, len(n.fwd.list))
	for _, f := range n.fwd.list {
		out = append(out, f.info)
	}
	return out
}
