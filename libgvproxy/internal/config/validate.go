package config

import (
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"

	"bun-gvproxy/libgvproxy/internal/errs"
)

// Defaults of docs/ABI.md. Gateway and guest default to the first and second host
// address of the subnet, so a custom subnet needs no other field.
const (
	defaultSubnet     = "192.168.127.0/24"
	defaultGatewayMAC = "5a:94:ef:e4:0c:dd"
	defaultGuestMAC   = "5a:94:ef:e4:0c:ee"
	defaultMTU        = 1500
	defaultHostIP     = "127.0.0.1"
)

// DefaultProtocol is the guest socket protocol of this platform: QEMU's stream socket on
// Linux, vfkit's datagram socket on macOS.
func DefaultProtocol() Protocol {
	if runtime.GOOS == "darwin" {
		return ProtocolVfkit
	}
	return ProtocolQemu
}

func invalid(field, format string, args ...any) error {
	return errs.Field(errs.InvalidConfig, field, format, args...)
}

// validate applies defaults and checks every rule; the order follows the document so the
// first error reported is the first field at fault.
func validate(raw *rawConfig) (*Config, error) {
	c := &Config{Debug: raw.Debug}
	steps := []func(*rawConfig, *Config) error{
		validateSocket, validateAddressing, validateMACs, validateMTU, validatePortMappings,
		validateDNS, validateHostLoopback, validateHostSockets, validateAllowNet, validateCaptureFile,
		validateSecrets,
	}
	for _, step := range steps {
		if err := step(raw, c); err != nil {
			return nil, err
		}
	}
	return c, nil
}

func validateSocket(raw *rawConfig, c *Config) error {
	switch {
	case raw.SocketPath == "":
		return invalid("socketPath", "is required: a non-empty path (the Unix socket path the VM connects to)")
	case strings.ContainsRune(raw.SocketPath, 0):
		return invalid("socketPath", "must not contain a NUL byte")
	}
	c.SocketPath = raw.SocketPath
	switch p := Protocol(textOr(raw.Protocol, string(DefaultProtocol()))); p {
	case ProtocolQemu, ProtocolVfkit:
		c.Protocol = p
	default:
		return invalid("protocol", "%q is not supported (use \"qemu\" or \"vfkit\")", p)
	}
	return nil
}

func validateAddressing(raw *rawConfig, c *Config) error {
	subnet, err := parseSubnet(textOr(raw.Subnet, defaultSubnet))
	if err != nil {
		return err
	}
	c.Subnet = subnet
	if c.GatewayIP, err = hostInSubnet("gatewayIp", raw.GatewayIP, subnet, 1); err != nil {
		return err
	}
	if c.GuestIP, err = hostInSubnet("guestIp", raw.GuestIP, subnet, 2); err != nil {
		return err
	}
	if c.GuestIP == c.GatewayIP {
		return invalid("guestIp", "%s is also the gateway address; guestIp must differ from gatewayIp", c.GuestIP)
	}
	return nil
}

func parseSubnet(s string) (netip.Prefix, error) {
	p, err := netip.ParsePrefix(s)
	if err != nil || !p.Addr().Is4() {
		return netip.Prefix{}, invalid("subnet", "%q is not an IPv4 CIDR such as 192.168.127.0/24", s)
	}
	if p.Masked() != p {
		return netip.Prefix{}, invalid("subnet", "%q is not a network address (did you mean %s?)", s, p.Masked())
	}
	if p.Bits() > 29 || p.Bits() < 8 {
		// A /30 would leave no room for gateway, guest and the host loopback address; a
		// network wider than /8 is no virtual LAN (and its leases could not be tracked).
		return netip.Prefix{}, invalid("subnet", "%q: prefix length must be between /8 and /29", s)
	}
	return p, nil
}

// hostInSubnet parses an IPv4 address that must be a host address of subnet; a field
// not written defaults to the subnet's nth address.
func hostInSubnet(field string, text *string, subnet netip.Prefix, nth uint32) (netip.Addr, error) {
	if text == nil {
		return nthAddr(subnet, nth), nil
	}
	s := *text
	ip, err := netip.ParseAddr(s)
	if err != nil || !ip.Is4() {
		return netip.Addr{}, invalid(field, "%q is not an IPv4 address", s)
	}
	if !subnet.Contains(ip) {
		return netip.Addr{}, invalid(field, "%s is outside the subnet %s", ip, subnet)
	}
	if ip == subnet.Addr() || ip == broadcast(subnet) {
		return netip.Addr{}, invalid(field, "%s is the network or broadcast address of %s", ip, subnet)
	}
	return ip, nil
}

func nthAddr(subnet netip.Prefix, n uint32) netip.Addr {
	b := subnet.Addr().As4()
	v := uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
	v += n
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})
}

