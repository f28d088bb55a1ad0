package network

import (
	"net/netip"
	"strings"
	"testing"

	"bun-gvproxy/libgvproxy/internal/policy"
)

func TestDestinationGuard(t *testing.T) {
	subnet := netip.MustParsePrefix("192.168.127.0/24")
	loopback := netip.MustParseAddr("192.168.127.254")
	cases := []struct {
		dst          string
		hostLoopback bool
		want         string // the address to dial, or a fragment of the refusal
	}{
		{"192.168.127.254", true, "127.0.0.1"},
		{"192.168.127.254", false, "inside the virtual subnet"},
		{"192.168.127.1", true, "inside the virtual subnet"},
		{"192.168.127.3", true, "inside the virtual subnet"},
		{"127.0.0.1", true, "loopback or unspecified"},
		{"127.0.0.1", false, "loopback or unspecified"},
		{"127.255.0.1", true, "loopback or unspecified"},
		{"0.0.0.0", true, "loopback or unspecified"},
		{"0.0.0.0", false, "loopback or unspecified"},
		{"169.254.169.254", true, "link-local"},
		{"255.255.255.255", true, "broadcast or multicast"},
		{"224.0.0.251", true, "broadcast or multicast"},
		{"192.168.127.255", true, "broadcast or multicast"},
		{"203.0.113.7", false, "203.0.113.7"},
		{"10.1.2.3", true, "10.1.2.3"},
	}
	for _, tc := range cases {
		g := newDestinationGuard(subnet, tc.hostLoopback, loopback)
		target, reason := g.resolve(netip.MustParseAddr(tc.dst))
		got := reason
		if reason == "" {
			got = target.String()
		}
		if !strings.Contains(got, tc.want) {
			t.Errorf("resolve(%s, hostLoopback=%v) = %q, want %q", tc.dst, tc.hostLoopback, got, tc.want)
		}
	}
}

func TestAllowNetPolicyFailsClosedWhereInspectionIsNeeded(t *testing.T) {
	engine, err := policy.ParseAllowNet([]string{"203.0.113.0/24:443", "198.51.100.9"})
	if err != nil {
		t.Fatal(err)
	}
	p := allowNetPolicy{engine: engine}
	cases := []struct {
		proto Transport
		dst   string
		port  uint16
		allow bool
	}{
		{TCP, "203.0.113.5", 443, true},
		{TCP, "203.0.113.5", 80, false},
		{UDP, "198.51.100.9", 53, true},
		{TCP, "192.0.2.1", 22, false},
	}
	for _, tc := range cases {
		ok, reason := p.Allow(tc.proto, netip.MustParseAddr(tc.dst), tc.port)
		if ok != tc.allow {
			t.Errorf("Allow(%s %s:%d) = %v (%s), want %v", tc.proto, tc.dst, tc.port, ok, reason, tc.allow)
		}
		if !ok && reason == "" {
			t.Errorf("refusal of %s:%d has no reason", tc.dst, tc.port)
		}
	}
	if ok, _ := (AllowAll{}).Allow(TCP, netip.MustParseAddr("192.0.2.1"), 1); !ok {
		t.Error("AllowAll refused")
	}
}

func TestLocalChatterIsDroppedWithoutCountingADenial(t *testing.T) {
	n := &Network{
		guard:  newDestinationGuard(netip.MustParsePrefix("192.168.127.0/24"), true, netip.MustParseAddr("192.168.127.254")),
		policy: AllowAll{},
		log:    discardLogger{},
	}
	for _, dst := range []string{"255.255.255.255", "224.0.0.251", "239.255.255.250", "192.168.127.255"} {
		if _, ok := n.admit(UDP, addrOf(netip.MustParseAddr(dst)), 5353); ok {
			t.Errorf("%s admitted", dst)
		}
	}
	if n.policyDenied.Load() != 0 {
		t.Fatalf("policyDenied = %d for broadcast/multicast chatter", n.policyDenied.Load())
	}
	if _, ok := n.admit(TCP, addrOf(netip.MustParseAddr("127.0.0.1")), 22); ok || n.policyDenied.Load() != 1 {
		t.Fatalf("loopback: admitted %v, denied %d", ok, n.policyDenied.Load())
	}
	if target, ok := n.admit(TCP, addrOf(netip.MustParseAddr("192.168.127.254")), 22); !ok || target.String() != "127.0.0.1" {
		t.Fatalf("host loopback NAT: %v %v", target, ok)
	}
}

type discardLogger struct{}

func (discardLogger) Tracef(string, ...any) {}
func (discardLogger) Debugf(string, ...any) {}
func (discardLogger) Infof(string, ...any)  {}
func (discardLogger) Warnf(string, ...any)  {}
func (discardLogger) Errorf(string, ...any) {}
