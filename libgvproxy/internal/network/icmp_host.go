package network

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"os"
	"sync"
	"syscall"
	"time"

	"golang.org/x/net/icmp"
	"golang.org/x/net/ipv4"
	"gvisor.dev/gvisor/pkg/tcpip/header"
)

// echoTimeout bounds the wait for the host's echo reply; a later reply is lost, as it
// would be to a ping that gave up.
const echoTimeout = 5 * time.Second

// echoSocketKind is how the host sends echo requests for the guest.
type echoSocketKind string

const (
	// pingSocket is an unprivileged ICMP datagram socket: any process on macOS, on
	// Linux a process whose group net.ipv4.ping_group_range includes. The kernel picks
	// the identifier (on Linux, the socket's port) and hands this socket only the
	// replies carrying it.
	pingSocket echoSocketKind = "udp4"
	// rawSocket needs CAP_NET_RAW (root). It sees every ICMP packet the host receives,
	// so replies are matched by source, identifier and sequence number.
	rawSocket echoSocketKind = "ip4:icmp"
)

// errNoEchoSocket: the host permits neither kind of socket, so guests' pings to the
// host's network get no reply.
var errNoEchoSocket = errors.New("the host permits neither ICMP ping sockets (net.ipv4.ping_group_range does not include this process's group) nor raw ICMP sockets (no CAP_NET_RAW)")

// hostPinger sends the guest's echo requests from the host, one socket per request.
// The kind of socket is chosen on first use and kept: a ping socket when the host
// permits one, else a raw socket, else none (logged once).
type hostPinger struct {
	log Logger
	// listen opens a socket (icmp.ListenPacket; tests stand in for a host that refuses).
	listen func(network, address string) (*icmp.PacketConn, error)

	mu     sync.Mutex
	chosen bool // kind or err is the host's verdict
	kind   echoSocketKind
	err    error
}

func newHostPinger(log Logger) *hostPinger {
	return &hostPinger{log: log, listen: icmp.ListenPacket}
}

// choose returns the kind of socket this host permits. The verdict is kept once the
// host gave one: a socket opened, or both kinds were refused for good (no permission,
// no support). Any other failure (out of descriptors or memory) is this request's
// alone, and the next request probes again.
func (h *hostPinger) choose() (echoSocketKind, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.chosen {
		return h.kind, h.err
	}
	kinds := [...]echoSocketKind{pingSocket, rawSocket}
	var failures [len(kinds)]error
	for i, kind := range kinds {
		c, err := h.listen(string(kind), "0.0.0.0")
		if err == nil {
			_ = c.Close()
			h.chosen, h.kind = true, kind
			h.log.Debugf("icmp echo: guests' pings are sent through %s sockets", kind)
			return kind, nil
		}
		failures[i] = fmt.Errorf("%s: %w", kind, err)
	}
	// One line (errors.Join would break it): it is a warning and an event's detail.
	if !notPermitted(failures[0]) || !notPermitted(failures[1]) {
		return "", fmt.Errorf("open an ICMP socket (%w; %w)", failures[0], failures[1])
	}
	h.chosen, h.err = true, fmt.Errorf("%w (%w; %w)", errNoEchoSocket, failures[0], failures[1])
	h.log.Warnf("icmp echo: guests' pings beyond the gateway get no reply: %v", h.err)
	return "", h.err
}

// notPermitted reports a socket failure that will not go away: the host forbids or
// does not support that kind of socket.
func notPermitted(err error) bool {
	for _, errno := range []syscall.Errno{syscall.EACCES, syscall.EPERM, syscall.EPROTONOSUPPORT, syscall.EAFNOSUPPORT, syscall.ESOCKTNOSUPPORT} {
		if errors.Is(err, errno) {
			return true
		}
	}
	return false
}

// hostEcho is one echo request in flight on the host.
type hostEcho struct {
	conn  *icmp.PacketConn
	kind  echoSocketKind
	dst   netip.Addr
	ident uint16 // the identifier the reply carries
}

