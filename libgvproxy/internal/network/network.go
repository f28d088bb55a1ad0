// Package network runs one virtual network: the gateway's gVisor stack linked to one
// guest (internal/link), DHCP and DNS on the gateway, NAT of the guest's outbound TCP
// and UDP (and ICMP echo) to the host's network, host->guest port forwards, and the unix socket the VM
// connects to.
// Every listener and goroutine belongs to the Network, and Close releases all of them.
package network

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"sync"
	"sync/atomic"

	"github.com/sirupsen/logrus"
	"gvisor.dev/gvisor/pkg/tcpip/stack"

	"bun-gvproxy/libgvproxy/internal/audit"
	"bun-gvproxy/libgvproxy/internal/config"
	"bun-gvproxy/libgvproxy/internal/errs"
	"bun-gvproxy/libgvproxy/internal/intercept"
	"bun-gvproxy/libgvproxy/internal/lifecycle"
	"bun-gvproxy/libgvproxy/internal/link"
	"bun-gvproxy/libgvproxy/internal/policy"
	"bun-gvproxy/libgvproxy/internal/policy/dnsscreen"
	"bun-gvproxy/libgvproxy/internal/secrets"
	"bun-gvproxy/libgvproxy/internal/socketpath"
	"bun-gvproxy/libgvproxy/internal/tlsca"
)

// Options are the parts of a Network that are not configuration.
type Options struct {
	// Log receives the network's log lines; nil means the standard logrus logger.
	Log Logger
}

// Network is one running virtual network.
type Network struct {
	cfg     *config.Config
	log     Logger
	group   *lifecycle.Group
	workers *workers
	socket  *socketpath.Socket
	link    *link.Endpoint
	stack   *stack.Stack
	capture *os.File
	guard   *destinationGuard
	guests  guestStats
	// echo forwards the guest's pings beyond the gateway (icmp_echo.go), which divert
	// takes out of the stack's way.
	echo   *echoForwarder
	divert *echoDivert

	// rules is the egress policy (nil: no filtering); setAllowNet replaces it.
	rules atomic.Pointer[policy.Policy]
	// audit counts every denial and queues the network's events (internal/audit).
	audit *audit.Auditor
	// dns screens the gateway DNS with the current rules and zones.
	dns *dnsscreen.Screen
	// live holds the admitted NAT flows, for setAllowNet to re-judge.
	live liveFlows
	// failedConnects counts the TCP connections the network dialed for a guest or a
	// host client that the far side refused (connectfail.go); gVisor counts only the
	// handshakes it fails itself.
	failedConnects atomic.Uint64

	// fwd is the active forwards; pendingForwards the configured ones bound but not
	// yet served while the network starts.
	fwd             forwards
	pendingForwards []*forward
	// sockets is the host sockets the guest reaches on the host loopback address.
	sockets hostSockets

	// secrets is the set in force (setSecrets replaces it); with none, nothing is
	// intercepted. The interceptor and the CA are made when first needed (secrets.go).
	secrets     atomic.Pointer[secrets.Set]
	interceptMu sync.Mutex
	interceptor *intercept.Interceptor
	caOnce      sync.Once
	ca          *tlsca.CA
	caErr       error

	closeOnce sync.Once
}

// New builds and starts a network. When it returns without error the guest socket is
// listening and every host port is bound; on error everything made so far is undone.
// cfg must come from config.Decode.
func New(cfg *config.Config, opts Options) (*Network, error) {
	n := &Network{
		cfg:   cfg,
		log:   opts.Log,
		group: lifecycle.NewGroup(),
		guard: newDestinationGuard(cfg.Subnet, cfg.HostLoopback, cfg.HostLoopbackIP),
	}
	if n.log == nil {
		n.log = logrus.StandardLogger()
	}
	n.workers = newWorkers(n.group)
	n.echo = newEchoForwarder(n.log)
	n.audit = audit.New(n.log, audit.DefaultCapacity)
	rules, err := buildRules(cfg.AllowNet, cfg.AllowNone, cfg.HostLoopback, cfg.HostLoopbackIP)
	if err != nil {
		return nil, errs.Wrap(errs.InvalidConfig, err, "allowNet").WithField("allowNet")
	}
	n.rules.Store(rules)
	n.dns = dnsscreen.New(n.dnsRules, n.audit)
	if err := n.setSecretList(cfg.Secrets); err != nil {
		n.Close()
		return nil, err
	}
	if err := n.start(); err != nil {
		n.Close()
		return nil, err
	}
	return n, nil
}

