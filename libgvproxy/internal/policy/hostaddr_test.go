package policy

import (
	"errors"
	"net"
	"net/netip"
	"testing"
	"time"
)

func TestHostAddressesCoverLoopbackUnspecifiedAndInterfaces(t *testing.T) {
	clock := &fakeClock{t: time.Unix(0, 0)}
	h := &hostAddresses{
		list: func() ([]netip.Addr, error) { return addrs("192.0.2.10", "2001:db8::10", "fe80::1"), nil },
		now:  clock.now,
	}
	cases := map[string]bool{
		"127.0.0.1": true, "127.255.255.254": true, "::1": true, "0.0.0.0": true, "0.1.2.3": true, "::": true,
		"::ffff:127.0.0.1": true, "192.0.2.10": true, "2001:db8::10": true, "fe80::1%eth0": true,
		"192.0.2.11": false, "8.8.8.8": false, "192.168.127.254": false, "2001:db8::11": false,
	}
	for s, want := range cases {
		if got := h.contains(netip.MustParseAddr(s)); got != want {
			t.Errorf("contains(%s) = %v, want %v", s, got, want)
		}
	}
	if h.contains(netip.Addr{}) {
		t.Error("the zero Addr is not a host address")
	}
}

func TestHostAddressesRefreshAndSurviveListingErrors(t *testing.T) {
	clock := &fakeClock{t: time.Unix(0, 0)}
	current := addrs("192.0.2.10")
	var listErr error
	calls := 0
	h := &hostAddresses{
		list: func() ([]netip.Addr, error) { calls++; return current, listErr },
		now:  clock.now,
	}
	newAddr := netip.MustParseAddr("198.51.100.20")
	h.contains(newAddr)
	current = append(current, newAddr) // the host joins a network
	if h.contains(newAddr) || calls != 1 {
		t.Fatalf("cache not used within the refresh interval (calls %d)", calls)
	}
	clock.advance(hostAddrRefresh)
	if !h.contains(newAddr) || calls != 2 {
		t.Fatalf("new interface address not seen after the refresh interval (calls %d)", calls)
	}
	listErr = errors.New("netlink: no buffer space")
	current = nil
	clock.advance(hostAddrRefresh)
	if !h.contains(newAddr) {
		t.Error("a failed listing dropped the known host addresses")
	}
}

func TestIsHostAddressSeesThisMachine(t *testing.T) {
	ifAddrs, err := net.InterfaceAddrs()
	if err != nil {
		t.Skipf("cannot list interfaces: %v", err)
	}
	for _, a := range ifAddrs {
		ipNet, ok := a.(*net.IPNet)
		if !ok {
			continue
		}
		addr, _ := netip.AddrFromSlice(ipNet.IP)
		if !IsHostAddress(addr) {
			t.Errorf("IsHostAddress(%s) = false for an interface address of this machine", addr)
		}
	}
	if IsHostAddress(netip.MustParseAddr("192.0.2.123")) {
		t.Error("IsHostAddress(192.0.2.123, TEST-NET-1) = true")
	}
}
