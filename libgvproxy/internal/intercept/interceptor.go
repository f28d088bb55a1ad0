package intercept

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log"
	"net"
	"net/http"
	"net/http/httputil"
	"sync"
	"time"

	"bun-gvproxy/libgvproxy/internal/audit"
	"bun-gvproxy/libgvproxy/internal/secrets"
	"bun-gvproxy/libgvproxy/internal/tlsca"
)

// Timeouts of the guest's side: a guest that stops mid-handshake or mid-header cannot
// hold a connection's goroutines; an idle keep-alive connection ends after idleTimeout.
const (
	readHeaderTimeout = 30 * time.Second
	idleTimeout       = 5 * time.Minute
)

// Logger receives the interceptor's log lines, already redacted.
type Logger interface {
	Debugf(format string, args ...any)
}

// Options configure an Interceptor.
type Options struct {
	// CA returns the network's CA (made on first use).
	CA func() (*tlsca.CA, error)
	// Roots verify the real hosts: the system roots plus the configured extra ones.
	Roots *x509.CertPool
	// Secrets returns the set in force now (setSecrets replaces it).
	Secrets func() *secrets.Set
	Log     Logger
}

// Flow is one intercepted connection as the network knows it.
type Flow struct {
	// SNI is the server name of the guest's ClientHello (normalised).
	SNI string
	// Port is the destination port the guest dialed.
	Port uint16
	// Dial opens a TCP connection to the address the guest dialed.
	Dial func(ctx context.Context) (net.Conn, error)
	// Refuse reports a refused request (a `connection` event of phase denied).
	Refuse func(reason audit.Reason, name, detail string)

	upstream *http.Transport
}

// Interceptor serves intercepted connections for one network. Close ends them all.
type Interceptor struct {
	opts     Options
	listener *connListener
	server   *http.Server

	proxyOnce sync.Once
	reverse   *httputil.ReverseProxy
}

// New makes an interceptor; Run serves it until Close.
func New(opts Options) *Interceptor {
	i := &Interceptor{opts: opts, listener: newConnListener()}
	i.server = &http.Server{
		Handler:           http.HandlerFunc(i.serveHTTP),
		ReadHeaderTimeout: readHeaderTimeout,
		IdleTimeout:       idleTimeout,
		ConnContext:       connContext,
		ErrorLog:          log.New(logWriter{i}, "intercept: ", 0),
	}
	return i
}

// Run serves intercepted connections until Close.
func (i *Interceptor) Run() { _ = i.server.Serve(i.listener) }

// Close ends every intercepted connection and makes Run return.
func (i *Interceptor) Close() error {
	_ = i.listener.Close()
	return i.server.Close()
}

// Serve takes over a guest connection whose first bytes (prefix, a ClientHello already
// read by the network) named flow.SNI, serves it until it ends, and returns the bytes
// that went each way.
func (i *Interceptor) Serve(guest net.Conn, prefix []byte, flow *Flow) (fromGuest, toGuest uint64, err error) {
	ca, err := i.opts.CA()
	if err != nil {
		return 0, 0, err
	}
	leaf, err := ca.Leaf(flow.SNI)
	if err != nil {
		return 0, 0, err
	}
	gc := newGuestConn(guest, prefix, flow)
	flow.upstream = newUpstream(flow, i.opts.Roots)
	defer flow.upstream.CloseIdleConnections()
	tlsConn := tls.Server(gc, &tls.Config{
		Certificates: []tls.Certificate{*leaf},
		NextProtos:   []string{"h2", "http/1.1"},
		MinVersion:   tls.VersionTLS12,
	})
	if !i.listener.push(tlsConn) {
		_ = tlsConn.Close()
		return 0, 0, errors.New("interception has stopped")
	}
	<-gc.done
	return gc.fromGuest.Load(), gc.toGuest.Load(), nil
}

type flowKey struct{}

// connContext puts the connection's Flow into every request's context.
func connContext(ctx context.Context, c net.Conn) context.Context {
	if tc, ok := c.(*tls.Conn); ok {
		if gc, ok := tc.NetConn().(*guestConn); ok {
			return context.WithValue(ctx, flowKey{}, gc.flow)
		}
	}
	return ctx
}

func flowOf(r *http.Request) *Flow {
	f, _ := r.Context().Value(flowKey{}).(*Flow)
	return f
}

// logWriter sends the HTTP server's own error lines to the log, redacted.
type logWriter struct{ i *Interceptor }

func (w logWriter) Write(p []byte) (int, error) {
	w.i.opts.Log.Debugf("%s", w.i.opts.Secrets().Redactor().String(string(p)))
	return len(p), nil
}

// redactedError is err's text with every value replaced, for logs and reports.
func (i *Interceptor) redactedError(err error) string {
	return i.opts.Secrets().Redactor().String(fmt.Sprint(err))
}