// start acquires the resources that can fail for reasons of the caller's environment
// first (socket path, host ports), then builds the stack and services, and only then
// starts serving.
func (n *Network) start() error {
	socket, err := socketpath.Bind(n.cfg.SocketPath, n.cfg.Protocol)
	if err != nil {
		return err
	}
	n.socket = socket
	if err := n.bindPortMappings(n.cfg); err != nil {
		return err
	}
	if err := n.buildStack(); err != nil {
		return errs.OrWrap(errs.Internal, err, "cannot start the virtual network")
	}
	n.startNATTCP()
	n.startNATUDP()
	if err := n.startDHCP(n.cfg); err != nil {
		return errs.Wrap(errs.Internal, err, "cannot start the virtual network")
	}
	if err := n.startDNS(n.cfg); err != nil {
		return errs.Wrap(errs.Internal, err, "cannot start the virtual network")
	}
	n.servePortMappings()
	for _, hs := range n.cfg.HostSockets {
		if err := n.AddHostSocket(hs); err != nil {
			return err
		}
	}
	if socket.Listener != nil {
		n.group.Go(func() { n.serveStreamGuests(socket.Listener) })
	} else {
		n.group.Go(func() { n.serveDatagramGuests(socket.PacketConn) })
	}
	return nil
}

func (n *Network) buildStack() error {
	capture, err := openCapture(n.cfg.CaptureFile)
	if err != nil {
		return err
	}
	var captureWriter io.Writer // a nil *os.File must not become a non-nil io.Writer
	if capture != nil {
		n.capture = capture
		captureWriter = capture
	}
	ep, err := newLink(n.cfg, n.log, captureWriter)
	if err != nil {
		return err
	}
	n.link = ep
	n.divert = newEchoDivert(ep, addrOf(n.cfg.GatewayIP), addrOf(lastAddr(n.cfg.Subnet)), n.forwardEcho)
	s, err := newStack(n.cfg, n.divert)
	if err != nil {
		return fmt.Errorf("create network stack: %w", err)
	}
	n.stack = s
	return nil
}

// stoppedByClose reports whether err ended a serve loop only because the network is
// closing or the loop's socket was closed: an expected end, not worth logging.
func (n *Network) stoppedByClose(err error) bool {
	return n.group.Closing() || errors.Is(err, net.ErrClosed)
}

// trackPair tracks the two ends of a flow so that shutdown closes them; release forgets
// both. If the network is already closing, both are closed at once and ok is false: a
// flow must not keep one end open after losing the other.
func (n *Network) trackPair(a, b io.Closer) (release func(), ok bool) {
	releaseA, okA := n.group.Track(a)
	releaseB, okB := n.group.Track(b)
	release = func() {
		releaseB()
		releaseA()
	}
	if !okA || !okB {
		_ = a.Close()
		_ = b.Close()
		return release, false
	}
	return release, true
}

// SocketPath is the path of the guest socket.
func (n *Network) SocketPath() string { return n.cfg.SocketPath }

// Close stops everything and waits until every goroutine has exited: the guest socket
// and its connections, host port listeners, NAT flows, DNS and DHCP, the stack and the
// capture file. The socket file is removed if it is still ours. Close is idempotent.
func (n *Network) Close() {
	n.closeOnce.Do(n.close)
}

func (n *Network) close() {
	// The guest's link goes first, as a pulled cable: the resets and FINs that closing
	// the NAT's connections and the stack would send must not reach the guest, which
	// instead sees the network itself go away.
	if n.link != nil {
		n.link.Close()
	}
	// Closing tracked resources stops new guest frames, host connections and flows;
	// closing the guest socket makes the accept loop return.
	n.group.CloseResources()
	for _, f := range n.pendingForwards {
		f.close()
	}
	n.fwd.mu.Lock()
	for _, f := range n.fwd.list {
		f.close()
	}
	n.fwd.mu.Unlock()
	if n.socket != nil {
		if err := n.socket.Close(); err != nil {
			n.log.Warnf("close guest socket: %v", err)
		}
	}
	if n.stack != nil {
		// Aborts every endpoint, which unblocks the goroutines reading from them.
		n.stack.Close()
	}
	n.group.Wait()
	if n.stack != nil {
		n.stack.Wait()
	}
	if n.capture != nil {
		if err := n.capture.Close(); err != nil {
			n.log.Warnf("close capture file %s: %v", n.cfg.CaptureFile, err)
		}
	}
}
