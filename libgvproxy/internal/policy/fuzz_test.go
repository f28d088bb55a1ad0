package policy

import (
	"strings"
	"testing"
)

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