// open makes the socket for one echo request to dst. The caller closes it; closing
// it also ends a wait in exchange.
func (h *hostPinger) open(dst netip.Addr) (*hostEcho, error) {
	kind, err := h.choose()
	if err != nil {
		return nil, err
	}
	conn, err := h.listen(string(kind), "0.0.0.0")
	if err != nil {
		return nil, fmt.Errorf("open %s socket: %w", kind, err)
	}
	e := &hostEcho{conn: conn, kind: kind, dst: dst, ident: uint16(rand.N(1 << 16))}
	if kind == pingSocket {
		// Linux replaces the identifier with the socket's port; macOS keeps ours.
		if local, ok := conn.LocalAddr().(*net.UDPAddr); ok && local.Port != 0 {
			e.ident = uint16(local.Port)
		}
	}
	return e, nil
}

// send sends one echo request; reply waits for its answer.
func (e *hostEcho) send(seq uint16, payload []byte) error {
	msg := icmp.Message{Type: ipv4.ICMPTypeEcho, Body: &icmp.Echo{ID: int(e.ident), Seq: int(seq), Data: payload}}
	wire, err := msg.Marshal(nil)
	if err != nil {
		return fmt.Errorf("encode echo request: %w", err)
	}
	var to net.Addr = &net.IPAddr{IP: e.dst.AsSlice()}
	if e.kind == pingSocket {
		to = &net.UDPAddr{IP: e.dst.AsSlice()}
	}
	if err := e.conn.SetDeadline(time.Now().Add(echoTimeout)); err != nil {
		return fmt.Errorf("set deadline: %w", err)
	}
	if _, err := e.conn.WriteTo(wire, to); err != nil {
		return fmt.Errorf("send echo request to %s: %w", e.dst, err)
	}
	return nil
}

// reply returns the data of the reply to the request send sent with seq, waiting at
// most echoTimeout from the send.
func (e *hostEcho) reply(seq uint16, payloadLen int) ([]byte, error) {
	buf := make([]byte, header.ICMPv4MinimumSize+payloadLen+512) // room for a reply padded by the responder
	for {
		n, from, err := e.conn.ReadFrom(buf)
		if err != nil {
			if errors.Is(err, os.ErrDeadlineExceeded) {
				return nil, fmt.Errorf("no echo reply from %s within %s", e.dst, echoTimeout)
			}
			return nil, fmt.Errorf("read echo reply from %s: %w", e.dst, err)
		}
		if data, ok := e.matches(buf[:n], from, seq); ok {
			return data, nil
		}
	}
}

// matches returns the data of an echo reply from the destination to this request.
func (e *hostEcho) matches(wire []byte, from net.Addr, seq uint16) ([]byte, bool) {
	if sender, ok := addrOfNet(from); !ok || sender != e.dst {
		return nil, false
	}
	m, err := icmp.ParseMessage(ipv4.ICMPTypeEchoReply.Protocol(), wire)
	if err != nil || m.Type != ipv4.ICMPTypeEchoReply {
		return nil, false
	}
	echo, ok := m.Body.(*icmp.Echo)
	if !ok || echo.ID != int(e.ident) || echo.Seq != int(seq) {
		return nil, false
	}
	return echo.Data, true
}

// Close implements io.Closer, for the network's group to end a wait at shutdown.
func (e *hostEcho) Close() error { return e.conn.Close() }

// addrOfNet is the IPv4 address of a socket address of either kind.
func addrOfNet(a net.Addr) (netip.Addr, bool) {
	var ip net.IP
	switch a := a.(type) {
	case *net.UDPAddr:
		ip = a.IP
	case *net.IPAddr:
		ip = a.IP
	default:
		return netip.Addr{}, false
	}
	addr, ok := netip.AddrFromSlice(ip)
	return addr.Unmap(), ok
}
