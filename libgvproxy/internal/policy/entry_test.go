package policy

import (
	"errors"
	"strings"
	"testing"
)

func TestParseAllowNetAcceptsEveryEntryKind(t *testing.T) {
	cases := []struct {
		entry     string
		kind      ruleKind
		canonical string
	}{
		{"example.com", kindName, "example.com"},
		{"Example.COM.", kindName, "example.com"},
		{"example.com:443", kindName, "example.com:443"},
		{"localhost", kindName, "localhost"},
		{"_dmarc.example.com", kindName, "_dmarc.example.com"},
		{"xn--bcher-kva.example", kindName, "xn--bcher-kva.example"},
		{"*.example.com", kindWildcard, "*.example.com"},
		{"*.Example.com.:8443", kindWildcard, "*.example.com:8443"},
		{"93.184.216.34", kindPrefix, "93.184.216.34"},
		{"93.184.216.34:80", kindPrefix, "93.184.216.34:80"},
		{"10.0.0.0/8", kindPrefix, "10.0.0.0/8"},
		{"10.0.0.0/8:5432", kindPrefix, "10.0.0.0/8:5432"},
		{"0.0.0.0/0", kindPrefix, "0.0.0.0/0"},
		{"::1", kindPrefix, "::1"},
		{"[::1]", kindPrefix, "::1"},
		{"[::1]:53", kindPrefix, "[::1]:53"},
		{"2001:DB8::1", kindPrefix, "2001:db8::1"},
		{"2001:db8::/32", kindPrefix, "2001:db8::/32"},
		{"[2001:db8::/32]:443", kindPrefix, "[2001:db8::/32]:443"},
		{"::ffff:10.1.2.3", kindPrefix, "10.1.2.3"},
		{"example.com:65535", kindName, "example.com:65535"},
	}
	for _, c := range cases {
		t.Run(c.entry, func(t *testing.T) {
			r, err := parseEntry(0, c.entry)
			if err != nil {
				t.Fatalf("parseEntry(%q) = %v", c.entry, err)
			}
			if r.kind != c.kind {
				t.Errorf("kind = %d, want %d", r.kind, c.kind)
			}
			if got := r.String(); got != c.canonical {
				t.Errorf("canonical form = %q, want %q", got, c.canonical)
			}
		})
	}
}

