// Package l2switch is the Ethernet switch between the gateway's link endpoint and the
// guest connections. It replaces gvisor-tap-vsock's tap.Switch on the data path for
// throughput: a received frame is read straight into a pooled gVisor buffer (upstream
// allocates a slice per frame and copies it again into the packet), and a sent frame is
// written with one writev of its length prefix and the packet's own slices (upstream
// flattens the packet and copies it once more to prepend the prefix). Its forwarding
// rules are upstream's: frames to the gateway's MAC or broadcast go to the gateway,
// frames to other MACs go to the port that MAC was last seen on, broadcasts to every
// port but the sender's.
package l2switch

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"syscall"

	"gvisor.dev/gvisor/pkg/buffer"
	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/header"
	"gvisor.dev/gvisor/pkg/tcpip/stack"
)

// Gateway is the gateway's link endpoint (tap.LinkEndpoint).
type Gateway interface {
	DeliverNetworkPacket(protocol tcpip.NetworkProtocolNumber, pkt *stack.PacketBuffer)
	LinkAddress() tcpip.LinkAddress
}

// Port is one guest connection's framing: how frames are read from and written to it.
type Port interface {
	// ReadFrame reads the next frame into a view it allocates from gVisor's pool.
	ReadFrame() (*buffer.View, error)
	// WriteFrame writes one frame made of the given slices, in order.
	WriteFrame(slices [][]byte) error
	// Close ends the port; a blocked ReadFrame returns.
	Close() error
}

// Switch connects the gateway to any number of ports.
type Switch struct {
	sent     atomic.Uint64
	received atomic.Uint64
	gateway  Gateway

	mu     sync.RWMutex
	nextID int
	ports  map[int]Port
	cam    map[tcpip.LinkAddress]int // MAC -> port it was last seen on
}

// New returns a switch attached to gateway.
func New(gateway Gateway) *Switch {
	return &Switch{gateway: gateway, ports: make(map[int]Port), cam: make(map[tcpip.LinkAddress]int)}
}

// Sent and Received count frame bytes written to and read from ports.
func (s *Switch) Sent() uint64     { return s.sent.Load() }
func (s *Switch) Received() uint64 { return s.received.Load() }

// DeliverNetworkPacket sends a frame from the gateway (with its Ethernet header) to the
// port of its destination MAC, or to every port for a broadcast.
func (s *Switch) DeliverNetworkPacket(_ tcpip.NetworkProtocolNumber, pkt *stack.PacketBuffer) {
	slices := pkt.AsSlices()
	if len(slices) == 0 || len(slices[0]) < header.EthernetMinimumSize {
		return
	}
	s.forward(header.Ethernet(slices[0]).DestinationAddress(), -1, slices, pkt.Size())
}

// forward writes a frame to the port owning dst, or to all ports but from for a
// broadcast. A port that fails a write is closed (its Serve then returns).
func (s *Switch) forward(dst tcpip.LinkAddress, from int, slices [][]byte, size int) {
	s.mu.RLock()
	var targets []Port
	if dst == header.EthernetBroadcastAddress {
		for id, p := range s.ports {
			if id != from {
				targets = append(targets, p)
			}
		}
	} else if id, ok := s.cam[dst]; ok && id != from {
		targets = append(targets, s.ports[id])
	}
	s.mu.RUnlock()
	for _, p := range targets {
		if p == nil {
			continue
		}
		if err := writeRetrying(p, slices); err != nil {
			_ = p.Close()
			continue
		}
		s.sent.Add(uint64(size))
	}
}

// writeRetrying retries ENOBUFS: a full socket buffer on some platforms reports it
// instead of blocking (gvisor-tap-vsock issue 367).
func writeRetrying(p Port, slices [][]byte) error {
	for {
		err := p.WriteFrame(slices)
		if !errors.Is(err, syscall.ENOBUFS) {
			return err
		}
	}
}

// Serve plugs p into the switch and switches its frames until p fails or ctx is done
// (checked between frames; close the port to stop a blocked read). p is closed on return.
func (s *Switch) Serve(ctx context.Context, p Port) error {
	id := s.attach(p)
	defer s.detach(id, p)
	for ctx.Err() == nil {
		v, err := p.ReadFrame()
		if err != nil {
			return fmt.Errorf("read frame: %w", err)
		}
		s.switchFrame(id, v)
	}
	return nil
}

func (s *Switch) attach(p Port) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	id := s.nextID
	s.nextID++
	s.ports[id] = p
	return id
}

func (s *Switch) detach(id int, p Port) {
	s.mu.Lock()
	delete(s.ports, id)
	for mac, owner := range s.cam {
		if owner == id {
			delete(s.cam, mac)
		}
	}
	s.mu.Unlock()
	_ = p.Close()
}

// switchFrame takes ownership of v.
func (s *Switch) switchFrame(from int, v *buffer.View) {
	frame := v.AsSlice()
	if len(frame) < header.EthernetMinimumSize {
		v.Release()
		return
	}
	s.received.Add(uint64(len(frame)))
	eth := header.Ethernet(frame)
	s.learn(eth.SourceAddress(), from)

	dst := eth.DestinationAddress()
	gatewayMAC := s.gateway.LinkAddress()
	if dst != gatewayMAC {
		s.forward(dst, from, [][]byte{frame}, len(frame))
	}
	if dst != gatewayMAC && dst != header.EthernetBroadcastAddress {
		v.Release()
		return
	}
	protocol := eth.Type()
	data := buffer.MakeWithView(v) // the packet now owns v
	data.TrimFront(header.EthernetMinimumSize)
	pkt := stack.NewPacketBuffer(stack.PacketBufferOptions{Payload: data})
	s.gateway.DeliverNetworkPacket(protocol, pkt)
	pkt.DecRef()
}

// learn records the port a MAC was seen on; the write lock is taken only on change.
func (s *Switch) learn(mac tcpip.LinkAddress, id int) {
	s.mu.RLock()
	owner, ok := s.cam[mac]
	s.mu.RUnlock()
	if ok && owner == id {
		return
	}
	s.mu.Lock()
	s.cam[mac] = id
	s.mu.Unlock()
}
