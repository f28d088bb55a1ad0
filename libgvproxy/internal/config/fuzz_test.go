package config

import (
	"errors"
	"testing"

	"bun-gvproxy/libgvproxy/internal/errs"
)

// FuzzDecode checks that no input makes Decode panic, that every refusal is a coded
// INVALID_CONFIG error, and that every accepted config satisfies the invariants the
// network relies on.
func FuzzDecode(f *testing.F) {
	seeds := []string{
		`{"socketPath":"/tmp/x.sock"}`,
		`{"socketPath":"/tmp/x.sock","subnet":"10.0.0.0/8","mtu":65520,"protocol":"vfkit"}`,
		`{"socketPath":"/tmp/x.sock","portMappings":[{"hostPort":8080,"guestPort":80},{"hostIp":"::1","hostPort":53,"guestPort":53,"protocol":"udp"}]}`,
		`{"socketPath":"/tmp/x.sock","dnsZones":[{"name":"example.internal.","records":[{"name":"db","ip":"192.168.127.50"}],"defaultIp":"192.168.127.51"}],"dnsSearchDomains":["example.internal"]}`,
		`{"socketPath":"/tmp/x.sock","hostLoopback":false,"hostLoopbackIp":"192.168.127.200","allowNet":["10.0.0.0/8:5432","example.com"]}`,
		`{"socketPath":"/tmp/x.sock","mtu":1e3}`,
		`{"socketPath":"/tmp/x.sock","gatewayMac":"5A-94-EF-E4-0C-DD"}`,
		`{"socketPath":1}`, `{`, `null`, `[]`, ``,
	}
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := Decode(data)
		if err != nil {
			var coded *errs.Error
			if !errors.As(err, &coded) || coded.Code != errs.InvalidConfig {
				t.Fatalf("Decode(%q) = %v, want an INVALID_CONFIG error", data, err)
			}
			return
		}
		checkInvariants(t, c)
	})
}

func checkInvariants(t *testing.T, c *Config) {
	t.Helper()
	if c.SocketPath == "" || (c.Protocol != ProtocolQemu && c.Protocol != ProtocolVfkit) {
		t.Fatalf("socket: %q %q", c.SocketPath, c.Protocol)
	}
	for _, ip := range []struct {
		name string
		ok   bool
	}{
		{"gateway", c.Subnet.Contains(c.GatewayIP)},
		{"guest", c.Subnet.Contains(c.GuestIP)},
		{"hostLoopback", c.Subnet.Contains(c.HostLoopbackIP)},
		{"distinct", c.GatewayIP != c.GuestIP && c.HostLoopbackIP != c.GuestIP && c.HostLoopbackIP != c.GatewayIP},
	} {
		if !ip.ok {
			t.Fatalf("%s address invariant broken: %+v", ip.name, c)
		}
	}
	if c.MTU < MinMTU || c.MTU > MaxMTU || len(c.GatewayMAC) != 6 || len(c.GuestMAC) != 6 {
		t.Fatalf("mtu/mac invariant broken: %+v", c)
	}
	for _, pm := range c.PortMappings {
		if pm.HostPort == 0 || pm.GuestPort == 0 || (pm.Protocol != TCP && pm.Protocol != UDP) {
			t.Fatalf("port mapping invariant broken: %+v", pm)
		}
	}
}
