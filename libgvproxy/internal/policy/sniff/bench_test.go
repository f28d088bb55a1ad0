package sniff

import (
	"crypto/tls"
	"testing"
)

// Benchmarks of the first-bytes parsers; they report figures and assert nothing.

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
