package policy

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// Each fuzz target checks the parser never panics, never reads past MaxInspectBytes
// without concluding, and gives the same verdict however the bytes were split: every
// proper prefix of an input that parses completely must report "need more".

// FuzzInspectTLS's seeds include real ClientHellos captured from crypto/tls, in
// testdata/fuzz/FuzzInspectTLS (TestFuzzSeedsAreRealClientHellos checks them). They are
// files rather than live captures because a TLS handshake inside every fuzz worker,
// under coverage instrumentation, stalls the fuzzer.
func FuzzInspectTLS(f *testing.F) {
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

func FuzzParseAllowNet(f *testing.F) {
	for _, seed := range []string{
		"example.com", "*.example.com:443", "10.0.0.0/8:5432", "[::1]:53", "2001:db8::/32",
		"10.0.0.0/33", "a.*.b", "https://x", "::ffff:1.2.3.4", "[2001:db8::/32]:443", "EXAMPLE.com.",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, entry string) {
		p, err := ParseAllowNet([]string{entry})
		if err != nil {
			if !strings.HasPrefix(err.Error(), "allowNet[0]: ") {
				t.Fatalf("error %q does not name the entry", err)
			}
			return
		}
		// The canonical form parses back to itself.
		canonical := p.Rules()[0]
		again, err := ParseAllowNet([]string{canonical})
		if err != nil {
			t.Fatalf("canonical form %q of %q does not parse: %v", canonical, entry, err)
		}
		if got := again.Rules()[0]; got != canonical {
			t.Fatalf("canonical form of %q is %q, which re-parses as %q", entry, canonical, got)
		}
	})
}

func TestFuzzSeedsAreRealClientHellos(t *testing.T) {
	want := map[string]string{
		"clienthello-tls13-example.com":     "example.com",
		"clienthello-tls13-alpn-multilabel": "a.b.c.example.org",
		"clienthello-tls12-only":            "tls12.example",
		"clienthello-no-sni":                "",
	}
	for file, sni := range want {
		data, err := os.ReadFile(filepath.Join("testdata", "fuzz", "FuzzInspectTLS", file))
		if err != nil {
			t.Fatal(err)
		}
		text := strings.TrimPrefix(strings.TrimSpace(string(data)), "go test fuzz v1\n")
		literal, ok := strings.CutPrefix(text, "[]byte(")
		if !ok || !strings.HasSuffix(literal, ")") {
			t.Fatalf("%s: not a []byte seed", file)
		}
		hello, err := strconv.Unquote(strings.TrimSuffix(literal, ")"))
		if err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		got, complete, err := InspectTLSClientHello([]byte(hello))
		if err != nil || !complete || got != sni {
			t.Errorf("%s: %q, %v, %v; want %q", file, got, complete, err, sni)
		}
	}
}
