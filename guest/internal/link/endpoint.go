package link

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"

	"gvisor.dev/gvisor/pkg/buffer"
	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/link/channel"
	"gvisor.dev/gvisor/pkg/tcpip/stack"

	"bun-gvproxy/framing"
)

// FrameTap sees every inbound frame before the stack does; returning true consumes
// it. The DHCP client uses it because DHCP runs before the stack has an address.
type FrameTap func(frame []byte) bool

// Pump moves frames between a gVisor channel endpoint and a FrameConn until the
// connection ends, then reports why once on Done.
type Pump struct {
	conn     FrameConn
	endpoint *channel.Endpoint

	tapMu sync.RWMutex
	tap   FrameTap

	cancel   context.CancelFunc
	done     chan struct{}
	doneOnce sync.Once
	err      error
}

// NewPump starts moving frames. Close stops it.
func NewPump(conn FrameConn, endpoint *channel.Endpoint) *Pump {
	ctx, cancel := context.WithCancel(context.Background())
	p := &Pump{conn: conn, endpoint: endpoint, cancel: cancel, done: make(chan struct{})}
	go p.outbound(ctx)
	go p.inbound()
	return p
}

// SetTap installs (or, with nil, removes) the inbound frame tap.
func (p *Pump) SetTap(tap FrameTap) {
	p.tapMu.Lock()
	p.tap = tap
	p.tapMu.Unlock()
}

// WriteFrame sends a frame built outside the stack (DHCP before we have an address).
func (p *Pump) WriteFrame(frame []byte) error {
	if err := p.conn.WriteFrame(frame); err != nil {
		return err
	}
	return p.conn.Flush()
}

// Done is closed when the connection to the virtual network is gone.
func (p *Pump) Done() <-chan struct{} { return p.done }

// Err says why the pump stopped: nil after Close, the read error otherwise.
func (p *Pump) Err() error {
	<-p.done
	return p.err
}

// Close disconnects from the virtual network.
func (p *Pump) Close() error {
	p.finish(nil)
	return p.conn.Close()
}

func (p *Pump) finish(err error) {
	p.doneOnce.Do(func() {
		p.err = err
		p.cancel()
		close(p.done)
	})
}

// outbound sends what the stack queued: it blocks for the first packet, then takes
// every packet already waiting and flushes them together.
func (p *Pump) outbound(ctx context.Context) {
	for {
		pkt := p.endpoint.ReadContext(ctx)
		if pkt == nil {
			return // cancelled by finish
		}
		for ; pkt != nil; pkt = p.endpoint.Read() {
			if err := p.writePacket(pkt); err != nil {
				p.finish(fmt.Errorf("send to virtual network: %w", err))
				return
			}
		}
		if err := p.conn.Flush(); err != nil {
			p.finish(fmt.Errorf("send to virtual network: %w", err))
			return
		}
	}
}

func (p *Pump) writePacket(pkt *stack.PacketBuffer) error {
	defer pkt.DecRef()
	view := pkt.ToView()
	defer view.Release()
	return p.conn.WriteFrame(view.AsSlice())
}

func (p *Pump) inbound() {
	buf := make([]byte, framing.MaxFrameSize)
	for {
		n, err := p.conn.ReadFrame(buf)
		if err != nil {
			p.finish(describeReadError(err))
			return
		}
		if p.tapped(buf[:n]) {
			continue
		}
		pkt := stack.NewPacketBuffer(stack.PacketBufferOptions{
			Payload: buffer.MakeWithData(append([]byte(nil), buf[:n]...)),
		})
		p.endpoint.InjectInbound(tcpip.NetworkProtocolNumber(0), pkt)
		pkt.DecRef()
	}
}

func (p *Pump) tapped(frame []byte) bool {
	p.tapMu.RLock()
	tap := p.tap
	p.tapMu.RUnlock()
	return tap != nil && tap(frame)
}

// ErrNetworkClosed is the reason reported when the server closed the connection.
var ErrNetworkClosed = errors.New("virtual network closed the connection")

func describeReadError(err error) error {
	if errors.Is(err, io.EOF) || errors.Is(err, net.ErrClosed) {
		return ErrNetworkClosed
	}
	return fmt.Errorf("receive from virtual network: %w", err)
}
