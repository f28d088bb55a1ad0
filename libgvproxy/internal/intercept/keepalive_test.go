package intercept

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"bun-gvproxy/libgvproxy/internal/audit"
)

// Every request of a kept-alive connection (every stream of an HTTP/2 one) is checked
// on its own: a guest cannot open a connection with a clean first request and then
// front another host, or send another host's placeholder, on the same connection.
func TestEveryRequestOnAKeptConnectionIsChecked(t *testing.T) {
	steps := []struct {
		name   string
		host   string
		header http.Header
		status int
		reason audit.Reason
	}{
		{"a clean first request", "", auth(placeholder), http.StatusOK, ""},
		{"then another Host", "evil.example", nil, http.StatusForbidden, audit.HostMismatch},
		{"then another host's placeholder", "", auth(otherPH), http.StatusForbidden, audit.SecretMisuse},
		{"then another Host with the placeholder", "other.test", auth(placeholder), http.StatusForbidden, audit.SecretMisuse},
		{"then a clean request again", "", auth(placeholder), http.StatusOK, ""},
	}
	for _, proto := range []struct {
		name string
		h2   bool
	}{{"HTTP/1.1", false}, {"HTTP/2", true}} {
		t.Run(proto.name, func(t *testing.T) {
			e := &echo{}
			h := newHarness(t, e, proto.h2, sni, true)
			client := h.client(proto.h2)
			wantRefusals := 0
			for _, step := range steps {
				before := e.count()
				req, err := http.NewRequest(http.MethodGet, "https://"+sni+"/step", nil)
				if err != nil {
					t.Fatal(err)
				}
				if step.host != "" {
					req.Host = step.host
				}
				for k, v := range step.header {
					req.Header[k] = v
				}
				resp, err := client.Do(req)
				if err != nil {
					t.Fatalf("%s: %v", step.name, err)
				}
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != step.status {
					t.Fatalf("%s: status %d, want %d: %s", step.name, resp.StatusCode, step.status, body)
				}
				got := h.refusalList()
				if step.reason == "" {
					if e.count() != before+1 || !strings.Contains(e.last(), "Bearer "+value) {
						t.Fatalf("%s: upstream saw:\n%s", step.name, e.last())
					}
				} else {
					wantRefusals++
					if e.count() != before {
						t.Fatalf("%s: a refused request reached the host:\n%s", step.name, e.last())
					}
					if len(got) != wantRefusals || got[len(got)-1].reason != step.reason {
						t.Fatalf("%s: refusals %+v, want a %s last", step.name, got, step.reason)
					}
				}
				noValue(t, h, resp, string(body))
			}
			if n := h.dials.Load(); n != 1 {
				t.Fatalf("the requests took %d connections, want one kept connection", n)
			}
		})
	}
}
