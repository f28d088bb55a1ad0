package policy

import (
	"fmt"
	"net/netip"
	"testing"
	"time"
)

// Benchmarks of the connect-time hot path; they report figures and assert nothing.

func benchPolicy(b *testing.B) *Policy {
	entries := []string{"10.0.0.0/8:5432", "192.168.0.0/16", "[2001:db8::/32]:443"}
	for i := 0; i < 50; i++ {
		entries = append(entries, fmt.Sprintf("svc%d.example.com:443", i), fmt.Sprintf("*.zone%d.example", i))
	}
	p, err := ParseAllowNet(entries)
	if err != nil {
		b.Fatal(err)
	}
	for i := 0; i < 1000; i++ {
		p.Learn(fmt.Sprintf("host%d.zone%d.example", i, i%50), []netip.Addr{netip.AddrFrom4([4]byte{203, 0, byte(i >> 8), byte(i)})}, time.Hour)
	}
	return p
}

func BenchmarkDecide(b *testing.B) {
	p := benchPolicy(b)
	for _, c := range []struct{ name, dst string }{
		{"CIDR", "10.1.2.3:5432"},
		{"learned name", "203.0.1.244:443"},
		{"denied", "8.8.8.8:53"},
	} {
		dst := netip.MustParseAddrPort(c.dst)
		b.Run(c.name, func(b *testing.B) {
			for b.Loop() {
				p.Decide("tcp", dst)
			}
		})
	}
}
