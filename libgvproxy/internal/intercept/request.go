package intercept

import (
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"bun-gvproxy/libgvproxy/internal/audit"
	"bun-gvproxy/libgvproxy/internal/secrets"
)

// refusal is why a request is answered 403 by the network.
type refusal struct {
	reason audit.Reason
	detail string
}

// checkRequest rules on one request of an intercepted connection before anything of it
// goes upstream. The Host (":authority" in HTTP/2, the URL's host in absolute form) must
// be the SNI on every request, with or without placeholders: otherwise a guest could
// front another site behind an intercepted name. Placeholders may appear only in header
// values and the request target, and only for secrets covering the SNI.
func checkRequest(r *http.Request, flow *Flow, set *secrets.Set) *refusal {
	for name := range r.Header {
		if p, found := set.ContainsPlaceholderFold(name); found {
			return &refusal{audit.SecretMisuse, fmt.Sprintf("placeholder %s in a header name", p)}
		}
	}
	if host, ok := requestHost(r.Host, flow.Port); !ok || host != flow.SNI {
		if p, found := placeholderIn(r, set); found {
			return &refusal{audit.SecretMisuse, fmt.Sprintf("placeholder %s in a request for host %q on a connection to %s", p, r.Host, flow.SNI)}
		}
		return &refusal{audit.HostMismatch, fmt.Sprintf("request for host %q on a connection to %s (the Host must equal the TLS server name)", r.Host, flow.SNI)}
	}
	if p := misplacedIn(r, set, flow.SNI); p != "" {
		return &refusal{audit.SecretMisuse, fmt.Sprintf("placeholder %s sent to %s, which is not among its hosts", p, flow.SNI)}
	}
	return nil
}

// requestHost normalises a request's host: lowercase, no trailing dot, and a port only
// if it is the one the guest dialed. ok is false for an empty host or another port.
func requestHost(hostport string, port uint16) (string, bool) {
	host := hostport
	if h, p, err := net.SplitHostPort(hostport); err == nil {
		if p != strconv.Itoa(int(port)) {
			return "", false
		}
		host = h
	}
	host = strings.ToLower(strings.TrimSuffix(host, "."))
	return host, host != ""
}

func placeholderIn(r *http.Request, set *secrets.Set) (string, bool) {
	if p, found := set.ContainsPlaceholder(r.RequestURI); found {
		return p, true
	}
	for _, values := range r.Header {
		for _, v := range values {
			if p, found := set.ContainsPlaceholder(v); found {
				return p, true
			}
		}
	}
	return "", false
}

func misplacedIn(r *http.Request, set *secrets.Set, host string) string {
	if p := set.Misplaced(r.RequestURI, host); p != "" {
		return p
	}
	for _, values := range r.Header {
		for _, v := range values {
			if p := set.Misplaced(v, host); p != "" {
				return p
			}
		}
	}
	return ""
}

// substitute returns the request to send upstream: a copy of r with the placeholders
// of the secrets covering host replaced in header values and the request target, and
// Accept-Encoding narrowed to the encodings whose bodies can be redacted.
func substitute(r *http.Request, set *secrets.Set, host string) (*http.Request, error) {
	out := r.Clone(r.Context())
	for name, values := range out.Header {
		for i, v := range values {
			values[i] = set.Substitute(v, host)
		}
		out.Header[name] = values
	}
	narrowAcceptEncoding(out.Header)
	target := set.Substitute(r.URL.RequestURI(), host)
	if target == r.URL.RequestURI() {
		return out, nil
	}
	u, err := url.ParseRequestURI(target)
	if err != nil {
		return nil, fmt.Errorf("the request target is not valid once the secret is put in: %w", err)
	}
	out.URL.Path, out.URL.RawPath, out.URL.RawQuery = u.Path, u.RawPath, u.RawQuery
	return out, nil
}
