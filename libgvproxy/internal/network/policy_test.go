package network

import (
	"fmt"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"bun-gvproxy/libgvproxy/internal/audit"
	"bun-gvproxy/libgvproxy/internal/config"
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
		target, _, reason := g.resolve(netip.MustParseAddr(tc.dst))
		got := reason
		if reason == "" {
			got = target.String()
		}
		if !strings.Contains(got, tc.want) {
			t.Errorf("resolve(%s, hostLoopback=%v) = %q, want %q", tc.dst, tc.hostLoopback, got, tc.want)
		}
	}
}

func TestRulesAskForInspectionOnlyWhereANameOpenedTheAddress(t *testing.T) {
	rules, err := buildRules([]string{"203.0.113.0/24:443", "198.51.100.9", "api.example.com"}, false, true, netip.MustParseAddr("192.168.127.254"))
	if err != nil {
		t.Fatal(err)
	}
	rules.ObserveDNSAnswer("api.example.com", []net.IP{net.ParseIP("192.0.2.80")}, time.Minute)
	cases := []struct {
		proto   Transport
		dst     string
		allow   bool
		inspect policy.Inspection
	}{
		{TCP, "203.0.113.5:443", true, policy.InspectNone}, // an address entry: no inspection
		{TCP, "203.0.113.5:80", false, policy.InspectNone},
		{UDP, "198.51.100.9:53", true, policy.InspectNone},
		{TCP, "192.0.2.1:22", false, policy.InspectNone},
		{TCP, "192.0.2.80:443", true, policy.InspectTLS}, // opened by a name
		{TCP, "192.0.2.80:80", true, policy.InspectHTTP},
		{TCP, "192.0.2.80:8080", true, policy.InspectNone},
		{UDP, "192.0.2.80:443", false, policy.InspectNone},     // QUIC hides the name
		{TCP, "192.168.127.254:22", false, policy.InspectNone}, // the host, unless listed exactly
	}
	for _, tc := range cases {
		d := rules.Decide(string(tc.proto), netip.MustParseAddrPort(tc.dst))
		if d.Allow != tc.allow || (d.Allow && d.Inspect != tc.inspect) {
			t.Errorf("Decide(%s %s) = allow %v inspect %s (%s), want %v %s", tc.proto, tc.dst, d.Allow, d.Inspect, d.Reason, tc.allow, tc.inspect)
		}
		if d.Reason == "" {
			t.Errorf("decision on %s has no reason", tc.dst)
		}
	}
	if none, _ := buildRules(nil, true, true, netip.Addr{}); !none.IsNone() {
		t.Error("allowNet none did not build the none policy")
	}
	if off, _ := buildRules(nil, false, true, netip.Addr{}); off != nil {
		t.Error("an empty allowNet filters")
	}
}

func TestEveryRefusalIsCountedOnceThroughTheAuditor(t *testing.T) {
	rules, err := policy.ParseAllowNet([]string{"203.0.113.0/24"})
	if err != nil {
		t.Fatal(err)
	}
	log := &recordingLogger{}
	n := &Network{
		cfg:   &config.Config{GuestIP: netip.MustParseAddr("192.168.127.2")},
		guard: newDestinationGuard(netip.MustParsePrefix("192.168.127.0/24"), true, netip.MustParseAddr("192.168.127.254")),
		log:   log,
		audit: audit.New(log, 16),
	}
	n.audit.Subscribe(audit.KindConnection)
	n.rules.Store(rules)
	src := netip.MustParseAddrPort("192.168.127.2:40000")
	if _, _, ok := n.admit(TCP, src, netip.MustParseAddrPort("198.51.100.1:22")); ok {
		t.Fatal("an address outside allowNet was admitted")
	}
	if _, _, ok := n.admit(UDP, src, netip.MustParseAddrPort("169.254.169.254:80")); ok {
		t.Fatal("link-local was admitted")
	}
	if target, _, ok := n.admit(TCP, src, netip.MustParseAddrPort("203.0.113.9:22")); !ok || target.String() != "203.0.113.9" {
		t.Fatalf("allowed address: %v %v", target, ok)
	}
	if got := n.audit.Denied(); got != 2 {
		t.Fatalf("policy.denied = %d, want 2 (one policy refusal, one guard refusal)", got)
	}
	want := []struct {
		dst    string
		reason audit.Reason
	}{{"198.51.100.1:22", audit.IPNotAllowed}, {"169.254.169.254:80", audit.LinkLocal}}
	if len(log.debug) != 2 {
		t.Fatalf("debug lines %q, want one per refusal", log.debug)
	}
	events := n.audit.Drain(0)
	if len(events) != 2 {
		t.Fatalf("events %v, want one denied event per refusal", events)
	}
	for i, line := range log.debug {
		if !strings.Contains(line, "egress denied") || !strings.Contains(line, want[i].dst) || !strings.Contains(line, string(want[i].reason)) {
			t.Errorf("debug line %q does not name the refused destination %s and reason %s", line, want[i].dst, want[i].reason)
		}
		e := events[i].(*audit.ConnectionEvent)
		if e.Phase != audit.PhaseDenied || e.Reason != want[i].reason || e.Destination.String() != want[i].dst || e.Source.String() != src.String() {
			t.Errorf("event %+v, want denied %s to %s", e, want[i].reason, want[i].dst)
		}
	}
}

func TestWithoutHostLoopbackTheHostsOwnAddressesAreRefused(t *testing.T) {
	subnet := netip.MustParsePrefix("192.168.127.0/24")
	loopback := netip.MustParseAddr("192.168.127.254")
	hostAddr := netip.MustParseAddr("10.9.8.7")
	isHost := func(a netip.Addr) bool { return a == hostAddr || policy.IsHostAddress(a) }
	off := newDestinationGuard(subnet, false, loopback)
	off.isHostAddr = isHost
	on := newDestinationGuard(subnet, true, loopback)
	on.isHostAddr = isHost
	if _, code, reason := off.resolve(hostAddr); code != audit.HostLoopback || !strings.Contains(reason, "host itself") {
		t.Fatalf("hostLoopback off: %s was not refused as the host (%q)", hostAddr, reason)
	}
	if target, _, reason := on.resolve(hostAddr); reason != "" || target != hostAddr {
		t.Fatalf("hostLoopback on: %s refused by the guard (%q); the policy rules on it", hostAddr, reason)
	}
}

type recordingLogger struct {
	discardLogger
	debug []string
}

func (l *recordingLogger) Debugf(format string, args ...any) {
	l.debug = append(l.debug, fmt.Sprintf(format, args...))
}

type discardLogger struct{}

func (discardLogger) Tracef(string, ...any) {}
func (discardLogger) Debugf(string, ...any) {}
func (discardLogger) Infof(string, ...any)  {}
func (discardLogger) Warnf(string, ...any)  {}
func (discardLogger) Errorf(string, ...any) {}
