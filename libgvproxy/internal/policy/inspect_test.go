package policy

import (
	"bytes"
	"crypto/tls"
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"
	"time"

	"bun-gvproxy/libgvproxy/internal/audit"
	"bun-gvproxy/libgvproxy/internal/policy/sniff"
	"bun-gvproxy/libgvproxy/internal/policy/sniff/snifftest"
)

// sharedIPPolicy allows two names on a CDN address they share with sites not allowed.
func sharedIPPolicy(t *testing.T) *Policy {
	p, _ := newTestPolicy(t, "allowed.example", "tls-only.example:443")
	p.Learn("allowed.example", addrs("203.0.113.80"), time.Minute)
	p.Learn("tls-only.example", addrs("203.0.113.80"), time.Minute)
	return p
}

func TestReadPrefixAllowsOnlyAllowedNamesOnSharedAddresses(t *testing.T) {
	cases := []struct {
		name   string
		port   string
		first  func(t *testing.T) []byte
		allow  bool
		reason string
		code   audit.Reason
	}{
		{"SNI of an allowed name", "443", tlsHello("allowed.example"), true, "", ""},
		{"SNI of a name allowed on 443 only", "443", tlsHello("tls-only.example"), true, "", ""},
		{"SNI of another site on the same address", "443", tlsHello("other-site.example"), false, "other-site.example is not allowed on port 443", audit.SNIMismatch},
		{"no SNI", "443", tlsHello(""), false, "no server name", audit.SNIMismatch},
		{"plain HTTP on 443", "443", raw("GET / HTTP/1.1\r\nHost: allowed.example\r\n\r\n"), false, "not a TLS handshake record", audit.NotInspectable},
		{"Host of an allowed name", "80", raw("GET / HTTP/1.1\r\nHost: allowed.example\r\n\r\n"), true, "", ""},
		{"Host allowed only on 443", "80", raw("GET / HTTP/1.1\r\nHost: tls-only.example\r\n\r\n"), false, "tls-only.example is not allowed on port 80", audit.HostMismatch},
		{"Host of another site", "80", raw("GET / HTTP/1.1\r\nHost: other-site.example\r\n\r\n"), false, "other-site.example is not allowed on port 80", audit.HostMismatch},
		{"proxy request for another site", "80", raw("GET http://other-site.example/ HTTP/1.1\r\nHost: allowed.example\r\n\r\n"), false, "disagrees", audit.NotInspectable},
		{"TLS on 80", "80", tlsHello("allowed.example"), false, "not an HTTP request", audit.NotInspectable},
		{"IP literal as Host", "80", raw("GET / HTTP/1.1\r\nHost: 203.0.113.80\r\n\r\n"), false, "203.0.113.80 is not allowed on port 80", audit.HostMismatch},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := sharedIPPolicy(t)
			d := p.Decide("tcp", addrPort("203.0.113.80:"+c.port))
			if !d.Allow || d.Inspect == InspectNone {
				t.Fatalf("Decide = %+v, want allowed with inspection", d)
			}
			first := c.first(t)
			// One byte per read: the verdict must not depend on how the bytes arrive.
			prefix, err := d.ReadPrefix(iotest.OneByteReader(bytes.NewReader(first)))
			if c.allow {
				if err != nil {
					t.Fatalf("ReadPrefix = %v, want allowed", err)
				}
				if !bytes.Equal(prefix, first) {
					t.Errorf("prefix of %d bytes, want all %d to replay", len(prefix), len(first))
				}
				return
			}
			if !IsDenied(err) || !strings.Contains(err.Error(), c.reason) {
				t.Fatalf("ReadPrefix error %v, want a denial containing %q", err, c.reason)
			}
			denial, _ := AsDenied(err)
			if denial.Reason != c.code || denial.Destination != audit.AddrPort(d.Destination()) || denial.Proto != "tcp" {
				t.Errorf("denial %+v, want code %s with the destination", denial, c.code)
			}
		})
	}
}

func tlsHello(serverName string) func(t *testing.T) []byte {
	return func(t *testing.T) []byte {
		if serverName == "" {
			return snifftest.HelloWithExtensions(nil)
		}
		return snifftest.CaptureClientHello(t, &tls.Config{ServerName: serverName})
	}
}

func raw(s string) func(t *testing.T) []byte {
	return func(*testing.T) []byte { return []byte(s) }
}

func TestReadPrefixReportsReaderErrorsAsNoDenial(t *testing.T) {
	p := sharedIPPolicy(t)
	d := p.Decide("tcp", addrPort("203.0.113.80:443"))
	partial := snifftest.CaptureClientHello(t, &tls.Config{ServerName: "allowed.example"})[:20]
	_, err := d.ReadPrefix(bytes.NewReader(partial))
	if !errors.Is(err, io.EOF) || IsDenied(err) {
		t.Fatalf("ReadPrefix on a short stream = %v, want a wrapped EOF", err)
	}
	timeout := errors.New("i/o timeout")
	_, err = d.ReadPrefix(iotest.ErrReader(timeout))
	if !errors.Is(err, timeout) {
		t.Fatalf("ReadPrefix = %v, want the reader's error", err)
	}
}

// zeroReader returns 0, nil forever, as a misbehaving io.Reader may.
type zeroReader struct{ first []byte }

func (z *zeroReader) Read(b []byte) (int, error) {
	n := copy(b, z.first)
	z.first = z.first[n:]
	return n, nil
}

func TestReadPrefixIsBounded(t *testing.T) {
	p := sharedIPPolicy(t)
	d := p.Decide("tcp", addrPort("203.0.113.80:80"))
	endless := io.MultiReader(strings.NewReader("GET / HTTP/1.1\r\nX: "), iotest.OneByteReader(&zeroReader{first: bytes.Repeat([]byte("a"), 2*sniff.MaxInspectBytes)}))
	prefix, err := d.ReadPrefix(endless)
	if !IsDenied(err) || len(prefix) > sniff.MaxInspectBytes {
		t.Fatalf("ReadPrefix read %d bytes, err %v; want a denial within %d bytes", len(prefix), err, sniff.MaxInspectBytes)
	}
	stalled := &zeroReader{first: []byte("GET / HTTP/1.1\r\nX: " + strings.Repeat("a", sniff.MaxInspectBytes))}
	if _, err := d.ReadPrefix(stalled); !IsDenied(err) {
		t.Fatalf("ReadPrefix on a reader returning 0, nil at the limit = %v, want a denial", err)
	}
}

func TestCheckFirstBytesWithoutInspection(t *testing.T) {
	p, _ := newTestPolicy(t, "10.0.0.0/8")
	d := p.Decide("tcp", addrPort("10.0.0.1:443"))
	if done, err := d.CheckFirstBytes([]byte("anything")); !done || err != nil {
		t.Errorf("CheckFirstBytes = %v, %v; want done", done, err)
	}
	if prefix, err := d.ReadPrefix(iotest.ErrReader(errors.New("must not be read"))); prefix != nil || err != nil {
		t.Errorf("ReadPrefix = %q, %v; want nothing read", prefix, err)
	}
}
