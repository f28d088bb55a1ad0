package sniff

import (
	"crypto/tls"
	"strings"
	"testing"
)

// Each fuzz target checks the parser never panics, never reads past MaxInspectBytes
// without concluding, and gives the same verdict however the bytes were split: every
// proper prefix of an input that parses completely must report "need more".

// FuzzInspectTLS starts from real ClientHellos captured from crypto/tls. They are ~1.5
// KiB (post-quantum key share), and minimising each new interesting input that size
// takes the default -fuzzminimizetime (60 s) during which "execs" stands still: run
// it with -fuzzminimizetime=3s for steady progress.
func FuzzInspectTLS(f *testing.F) {
	f.Add(captureClientHello(f, &tls.Config{ServerName: "example.com"}))
	f.Add(captureClientHello(f, &tls.Config{ServerName: "a.b.c.example.org", NextProtos: []string{"h2", "http/1.1"}}))
	f.Add(captureClientHello(f, &tls.Config{ServerName: "tls12.example", MaxVersion: tls.VersionTLS12}))
	f.Add(helloWithExtensions(nil))
	f.Add(helloWithExtensions(serverNameExt("x.example", "y.example")))
	f.Add([]byte("GET / HTTP/1.1\r\n\r\n"))
	f.Add([]byte{0x16, 0x03, 0x01, 0x00, 0x01, 0x01})
	f.Fuzz(func(t *testing.T, input []byte) {
		checkInspector(t, InspectTLSClientHello, input)
	})
}

func FuzzInspectHTTP(f *testing.F) {
	for _, seed := range []string{
		"GET / HTTP/1.1\r\nHost: example.com\r\n\r\n",
		"GET http://example.com:8080/x HTTP/1.1\r\nHost: example.com\r\n\r\n",
		"CONNECT example.com:443 HTTP/1.1\r\n\r\n",
		"GET / HTTP/1.1\nHost: [::1]:80\n\n",
		"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
		"\x16\x03\x01",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, input []byte) {
		checkInspector(t, InspectHTTPHost, input)
	})
}

type inspector func([]byte) (string, bool, error)

// checkInspector asserts the invariants every first-bytes inspector keeps.
func checkInspector(t *testing.T, inspect inspector, input []byte) {
	t.Helper()
	name, complete, err := inspect(input)
	switch {
	case err != nil && complete:
		t.Fatalf("complete with error %v", err)
	case !complete && err == nil && len(input) >= MaxInspectBytes:
		t.Fatalf("still asking for more after %d bytes", len(input))
	case !complete:
		return
	case name != strings.ToLower(name) || strings.ContainsAny(name, " \t\r\n\x00"):
		t.Fatalf("name %q not normalised", name)
	}
	// A prefix of a conclusive input either needs more or concludes the same way
	// (it may already hold the whole message if trailing bytes followed).
	for _, cut := range []int{0, 1, len(input) / 3, len(input) / 2, len(input) - 1} {
		pName, pComplete, pErr := inspect(input[:cut])
		if pErr != nil || (pComplete && pName != name) {
			t.Fatalf("prefix of %d/%d bytes: %q, %v, %v; whole input: %q", cut, len(input), pName, pComplete, pErr, name)
		}
	}
}
