// Package testguest is the VM of the library's tests: a gVisor stack with one NIC on a
// channel endpoint, attached to a gateway socket in QEMU stream framing. The instance
// tests and the link endpoint's tests both run their guest through it, so the guest's
// setup and its two frame pumps are written once. Only tests import it.
package testguest

import (
	"bufio"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"sync"

	"gvisor.dev/gvisor/pkg/buffer"
	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/header"
	"gvisor.dev/gvisor/pkg/tcpip/link/channel"
	"gvisor.dev/gvisor/pkg/tcpip/link/ethernet"
	"gvisor.dev/gvisor/pkg/tcpip/network/arp"
	"gvisor.dev/gvisor/pkg/tcpip/network/ipv4"
	"gvisor.dev/gvisor/pkg/tcpip/stack"
)

// Config is the guest's link and address.
type Config struct {
	MTU  uint32
	MAC  tcpip.LinkAddress
	Addr tcpip.Address // on a /24
	// Gateway is the default route's next hop; the zero address makes every
	// destination on-link.
	Gateway    tcpip.Address
	Transports []stack.TransportProtocolFactory
	// Inbound, if not nil, sees every frame from the gateway before the stack does.
	Inbound func(frame []byte)
}

// NIC is the guest's only NIC.
const NIC tcpip.NICID = 1

// Guest is a running guest stack; Close stops it.
type Guest struct {
	Stack  *stack.Stack
	conn   net.Conn
	cancel context.CancelFunc
	wg     sync.WaitGroup
	once   sync.Once
}

// Start builds the guest stack and pumps frames between it and conn (the guest's end of
// the gateway's socket) until Close.
func Start(conn net.Conn, c Config) (*Guest, error) {
	link := channel.New(1024, c.MTU, c.MAC)
	s := stack.New(stack.Options{
		NetworkProtocols:   []stack.NetworkProtocolFactory{ipv4.NewProtocol, arp.NewProtocol},
		TransportProtocols: c.Transports,
	})
	if err := s.CreateNIC(NIC, ethernet.New(link)); err != nil {
		s.Destroy()
		return nil, fmt.Errorf("guest NIC: %s", err)
	}
	if err := s.AddProtocolAddress(NIC, tcpip.ProtocolAddress{
		Protocol:          ipv4.ProtocolNumber,
		AddressWithPrefix: tcpip.AddressWithPrefix{Address: c.Addr, PrefixLen: 24},
	}, stack.AddressProperties{}); err != nil {
		s.Destroy()
		return nil, fmt.Errorf("guest address: %s", err)
	}
	s.SetRouteTable([]tcpip.Route{{Destination: header.IPv4EmptySubnet, Gateway: c.Gateway, NIC: NIC}})
	ctx, cancel := context.WithCancel(context.Background())
	g := &Guest{Stack: s, conn: conn, cancel: cancel}
	g.wg.Add(2)
	go g.pumpOut(ctx, link)
	go g.pumpIn(link, c.Inbound)
	return g, nil
}

// pumpOut frames the stack's outgoing packets onto the socket.
func (g *Guest) pumpOut(ctx context.Context, link *channel.Endpoint) {
	defer g.wg.Done()
	for pkt := link.ReadContext(ctx); pkt != nil; pkt = link.ReadContext(ctx) {
		view := pkt.ToView()
		frame := binary.BigEndian.AppendUint32(make([]byte, 0, 4+view.Size()), uint32(view.Size()))
		frame = append(frame, view.AsSlice()...)
		view.Release()
		pkt.DecRef()
		if _, err := g.conn.Write(frame); err != nil {
			return
		}
	}
}

// pumpIn delivers the socket's frames to the stack. It decodes the framing itself rather
// than with the gateway's reader, so a framing fault there is not mirrored here.
func (g *Guest) pumpIn(link *channel.Endpoint, inbound func([]byte)) {
	defer g.wg.Done()
	r := bufio.NewReader(g.conn)
	var prefix [4]byte
	for {
		if _, err := io.ReadFull(r, prefix[:]); err != nil {
			return
		}
		frame := make([]byte, binary.BigEndian.Uint32(prefix[:]))
		if _, err := io.ReadFull(r, frame); err != nil {
			return
		}
		if inbound != nil {
			inbound(frame)
		}
		pkt := stack.NewPacketBuffer(stack.PacketBufferOptions{Payload: buffer.MakeWithData(frame)})
		link.InjectInbound(0, pkt)
		pkt.DecRef()
	}
}

// Close stops both pumps, closes the socket and destroys the stack; it may be called
// more than once.
func (g *Guest) Close() {
	g.once.Do(func() {
		g.cancel()
		_ = g.conn.Close()
		g.wg.Wait()
		g.Stack.Destroy()
	})
}
