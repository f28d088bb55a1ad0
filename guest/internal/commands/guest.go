// Package commands implements the guest's control commands on top of its network
// stack: DHCP, DNS, TCP/UDP clients and servers, HTTP, ping, bulk transfer and latency loops.
package commands

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"sync"
	"time"

	"bun-gvproxy/guest/internal/control"
	"bun-gvproxy/guest/internal/dhcp"
	"bun-gvproxy/guest/internal/link"
	"bun-gvproxy/guest/internal/netstack"
)

// Error codes a caller can branch on (besides the control package's own).
const (
	CodeDisconnected = "DISCONNECTED"
	CodeTimeout      = "TIMEOUT"
	CodeRefused      = "CONNECTION_REFUSED"
	CodeReset        = "CONNECTION_RESET"
	CodeUnreachable  = "HOST_UNREACHABLE"
	CodeNXDomain     = "NXDOMAIN"
	CodeBadRequest   = "BAD_REQUEST"
	CodeNoLease      = "NO_LEASE"
)

// defaultTimeout bounds a command that names no timeoutMs.
const defaultTimeout = 10 * time.Second

// Guest is the state shared by all commands.
type Guest struct {
	Stack *netstack.Stack
	Pump  *link.Pump
	MAC   net.HardwareAddr

	mu      sync.Mutex
	lease   *dhcp.Lease
	servers map[string]*server // by "tcp:80" / "udp:53"
}

// New wires commands to a connected stack.
func New(s *netstack.Stack, pump *link.Pump, mac net.HardwareAddr) *Guest {
	return &Guest{Stack: s, Pump: pump, MAC: mac, servers: map[string]*server{}}
}

// Register adds every command to the control server.
func (g *Guest) Register(s *control.Server) {
	s.Handle("status", g.status)
	s.Handle("dhcp", g.dhcp)
	s.Handle("tcpOptions", g.tcpOptions)
	s.Handle("serveTcp", g.serveTCP)
	s.Handle("serveUdp", g.serveUDP)
	s.Handle("stopServe", g.stopServe)
	s.Handle("sinkResult", g.sinkResult)
	s.Handle("resolve", networkCommand(g, g.resolve))
	s.Handle("tcpRequest", networkCommand(g, g.tcpRequest))
	s.Handle("udpRequest", networkCommand(g, g.udpRequest))
	s.Handle("httpGet", networkCommand(g, g.httpGet))
	s.Handle("bulkSend", networkCommand(g, g.bulkSend))
	s.Handle("bulkReceive", networkCommand(g, g.bulkReceive))
	s.Handle("connectLoop", networkCommand(g, g.connectLoop))
	s.Handle("requestLoop", networkCommand(g, g.requestLoop))
	s.Handle("dnsQuery", networkCommand(g, g.dnsQuery))
	s.Handle("tlsHandshake", networkCommand(g, g.tlsHandshake))
	s.Handle("httpRequests", networkCommand(g, g.httpRequests))
	s.Handle("httpsRequest", networkCommand(g, g.httpsRequest))
	s.Handle("ping", networkCommand(g, g.ping))
}

// Close stops every server the guest runs.
func (g *Guest) Close() {
	g.mu.Lock()
	servers := g.servers
	g.servers = map[string]*server{}
	g.mu.Unlock()
	for _, s := range servers {
		s.close()
	}
}

// timing is the argument every command accepts.
type timing struct {
	TimeoutMs int `json:"timeoutMs"`
}

// timeout is TimeoutMs, or defaultTimeout when it is not set.
func (t timing) timeout() time.Duration {
	if t.TimeoutMs > 0 {
		return time.Duration(t.TimeoutMs) * time.Millisecond
	}
	return defaultTimeout
}

// decode reads a command's arguments from its line.
func decode[T any](raw json.RawMessage) (T, error) {
	var v T
	if err := json.Unmarshal(raw, &v); err != nil {
		return v, control.WithCode(CodeBadRequest, fmt.Errorf("invalid arguments: %w", err))
	}
	return v, nil
}

// begin returns the context a network command runs in: it ends at the command's
// timeout, or as soon as the virtual network goes away.
func (g *Guest) begin(parent context.Context, raw json.RawMessage) (context.Context, context.CancelFunc, error) {
	t, err := decode[timing](raw)
	if err != nil {
		return nil, nil, err
	}
	if g.disconnected() {
		return nil, nil, g.disconnectError()
	}
	ctx, cancel := context.WithTimeout(parent, t.timeout())
	go func() {
		select {
		case <-g.Pump.Done():
			cancel()
		case <-ctx.Done():
		}
	}()
	return ctx, cancel, nil
}

func (g *Guest) disconnected() bool {
	select {
	case <-g.Pump.Done():
		return true
	default:
		return false
	}
}

func (g *Guest) disconnectError() error {
	return control.WithCode(CodeDisconnected, fmt.Errorf("network disconnected: %w", g.disconnectReason()))
}

// disconnectReason is why the link ended; nil from the pump means we closed it.
func (g *Guest) disconnectReason() error {
	if err := g.Pump.Err(); err != nil {
		return err
	}
	return errors.New("the guest closed its link")
}

// classify attaches a code to a network error so callers can tell a refused
// connection from a timeout or a vanished network. gonet flattens tcpip errors into
// plain strings ("connection was refused"), so refusal is recognised by its text.
func (g *Guest) classify(ctx context.Context, err error) error {
	if err == nil {
		return nil
	}
	switch {
	case g.disconnected():
		return control.WithCode(CodeDisconnected, fmt.Errorf("%w (network disconnected: %v)", err, g.disconnectReason()))
	case errors.Is(err, context.DeadlineExceeded) || errors.Is(ctx.Err(), context.DeadlineExceeded) || errors.Is(err, os.ErrDeadlineExceeded):
		return control.WithCode(CodeTimeout, err)
	case strings.Contains(err.Error(), "refused"):
		return control.WithCode(CodeRefused, err)
	case isReset(err):
		return control.WithCode(CodeReset, err)
	case strings.Contains(err.Error(), "no route to host"):
		return control.WithCode(CodeUnreachable, err)
	}
	return err
}

// isReset reports a connection the peer reset (gonet's flattened "connection reset by
// peer") or aborted after it was established.
func isReset(err error) bool {
	text := err.Error()
	return strings.Contains(text, "reset by peer") || strings.Contains(text, "connection aborted")
}

// bindToContext makes conn's blocking calls end when ctx does.
func bindToContext(ctx context.Context, conn net.Conn) (release func()) {
	if deadline, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(deadline)
	}
	stop := context.AfterFunc(ctx, func() { _ = conn.SetDeadline(time.Unix(1, 0)) })
	return func() { stop() }
}

func (g *Guest) currentLease() (dhcp.Lease, bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.lease == nil {
		return dhcp.Lease{}, false
	}
	return *g.lease, true
}
