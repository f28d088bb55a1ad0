package policy

import (
	"bytes"
	"io"
	"strings"
	"testing"
	"testing/iotest"

	"bun-gvproxy/libgvproxy/internal/audit"
	"bun-gvproxy/libgvproxy/internal/policy/sniff"
)

func guardedHTTPDecision(t *testing.T) (Decision, *Policy) {
	p := sharedIPPolicy(t)
	d := p.Decide("tcp", addrPort("203.0.113.80:80"))
	if d.Inspect != InspectHTTP {
		t.Fatalf("Decide = %+v, want HTTP inspection", d)
	}
	return d, p
}

func TestGuardHTTPRequestsPassesEveryAllowedRequestUnchanged(t *testing.T) {
	streams := map[string]string{
		"one request": "GET / HTTP/1.1\r\nHost: allowed.example\r\n\r\n",
		"keep-alive, three requests": "GET /a HTTP/1.1\r\nHost: allowed.example\r\n\r\n" +
			"POST /b HTTP/1.1\r\nHost: allowed.example\r\nContent-Length: 11\r\n\r\nhello world" +
			"GET /c HTTP/1.1\r\nHost: ALLOWED.example:80\r\n\r\n",
		"body that looks like a request": "POST / HTTP/1.1\r\nHost: allowed.example\r\nContent-Length: 39\r\n\r\n" +
			"GET / HTTP/1.1\r\nHost: other.example\r\n\r\n",
		"chunked body then another request": "POST /up HTTP/1.1\r\nHost: allowed.example\r\nTransfer-Encoding: chunked\r\n\r\n" +
			"5;ext=1\r\nhello\r\n1B\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n\r\n0\r\nX-Trailer: 1\r\n\r\n" +
			"GET /next HTTP/1.1\r\nHost: allowed.example\r\n\r\n",
		"zero Content-Length": "POST / HTTP/1.1\r\nHost: allowed.example\r\nContent-Length: 0\r\n\r\nGET / HTTP/1.1\r\nHost: allowed.example\r\n\r\n",
	}
	for name, stream := range streams {
		for _, oneByte := range []bool{false, true} {
			t.Run(name, func(t *testing.T) {
				d, _ := guardedHTTPDecision(t)
				var src io.Reader = strings.NewReader(stream)
				if oneByte {
					src = iotest.OneByteReader(src)
				}
				got, err := io.ReadAll(d.GuardHTTPRequests(src))
				if err != nil {
					t.Fatalf("guard refused an allowed stream: %v", err)
				}
				if string(got) != stream {
					t.Errorf("stream changed:\n got %q\nwant %q", got, stream)
				}
			})
		}
	}
}

