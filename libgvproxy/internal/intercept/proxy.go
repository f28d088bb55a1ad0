package intercept

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/http/httputil"
	"net/textproto"
	"strconv"
	"sync"
	"time"

	"bun-gvproxy/libgvproxy/internal/audit"
	"bun-gvproxy/libgvproxy/internal/secrets"
)

// serveHTTP handles one request from the guest: refused with 403 when checkRequest
// says so, else substituted and proxied to the real host.
func (i *Interceptor) serveHTTP(w http.ResponseWriter, r *http.Request) {
	flow := flowOf(r)
	if flow == nil {
		http.Error(w, "bun-gvproxy: not an intercepted connection", http.StatusInternalServerError)
		return
	}
	set := i.opts.Secrets()
	if ref := checkRequest(r, flow, set); ref != nil {
		flow.Refuse(ref.reason, flow.SNI, ref.detail)
		http.Error(w, "bun-gvproxy: request refused: "+ref.detail, http.StatusForbidden)
		return
	}
	out, err := substitute(r, set, flow.SNI)
	if err != nil {
		http.Error(w, "bun-gvproxy: "+set.Redactor().String(err.Error()), http.StatusBadRequest)
		return
	}
	out = out.WithContext(context.WithValue(out.Context(), setKey{}, set))
	i.proxy().ServeHTTP(w, out)
}

type setKey struct{}

// proxy is the reverse proxy shared by every flow: its transport picks the flow's own
// upstream connections from the request's context.
func (i *Interceptor) proxy() *httputil.ReverseProxy {
	i.proxyOnce.Do(func() {
		i.reverse = &httputil.ReverseProxy{
			Rewrite:        rewrite,
			Transport:      flowTransport{i},
			BufferPool:     bufferPool{},
			ModifyResponse: i.redactResponse,
			ErrorHandler:   i.upstreamError,
			ErrorLog:       log.New(logWriter{i}, "intercept: ", 0),
		}
	})
	return i.reverse
}

func rewrite(pr *httputil.ProxyRequest) {
	flow := flowOf(pr.In)
	pr.Out.URL.Scheme = "https"
	pr.Out.URL.Host = net.JoinHostPort(flow.SNI, strconv.Itoa(int(flow.Port)))
	if flow.Port == 443 {
		pr.Out.URL.Host = flow.SNI
	}
	pr.Out.Host = ""
}

// flowTransport sends a request over its flow's upstream transport. Interim (1xx)
// responses never reach ModifyResponse: the proxy copies their headers to the guest from
// a trace hook, so a hook of its own, called first (httptrace runs the newer hooks
// before the ones already in the context), redacts them in place.
type flowTransport struct{ i *Interceptor }

func (t flowTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	trace := &httptrace.ClientTrace{Got1xxResponse: func(_ int, header textproto.MIMEHeader) error {
		// The redactors as redactResponse takes them: when the response arrives.
		redactHeader(http.Header(header), redactorsOf(r, t.i.opts.Secrets()))
		return nil
	}}
	return flowOf(r).upstream.RoundTrip(r.WithContext(httptrace.WithClientTrace(r.Context(), trace)))
}

// newUpstream is the transport of one guest connection: it dials the address the guest
// dialed (never a name resolved again), verifies the real host's chain and name against
// roots, and speaks HTTP/2 when the host offers it (HTTP/1.1 for upgrades).
func newUpstream(flow *Flow, roots *x509.CertPool) *http.Transport {
	return &http.Transport{
		DialContext:         func(ctx context.Context, _, _ string) (net.Conn, error) { return flow.Dial(ctx) },
		TLSClientConfig:     &tls.Config{ServerName: flow.SNI, RootCAs: roots, MinVersion: tls.VersionTLS12},
		ForceAttemptHTTP2:   true,
		TLSHandshakeTimeout: 15 * time.Second,
		// The guest's own Accept-Encoding goes upstream (narrowed); the body is decoded
		// here to be redacted, never silently by the transport.
		DisableCompression:  true,
		MaxIdleConnsPerHost: 8,
		IdleConnTimeout:     90 * time.Second,
	}
}