func TestParseAllowNetRefusesBadEntriesNamingIndexAndReason(t *testing.T) {
	cases := []struct {
		entry string
		want  string
	}{
		{"", `allowNet[1]: "": empty entry`},
		{"10.0.0.0/33", `allowNet[1]: "10.0.0.0/33": invalid CIDR`},
		{"10.0.0.1/8", `allowNet[1]: "10.0.0.1/8": host bits set in CIDR; did you mean 10.0.0.0/8?`},
		{"2001:db8::/129", `allowNet[1]: "2001:db8::/129": invalid CIDR`},
		{"300.1.2.3", `allowNet[1]: "300.1.2.3": invalid IP address`},
		{"1.2.3", `allowNet[1]: "1.2.3": invalid IP address`},
		{"::1:53x", `allowNet[1]: "::1:53x": invalid IPv6 address (with a port, write it in brackets: "[::1]:53")`},
		{"fe80::1%eth0", `allowNet[1]: "fe80::1%eth0": IPv6 zones are not allowed`},
		{"[::1", `allowNet[1]: "[::1": missing ] after IPv6 address`},
		{"[]:53", `allowNet[1]: "[]:53": empty brackets`},
		{"[::1]53", `allowNet[1]: "[::1]53": unexpected "53" after ]`},
		{"[10.0.0.1]:53", `allowNet[1]: "[10.0.0.1]:53": brackets are only for IPv6`},
		{"[example.com]:53", `allowNet[1]: "[example.com]:53": brackets are only for IPv6 addresses`},
		{"example.com:0", `allowNet[1]: "example.com:0": invalid port "0" (want 1-65535)`},
		{"example.com:65536", `allowNet[1]: "example.com:65536": invalid port "65536" (want 1-65535)`},
		{"example.com:", `allowNet[1]: "example.com:": invalid port "" (want 1-65535)`},
		{"example.com:https", `allowNet[1]: "example.com:https": invalid port "https" (want 1-65535)`},
		{"example.com:+443", `allowNet[1]: "example.com:+443": invalid port "+443" (want 1-65535)`},
		{"example.com:0443", `allowNet[1]: "example.com:0443": invalid port "0443" (want 1-65535)`},
		{":443", `allowNet[1]: ":443": missing host before port`},
		{"*", `allowNet[1]: "*": a bare * is not an entry; leave allowNet empty to disable filtering`},
		{"*.", `allowNet[1]: "*.": empty host name`},
		{"a.*.example.com", `allowNet[1]: "a.*.example.com": wildcard only allowed as the leading label "*."`},
		{"*example.com", `allowNet[1]: "*example.com": wildcard only allowed as the leading label "*."`},
		{"*.*.example.com", `allowNet[1]: "*.*.example.com": wildcard only allowed as the leading label "*."`},
		{"https://example.com", `allowNet[1]: "https://example.com": a URL is not an entry; write the host only, e.g. "example.com:443"`},
		{"exa mple.com", `allowNet[1]: "exa mple.com": invalid character ' ' in host name`},
		{"example..com", `allowNet[1]: "example..com": empty label in host name`},
		{"-example.com", `allowNet[1]: "-example.com": label "-example" starts or ends with '-'`},
		{"bücher.de", `allowNet[1]: "bücher.de": non-ASCII host name; write it in punycode (xn--...)`},
		{strings.Repeat("a", 64) + ".com", `allowNet[1]: "` + strings.Repeat("a", 64) + `.com": label "` + strings.Repeat("a", 64) + `" longer than 63 characters`},
		{strings.Repeat("abcdefghi.", 26) + "com", `allowNet[1]: "` + strings.Repeat("abcdefghi.", 26) + `com": host name longer than 253 characters`},
	}
	for _, c := range cases {
		t.Run(c.entry, func(t *testing.T) {
			p, err := ParseAllowNet([]string{"example.org", c.entry, "also-never-reached..com"})
			if err == nil {
				t.Fatalf("ParseAllowNet accepted %q as %v", c.entry, p.Rules())
			}
			if err.Error() != c.want {
				t.Errorf("error = %s\nwant    %s", err, c.want)
			}
			var entryErr *EntryError
			if !errors.As(err, &entryErr) || entryErr.Index != 1 || entryErr.Field() != "allowNet[1]" {
				t.Errorf("error %v is not an *EntryError for allowNet[1]", err)
			}
		})
	}
}

func TestParseAllowNetEmptyListDisablesFiltering(t *testing.T) {
	for _, entries := range [][]string{nil, {}} {
		p, err := ParseAllowNet(entries)
		if err != nil {
			t.Fatal(err)
		}
		if p.Enabled() {
			t.Errorf("ParseAllowNet(%v).Enabled() = true", entries)
		}
	}
	var nilPolicy *Policy
	if nilPolicy.Enabled() || nilPolicy.MatchesName("example.com") {
		t.Error("a nil Policy must behave as an empty one")
	}
}

func TestRulesListsEntriesInOrderCanonically(t *testing.T) {
	p, err := ParseAllowNet([]string{"B.example.", "10.0.0.0/8:5432", "*.Example.com", "[::1]:53", "a.example:443"})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"b.example", "10.0.0.0/8:5432", "*.example.com", "[::1]:53", "a.example:443"}
	got := p.Rules()
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("Rules() = %v, want %v", got, want)
	}
}

func TestMatchesName(t *testing.T) {
	p, err := ParseAllowNet([]string{"example.com", "*.example.org", "api.example.net:443", "10.0.0.0/8"})
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		host string
		want bool
	}{
		{"example.com", true},
		{"EXAMPLE.com.", true},
		{"www.example.com", false}, // an exact name does not cover subdomains
		{"a.example.org", true},
		{"a.b.c.example.org", true},
		{"example.org", false}, // a wildcard does not cover the apex
		{"badexample.org", false},
		{"example.org.evil.com", false},
		{"api.example.net", true}, // any port
		{"10.1.2.3", false},       // addresses are never names
		{"", false},
		{"exa mple.com", false},
	}
	for _, c := range cases {
		if got := p.MatchesName(c.host); got != c.want {
			t.Errorf("MatchesName(%q) = %v, want %v", c.host, got, c.want)
		}
	}
}
