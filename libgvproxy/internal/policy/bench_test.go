package policy

import (
	"crypto/tls"
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
	p.OnDeny(func(Denial) {})
	for i := 0; i < 1000; i++ {
		p.observe(fmt.Sprintf("host%d.zone%d.example", i, i%50), []netip.Addr{netip.AddrFrom4([4]byte{203, 0, byte(i >> 8), byte(i)})}, time.Hour)
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

func BenchmarkInspectTLSClientHello(b *testing.B) {
	hello := captureClientHello(b, &tls.Config{ServerName: "example.com"})
	b.SetBytes(int64(len(hello)))
	for b.Loop() {
		if _, complete, err := InspectTLSClientHello(hello); !complete || err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkInspectHTTPHost(b *testing.B) {
	req := []byte("GET /index.html HTTP/1.1\r\nHost: example.com\r\nUser-Agent: curl/8.5.0\r\nAccept: */*\r\n\r\n")
	b.SetBytes(int64(len(req)))
	for b.Loop() {
		if _, complete, err := InspectHTTPHost(req); !complete || err != nil {
			b.Fatal(err)
		}
	}
}
