package network

import (
	"fmt"
	"net"

	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/adapters/gonet"
	"gvisor.dev/gvisor/pkg/tcpip/transport/tcp"

	"bun-gvproxy/libgvproxy/internal/audit"
)

// dialBeforeAccept is the order of every path that connects the far side before the
// guest's handshake (NAT TCP, secrets, host sockets): dial and, only if that worked,
// complete the guest's handshake, so a refused far side is a refused connect for the
// guest. attempt (audit.Attempt, timed from before the dial) ends as a failed connect
// when either step fails: a refused or unreachable far side, or a guest that gave up
// its connect while the dial ran (the far side was connected and is closed at once, so
// the record shows that it was). A failed dial counts in tcp.failedConnectionAttempts
// here; a failed guest handshake gVisor counts there itself. On success attempt is the
// caller's. what names the far side in logs (called only on a failure: nothing is
// formatted per connection); logDial is the level a failed dial is logged at (a
// refused NAT port is the guest's business, a host socket nobody serves a mistake).
func (n *Network) dialBeforeAccept(r *tcp.ForwarderRequest, attempt *audit.Flow, what func() string, logDial func(string, ...any), dial func() (net.Conn, error)) (net.Conn, *gonet.TCPConn, tcpip.Endpoint, bool) {
	farConn, err := dial()
	if err != nil {
		logDial("%s: dial: %v", what(), err)
		r.Complete(true)
		n.connectFailed(attempt, err)
		return nil, nil, nil, false
	}
	guestConn, ep, err := acceptGuest(r)
	if err != nil {
		_ = farConn.Close()
		n.log.Debugf("%s: the guest's handshake: %v", what(), err)
		// Not n.connectFailed: gVisor already counts the failed handshake in
		// tcp.failedConnectionAttempts.
		attempt.Failed(fmt.Sprintf("the guest's handshake did not complete: %v", err))
		return nil, nil, nil, false
	}
	return farConn, guestConn, ep, true
}
