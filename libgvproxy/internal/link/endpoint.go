// Package link is the gateway's Ethernet link to its one guest: a gVisor
// stack.LinkEndpoint that reads frames from, and writes frames to, the guest connection
// currently attached (QEMU stream framing or vfkit datagrams).
//
// It replaces gvisor-tap-vsock's tap.LinkEndpoint + tap.Switch on the data path. Every
// instance serves exactly one VM, so there is no learning switch: frames from the guest
// to the gateway's MAC or broadcast go into the stack, everything else is dropped.
// Frames from a guest are untrusted: lengths are validated before anything is
// allocated, and a guest that breaks the framing loses its connection, never the
// process.
//
// Speed comes from doing per-burst what upstream does per frame: frames to the guest
// are queued and written by a writer goroutine, a whole batch per writev (tx.go,
// encode.go); the stack sends TCP in up to 64 KiB segments that the link cuts into
// MTU-sized frames (segmentation offload, gso.go); and the guest's TCP segments that
// arrive in one read are coalesced before the stack sees them (GRO, rx.go).
package link

import (
	"fmt"
	"io"
	"sync"
	"sync/atomic"

	"gvisor.dev/gvisor/pkg/buffer"
	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/header"
	"gvisor.dev/gvisor/pkg/tcpip/stack"
	"gvisor.dev/gvisor/pkg/tcpip/stack/gro"
)

// Config describes the gateway's side of the link.
type Config struct {
	// MTU is the largest IP packet; guest frames may be up to MTU + Ethernet header.
	MTU uint32
	// MAC is the gateway's link address.
	MAC tcpip.LinkAddress
	// GatewayIP and VirtualIPs are the only addresses the gateway may claim in ARP
	// replies (see arp.go).
	GatewayIP  tcpip.Address
	VirtualIPs []tcpip.Address
	// Log receives protocol errors and attach/detach events; nil discards them.
	Log Logger
	// LogFrames logs a summary of every frame at debug level.
	LogFrames bool
	// Capture, when not nil, receives a pcap (LINKTYPE_ETHERNET) of every frame the
	// guest sent or was sent, as it was on the wire. The caller closes it after the
	// stack is gone.
	Capture io.Writer
}

// Endpoint is the gateway's link endpoint. Guests are plugged in with Serve.
type Endpoint struct {
	mtu        atomic.Uint32
	maxFrame   int
	mac        tcpip.LinkAddress
	arpSenders atomic.Pointer[map[tcpip.Address]struct{}] // copy-on-write (SetVirtualIP)
	log        Logger
	logFrames  bool
	capture    *pcapWriter
	counters   counters

	dispatcher atomic.Pointer[dispatcherBox]

	// mu serialises attach/detach; the current guest is read lock-free on the hot path.
	mu      sync.Mutex
	current atomic.Pointer[session]
	closed  bool
}

// dispatcherBox lets the stack's dispatcher (an interface) be swapped atomically.
type dispatcherBox struct{ d stack.NetworkDispatcher }

var _ stack.LinkEndpoint = (*Endpoint)(nil)

// New returns an endpoint with no guest attached.
func New(cfg Config) (*Endpoint, error) {
	if len(cfg.MAC) != header.EthernetAddressSize {
		return nil, fmt.Errorf("gateway MAC %q is not an Ethernet address", cfg.MAC)
	}
	if cfg.MTU < minMTU || cfg.MTU > maxMTU {
		return nil, fmt.Errorf("MTU %d is outside %d..%d", cfg.MTU, minMTU, maxMTU)
	}
	e := &Endpoint{
		maxFrame:  maxFrameSize(cfg.MTU),
		mac:       cfg.MAC,
		log:       cfg.Log,
		logFrames: cfg.LogFrames,
	}
	if e.log == nil {
		e.log = discardLogger{}
	}
	e.mtu.Store(cfg.MTU)
	senders := make(map[tcpip.Address]struct{}, 1+len(cfg.VirtualIPs))
	senders[cfg.GatewayIP] = struct{}{}
	for _, ip := range cfg.VirtualIPs {
		senders[ip] = struct{}{}
	}
	e.arpSenders.Store(&senders)
	if cfg.Capture != nil {
		pw, err := newPCAPWriter(cfg.Capture, e.maxFrame, e.log)
		if err != nil {
			return nil, err
		}
		e.capture = pw
	}
	return e, nil
}

// SetVirtualIP adds (claim true) or removes a virtual address the gateway answers ARP
// for while the network runs (the host-socket address with hostLoopback off). The
// gateway's own address is never passed here.
func (e *Endpoint) SetVirtualIP(ip tcpip.Address, claim bool) {
	for {
		old := e.arpSenders.Load()
		next := make(map[tcpip.Address]struct{}, len(*old)+1)
		for a := range *old {
			next[a] = struct{}{}
		}
		if claim {
			next[ip] = struct{}{}
		} else {
			delete(next, ip)
		}
		if e.arpSenders.CompareAndSwap(old, &next) {
			return
		}
	}
}

// MTU implements stack.LinkEndpoint.
func (e *Endpoint) MTU() uint32 { return e.mtu.Load() }

