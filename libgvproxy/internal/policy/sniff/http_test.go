package sniff

import (
	"net/http"
	"net/http/httputil"
	"strings"
	"testing"
)

func TestInspectHTTPHostFindsTheHost(t *testing.T) {
	cases := []struct {
		name    string
		request string
		want    string
	}{
		{"origin form", "GET / HTTP/1.1\r\nHost: example.com\r\n\r\n", "example.com"},
		{"header name case", "GET / HTTP/1.1\r\nhOsT: example.com\r\n\r\n", "example.com"},
		{"host case and trailing dot", "GET / HTTP/1.1\r\nHost: WWW.Example.COM.\r\n\r\n", "www.example.com"},
		{"port suffix", "GET / HTTP/1.1\r\nHost: example.com:8080\r\n\r\n", "example.com"},
		{"surrounding whitespace", "GET / HTTP/1.1\r\nHost: \t example.com \r\n\r\n", "example.com"},
		{"bare LF line endings", "GET / HTTP/1.1\nUser-Agent: x\nHost: example.com\n\n", "example.com"},
		{"other headers around", "POST /api HTTP/1.1\r\nContent-Length: 3\r\nHost: api.example.com\r\nAccept: */*\r\n\r\nabc", "api.example.com"},
		{"HTTP/1.0 with Host", "GET / HTTP/1.0\r\nHost: example.com\r\n\r\n", "example.com"},
		{"absolute-URI request line", "GET http://Example.com:80/path?q=1 HTTP/1.1\r\n\r\n", "example.com"},
		{"absolute-URI matching Host", "GET http://example.com/ HTTP/1.1\r\nHost: example.com:80\r\n\r\n", "example.com"},
		{"absolute-URI with query only", "GET http://example.com?x HTTP/1.1\r\n\r\n", "example.com"},
		{"CONNECT to a proxy names its target", "CONNECT other.example:443 HTTP/1.1\r\nHost: other.example:443\r\n\r\n", "other.example"},
		{"asterisk form", "OPTIONS * HTTP/1.1\r\nHost: example.com\r\n\r\n", "example.com"},
		{"IPv6 literal", "GET / HTTP/1.1\r\nHost: [2001:DB8::1]:8080\r\n\r\n", "2001:db8::1"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			host, complete, err := InspectHTTPHost([]byte(c.request))
			if err != nil || !complete || host != c.want {
				t.Fatalf("InspectHTTPHost = %q, %v, %v; want %q, true, nil", host, complete, err, c.want)
			}
		})
	}
}

func TestInspectHTTPHostReadsNetHTTPRequests(t *testing.T) {
	req, err := http.NewRequest("GET", "http://files.example.com:8080/a/b?c=d", strings.NewReader(""))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("User-Agent", "policy-test")
	wire, err := httputil.DumpRequest(req, false)
	if err != nil {
		t.Fatal(err)
	}
	host, complete, err := InspectHTTPHost(wire)
	if err != nil || !complete || host != "files.example.com" {
		t.Fatalf("InspectHTTPHost(%q) = %q, %v, %v", wire, host, complete, err)
	}
}

func TestInspectHTTPHostNeedsMoreUntilTheHeaderEnds(t *testing.T) {
	request := "GET /index.html HTTP/1.1\r\nHost: example.com\r\nAccept: */*\r\n\r\n"
	for cut := 0; cut < len(request); cut++ {
		host, complete, err := InspectHTTPHost([]byte(request[:cut]))
		if err != nil || complete || host != "" {
			t.Fatalf("prefix %q: %q, %v, %v; want need-more", request[:cut], host, complete, err)
		}
	}
}

func TestInspectHTTPHostRefusesWhatIsNotPlainHTTP(t *testing.T) {
	cases := []struct {
		name    string
		request string
		want    string
	}{
		{"TLS on 80", "\x16\x03\x01\x02\x00", "not an HTTP request (byte 0x16 in method)"},
		{"binary on the first byte", "\x00", "byte 0x00 in method"},
		{"leading space", " GET / HTTP/1.1\r\n", "empty method"},
		{"SSH banner", "SSH-2.0-OpenSSH_9.6\r\n\r\n", "byte 0x0d in method"},
		{"empty request line", "\r\n\r\n", "byte 0x0d in method"},
		{"HTTP/2 prior knowledge", "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", "HTTP/2 with prior knowledge"},
		{"HTTP/0.9", "GET /\r\n\r\n", "malformed request line"},
		{"unknown version", "GET / HTTP/3.0\r\nHost: example.com\r\n\r\n", "unsupported HTTP version"},
		{"no Host", "GET / HTTP/1.1\r\nAccept: */*\r\n\r\n", "no Host header"},
		{"empty Host", "GET / HTTP/1.1\r\nHost: \r\n\r\n", "empty Host header"},
		{"two Host headers", "GET / HTTP/1.1\r\nHost: a.example\r\nHost: b.example\r\n\r\n", "several Host headers"},
		{"Host disagreeing with absolute URI", "GET http://a.example/ HTTP/1.1\r\nHost: b.example\r\n\r\n", "disagrees with request target"},
		{"userinfo", "GET http://a.example@b.example/ HTTP/1.1\r\n\r\n", "userinfo in request target"},
		{"folded Host", "GET / HTTP/1.1\r\nX: y\r\n Host: a.example\r\n\r\n", "folded header line"},
		{"space before colon", "GET / HTTP/1.1\r\nHost : a.example\r\n\r\n", "invalid header name"},
		{"header without colon", "GET / HTTP/1.1\r\nHost a.example\r\n\r\n", "malformed header line"},
		{"ftp URI", "GET ftp://a.example/ HTTP/1.1\r\n\r\n", "unsupported request target"},
		{"empty authority", "GET http:///x HTTP/1.1\r\nHost: a.example\r\n\r\n", "empty host in request target"},
		{"bad port", "GET / HTTP/1.1\r\nHost: a.example:8o\r\n\r\n", "invalid port"},
		{"control byte in host", "GET / HTTP/1.1\r\nHost: a.exa\x01mple\r\n\r\n", "invalid byte 0x01 in host"},
		{"unterminated IPv6", "GET / HTTP/1.1\r\nHost: [::1\r\n\r\n", "malformed host"},
		{"IPv4 in brackets", "GET / HTTP/1.1\r\nHost: [10.0.0.1]\r\n\r\n", "malformed IPv6 host"},
		{"double space in request line", "GET  / HTTP/1.1\r\nHost: a.example\r\n\r\n", "malformed request line"},
		{"header block beyond the limit", "GET / HTTP/1.1\r\nX: " + strings.Repeat("a", MaxInspectBytes), "no complete request header within 32768 bytes"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			host, complete, err := InspectHTTPHost([]byte(c.request))
			if err == nil || complete {
				t.Fatalf("InspectHTTPHost = %q, %v, %v; want an error", host, complete, err)
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %q does not contain %q", err, c.want)
			}
		})
	}
}

func TestInspectHTTPHostTruncatesHostileInputInErrors(t *testing.T) {
	_, _, err := InspectHTTPHost([]byte("GET / HTTP/" + strings.Repeat("9", 10000) + "\r\n\r\n"))
	if err == nil || len(err.Error()) > 200 {
		t.Fatalf("error of %d bytes: want a short error", len(err.Error()))
	}
}