// upstreamError answers 502 when the real host cannot be reached, its certificate
// fails verification (also reported as an event: never a silent downgrade), or its
// response cannot be checked for secrets.
func (i *Interceptor) upstreamError(w http.ResponseWriter, r *http.Request, err error) {
	flow := flowOf(r)
	text := i.redactedError(err)
	if errors.Is(err, context.Canceled) {
		i.opts.Log.Debugf("intercept %s: request ended by the guest: %s", flow.SNI, text)
		return
	}
	if isCertificateError(err) {
		detail := fmt.Sprintf("the certificate of %s failed verification: %s", flow.SNI, text)
		flow.Refuse(audit.UpstreamCertificate, flow.SNI, detail)
		http.Error(w, "bun-gvproxy: "+detail, http.StatusBadGateway)
		return
	}
	i.opts.Log.Debugf("intercept %s: %s", flow.SNI, text)
	http.Error(w, "bun-gvproxy: upstream "+flow.SNI+": "+text, http.StatusBadGateway)
}

func isCertificateError(err error) bool {
	var (
		verify   *tls.CertificateVerificationError
		unknown  x509.UnknownAuthorityError
		hostname x509.HostnameError
		invalid  x509.CertificateInvalidError
	)
	return errors.As(err, &verify) || errors.As(err, &unknown) || errors.As(err, &hostname) || errors.As(err, &invalid)
}

// bufferPool lends the proxy's body copies 64 KiB buffers.
type bufferPool struct{}

var copyBuffers = sync.Pool{New: func() any { b := make([]byte, 64<<10); return &b }}

func (bufferPool) Get() []byte  { return *copyBuffers.Get().(*[]byte) }
func (bufferPool) Put(b []byte) { copyBuffers.Put(&b) }

// redactResponse turns every value the response carries into its placeholder: header
// names and values now, trailers and the body (decoded) as they are read.
func (i *Interceptor) redactResponse(resp *http.Response) error {
	red := redactorsOf(resp.Request, i.opts.Secrets())
	redactHeader(resp.Header, red)
	if !hasBody(resp) {
		return nil
	}
	decoded, err := decodedBody(resp.Header.Get("Content-Encoding"), resp.Body)
	if err != nil {
		return err
	}
	var r io.Reader = decoded
	for _, rd := range red {
		r = rd.Reader(r)
	}
	resp.Body = &redactedBody{Reader: r, raw: resp.Body, decoded: decoded, trailer: resp.Trailer, red: red}
	resp.Header.Del("Content-Encoding")
	resp.Header.Del("Content-Length")
	resp.ContentLength = -1
	return nil
}

// redactorsOf are the redactors of the set the request was substituted with and, if
// setSecrets replaced it since, of the set in force now.
func redactorsOf(r *http.Request, now *secrets.Set) []*secrets.Redactor {
	used, _ := r.Context().Value(setKey{}).(*secrets.Set)
	out := []*secrets.Redactor{}
	if rd := used.Redactor(); rd != nil {
		out = append(out, rd)
	}
	if now != used && now.Redactor() != nil {
		out = append(out, now.Redactor())
	}
	return out
}

func redactHeader(h http.Header, red []*secrets.Redactor) {
	for name, values := range h {
		clean := name
		for _, rd := range red {
			clean = rd.String(clean)
		}
		for j, v := range values {
			for _, rd := range red {
				v = rd.String(v)
			}
			values[j] = v
		}
		if clean != name {
			delete(h, name)
			h[clean] = values
		}
	}
}

// hasBody reports whether a response carries a body to redact (not HEAD, 1xx, 204, 304).
func hasBody(resp *http.Response) bool {
	switch {
	case resp.Request != nil && resp.Request.Method == http.MethodHead:
		return false
	case resp.StatusCode < 200, resp.StatusCode == http.StatusNoContent, resp.StatusCode == http.StatusNotModified:
		return false
	}
	return resp.Body != nil && resp.Body != http.NoBody
}

// maxTrailingBytes bounds what is read (and dropped) after a compressed stream ended.
const maxTrailingBytes = 64 << 10

// redactedBody is a response body read through the decoder and redactors; at the end
// it redacts the trailers (filled in by then) before the proxy copies them.
type redactedBody struct {
	io.Reader
	raw     io.ReadCloser
	decoded io.Reader
	trailer http.Header
	red     []*secrets.Redactor
	once    sync.Once
}

func (b *redactedBody) Read(p []byte) (int, error) {
	n, err := b.Reader.Read(p)
	if err == io.EOF {
		b.once.Do(func() {
			// A decoder may stop at the end of its stream before the raw body's EOF,
			// which is when the transport fills in the trailers.
			_, _ = io.Copy(io.Discard, io.LimitReader(b.raw, maxTrailingBytes))
			redactHeader(b.trailer, b.red)
		})
	}
	return n, err
}

func (b *redactedBody) Close() error {
	if c, ok := b.decoded.(*lazyReader); ok && c.r != nil {
		if closer, ok := c.r.(io.Closer); ok {
			_ = closer.Close()
		}
	}
	return b.raw.Close()
}
