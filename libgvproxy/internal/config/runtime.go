package config

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"

	"bun-gvproxy/libgvproxy/internal/errs"
)

// The arguments of the runtime methods (expose, addHostSocket, setDnsZones ...) are
// validated here with the same rules as the config fields they mirror, so a method
// accepts exactly what the config accepts. field names the argument in errors.

// HostSocket maps guest TCP port Port on the host loopback address to the host Unix
// socket Path (config hostSockets).
type HostSocket struct {
	Port uint16
	Path string
}

type rawHostSocket struct {
	Port rawNumber `json:"port"`
	Path string    `json:"path"`
}

// maxUnixPath is the longest Unix socket path (sun_path minus its NUL) on Linux; macOS
// allows 103, which the TypeScript side checks per platform.
const maxUnixPath = 107

func parseHostSocket(field string, raw rawHostSocket) (HostSocket, error) {
	if raw.Port == nil {
		return HostSocket{}, invalid(field+".port", "is required")
	}
	port, err := parseInt(field+".port", raw.Port, 1, 65535)
	if err != nil {
		return HostSocket{}, err
	}
	if err := checkUnixPath(field+".path", raw.Path); err != nil {
		return HostSocket{}, err
	}
	return HostSocket{Port: uint16(port), Path: raw.Path}, nil
}

// checkUnixPath accepts an absolute path that fits a Unix socket address.
func checkUnixPath(field, path string) error {
	switch {
	case path == "":
		return invalid(field, "a Unix socket path is required")
	case strings.ContainsRune(path, 0):
		return invalid(field, "must not contain a NUL byte")
	case !strings.HasPrefix(path, "/"):
		return invalid(field, "%q must be an absolute path", path)
	case len(path) > maxUnixPath:
		return &errs.Error{Code: errs.SocketPathTooLong, Field: field,
			Message: fmt.Sprintf("%s: socket path %s is %d bytes; the limit is %d", field, path, len(path), maxUnixPath)}
	}
	return nil
}

func validateHostSockets(raw *rawConfig, c *Config) error {
	seen := map[uint16]int{}
	for i, rs := range raw.HostSockets {
		field := fmt.Sprintf("hostSockets[%d]", i)
		hs, err := parseHostSocket(field, rs)
		if err != nil {
			return err
		}
		if first, dup := seen[hs.Port]; dup {
			return invalid(field+".port", "port %d is already used by hostSockets[%d]", hs.Port, first)
		}
		seen[hs.Port] = i
		c.HostSockets = append(c.HostSockets, hs)
	}
	return nil
}

// decodeArgument decodes one runtime argument strictly (unknown fields refused).
func decodeArgument(data []byte, field string, into any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(into); err != nil {
		coded := errs.As(jsonError(err))
		if coded.Field != "" && coded.Field != "config" {
			return invalid(field+"."+coded.Field, "%s", strings.TrimPrefix(coded.Message, coded.Field+": "))
		}
		return invalid(field, "%s", strings.TrimPrefix(coded.Message, "config: "))
	}
	return nil
}

// ParseHostSocket validates addHostSocket's argument.
func ParseHostSocket(data []byte, field string) (HostSocket, error) {
	var raw rawHostSocket
	if err := decodeArgument(data, field, &raw); err != nil {
		return HostSocket{}, err
	}
	return parseHostSocket(field, raw)
}

// Forward is one forward from the host to the guest: a port mapping, or a Unix socket
// listener at HostPath (then HostIP and HostPort are unset and Protocol is TCP).
type Forward struct {
	PortMapping
	HostPath string
}

type rawForward struct {
	rawPortMapping
	HostPath string `json:"hostPath"`
}

// ParseForward validates expose's argument: a port mapping ({hostPort, guestPort,
// hostIp?, protocol?}; hostPort 0 lets the OS pick) or a Unix listener ({hostPath,
// guestPort}).
func ParseForward(data []byte, field string) (Forward, error) {
	var raw rawForward
	if err := decodeArgument(data, field, &raw); err != nil {
		return Forward{}, err
	}
	if raw.HostPath == "" {
		pm, err := parsePortMapping(field, raw.rawPortMapping)
		return Forward{PortMapping: pm}, err
	}
	if raw.HostIP != nil || raw.HostPort != nil || textOr(raw.Protocol, string(TCP)) != string(TCP) {
		return Forward{}, invalid(field, "a Unix listener forward ({hostPath, guestPort}) takes no hostIp, hostPort or UDP protocol")
	}
	if err := checkUnixPath(field+".hostPath", raw.HostPath); err != nil {
		return Forward{}, err
	}
	if raw.GuestPort == nil {
		return Forward{}, invalid(field+".guestPort", "is required")
	}
	port, err := parseInt(field+".guestPort", raw.GuestPort, 1, 65535)
	if err != nil {
		return Forward{}, err
	}
	return Forward{PortMapping: PortMapping{GuestPort: uint16(port), Protocol: TCP}, HostPath: raw.HostPath}, nil
}

// ForwardSelector names forwards to remove (unexpose): {hostPort, hostIp?, protocol?}
// or {hostPath}.
type ForwardSelector struct {
	HostPath string
	HostPort uint16
	HostIP   string // "" matches any
	Protocol Transport
}

type rawSelector struct {
	HostPath string    `json:"hostPath"`
	HostPort rawNumber `json:"hostPort"`
	HostIP   string    `json:"hostIp"`
	Protocol string    `json:"protocol"`
}

// ParseForwardSelector validates unexpose's argument.
func ParseForwardSelector(data []byte, field string) (ForwardSelector, error) {
	var raw rawSelector
	if err := decodeArgument(data, field, &raw); err != nil {
		return ForwardSelector{}, err
	}
	if raw.HostPath != "" {
		if raw.HostPort != nil || raw.HostIP != "" || raw.Protocol != "" {
			return ForwardSelector{}, invalid(field, "give either {hostPath} or {hostPort, hostIp?, protocol?}")
		}
		if err := checkUnixPath(field+".hostPath", raw.HostPath); err != nil {
			return ForwardSelector{}, err
		}
		return ForwardSelector{HostPath: raw.HostPath}, nil
	}
	if raw.HostPort == nil {
		return ForwardSelector{}, invalid(field+".hostPort", "is required (or give hostPath)")
	}
	port, err := parseInt(field+".hostPort", raw.HostPort, 1, 65535)
	if err != nil {
		return ForwardSelector{}, err
	}
	sel := ForwardSelector{HostPort: uint16(port), Protocol: TCP}
	if raw.HostIP != "" {
		ip, err := parseHostIP(field+".hostIp", raw.HostIP)
		if err != nil {
			return ForwardSelector{}, err
		}
		sel.HostIP = ip.String()
	}
	switch Transport(raw.Protocol) {
	case "", TCP:
	case UDP:
		sel.Protocol = UDP
	default:
		return ForwardSelector{}, invalid(field+".protocol", "%q is not supported (use \"tcp\" or \"udp\")", raw.Protocol)
	}
	return sel, nil
}

// ParseDNSZones validates setDnsZones' argument: the zones, as in the config.
func ParseDNSZones(data []byte, field string) ([]DNSZone, error) {
	var raw []rawDNSZone
	if err := decodeArgument(data, field, &raw); err != nil {
		return nil, err
	}
	return parseZones(field, raw)
}
