package policy

import (
	"net"
	"net/netip"
	"sync"
	"time"
)

// hostAddrRefresh is how long the host's interface addresses are trusted before they
// are listed again: long enough that the hot path rarely pays for a netlink dump, short
// enough that a newly joined network (VPN, Wi-Fi) is protected soon.
const hostAddrRefresh = 5 * time.Second

// hostAddresses caches the host's own interface addresses.
type hostAddresses struct {
	list func() ([]netip.Addr, error)
	now  func() time.Time

	mu      sync.Mutex
	addrs   map[netip.Addr]struct{}
	fetched time.Time
}

var defaultHostAddresses = &hostAddresses{list: interfaceAddrs, now: time.Now}

func interfaceAddrs() ([]netip.Addr, error) {
	ifAddrs, err := net.InterfaceAddrs()
	if err != nil {
		return nil, err
	}
	out := make([]netip.Addr, 0, len(ifAddrs))
	for _, a := range ifAddrs {
		if ipNet, ok := a.(*net.IPNet); ok {
			if addr, ok := netip.AddrFromSlice(ipNet.IP); ok {
				out = append(out, addr.Unmap())
			}
		}
	}
	return out, nil
}

// IsHostAddress reports whether connecting to ip reaches the host machine itself:
// loopback (127.0.0.0/8, ::1), the unspecified addresses (0.0.0.0/8 and ::, which
// Linux routes to the local host), or one of the host's interface addresses.
func IsHostAddress(ip netip.Addr) bool {
	return defaultHostAddresses.contains(ip)
}

func (h *hostAddresses) contains(ip netip.Addr) bool {
	ip = ip.Unmap().WithZone("")
	if !ip.IsValid() {
		return false
	}
	if ip.IsLoopback() || ip.IsUnspecified() || (ip.Is4() && ip.As4()[0] == 0) {
		return true
	}
	_, ok := h.current()[ip]
	return ok
}

// current returns the cached set, refreshing it when stale. A failed listing keeps the
// previous set (interfaces rarely vanish; an empty set would silently drop protection).
func (h *hostAddresses) current() map[netip.Addr]struct{} {
	h.mu.Lock()
	defer h.mu.Unlock()
	now := h.now()
	if h.addrs != nil && now.Sub(h.fetched) < hostAddrRefresh {
		return h.addrs
	}
	addrs, err := h.list()
	h.fetched = now
	if err != nil && h.addrs != nil {
		return h.addrs
	}
	set := make(map[netip.Addr]struct{}, len(addrs))
	for _, a := range addrs {
		set[a.Unmap().WithZone("")] = struct{}{}
	}
	h.addrs = set
	return set
}
