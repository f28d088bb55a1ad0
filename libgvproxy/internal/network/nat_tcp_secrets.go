package network

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/adapters/gonet"
	"gvisor.dev/gvisor/pkg/tcpip/transport/tcp"

	"bun-gvproxy/libgvproxy/internal/audit"
	"bun-gvproxy/libgvproxy/internal/intercept"
	"bun-gvproxy/libgvproxy/internal/policy"
	"bun-gvproxy/libgvproxy/internal/policy/sniff"
	"bun-gvproxy/libgvproxy/internal/secrets"
)

// With secrets configured, connections the policy does not inspect itself take this
// path on the two ports secrets concern: the host is dialed first (a refused port is
// still a refused connect), then the guest's first bytes are read. On 443 a ClientHello
// naming a secret's host hands the connection to the interceptor, which reuses the
// connection already dialed; anything else is spliced as usual, those bytes first. On
// 80 the guest's stream is spliced through the plain-text guard.

// secretsFor reports whether the connection to dst goes through secretsPath.
func (n *Network) secretsFor(dst netip.AddrPort) bool {
	port := dst.Port()
	return (port == interceptPort || port == plainHTTPPort) && n.secrets.Load().Len() > 0
}

func (f *natTCP) secretsPath(r *tcp.ForwarderRequest, src, hostAddr netip.AddrPort, d policy.Decision) {
	attempt := f.n.audit.Attempt(natConn(TCP, src, d, "")) // timed from before the dial; named once the SNI is read
	hostConn, guestConn, ep, ok := f.dialAndAccept(r, attempt, hostAddr)
	if !ok {
		return
	}
	release, ok := f.n.trackPair(guestConn, hostConn)
	defer release()
	if !ok {
		return
	}
	var prefix []byte
	if hostAddr.Port() == interceptPort {
		var sni string
		prefix, sni = peekClientHello(guestConn)
		if sni != "" && f.n.secrets.Load().Intercepts(sni) {
			f.intercept(attempt, guestConn, ep, src, hostAddr, d, prefix, sni, hostConn)
			return
		}
	}
	f.spliceGuarded(attempt, guestConn, ep, src, d, "", io.MultiReader(bytes.NewReader(prefix), guestConn), hostConn)
}

// peekClientHello reads the guest's first bytes until they are a complete ClientHello
// (its SNI is returned), something else, or the guest stays silent for inspectTimeout
// (a protocol where the server speaks first): the bytes read are returned in every case.
func peekClientHello(guestConn net.Conn) (prefix []byte, sni string) {
	_ = guestConn.SetReadDeadline(time.Now().Add(inspectTimeout))
	defer func() { _ = guestConn.SetReadDeadline(time.Time{}) }()
	buf := make([]byte, 0, 4096)
	for len(buf) < sniff.MaxInspectBytes {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		n, err := guestConn.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		name, complete, perr := sniff.InspectTLSClientHello(buf)
		if complete || perr != nil || err != nil {
			return buf, name
		}
	}
	return buf, ""
}

// intercept serves a connection whose ClientHello named a secret's host through the
// interceptor. hostConn is the connection already dialed (so a refused host never
// opened the flow): the first upstream connection uses it. Later upstream connections
// (after the host closed a kept one, or for parallel HTTP/1.1 requests) are dialed by
// the interceptor; one that fails is a 502 to its request on a flow that did open.
func (f *natTCP) intercept(attempt *audit.Flow, guestConn *gonet.TCPConn, ep tcpip.Endpoint, src, hostAddr netip.AddrPort, d policy.Decision, prefix []byte, sni string, hostConn net.Conn) {
	live := f.n.openNATFlow(attempt, TCP, d, sni, func() { resetGuest(guestConn, ep) })
	defer live.end()
	var once sync.Once
	flow := &intercept.Flow{
		SNI:  sni,
		Port: hostAddr.Port(),
		Dial: func(ctx context.Context) (net.Conn, error) {
			var first net.Conn
			once.Do(func() { first, hostConn = hostConn, nil })
			if first != nil {
				return first, nil
			}
			var dialer net.Dialer
			return dialer.DialContext(ctx, "tcp", hostAddr.String())
		},
		Refuse: func(reason audit.Reason, name, detail string) {
			f.n.audit.Deny(audit.Denial{Reason: reason, Proto: string(TCP), Source: audit.AddrPort(src),
				Destination: audit.AddrPort(d.Destination()), Name: name, Detail: detail})
		},
	}
	var err error
	live.fromGuest, live.toGuest, err = f.n.interceptor.Serve(guestConn, prefix, flow)
	once.Do(func() {
		if hostConn != nil {
			_ = hostConn.Close()
		}
	})
	if err != nil {
		f.n.log.Debugf("nat tcp: intercepting %s (%s): %v", hostAddr, sni, err)
		resetGuest(guestConn, ep)
	}
}

// plainRefusal is what a guest reads when its plain-text stream carried a placeholder.
const plainRefusal = "HTTP/1.1 403 Forbidden\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\nContent-Length: %d\r\n\r\n%s"

// spliceGuarded splices a connection whose guest side (fromGuest: the guest connection,
// maybe behind the policy's checks) goes through the plain-text guard when it is to
// port 80. A placeholder there answers the guest 403 (the host gets nothing of that
// request: it is reset) with a secret-misuse event; a policy denial resets both as
// spliceInspected does.
func (f *natTCP) spliceGuarded(attempt *audit.Flow, guestConn *gonet.TCPConn, ep tcpip.Endpoint, src netip.AddrPort, d policy.Decision, name string, fromGuest io.Reader, hostConn net.Conn) {
	if d.Destination().Port() == plainHTTPPort {
		fromGuest = f.n.secrets.Load().GuardPlain(fromGuest)
	}
	live := f.n.openNATFlow(attempt, TCP, d, name, func() { resetGuest(guestConn, ep); resetHost(hostConn) })
	defer live.end()
	var (
		wg      sync.WaitGroup
		refused atomic.Bool // the guest is answered 403: the host side's end must not close it
	)
	wg.Add(1)
	go func() {
		defer wg.Done()
		var err error
		live.toGuest, err = pipeFrom(guestConn, hostConn)
		if err != nil && !refused.Load() {
			_ = hostConn.Close()
			_ = guestConn.Close()
		}
	}()
	var err error
	live.fromGuest, err = pipeFrom(hostConn, fromGuest)
	var misuse *secrets.MisuseError
	switch {
	case errors.As(err, &misuse):
		refused.Store(true)
		resetHost(hostConn)
		wg.Wait()
		body := "bun-gvproxy: request refused: " + misuse.Error() + "\n"
		_, _ = fmt.Fprintf(guestConn, plainRefusal, len(body), body)
		f.n.audit.Deny(audit.Denial{Reason: audit.SecretMisuse, Proto: string(TCP), Source: audit.AddrPort(src),
			Destination: audit.AddrPort(d.Destination()), Name: name, Detail: misuse.Error()})
		live.flow.EndedBy(audit.SecretMisuse)
	case policy.IsDenied(err):
		resetGuest(guestConn, ep)
		resetHost(hostConn)
		denial, _ := policy.AsDenied(err)
		denial.Source = audit.AddrPort(src)
		f.n.audit.Deny(denial)
		live.flow.EndedBy(denial.Reason)
	case err != nil:
		_ = hostConn.Close()
		_ = guestConn.Close()
	}
	wg.Wait()
	_ = guestConn.Close()
	_ = hostConn.Close()
}
