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

// String is host:port, as error messages name the peer.
func (e endpoint) String() string { return fmt.Sprintf("%s:%d", e.Host, e.Port) }

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
	dial, err := g.dnsTo(endpoint{Host: server, Port: 53}, transport)
	if err != nil {
		return nil, err
	}
	return over(ctx, dial, func(conn net.Conn) ([]netip.Addr, error) {
		addrs, err := dns.LookupA(ctx, conn, transport == "tcp", name)
		if err != nil {
			if isNXDomain(err) {
				return nil, control.WithCode(CodeNXDomain, err)
			}
			return nil, g.classify(ctx, err)
		}
		return addrs, nil
	})
}

// dnsTo dials a DNS server over transport "udp" (the default) or "tcp".
func (g *Guest) dnsTo(server endpoint, transport string) (dialer[net.Conn], error) {
	switch transport {
	case "", "udp":
		return func(ctx context.Context) (net.Conn, error) { return g.dialUDP(ctx, server.Host, server.Port) }, nil
	case "tcp":
		return func(ctx context.Context) (net.Conn, error) { return g.dialTCP(ctx, server.Host, server.Port) }, nil
	default:
		return nil, control.WithCode(CodeBadRequest, fmt.Errorf("transport %q (want udp or tcp)", transport))
	}
}