// SetMTU implements stack.LinkEndpoint. The frame limit for guests stays the one of
// the configured MTU: it bounds what is allocated for an untrusted length.
func (e *Endpoint) SetMTU(mtu uint32) { e.mtu.Store(mtu) }

// MaxHeaderLength implements stack.LinkEndpoint: the Ethernet header.
func (e *Endpoint) MaxHeaderLength() uint16 { return header.EthernetMinimumSize }

// LinkAddress implements stack.LinkEndpoint.
func (e *Endpoint) LinkAddress() tcpip.LinkAddress { return e.mac }

// SetLinkAddress implements stack.LinkEndpoint; the gateway's MAC is fixed by its
// configuration, so this is ignored.
func (e *Endpoint) SetLinkAddress(tcpip.LinkAddress) {}

// Capabilities implements stack.LinkEndpoint. The guest's checksums are trusted as
// upstream does (RX offload); ARP resolves the guest's MAC.
func (e *Endpoint) Capabilities() stack.LinkEndpointCapabilities {
	return stack.CapabilityResolutionRequired | stack.CapabilityRXChecksumOffload
}

// Attach implements stack.LinkEndpoint (nil detaches the stack).
func (e *Endpoint) Attach(d stack.NetworkDispatcher) {
	if d == nil {
		e.dispatcher.Store(nil)
		return
	}
	e.dispatcher.Store(&dispatcherBox{d: d})
}

// IsAttached implements stack.LinkEndpoint.
func (e *Endpoint) IsAttached() bool { return e.dispatcher.Load() != nil }

// ARPHardwareType implements stack.LinkEndpoint.
func (e *Endpoint) ARPHardwareType() header.ARPHardwareType { return header.ARPHardwareEther }

// AddHeader implements stack.LinkEndpoint: the Ethernet header of an outbound packet.
// The route's local link address is kept when set (the stack spoofs nothing at L2,
// but upstream preserves it and so do we).
func (e *Endpoint) AddHeader(pkt *stack.PacketBuffer) {
	src := pkt.EgressRoute.LocalLinkAddress
	if src == "" {
		src = e.mac
	}
	eth := header.Ethernet(pkt.LinkHeader().Push(header.EthernetMinimumSize))
	eth.Encode(&header.EthernetFields{
		SrcAddr: src,
		DstAddr: pkt.EgressRoute.RemoteLinkAddress,
		Type:    pkt.NetworkProtocolNumber,
	})
}

// ParseHeader implements stack.LinkEndpoint.
func (e *Endpoint) ParseHeader(pkt *stack.PacketBuffer) bool {
	_, ok := pkt.LinkHeader().Consume(header.EthernetMinimumSize)
	return ok
}

// Close implements stack.LinkEndpoint: the stack is done with the link; the attached
// guest (if any) is detached and no guest can attach any more.
func (e *Endpoint) Close() {
	e.mu.Lock()
	e.closed = true
	s := e.current.Swap(nil)
	e.mu.Unlock()
	if s != nil {
		s.stop(errEndpointClosed)
	}
}

// SetOnCloseAction implements stack.LinkEndpoint; nothing to do.
func (e *Endpoint) SetOnCloseAction(func()) {}

// Wait implements stack.LinkEndpoint. The goroutines of a guest belong to the Serve
// call that attached it, which returns only after they have exited.
func (e *Endpoint) Wait() {}

// WriteRawPacket is not supported (no packet sockets on the gateway).
func (e *Endpoint) WriteRawPacket(*stack.PacketBuffer) tcpip.Error {
	return &tcpip.ErrNotSupported{}
}

// deliver hands an inbound frame (Ethernet header included) to the stack, through the
// coalescer when there is one. The caller keeps its reference to pkt.
func (e *Endpoint) deliver(pkt *stack.PacketBuffer, protocol tcpip.NetworkProtocolNumber, coalescer *gro.GRO) {
	box := e.dispatcher.Load()
	if box == nil {
		e.counters.rxDropped.Add(1)
		return
	}
	if !e.ParseHeader(pkt) {
		e.counters.rxDropped.Add(1)
		return
	}
	if coalescer == nil {
		box.d.DeliverNetworkPacket(protocol, pkt)
		return
	}
	pkt.NetworkProtocolNumber = protocol
	// The guest's checksums are trusted (CapabilityRXChecksumOffload); saying so here
	// keeps the coalescer from verifying them (the NIC would mark it the same way).
	pkt.RXChecksumValidated = true
	coalescer.Dispatcher = box.d
	coalescer.Enqueue(pkt)
}

// newCoalescer returns a GRO instance for one reader goroutine (it is not safe for
// concurrent use).
func newCoalescer() *gro.GRO {
	g := &gro.GRO{}
	g.Init(true)
	return g
}

// flush delivers the packets the coalescer holds.
func (e *Endpoint) flush(coalescer *gro.GRO) {
	box := e.dispatcher.Load()
	if box == nil {
		return // nothing was enqueued without a dispatcher
	}
	coalescer.Dispatcher = box.d
	coalescer.Flush()
}

// newInboundPacket wraps a frame view (ownership passes to the packet).
func newInboundPacket(v *buffer.View) *stack.PacketBuffer {
	return stack.NewPacketBuffer(stack.PacketBufferOptions{Payload: buffer.MakeWithView(v)})
}
