package intercept

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"

	"bun-gvproxy/libgvproxy/internal/audit"
	"bun-gvproxy/libgvproxy/internal/secrets"
	"bun-gvproxy/libgvproxy/internal/tlsca"
)

const (
	sni         = "api.test"
	placeholder = "GVP_API_KEY"
	value       = "sk-live-0123456789abcdef"
	otherPH     = "GVP_OTHER_KEY"
	otherValue  = "other-secret-value-987"
)

type refused struct {
	reason audit.Reason
	name   string
	detail string
}

// harness runs an Interceptor whose flows go to an upstream test server, and gives a
// guest-side HTTP client that trusts the interception CA.
type harness struct {
	t        *testing.T
	ca       *tlsca.CA
	set      atomic.Pointer[secrets.Set]
	icpt     *Interceptor
	upstream *httptest.Server
	mu       sync.Mutex
	refusals []refused
	logs     []string
	// dials counts the guest connections the clients opened.
	dials atomic.Int32
}

func (h *harness) Debugf(format string, args ...any) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.logs = append(h.logs, format)
	for _, a := range args {
		if s, ok := a.(string); ok {
			h.logs = append(h.logs, s)
		}
	}
}

// newHarness starts an upstream serving handler with a certificate for certName signed
// by a test CA that the interceptor trusts when trustUpstream is set.
func newHarness(t *testing.T, handler http.Handler, h2 bool, certName string, trustUpstream bool) *harness {
	t.Helper()
	ca, err := tlsca.Generate()
	if err != nil {
		t.Fatal(err)
	}
	upstreamCA, err := tlsca.Generate()
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := upstreamCA.Leaf(certName)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(handler)
	srv.EnableHTTP2 = h2
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{*leaf}}
	srv.StartTLS()
	t.Cleanup(srv.Close)
	roots := x509.NewCertPool()
	if trustUpstream {
		roots.AppendCertsFromPEM([]byte(upstreamCA.CertificatePEM()))
	}
	h := &harness{t: t, ca: ca, upstream: srv}
	h.setSecrets(secrets.Secret{Placeholder: placeholder, Value: value, Hosts: []string{sni}},
		secrets.Secret{Placeholder: otherPH, Value: otherValue, Hosts: []string{"other.test"}})
	h.icpt = New(Options{
		CA:      func() (*tlsca.CA, error) { return ca, nil },
		Roots:   roots,
		Secrets: h.set.Load,
		Log:     h,
	})
	go h.icpt.Run()
	t.Cleanup(func() { _ = h.icpt.Close() })
	return h
}

func (h *harness) setSecrets(list ...secrets.Secret) {
	valid, err := secrets.Validate("secrets", list)
	if err != nil {
		h.t.Fatal(err)
	}
	set, err := secrets.NewSet(valid)
	if err != nil {
		h.t.Fatal(err)
	}
	h.set.Store(set)
}

func (h *harness) logLines() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]string(nil), h.logs...)
}

func (h *harness) refusalList() []refused {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]refused(nil), h.refusals...)
}

// client is a guest HTTP client: each connection it opens is served by the interceptor
// as a connection whose ClientHello named sni.
func (h *harness) client(h2 bool) *http.Client {
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM([]byte(h.ca.CertificatePEM()))
	protos := []string{"http/1.1"}
	if h2 {
		protos = []string{"h2", "http/1.1"}
	}
	tr := &http.Transport{
		DialTLSContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			h.dials.Add(1)
			guestSide, networkSide := tcpPair(h.t)
			go h.serve(networkSide)
			c := tls.Client(guestSide, &tls.Config{ServerName: sni, RootCAs: pool, NextProtos: protos})
			if err := c.HandshakeContext(ctx); err != nil {
				return nil, err
			}
			return c, nil
		},
		ForceAttemptHTTP2:  h2,
		DisableCompression: true,
	}
	h.t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr}
}

func (h *harness) serve(conn net.Conn) {
	addr := h.upstream.Listener.Addr().String()
	flow := &Flow{
		SNI:  sni,
		Port: 443,
		Dial: func(ctx context.Context) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "tcp", addr)
		},
		Refuse: func(reason audit.Reason, name, detail string) {
			h.mu.Lock()
			defer h.mu.Unlock()
			h.refusals = append(h.refusals, refused{reason, name, detail})
		},
	}
	_, _, _ = h.icpt.Serve(conn, nil, flow)
}

// tcpPair is a connected pair of loopback TCP connections.
func tcpPair(t *testing.T) (net.Conn, net.Conn) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, _ := l.Accept()
		accepted <- c
	}()
	c, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	return c, <-accepted
}
