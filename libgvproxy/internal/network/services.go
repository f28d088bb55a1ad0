package network

import (
	"fmt"
	"net"

	"github.com/containers/gvisor-tap-vsock/pkg/services/dhcp"
	"github.com/containers/gvisor-tap-vsock/pkg/services/dns"
	"github.com/containers/gvisor-tap-vsock/pkg/tap"
	"github.com/containers/gvisor-tap-vsock/pkg/types"
	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/adapters/gonet"
	"gvisor.dev/gvisor/pkg/tcpip/network/ipv4"

	"bun-gvproxy/libgvproxy/internal/config"
	"bun-gvproxy/libgvproxy/internal/policy/dnsscreen"
)

const dnsPort = 53

// startDHCP serves DHCP on the gateway with a static lease guestIp <-> guestMac; router
// and DNS server are the gateway. The host loopback address is reserved so it is never
// leased to another MAC.
func (n *Network) startDHCP(cfg *config.Config) error {
	_, subnet, err := net.ParseCIDR(cfg.Subnet.String())
	if err != nil {
		return fmt.Errorf("dhcp subnet %s: %w", cfg.Subnet, err)
	}
	pool := tap.NewIPPool(subnet)
	pool.Reserve(net.IP(cfg.GatewayIP.AsSlice()), cfg.GatewayMAC.String())
	pool.Reserve(net.IP(cfg.GuestIP.AsSlice()), cfg.GuestMAC.String())
	pool.Reserve(net.IP(cfg.HostLoopbackIP.AsSlice()), cfg.GatewayMAC.String())

	// The upstream handler reads only these fields of its configuration.
	upstreamCfg := &types.Configuration{
		Subnet:           cfg.Subnet.String(),
		GatewayIP:        cfg.GatewayIP.String(),
		MTU:              cfg.MTU,
		DNSSearchDomains: cfg.DNSSearchDomains,
	}
	server, err := dhcp.New(upstreamCfg, n.stack, pool)
	if err != nil {
		return fmt.Errorf("start dhcp server: %w", err)
	}
	n.group.Track(server.Underlying)
	n.serveInBackground("dhcp server", server.Serve)
	return nil
}

// startDNS serves DNS on gateway:53 over UDP and TCP: the configured zones first, then
// the host's resolvers (upstream dns package), behind the egress policy's screen.
func (n *Network) startDNS(cfg *config.Config) error {
	addr := tcpip.FullAddress{NIC: nicID, Addr: addrOf(cfg.GatewayIP), Port: dnsPort}
	udpConn, err := gonet.DialUDP(n.stack, &addr, nil, ipv4.ProtocolNumber)
	if err != nil {
		return fmt.Errorf("dns: bind udp %s:%d: %w", cfg.GatewayIP, dnsPort, err)
	}
	n.group.Track(udpConn)
	tcpLn, err := gonet.ListenTCP(n.stack, addr, ipv4.ProtocolNumber)
	if err != nil {
		return fmt.Errorf("dns: listen tcp %s:%d: %w", cfg.GatewayIP, dnsPort, err)
	}
	n.group.Track(tcpLn)
	// The screen sits on the server's sockets: with allowNet set, queries for names it
	// does not allow are answered NXDOMAIN before the server sees them, and answers
	// teach the rules which addresses allowed names resolve to; with a listener, every
	// query becomes a `dns` event.
	// The zones are answered by the screen (replaceable at runtime), so the server
	// gets none and forwards the rest to the host's resolvers.
	n.dns.SetZones(screenZones(cfg.DNSZones))
	server, err := dns.New(n.dns.PacketConn(udpConn), n.dns.Listener(tcpLn), nil)
	if err != nil {
		return fmt.Errorf("dns: create server: %w", err)
	}
	n.serveInBackground("dns udp server", server.Serve)
	n.serveInBackground("dns tcp server", server.ServeTCP)
	return nil
}

// serveInBackground runs a server's serve loop in the network's group. Every loop
// returns an error once its socket is closed, so the error is logged only if the
// network is not closing.
func (n *Network) serveInBackground(name string, serve func() error) {
	n.group.Go(func() {
		if err := serve(); err != nil && !n.group.Closing() {
			n.log.Errorf("%s stopped: %v", name, err)
		}
	})
}

// screenZones converts validated zones for the DNS screen.
func screenZones(zones []config.DNSZone) []dnsscreen.Zone {
	out := make([]dnsscreen.Zone, 0, len(zones))
	for _, z := range zones {
		sz := dnsscreen.Zone{Name: z.Name, DefaultIP: z.DefaultIP}
		for _, r := range z.Records {
			sz.Records = append(sz.Records, dnsscreen.Record{Name: r.Name, IP: r.IP})
		}
		out = append(out, sz)
	}
	return out
}
