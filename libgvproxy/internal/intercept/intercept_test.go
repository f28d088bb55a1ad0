package intercept

import (
	"bytes"
	"compress/gzip"
	"compress/zlib"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/andybalholm/brotli"
	"github.com/klauspost/compress/zstd"

	"bun-gvproxy/libgvproxy/internal/audit"
	"bun-gvproxy/libgvproxy/internal/secrets"
)

// echo answers with what it received (target, protocol and headers) in the body and in a
// header, encoded as ?enc= says, and keeps each request's text for the test.
type echo struct {
	mu   sync.Mutex
	seen []string
}

func (e *echo) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s %s host=%s\n", r.Method, r.RequestURI, r.Proto, r.Host)
	for name, values := range r.Header {
		fmt.Fprintf(&b, "%s: %s\n", name, strings.Join(values, ","))
	}
	text := b.String()
	e.mu.Lock()
	e.seen = append(e.seen, text)
	e.mu.Unlock()
	w.Header().Set("X-Echo-Auth", r.Header.Get("Authorization"))
	w.Header().Set("Trailer", "X-Echo-Trailer")
	body := []byte(text)
	switch enc := r.URL.Query().Get("enc"); enc {
	case "gzip":
		body = compress(func(w io.Writer) io.WriteCloser { return gzip.NewWriter(w) }, body)
	case "deflate":
		body = compress(func(w io.Writer) io.WriteCloser { return zlib.NewWriter(w) }, body)
	case "br":
		body = compress(func(w io.Writer) io.WriteCloser { return brotli.NewWriter(w) }, body)
	case "zstd":
		body = compress(func(w io.Writer) io.WriteCloser { z, _ := zstd.NewWriter(w); return z }, body)
	case "compress":
		body = []byte("LZW data carrying " + text)
	}
	if enc := r.URL.Query().Get("enc"); enc != "" {
		w.Header().Set("Content-Encoding", enc)
	}
	// Written in small pieces, so a value is split across writes and reads.
	for len(body) > 0 {
		n := min(len(body), 7)
		_, _ = w.Write(body[:n])
		w.(http.Flusher).Flush()
		body = body[n:]
	}
	w.Header().Set("X-Echo-Trailer", r.Header.Get("Authorization"))
}

func (e *echo) count() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return len(e.seen)
}

func (e *echo) last() string {
	e.mu.Lock()
	defer e.mu.Unlock()
	if len(e.seen) == 0 {
		return ""
	}
	return e.seen[len(e.seen)-1]
}

func compress(wrap func(io.Writer) io.WriteCloser, data []byte) []byte {
	var buf bytes.Buffer
	w := wrap(&buf)
	_, _ = w.Write(data)
	_ = w.Close()
	return buf.Bytes()
}

func get(t *testing.T, c *http.Client, url string, header http.Header) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET %s body: %v", url, err)
	}
	return resp, string(body)
}

func auth(v string) http.Header { return http.Header{"Authorization": {"Bearer " + v}} }

// noValue fails if the secret value shows anywhere the guest or a person could read it.
func noValue(t *testing.T, h *harness, resp *http.Response, body string) {
	t.Helper()
	var all strings.Builder
	all.WriteString(body)
	for _, hdr := range []http.Header{resp.Header, resp.Trailer} {
		for k, vs := range hdr {
			all.WriteString(k + strings.Join(vs, ""))
		}
	}
	for _, r := range h.refusalList() {
		all.WriteString(r.detail + r.name)
	}
	h.mu.Lock()
	all.WriteString(strings.Join(h.logs, ""))
	h.mu.Unlock()
	for _, v := range []string{value, otherValue} {
		if strings.Contains(all.String(), v) {
			t.Fatalf("the value %q reached the guest or a log:\n%s", v, all.String())
		}
	}
}

func TestTheRealHostGetsTheValueAndTheGuestOnlyThePlaceholder(t *testing.T) {
	for _, proto := range []struct {
		name   string
		h2     bool
		expect string
	}{{"HTTP/1.1", false, "HTTP/1.1"}, {"HTTP/2", true, "HTTP/2.0"}} {
		t.Run(proto.name, func(t *testing.T) {
			e := &echo{}
			h := newHarness(t, e, proto.h2, sni, true)
			c := h.client(proto.h2)
			for _, enc := range []string{"", "gzip", "deflate", "br", "zstd"} {
				resp, body := get(t, c, "https://"+sni+"/v1/models?key="+placeholder+"&enc="+enc, auth(placeholder))
				if resp.StatusCode != 200 {
					t.Fatalf("enc %q: status %d: %s", enc, resp.StatusCode, body)
				}
				seen := e.last()
				if !strings.Contains(seen, "Authorization: Bearer "+value) || !strings.Contains(seen, "key="+value) || !strings.Contains(seen, proto.expect) {
					t.Fatalf("upstream saw:\n%s", seen)
				}
				if !strings.Contains(body, "Authorization: Bearer "+placeholder) || !strings.Contains(body, "key="+placeholder) {
					t.Fatalf("enc %q: the guest should see the placeholder where the value was:\n%s", enc, body)
				}
				if resp.Header.Get("X-Echo-Auth") != "Bearer "+placeholder || resp.Header.Get("Content-Encoding") != "" {
					t.Fatalf("enc %q: headers %v", enc, resp.Header)
				}
				if resp.Trailer.Get("X-Echo-Trailer") != "Bearer "+placeholder {
					t.Fatalf("enc %q: trailer %v", enc, resp.Trailer)
				}
				noValue(t, h, resp, body)
			}
		})
	}
}

