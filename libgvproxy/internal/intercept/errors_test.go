package intercept

import (
	"net/http"
	"strings"
	"testing"
)

// An upstream error's text may quote what the host sent (a bad header line echoing the
// request's Authorization, say): that text must reach the guest and the log redacted.
func TestUpstreamErrorsDoNotCarryTheValue(t *testing.T) {
	t.Run("upstream answers a malformed header quoting the value", func(t *testing.T) {
		h := newHarness(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			conn, rw, err := http.NewResponseController(w).Hijack()
			if err != nil {
				t.Error(err)
				return
			}
			defer conn.Close()
			_, _ = rw.WriteString("HTTP/1.1 200 OK\r\nno colon in " + r.Header.Get("Authorization") + "\r\n\r\n")
			_ = rw.Flush()
		}), false, sni, true)
		resp, body := get(t, h.client(false), "https://"+sni+"/", auth(placeholder))
		if resp.StatusCode != http.StatusBadGateway {
			t.Fatalf("status %d: %s", resp.StatusCode, body)
		}
		noValue(t, h, resp, body)
		if !strings.Contains(body, "malformed") || !strings.Contains(body, "Bearer "+placeholder) {
			t.Fatalf("the 502 should say why, with the placeholder in the value's place: %s", body)
		}
	})
}
