// Package config decodes, defaults and validates the JSON configuration of one network
// instance (docs/ABI.md, "Config JSON"). Validation is complete before anything touches
// the system, and every error names the field at fault (for example
// `portMappings[1].hostPort`).
package config

import (
	"net"
	"net/netip"

	"bun-gvproxy/framing"
	"bun-gvproxy/libgvproxy/internal/secrets"
)

// Protocol is how frames travel over the guest socket: the one transport type of the
// shared framing module.
type Protocol = framing.Transport

const (
	// ProtocolQemu is a SOCK_STREAM socket with a 4-byte big-endian length before each frame.
	ProtocolQemu = framing.Qemu
	// ProtocolVfkit is a SOCK_DGRAM socket, one Ethernet frame per datagram.
	ProtocolVfkit = framing.Vfkit
)

// Transport is the transport protocol of a port mapping.
type Transport string

const (
	TCP Transport = "tcp"
	UDP Transport = "udp"
)

// MTU bounds: 576 is the IPv4 minimum datagram every host must accept; 65520 is the
// largest frame the QEMU stream and vfkit datagram transports carry in practice.
const (
	MinMTU = 576
	MaxMTU = 65520
)

// Config is a validated instance configuration with every default applied.
type Config struct {
	SocketPath       string
	Protocol         Protocol
	Subnet           netip.Prefix
	GatewayIP        netip.Addr
	GuestIP          netip.Addr
	GatewayMAC       net.HardwareAddr
	GuestMAC         net.HardwareAddr
	MTU              int
	PortMappings     []PortMapping
	DNSZones         []DNSZone
	DNSSearchDomains []string
	HostLoopback     bool
	HostLoopbackIP   netip.Addr
	HostSockets      []HostSocket
	AllowNet         []string // egress allow-list, validated by policy.ParseAllowNet
	AllowNone        bool     // allowNet "none": every egress flow refused
	CaptureFile      string
	Debug            bool
	// Secrets are injected into intercepted HTTPS requests (secrets.go).
	Secrets      []secrets.Secret
	Interception Interception
}

// PortMapping forwards HostIP:HostPort on the host to the guest's GuestPort.
type PortMapping struct {
	HostIP    netip.Addr
	HostPort  uint16
	GuestPort uint16
	Protocol  Transport
}

// DNSZone is a zone answered by the gateway's DNS server before host resolvers.
// Name is fully qualified (ends with a dot).
type DNSZone struct {
	Name      string
	Records   []DNSRecord
	DefaultIP netip.Addr // invalid when the zone has no default
}

// DNSRecord maps a name inside a zone to an IPv4 address.
type DNSRecord struct {
	Name string
	IP   netip.Addr
}
