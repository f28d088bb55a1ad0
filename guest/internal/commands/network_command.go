package commands

import (
	"context"
	"encoding/json"
	"net"

	"gvisor.dev/gvisor/pkg/tcpip/adapters/gonet"

	"bun-gvproxy/guest/internal/control"
)

// checkedArgs is implemented by argument structs that validate themselves (and fill in
// defaults) before a command touches the network, so a malformed request fails with
// BAD_REQUEST whatever state the network is in.
type checkedArgs interface {
	check() error
}

// networkCommand makes a control handler of run: it decodes the arguments into A,
// checks them when A is checkedArgs, and calls run in the command's context (its
// timeoutMs, or until the virtual network goes away).
func networkCommand[A any](g *Guest, run func(ctx context.Context, args A) (any, error)) control.Handler {
	return func(parent context.Context, raw json.RawMessage) (any, error) {
		args, err := decode[A](raw)
		if err != nil {
			return nil, err
		}
		if checked, ok := any(&args).(checkedArgs); ok {
			if err := checked.check(); err != nil {
				return nil, err
			}
		}
		ctx, cancel, err := g.begin(parent, raw)
		if err != nil {
			return nil, err
		}
		defer cancel()
		return run(ctx, args)
	}
}

// dialer opens one connection within a command's context; its errors carry codes.
type dialer[C net.Conn] func(ctx context.Context) (C, error)

// over dials within ctx and runs talk on the connection: the connection's blocking
// calls end when ctx does, and it is closed when talk returns.
func over[C net.Conn, R any](ctx context.Context, dial dialer[C], talk func(C) (R, error)) (R, error) {
	conn, err := dial(ctx)
	if err != nil {
		var none R
		return none, err
	}
	defer conn.Close()
	defer bindToContext(ctx, conn)()
	return talk(conn)
}

// tcpTo dials a TCP connection to `to`.
func (g *Guest) tcpTo(to endpoint) dialer[*gonet.TCPConn] {
	return func(ctx context.Context) (*gonet.TCPConn, error) { return g.dialTCP(ctx, to.Host, to.Port) }
}

// udpTo opens a UDP socket connected to `to`.
func (g *Guest) udpTo(to endpoint) dialer[*gonet.UDPConn] {
	return func(ctx context.Context) (*gonet.UDPConn, error) { return g.dialUDP(ctx, to.Host, to.Port) }
}
