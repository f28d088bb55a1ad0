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
	c := &Config{CaptureFile: raw.CaptureFile, Debug: raw.Debug}
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
		return invalid("socketPath", "is required (the unix socket path the VM connects to)")
	case strings.ContainsRune(raw.SocketPath, 0):
		return invalid("socketPath", "must not contain a NUL byte")
	}
	c.SocketPath = raw.SocketPath
	switch Protocol(raw.Protocol) {
	case "":
		c.Protocol = DefaultProtocol()
	case ProtocolQemu, ProtocolVfkit:
		c.Protocol = Protocol(raw.Protocol)
	default:
		return invalid("protocol", "%q is not supported (use \"qemu\" or \"vfkit\")", raw.Protocol)
	}
	return nil
}

func validateAddressing(raw *rawConfig, c *Config) error {
	subnet, err := parseSubnet(raw.Subnet)
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
		return invalid("guestIp", "%s is also the gateway address", c.GuestIP)
	}
	return nil
}

func parseSubnet(s string) (netip.Prefix, error) {
	if s == "" {
		s = defaultSubnet
	}
	p, err := netip.ParsePrefix(s)
	if err != nil || !p.Addr().Is4() {
		return netip.Prefix{}, invalid("subnet", "%q is not an IPv4 CIDR such as 192.168.127.0/24", s)
	}
	if p.Masked() != p {
		return netip.Prefix{}, invalid("subnet", "%s is not a network address (did you mean %s?)", s, p.Masked())
	}
	if p.Bits() > 29 || p.Bits() < 8 {
		// A /30 would leave no room for gateway, guest and the host loopback address.
		return netip.Prefix{}, invalid("subnet", "%s: prefix length must be between /8 and /29", s)
	}
	return p, nil
}

// hostInSubnet parses an IPv4 address that must be a host address of subnet; an empty
// value defaults to the subnet's nth address.
func hostInSubnet(field, s string, subnet netip.Prefix, nth uint32) (netip.Addr, error) {
	if s == "" {
		return nthAddr(subnet, nth), nil
	}
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
	if c.GatewayMAC, err = parseMAC("gatewayMac", raw.GatewayMAC, defaultGatewayMAC); err != nil {
		return err
	}
	if c.GuestMAC, err = parseMAC("guestMac", raw.GuestMAC, defaultGuestMAC); err != nil {
		return err
	}
	if c.GuestMAC.String() == c.GatewayMAC.String() {
		return invalid("guestMac", "%s is also the gateway MAC address", c.GuestMAC)
	}
	return nil
}

func parseMAC(field, s, def string) (net.HardwareAddr, error) {
	if s == "" {
		s = def
	}
	mac, err := net.ParseMAC(s)
	if err != nil || len(mac) != 6 {
		return nil, invalid(field, "%q is not a 48-bit MAC address such as 5a:94:ef:e4:0c:ee", s)
	}
	if mac[0]&1 == 1 {
		return nil, invalid(field, "%s is a multicast address; a unicast MAC is required", mac)
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
			return 0, invalid(field, "%s is not an integer", text)
		}
		return 0, invalid(field, "expected an integer, got %s", text)
	}
	if v < lo || v > hi {
		return 0, invalid(field, "%d is out of range %d..%d", v, lo, hi)
	}
	return v, nil
}

func validatePortMappings(raw *rawConfig, c *Config) error {
	seen := make(map[string]int, len(raw.PortMappings))
	for i, rm := range raw.PortMappings {
		field := fmt.Sprintf("portMappings[%d]", i)
		pm, err := parsePortMapping(field, rm)
		if err != nil {
			return err
		}
		key := fmt.Sprintf("%s/%s", netip.AddrPortFrom(pm.HostIP, pm.HostPort), pm.Protocol)
		if first, dup := seen[key]; dup && pm.HostPort != 0 {
			return invalid(field+".hostPort", "%s is already used by portMappings[%d]", key, first)
		}
		seen[key] = i
		c.PortMappings = append(c.PortMappings, pm)
	}
	return nil
}

func parsePortMapping(field string, rm rawPortMapping) (PortMapping, error) {
	var pm PortMapping
	ip, err := parseHostIP(field+".hostIp", rm.HostIP)
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
	switch Transport(rm.Protocol) {
	case "":
		pm.Protocol = TCP
	case TCP, UDP:
		pm.Protocol = Transport(rm.Protocol)
	default:
		return pm, invalid(field+".protocol", "%q is not supported (use \"tcp\" or \"udp\")", rm.Protocol)
	}
	return pm, nil
}

// parseHostIP reads a forward's host address; empty is 127.0.0.1 (never all interfaces
// unless asked).
func parseHostIP(field, s string) (netip.Addr, error) {
	text := s
	if text == "" {
		text = defaultHostIP
	}
	ip, err := netip.ParseAddr(text)
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
		return invalid("hostLoopbackIp", "%s is already the gateway or guest address", ip)
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

func validateCaptureFile(_ *rawConfig, c *Config) error {
	if c.CaptureFile == "" {
		return nil
	}
	if strings.ContainsRune(c.CaptureFile, 0) {
		return invalid("captureFile", "%q contains a NUL byte", c.CaptureFile)
	}
	if base := filepath.Base(c.CaptureFile); len(base) > maxFileNameBytes {
		return invalid("captureFile", "%s: the file name is %d bytes, longer than the %d a file name may have", c.CaptureFile, len(base), maxFileNameBytes)
	}
	dir := filepath.Dir(c.CaptureFile)
	info, err := os.Stat(dir)
	if err != nil {
		return invalid("captureFile", "directory %s of %s does not exist", dir, c.CaptureFile)
	}
	if !info.IsDir() {
		return invalid("captureFile", "%s is not a directory", dir)
	}
	return validateCaptureTarget(c.CaptureFile)
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