func broadcast(subnet netip.Prefix) netip.Addr {
	return nthAddr(subnet, 1<<(32-subnet.Bits())-1)
}

func validateMACs(raw *rawConfig, c *Config) error {
	var err error
	if c.GatewayMAC, err = parseMAC("gatewayMac", textOr(raw.GatewayMAC, defaultGatewayMAC)); err != nil {
		return err
	}
	if c.GuestMAC, err = parseMAC("guestMac", textOr(raw.GuestMAC, defaultGuestMAC)); err != nil {
		return err
	}
	if c.GuestMAC.String() == c.GatewayMAC.String() {
		return invalid("guestMac", "%s is also the gateway MAC address; guestMac must differ from gatewayMac", c.GuestMAC)
	}
	return nil
}

// parseMAC accepts the one notation QEMU's mac= option and the guest use: six hex pairs
// separated by colons (either case); net.ParseMAC alone would also take dashes and dots.
func parseMAC(field, s string) (net.HardwareAddr, error) {
	mac, err := net.ParseMAC(s)
	if err != nil || len(mac) != 6 || len(s) != 17 || strings.Count(s, ":") != 5 {
		return nil, invalid(field, "%q is not a 48-bit MAC address such as 5a:94:ef:e4:0c:ee", s)
	}
	if mac[0]&1 == 1 {
		return nil, invalid(field, "%q is a multicast address; a unicast MAC is required", s)
	}
	return mac, nil
}

func validateMTU(raw *rawConfig, c *Config) error {
	if raw.MTU == nil {
		c.MTU = defaultMTU
		return nil
	}
	mtu, err := parseInt("mtu", raw.MTU, MinMTU, MaxMTU)
	c.MTU = mtu
	return err
}

// parseInt accepts only a JSON integer literal within [lo, hi].
func parseInt(field string, n rawNumber, lo, hi int) (int, error) {
	text := string(n)
	v, err := strconv.Atoi(text)
	if err != nil {
		if _, ferr := strconv.ParseFloat(text, 64); ferr == nil {
			return 0, invalid(field, "%s is not an integer (expected %d..%d)", text, lo, hi)
		}
		return 0, invalid(field, "expected an integer %d..%d, got %s", lo, hi, text)
	}
	if v < lo || v > hi {
		return 0, invalid(field, "%d is out of range %d..%d", v, lo, hi)
	}
	return v, nil
}

func validatePortMappings(raw *rawConfig, c *Config) error {
	for i, rm := range raw.PortMappings {
		field := fmt.Sprintf("portMappings[%d]", i)
		pm, err := parsePortMapping(field, rm)
		if err != nil {
			return err
		}
		for j, other := range c.PortMappings {
			if err := checkClash(field, pm, j, other); err != nil {
				return err
			}
		}
		c.PortMappings = append(c.PortMappings, pm)
	}
	return nil
}

// checkClash refuses a mapping that would bind a host port mapping j binds already. The
// rule is the OS's: the same port and protocol on the same address, or on any address
// when either side is a wildcard (0.0.0.0 or ::), because a wildcard listener holds the
// port on every address (Go listens on a wildcard with one dual-stack socket, so 0.0.0.0
// holds [::1] too). hostPort 0 never clashes: the OS picks a free port.
func checkClash(field string, pm PortMapping, j int, other PortMapping) error {
	if pm.HostPort == 0 || pm.HostPort != other.HostPort || pm.Protocol != other.Protocol {
		return nil
	}
	key := fmt.Sprintf("%s/%s", netip.AddrPortFrom(pm.HostIP, pm.HostPort), pm.Protocol)
	switch {
	case pm.HostIP == other.HostIP:
		return invalid(field+".hostPort", "%s is already used by portMappings[%d]", key, j)
	case pm.HostIP.IsUnspecified() || other.HostIP.IsUnspecified():
		return invalid(field+".hostPort", "%s is already used by portMappings[%d] (%s): a wildcard address binds the port on every address",
			key, j, netip.AddrPortFrom(other.HostIP, other.HostPort))
	}
	return nil
}

func parsePortMapping(field string, rm rawPortMapping) (PortMapping, error) {
	var pm PortMapping
	// Not written: 127.0.0.1, never all interfaces unless asked.
	ip, err := parseHostIP(field+".hostIp", textOr(rm.HostIP, defaultHostIP))
	if err != nil {
		return pm, err
	}
	pm.HostIP = ip
	// hostPort 0 lets the OS pick a free port; the bound one is reported (forwards()).
	for _, p := range []struct {
		name string
		raw  rawNumber
		dst  *uint16
		min  int
	}{{"hostPort", rm.HostPort, &pm.HostPort, 0}, {"guestPort", rm.GuestPort, &pm.GuestPort, 1}} {
		if p.raw == nil {
			return pm, invalid(field+"."+p.name, "is required")
		}
		v, err := parseInt(field+"."+p.name, p.raw, p.min, 65535)
		if err != nil {
			return pm, err
		}
		*p.dst = uint16(v)
	}
	switch p := Transport(textOr(rm.Protocol, string(TCP))); p {
	case TCP, UDP:
		pm.Protocol = p
	default:
		return pm, invalid(field+".protocol", "%q is not supported (use \"tcp\" or \"udp\")", p)
	}
	return pm, nil
}