func TestMisuseIsRefusedWithAnEvent(t *testing.T) {
	cases := []struct {
		name   string
		url    string
		header http.Header
		reason audit.Reason
	}{
		{"placeholder of a secret for another host", "https://" + sni + "/", auth(otherPH), audit.SecretMisuse},
		{"placeholder of another host in the target", "https://" + sni + "/?k=" + otherPH, nil, audit.SecretMisuse},
		{"placeholder in a header name", "https://" + sni + "/", http.Header{"X-" + placeholder: {"1"}}, audit.SecretMisuse},
		{"domain fronting with a placeholder", "https://" + sni + "/", http.Header{"Authorization": {placeholder}, "Host": {"other.test"}}, audit.SecretMisuse},
		{"domain fronting without a placeholder", "https://" + sni + "/", http.Header{"Host": {"evil.example"}}, audit.HostMismatch},
		{"Host on another port", "https://" + sni + "/", http.Header{"Host": {sni + ":8443"}}, audit.HostMismatch},
	}
	for _, h2 := range []bool{false, true} {
		for _, c := range cases {
			t.Run(fmt.Sprintf("%s h2=%v", c.name, h2), func(t *testing.T) {
				e := &echo{}
				h := newHarness(t, e, true, sni, true)
				client := h.client(h2)
				req, _ := http.NewRequest(http.MethodGet, c.url, nil)
				for k, v := range c.header {
					if k == "Host" {
						req.Host = v[0]
						continue
					}
					req.Header[k] = v
				}
				resp, err := client.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusForbidden {
					t.Fatalf("status %d, want 403: %s", resp.StatusCode, body)
				}
				if e.last() != "" {
					t.Fatalf("a refused request reached the host:\n%s", e.last())
				}
				got := h.refusalList()
				if len(got) != 1 || got[0].reason != c.reason || got[0].name != sni {
					t.Fatalf("refusals %+v, want one %s", got, c.reason)
				}
				noValue(t, h, resp, string(body))
			})
		}
	}
}

func TestSplitOrEncodedPlaceholdersAreNotSubstituted(t *testing.T) {
	e := &echo{}
	h := newHarness(t, e, false, sni, true)
	c := h.client(false)
	for _, header := range []http.Header{
		{"Authorization": {"GVP_API_", "KEY"}},
		{"Authorization": {"GVP%5FAPI%5FKEY"}},
		{"Authorization": {"gvp_api_key"}},
	} {
		resp, body := get(t, c, "https://"+sni+"/p/GVP%5FAPI%5FKEY", header)
		if resp.StatusCode != 200 || strings.Contains(e.last(), value) {
			t.Fatalf("status %d; upstream saw:\n%s", resp.StatusCode, e.last())
		}
		noValue(t, h, resp, body)
	}
}

func TestAWrongUpstreamCertificateIs502WithAnEvent(t *testing.T) {
	for _, c := range []struct {
		name     string
		certName string
		trusted  bool
	}{{"untrusted CA", sni, false}, {"certificate for another name", "other.test", true}} {
		t.Run(c.name, func(t *testing.T) {
			e := &echo{}
			h := newHarness(t, e, false, c.certName, c.trusted)
			resp, body := get(t, h.client(false), "https://"+sni+"/", auth(placeholder))
			if resp.StatusCode != http.StatusBadGateway || e.last() != "" {
				t.Fatalf("status %d (%s); upstream saw %q", resp.StatusCode, body, e.last())
			}
			got := h.refusalList()
			if len(got) != 1 || got[0].reason != audit.UpstreamCertificate {
				t.Fatalf("refusals %+v", got)
			}
			noValue(t, h, resp, body)
		})
	}
}

func TestAResponseInAnUndecodableEncodingIsRefused(t *testing.T) {
	e := &echo{}
	h := newHarness(t, e, false, sni, true)
	resp, body := get(t, h.client(false), "https://"+sni+"/?enc=compress", auth(placeholder))
	if resp.StatusCode != http.StatusBadGateway {
		t.Fatalf("status %d: %s", resp.StatusCode, body)
	}
	noValue(t, h, resp, body)
}

func TestAcceptEncodingIsNarrowedToDecodableCodings(t *testing.T) {
	e := &echo{}
	h := newHarness(t, e, false, sni, true)
	get(t, h.client(false), "https://"+sni+"/", http.Header{"Accept-Encoding": {"gzip;q=1.0, compress, br, x-custom"}})
	if !strings.Contains(e.last(), "Accept-Encoding: gzip;q=1.0, br\n") {
		t.Fatalf("upstream saw:\n%s", e.last())
	}
}

func TestRotationIsSeenByTheNextRequest(t *testing.T) {
	e := &echo{}
	h := newHarness(t, e, true, sni, true)
	c := h.client(true)
	get(t, c, "https://"+sni+"/", auth(placeholder))
	h.setSecrets(secrets.Secret{Placeholder: placeholder, Value: "rotated-value-42", Hosts: []string{sni}})
	resp, body := get(t, c, "https://"+sni+"/", auth(placeholder))
	if !strings.Contains(e.last(), "Bearer rotated-value-42") || strings.Contains(body, "rotated-value-42") {
		t.Fatalf("upstream saw:\n%s\nguest saw:\n%s", e.last(), body)
	}
	noValue(t, h, resp, body)
}
