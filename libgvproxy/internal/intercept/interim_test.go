package intercept

import (
	"context"
	"io"
	"net/http"
	"net/http/httptrace"
	"net/textproto"
	"strings"
	"sync"
	"testing"
)

// earlyHints answers 100 Continue, 103 Early Hints and then 200, each with the
// Authorization it received (the real value) in a header: interim responses are
// responses too.
func earlyHints(w http.ResponseWriter, r *http.Request) {
	got := r.Header.Get("Authorization")
	w.Header().Set("X-Continue-Auth", got)
	w.WriteHeader(http.StatusContinue)
	w.Header().Del("X-Continue-Auth")
	w.Header().Set("Link", "</style.css?auth="+got+">; rel=preload")
	w.Header().Set("X-Hint-Auth", got)
	w.WriteHeader(http.StatusEarlyHints)
	w.Header().Del("Link")
	w.Header().Del("X-Hint-Auth")
	w.Header().Set("X-Echo-Auth", got)
	_, _ = io.WriteString(w, "final")
}

type interim struct {
	code   int
	header textproto.MIMEHeader
}

func TestInterimResponsesAreRedactedToo(t *testing.T) {
	for _, proto := range []struct {
		name string
		h2   bool
	}{{"HTTP/1.1", false}, {"HTTP/2", true}} {
		t.Run(proto.name, func(t *testing.T) {
			h := newHarness(t, http.HandlerFunc(earlyHints), proto.h2, sni, true)
			var mu sync.Mutex
			var seen []interim
			trace := &httptrace.ClientTrace{Got1xxResponse: func(code int, header textproto.MIMEHeader) error {
				mu.Lock()
				defer mu.Unlock()
				seen = append(seen, interim{code, textproto.MIMEHeader(http.Header(header).Clone())})
				return nil
			}}
			req, err := http.NewRequestWithContext(httptrace.WithClientTrace(context.Background(), trace), http.MethodGet, "https://"+sni+"/", nil)
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("Authorization", "Bearer "+placeholder)
			resp, err := h.client(proto.h2).Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 || resp.Header.Get("X-Echo-Auth") != "Bearer "+placeholder {
				t.Fatalf("status %d, headers %v", resp.StatusCode, resp.Header)
			}
			mu.Lock()
			defer mu.Unlock()
			if len(seen) != 2 || seen[0].code != http.StatusContinue || seen[1].code != http.StatusEarlyHints {
				t.Fatalf("interim responses %+v, want a 100 and a 103", seen)
			}
			if got := seen[0].header.Get("X-Continue-Auth"); got != "Bearer "+placeholder {
				t.Fatalf("the 100's header should carry the placeholder where the value was: %q", got)
			}
			hints := seen[1].header
			if hints.Get("X-Hint-Auth") != "Bearer "+placeholder || !strings.Contains(hints.Get("Link"), "auth=Bearer "+placeholder) {
				t.Fatalf("the 103's headers should carry the placeholder where the value was: %v", hints)
			}
			for _, s := range seen {
				for name, values := range s.header {
					if strings.Contains(name+strings.Join(values, ""), value) {
						t.Fatalf("the value reached the guest in a %d header %s: %v", s.code, name, values)
					}
				}
			}
			noValue(t, h, resp, string(body))
		})
	}
}
