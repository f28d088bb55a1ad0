package dns

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"

	mdns "github.com/miekg/dns"
)

// ErrNXDomain is returned when the server says the name does not exist.
var ErrNXDomain = errors.New("NXDOMAIN")

// LookupA asks the server on conn for name's A records, as a stub resolver would: an
// NXDOMAIN is ErrNXDomain, any other rcode but NOERROR an error naming it. stream
// selects TCP framing; otherwise conn is a UDP socket.
func LookupA(ctx context.Context, conn net.Conn, stream bool, name string) ([]netip.Addr, error) {
	if _, ok := mdns.IsDomainName(name); !ok || name == "" || name == "." {
		return nil, fmt.Errorf("invalid DNS name %q", name)
	}
	reply, err := exchange(ctx, conn, stream, name, mdns.TypeA)
	if err != nil {
		return nil, err
	}
	switch reply.Rcode {
	case mdns.RcodeSuccess:
	case mdns.RcodeNameError:
		return nil, fmt.Errorf("%s: %w", name, ErrNXDomain)
	default:
		return nil, fmt.Errorf("%s: server answered %s", name, mdns.RcodeToString[reply.Rcode])
	}
	addrs := []netip.Addr{}
	for _, rr := range reply.Answer {
		if a, ok := rr.(*mdns.A); ok {
			if addr, ok := netip.AddrFromSlice(a.A.To4()); ok {
				addrs = append(addrs, addr)
			}
		}
	}
	return addrs, nil
}
