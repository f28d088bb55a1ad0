package network

import (
	"fmt"
	"net"
	"net/netip"

	"github.com/containers/gvisor-tap-vsock/pkg/services/dhcp"
	"github.com/containers/gvisor-tap-vsock/pkg/services/dns"
	"github.com/containers/gvisor-tap-vsock/pkg/tap"
	"github.com/containers/gvisor-tap-vsock/pkg/types"
	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/adapters/gonet"
	"gvisor.dev/gvisor/pkg/tcpip/network/ipv4"

	"bun-gvproxy/libgvproxy/internal/config"
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
	// With allowNet set, the policy screens the server's sockets: queries for names it
	// does not allow are answered NXDOMAIN before the server sees them, and answers
	// teach it which addresses allowed names resolve to.
	screenedUDP, screenedTCP := n.policy.ScreenDNS(udpConn, tcpLn, zoneNames(cfg.DNSZones))
	server, err := dns.New(screenedUDP, screenedTCP, upstreamZones(cfg.DNSZones))
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

// zoneNames are the configured zones' names, as the server matches them.
func zoneNames(zones []config.DNSZone) []string {
	names := make([]string, 0, len(zones))
	for _, z := range zones {
		names = append(names, z.Name)
	}
	return names
}

func upstreamZones(zones []config.DNSZone) []types.Zone {
	out := make([]types.Zone, 0, len(zones))
	for _, z := range zones {
		uz := types.Zone{Name: z.Name, DefaultIP: ipOrNil(z.DefaultIP)}
		for _, r := range z.Records {
			uz.Records = append(uz.Records, types.Record{Name: r.Name, IP: ipOrNil(r.IP)})
		}
		out = append(out, uz)
	}
	return out
}

func ipOrNil(ip netip.Addr) net.IP {
	if !ip.IsValid() {
		return nil
	}
	return net.IP(ip.AsSlice())
}