func TestGuardHTTPRequestsStopsAtTheFirstViolation(t *testing.T) {
	allowedFirst := "GET / HTTP/1.1\r\nHost: allowed.example\r\n\r\n"
	cases := []struct {
		name   string
		stream string
		reason string
	}{
		{"second request for another site", allowedFirst + "GET / HTTP/1.1\r\nHost: other.example\r\n\r\n", "other.example is not allowed on port 80"},
		{"request after a body for another site", "POST / HTTP/1.1\r\nHost: allowed.example\r\nContent-Length: 2\r\n\r\nokGET / HTTP/1.1\r\nHost: other.example\r\n\r\n", "other.example is not allowed"},
		{"garbage after a request", allowedFirst + "\x16\x03\x01\x00\x05hello", "not an HTTP request"},
		{"WebSocket upgrade", "GET /ws HTTP/1.1\r\nHost: allowed.example\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n", "protocol upgrade"},
		{"CONNECT", "CONNECT allowed.example:22 HTTP/1.1\r\nHost: allowed.example:22\r\n\r\n", "CONNECT tunnels"},
		{"smuggling: CL and TE", "POST / HTTP/1.1\r\nHost: allowed.example\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", "both Content-Length and Transfer-Encoding"},
		{"two Content-Lengths", "POST / HTTP/1.1\r\nHost: allowed.example\r\nContent-Length: 4\r\nContent-Length: 5\r\n\r\n", "several Content-Length"},
		{"bad Content-Length", "POST / HTTP/1.1\r\nHost: allowed.example\r\nContent-Length: -1\r\n\r\n", "invalid Content-Length"},
		{"gzip Transfer-Encoding", "POST / HTTP/1.1\r\nHost: allowed.example\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", "Transfer-Encoding"},
		{"bad chunk size", "POST / HTTP/1.1\r\nHost: allowed.example\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", "invalid chunk size"},
		{"chunk longer than declared", "POST / HTTP/1.1\r\nHost: allowed.example\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabc\r\n0\r\n\r\n", "data longer than its chunk size"},
		{"chunk line without CR", "POST / HTTP/1.1\r\nHost: allowed.example\r\nTransfer-Encoding: chunked\r\n\r\n2\nab\r\n", "not ended by CRLF"},
		{"endless chunk-size line", "POST / HTTP/1.1\r\nHost: allowed.example\r\nTransfer-Encoding: chunked\r\n\r\n" + strings.Repeat("1", 2*4096), "line too long"},
		{"endless head", allowedFirst + "GET / HTTP/1.1\r\nX: " + strings.Repeat("a", sniff.MaxInspectBytes), "no complete request header within"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d, _ := guardedHTTPDecision(t)
			got, err := io.ReadAll(d.GuardHTTPRequests(strings.NewReader(c.stream)))
			if !IsDenied(err) || !strings.Contains(err.Error(), c.reason) {
				t.Fatalf("error %v, want a denial containing %q", err, c.reason)
			}
			// Nothing of the offending request reaches the host.
			if bytes.Contains(got, []byte("other.example")) || bytes.Contains(got, []byte("\x16\x03")) || bytes.Contains(got, []byte("Upgrade")) {
				t.Errorf("offending bytes released: %q", got)
			}
			if denial, _ := AsDenied(err); denial.Reason == "" || denial.Destination != audit.AddrPort(d.Destination()) {
				t.Errorf("denial %+v has no code or destination", denial)
			}
		})
	}
}

func TestGuardHTTPRequestsPassesSourceErrorsAndOtherDecisions(t *testing.T) {
	d, p := guardedHTTPDecision(t)
	got, err := io.ReadAll(d.GuardHTTPRequests(strings.NewReader("GET / HTTP/1.1\r\nHost: allowed.exa")))
	if err != nil || len(got) != 0 {
		t.Errorf("truncated head: %q, %v; want nothing released and a clean EOF", got, err)
	}
	tlsDecision := p.Decide("tcp", addrPort("203.0.113.80:443"))
	src := strings.NewReader("x")
	if tlsDecision.GuardHTTPRequests(src) != io.Reader(src) {
		t.Error("GuardHTTPRequests wrapped a non-HTTP decision")
	}
}

func FuzzGuardHTTPRequests(f *testing.F) {
	f.Add([]byte("GET / HTTP/1.1\r\nHost: allowed.example\r\n\r\nPOST / HTTP/1.1\r\nHost: allowed.example\r\nContent-Length: 2\r\n\r\nok"))
	f.Add([]byte("POST / HTTP/1.1\r\nHost: allowed.example\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n"))
	f.Fuzz(func(t *testing.T, stream []byte) {
		p, _ := newTestPolicy(t, "allowed.example")
		p.Learn("allowed.example", addrs("203.0.113.80"), MinLearnTTL)
		d := p.Decide("tcp", addrPort("203.0.113.80:80"))
		whole, wholeErr := io.ReadAll(d.GuardHTTPRequests(bytes.NewReader(stream)))
		split, splitErr := io.ReadAll(d.GuardHTTPRequests(iotest.OneByteReader(bytes.NewReader(stream))))
		// The verdict, and what an allowed stream releases, do not depend on read sizes
		// (a denied one may release less when the violation arrives in the same read).
		if IsDenied(wholeErr) != IsDenied(splitErr) || (!IsDenied(wholeErr) && !bytes.Equal(whole, split)) {
			t.Fatalf("verdict depends on read sizes: %q/%v vs %q/%v", whole, wholeErr, split, splitErr)
		}
		if !bytes.HasPrefix(stream, whole) {
			t.Fatalf("released bytes %q are not a prefix of the stream", whole)
		}
	})
}
