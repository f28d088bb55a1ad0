package dhcp

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"net"
	"time"
)

// Transport is the raw link the client talks over: it sends whole Ethernet frames,
// and Listen routes inbound DHCP client payloads to it until the returned stop runs.
type Transport interface {
	WriteFrame(frame []byte) error
	Listen(deliver func(payload []byte)) (stop func())
}

// retransmitInterval is how long to wait for an answer before sending again.
const retransmitInterval = 1 * time.Second

// Acquire runs DISCOVER/OFFER/REQUEST/ACK for mac and returns the lease granted.
func Acquire(ctx context.Context, t Transport, mac net.HardwareAddr) (Lease, error) {
	xid, err := newXID()
	if err != nil {
		return Lease{}, err
	}
	replies := make(chan *Message, 16)
	stop := t.Listen(func(payload []byte) {
		m, err := Parse(payload)
		if err != nil || !m.IsReplyTo(xid, mac) {
			return // not ours: another client's, or garbage
		}
		select {
		case replies <- m:
		default:
		}
	})
	defer stop()

	offer, err := exchange(ctx, t, EncapsulateBroadcast(mac, BuildDiscover(xid, mac)), replies, MessageOffer)
	if err != nil {
		return Lease{}, fmt.Errorf("dhcp discover: %w", err)
	}
	offered, err := offer.Lease()
	if err != nil {
		return Lease{}, fmt.Errorf("dhcp offer: %w", err)
	}
	request := BuildRequest(xid, mac, offered.IP, offered.ServerID)
	ack, err := exchange(ctx, t, EncapsulateBroadcast(mac, request), replies, MessageAck)
	if err != nil {
		return Lease{}, fmt.Errorf("dhcp request for %s: %w", offered.IP, err)
	}
	lease, err := ack.Lease()
	if err != nil {
		return Lease{}, fmt.Errorf("dhcp ack: %w", err)
	}
	return lease, nil
}

// exchange sends frame until a reply of the wanted type arrives; NAK fails at once.
func exchange(ctx context.Context, t Transport, frame []byte, replies <-chan *Message, want MessageType) (*Message, error) {
	ticker := time.NewTicker(retransmitInterval)
	defer ticker.Stop()
	for {
		if err := t.WriteFrame(frame); err != nil {
			return nil, fmt.Errorf("send: %w", err)
		}
	wait:
		for {
			select {
			case <-ctx.Done():
				return nil, fmt.Errorf("no %s received: %w", want, ctx.Err())
			case <-ticker.C:
				break wait
			case m := <-replies:
				switch m.Type() {
				case want:
					return m, nil
				case MessageNak:
					return nil, fmt.Errorf("server sent NAK")
				}
			}
		}
	}
}

func newXID() (uint32, error) {
	var b [4]byte
	if _, err := rand.Read(b[:]); err != nil {
		return 0, fmt.Errorf("generate transaction id: %w", err)
	}
	return binary.BigEndian.Uint32(b[:]), nil
}
