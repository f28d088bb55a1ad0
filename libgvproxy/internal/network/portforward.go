package network

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"syscall"

	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/adapters/gonet"
	"gvisor.dev/gvisor/pkg/tcpip/network/ipv4"

	"bun-gvproxy/libgvproxy/internal/config"
	"bun-gvproxy/libgvproxy/internal/errs"
)

// bindPortMappings binds every host port before anything is served, so creation fails
// (with the mapping named) rather than half-working. The listeners are tracked by the
// group and start serving in servePortMappings.
func (n *Network) bindPortMappings(cfg *config.Config) error {
	for i, pm := range cfg.PortMappings {
		hostAddr := netip.AddrPortFrom(pm.HostIP, pm.HostPort)
		guest := tcpip.FullAddress{NIC: nicID, Addr: addrOf(cfg.GuestIP), Port: pm.GuestPort}
		var lc net.ListenConfig
		switch pm.Protocol {
		case config.UDP:
			pc, err := lc.ListenPacket(context.Background(), "udp", hostAddr.String())
			if err != nil {
				return bindError(i, hostAddr, pm.Protocol, err)
			}
			n.group.Track(pc)
			n.portForwards = append(n.portForwards, func() { n.serveUDPForward(pc.(*net.UDPConn), guest) })
		default:
			ln, err := lc.Listen(context.Background(), "tcp", hostAddr.String())
			if err != nil {
				return bindError(i, hostAddr, pm.Protocol, err)
			}
			n.group.Track(ln)
			n.portForwards = append(n.portForwards, func() { n.serveTCPForward(ln, guest) })
		}
	}
	return nil
}

func bindError(i int, addr netip.AddrPort, proto config.Transport, err error) error {
	field := fmt.Sprintf("portMappings[%d].hostPort", i)
	switch {
	case errors.Is(err, syscall.EADDRINUSE):
		return errs.Field(errs.AddressInUse, field, "cannot bind %s/%s: address already in use", addr, proto)
	case errors.Is(err, syscall.EACCES), errors.Is(err, syscall.EPERM):
		return errs.Field(errs.PermissionDenied, field, "cannot bind %s/%s: permission denied (ports below 1024 need privileges)", addr, proto)
	case errors.Is(err, syscall.EADDRNOTAVAIL):
		return errs.Field(errs.InvalidConfig, fmt.Sprintf("portMappings[%d].hostIp", i), "cannot bind %s/%s: %s is not an address of this host", addr, proto, addr.Addr())
	default:
		return errs.Wrap(errs.Internal, err, "%s: cannot bind %s/%s", field, addr, proto).WithField(field)
	}
}

// servePortMappings starts the accept/read loops of the bound host ports.
func (n *Network) servePortMappings() {
	for _, serve := range n.portForwards {
		n.group.Go(serve)
	}
	n.portForwards = nil
}

// serveTCPForward accepts host connections and splices each with a connection to the
// guest port dialed through the gateway's stack.
func (n *Network) serveTCPForward(ln net.Listener, guest tcpip.FullAddress) {
	for {
		conn, err := ln.Accept()
		if err != nil {
			if !n.stoppedByClose(err) {
				n.log.Errorf("port forward %s: accept: %v", ln.Addr(), err)
			}
			return
		}
		if !n.group.Go(func() { n.forwardTCPConn(conn, guest) }) {
			_ = conn.Close()
			return
		}
	}
}

func (n *Network) forwardTCPConn(hostConn net.Conn, guest tcpip.FullAddress) {
	release, ok := n.group.Track(hostConn)
	if !ok {
		return
	}
	guestConn, err := gonet.DialContextTCP(n.group.Context(), n.stack, guest, ipv4.ProtocolNumber)
	release()
	if err != nil {
		n.log.Debugf("port forward %s -> guest port %d: %v", hostConn.LocalAddr(), guest.Port, err)
		_ = hostConn.Close()
		return
	}
	n.spliceTracked(hostConn, guestConn)
}
