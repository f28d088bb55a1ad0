package policy

import (
	"net/netip"
	"strings"
	"testing"
	"time"

	"bun-gvproxy/libgvproxy/internal/audit"
)

func TestDecideEcho(t *testing.T) {
	p, _ := newTestPolicy(t,
		"10.0.0.0/8",
		"172.16.0.0/12:443",
		"example.com",
		"api.example.net:8443",
		"*.example.org",
		"192.0.2.10",
	)
	p.MarkHostAddress(netip.MustParseAddr("192.168.127.254"))
	p.Learn("example.com", addrs("203.0.113.1"), time.Minute)
	p.Learn("api.example.net", addrs("203.0.113.3"), time.Minute)
	p.Learn("www.example.org", addrs("203.0.113.4"), time.Minute)

	cases := []struct {
		name   string
		dst    string
		allow  bool
		code   audit.Reason
		reason string // a fragment the reason must contain
	}{
		{"CIDR entry without port", "10.1.2.3", true, "", "allowNet[0] 10.0.0.0/8"},
		{"CIDR entry with a port opens that port, not ping", "172.16.0.1", false, audit.PortNotAllowed, "172.16.0.0/12:443"},
		{"learned name without port", "203.0.113.1", true, "", "example.com"},
		{"learned wildcard name without port", "203.0.113.4", true, "", "www.example.org"},
		{"learned name with a port", "203.0.113.3", false, audit.PortNotAllowed, "api.example.net"},
		{"address nobody allowed", "8.8.8.8", false, audit.IPNotAllowed, "no allowNet entry covers 8.8.8.8"},
		{"the host, by its exact address", "192.0.2.10", true, "", "allowNet[5]"},
		{"hostLoopback address unless listed", "192.168.127.254", false, audit.IPNotAllowed, "no allowNet entry covers"},
		{"IPv4-mapped destination", "::ffff:10.1.2.3", true, "", "allowNet[0]"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d := p.DecideEcho(netip.MustParseAddr(c.dst))
			if d.Allow != c.allow || d.Code != c.code || !strings.Contains(d.Reason, c.reason) {
				t.Fatalf("DecideEcho(%s) = allow %v code %q %q; want allow %v code %q containing %q",
					c.dst, d.Allow, d.Code, d.Reason, c.allow, c.code, c.reason)
			}
			if d.Inspect != InspectNone {
				t.Fatalf("an echo request has no bytes to inspect, got %s", d.Inspect)
			}
			if !d.Allow {
				denial := d.Denial()
				if denial.Proto != "icmp" || denial.Destination.Addr.Addr() != netip.MustParseAddr(c.dst).Unmap() {
					t.Fatalf("denial = %+v, want proto icmp to %s", denial, c.dst)
				}
			}
		})
	}
}

func TestDecideEchoNeedsAnExactEntryForTheHost(t *testing.T) {
	p, _ := newTestPolicy(t, "192.0.2.0/24", "0.0.0.0/0")
	d := p.DecideEcho(testHostAddr)
	if d.Allow || d.Code != audit.HostLoopback {
		t.Fatalf("a CIDR opened ping to the host itself: %+v", d)
	}
	p.Learn("example.com", addrs(testHostAddr.String()), time.Minute)
	if d := p.DecideEcho(testHostAddr); d.Allow {
		t.Fatalf("a name resolving to the host (rebinding) opened ping to it: %+v", d)
	}
}

func TestDecideEchoWithoutFilteringAndWithNone(t *testing.T) {
	var off *Policy
	if d := off.DecideEcho(netip.MustParseAddr("8.8.8.8")); !d.Allow {
		t.Fatalf("no filtering refused ping: %+v", d)
	}
	if d := None().DecideEcho(netip.MustParseAddr("8.8.8.8")); d.Allow || d.Code != audit.EgressNone {
		t.Fatalf(`allowNet "none" allowed ping: %+v`, d)
	}
}

func TestDecideEchoForgetsExpiredNames(t *testing.T) {
	p, clock := newTestPolicy(t, "example.com")
	p.Learn("example.com", addrs("203.0.113.1"), MinLearnTTL)
	if d := p.DecideEcho(netip.MustParseAddr("203.0.113.1")); !d.Allow {
		t.Fatalf("learned name refused: %+v", d)
	}
	clock.advance(MaxLearnTTL + time.Second)
	if d := p.DecideEcho(netip.MustParseAddr("203.0.113.1")); d.Allow {
		t.Fatalf("an expired binding still opened ping: %+v", d)
	}
}
