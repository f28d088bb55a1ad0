package network

import (
	"bun-gvproxy/libgvproxy/internal/audit"
)

// connectFailed ends attempt (begun with audit.Attempt), a connection the network
// could not make on the far side: the guest's port for a forward, the host's for NAT.
// It never opened, so its record is one close with reason connect-failed and err as
// the detail, and a TCP one counts in stats' tcp.failedConnectionAttempts.
func (n *Network) connectFailed(attempt *audit.Flow, err error) {
	if attempt.Conn().Proto == string(TCP) {
		n.failedConnects.Add(1)
	}
	attempt.Failed(err.Error())
}
