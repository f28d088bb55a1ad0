package commands

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"

	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/adapters/gonet"
	"gvisor.dev/gvisor/pkg/tcpip/network/ipv4"
	"gvisor.dev/gvisor/pkg/tcpip/stack"
	"gvisor.dev/gvisor/pkg/tcpip/transport/udp"
	"gvisor.dev/gvisor/pkg/waiter"

	"bun-gvproxy/guest/internal/control"
	"bun-gvproxy/guest/internal/dns"
	"bun-gvproxy/guest/internal/netstack"
)

// endpoint is a remote address as commands receive it.
type endpoint struct {
	Host string `json:"host"`
	Port uint16 `json:"port"`
}

// address resolves host (an IPv4 literal or a name for the lease's DNS server).
func (g *Guest) address(ctx context.Context, host string) (netip.Addr, error) {
	if addr, err := netip.ParseAddr(host); err == nil {
		if !addr.Is4() {
			return netip.Addr{}, control.WithCode(CodeBadRequest, fmt.Errorf("%s: only IPv4 is supported", host))
		}
		return addr, nil
	}
	addrs, err := g.lookup(ctx, host, "udp", "")
	if err != nil {
		return netip.Addr{}, err
	}
	if len(addrs) == 0 {
		return netip.Addr{}, fmt.Errorf("%s has no A record", host)
	}
	return addrs[0], nil
}

func (g *Guest) dialTCP(ctx context.Context, host string, port uint16) (*gonet.TCPConn, error) {
	addr, err := g.address(ctx, host)
	if err != nil {
		return nil, err
	}
	conn, err := gonet.DialContextTCP(ctx, g.Stack.Stack, netstack.FullAddress(addr, port), ipv4.ProtocolNumber)
	if err != nil {
		return nil, g.classify(ctx, fmt.Errorf("connect to %s:%d: %w", addr, port, err))
	}
	return conn, nil
}

func (g *Guest) dialUDP(ctx context.Context, host string, port uint16) (*gonet.UDPConn, error) {
	addr, err := g.address(ctx, host)
	if err != nil {
		return nil, err
	}
	conn, err := connectUDP(g.Stack.Stack, netstack.FullAddress(addr, port))
	if err != nil {
		return nil, g.classify(ctx, fmt.Errorf("open UDP socket to %s:%d: %w", addr, port, err))
	}
	return conn, nil
}

// connectUDP opens a UDP socket connected to remote whose reads also end on an ICMP
// error (port unreachable), as a connected socket's do on Linux. gVisor records the
// error for the next read but signals it as EventErr, which gonet's blocked reads do
// not wait for; re-signalling it as readable wakes them, and they return the error.
func connectUDP(s *stack.Stack, remote tcpip.FullAddress) (*gonet.UDPConn, error) {
	var wq waiter.Queue
	ep, tcpErr := s.NewEndpoint(udp.ProtocolNumber, ipv4.ProtocolNumber, &wq)
	if tcpErr != nil {
		return nil, errors.New(tcpErr.String())
	}
	if tcpErr := ep.Connect(remote); tcpErr != nil {
		ep.Close()
		return nil, errors.New(tcpErr.String())
	}
	// Notify from a goroutine: the queue is being notified when this runs.
	wake := waiter.NewFunctionEntry(waiter.EventErr, func(waiter.EventMask) { go wq.Notify(waiter.EventIn) })
	wq.EventRegister(&wake)
	return gonet.NewUDPConn(&wq, ep), nil
}

// lookup queries server (default: the lease's first DNS server) for name's A records
// over transport "udp" or "tcp".
func (g *Guest) lookup(ctx context.Context, name, transport, server string) ([]netip.Addr, error) {
	server, err := g.dnsServer(server)
	if err != nil {
		return nil, fmt.Errorf("resolve %s: %w", name, err)
	}
	var conn net.Conn
	switch transport {
	case "", "udp":
		conn, err = g.dialUDP(ctx, server, 53)
	case "tcp":
		conn, err = g.dialTCP(ctx, server, 53)
	default:
		return nil, control.WithCode(CodeBadRequest, fmt.Errorf("transport %q (want udp or tcp)", transport))
	}
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	defer bindToContext(ctx, conn)()
	addrs, err := dns.LookupA(ctx, conn, transport == "tcp", name)
	if err != nil {
		if isNXDomain(err) {
			return nil, control.WithCode(CodeNXDomain, err)
		}
		return nil, g.classify(ctx, err)
	}
	return addrs, nil
}