// parseHostIP reads a forward's host address, IPv4 or IPv6 (without a zone); IPv4-mapped
// IPv6 is the IPv4 address it maps.
func parseHostIP(field, s string) (netip.Addr, error) {
	ip, err := netip.ParseAddr(s)
	if err != nil || ip.Zone() != "" {
		return netip.Addr{}, invalid(field, "%q is not an IP address", s)
	}
	return ip.Unmap(), nil
}

func validateHostLoopback(raw *rawConfig, c *Config) error {
	c.HostLoopback = raw.HostLoopback == nil || *raw.HostLoopback
	def := uint32(1<<(32-c.Subnet.Bits())) - 2 // broadcast minus one: .254 in a /24
	ip, err := hostInSubnet("hostLoopbackIp", raw.HostLoopbackIP, c.Subnet, def)
	if err != nil {
		return err
	}
	if ip == c.GatewayIP || ip == c.GuestIP {
		return invalid("hostLoopbackIp", "%s is already the gateway or guest address; it must differ from both", ip)
	}
	c.HostLoopbackIP = ip
	return nil
}

// validateAllowNet checks the egress allow-list (a list of entries, or "none").
func validateAllowNet(raw *rawConfig, c *Config) error {
	allow, err := checkAllowNet(raw.AllowNet, "allowNet")
	if err != nil {
		return err
	}
	c.AllowNet, c.AllowNone = allow.Entries, allow.None
	return nil
}

// validateCaptureFile checks the pcap path; absent (or null) means no capture.
func validateCaptureFile(raw *rawConfig, c *Config) error {
	if raw.CaptureFile == nil {
		return nil
	}
	path := *raw.CaptureFile
	if path == "" {
		return invalid("captureFile", "must be a non-empty file path (leave it out for no capture)")
	}
	if strings.ContainsRune(path, 0) {
		return invalid("captureFile", "%q contains a NUL byte", path)
	}
	if base := filepath.Base(path); len(base) > maxFileNameBytes {
		return invalid("captureFile", "%s: the file name is %d bytes, longer than the %d a file name may have", path, len(base), maxFileNameBytes)
	}
	dir := filepath.Dir(path)
	info, err := os.Stat(dir)
	if err != nil {
		return invalid("captureFile", "directory %s of %s does not exist", dir, path)
	}
	if !info.IsDir() {
		return invalid("captureFile", "%s is not a directory", dir)
	}
	if err := validateCaptureTarget(path); err != nil {
		return err
	}
	c.CaptureFile = path
	return nil
}

// maxFileNameBytes is NAME_MAX on Linux and macOS.
const maxFileNameBytes = 255

// validateCaptureTarget refuses to overwrite anything but an earlier capture: the file is
// truncated when the network starts, and a mistyped path must not destroy a user's file.
func validateCaptureTarget(path string) error {
	fi, err := os.Stat(path)
	if err != nil {
		return nil // does not exist yet (or cannot be checked: creating it will say why)
	}
	if fi.IsDir() {
		return invalid("captureFile", "%s is a directory", path)
	}
	if !fi.Mode().IsRegular() {
		return invalid("captureFile", "%s exists and is not a regular file", path)
	}
	if fi.Size() == 0 {
		return nil
	}
	isPcap, err := startsWithPcapMagic(path)
	if err != nil || !isPcap {
		return invalid("captureFile", "%s exists and is not a pcap capture; refusing to overwrite it", path)
	}
	return nil
}

// pcapMagics are the classic pcap magic numbers (micro- and nanosecond, both byte orders).
var pcapMagics = [][4]byte{
	{0xd4, 0xc3, 0xb2, 0xa1}, {0xa1, 0xb2, 0xc3, 0xd4},
	{0x4d, 0x3c, 0xb2, 0xa1}, {0xa1, 0xb2, 0x3c, 0x4d},
}

func startsWithPcapMagic(path string) (bool, error) {
	f, err := os.Open(path)
	if err != nil {
		return false, fmt.Errorf("open %s: %w", path, err)
	}
	defer f.Close()
	var magic [4]byte
	if _, err := io.ReadFull(f, magic[:]); err != nil {
		return false, fmt.Errorf("read %s: %w", path, err)
	}
	for _, m := range pcapMagics {
		if magic == m {
			return true, nil
		}
	}
	return false, nil
}
