// Package dhcp is a minimal DHCPv4 client (RFC 2131): it builds DISCOVER and REQUEST
// messages, parses OFFER/ACK/NAK, and extracts the lease options a VM needs.
package dhcp

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"time"
)

// MessageType is the value of option 53.
type MessageType byte

const (
	MessageDiscover MessageType = 1
	MessageOffer    MessageType = 2
	MessageRequest  MessageType = 3
	MessageAck      MessageType = 5
	MessageNak      MessageType = 6
)

var messageTypeNames = map[MessageType]string{
	MessageDiscover: "DISCOVER", MessageOffer: "OFFER", MessageRequest: "REQUEST",
	MessageAck: "ACK", MessageNak: "NAK",
}

func (t MessageType) String() string {
	if name, ok := messageTypeNames[t]; ok {
		return name
	}
	return fmt.Sprintf("type(%d)", byte(t))
}

// Option codes the client asks for or reads.
const (
	OptionSubnetMask       = 1
	OptionRouter           = 3
	OptionDNSServers       = 6
	OptionInterfaceMTU     = 26
	OptionRequestedIP      = 50
	OptionLeaseTime        = 51
	OptionMessageType      = 53
	OptionServerIdentifier = 54
	OptionParameterRequest = 55
	OptionDomainSearch     = 119
	optionPad              = 0
	optionEnd              = 255
)

const (
	opRequest     = 1
	opReply       = 2
	fixedSize     = 236 // op..file, before the magic cookie
	offsetXID     = 4
	offsetFlags   = 10
	offsetYiaddr  = 16
	offsetChaddr  = 28
	flagBroadcast = 0x8000
)

var magicCookie = []byte{99, 130, 83, 99}

// Message is a parsed DHCPv4 message.
type Message struct {
	Op        byte
	XID       uint32
	ClientMAC net.HardwareAddr
	YourIP    netip.Addr
	Options   map[byte][]byte
}

// Type returns option 53, or 0 when absent.
func (m *Message) Type() MessageType {
	if v := m.Options[OptionMessageType]; len(v) == 1 {
		return MessageType(v[0])
	}
	return 0
}

// requestedParameters are the options we want the server to send.
var requestedParameters = []byte{OptionSubnetMask, OptionRouter, OptionDNSServers,
	OptionInterfaceMTU, OptionLeaseTime, OptionServerIdentifier, OptionDomainSearch}

// BuildDiscover returns a DHCPDISCOVER from mac.
func BuildDiscover(xid uint32, mac net.HardwareAddr) []byte {
	return build(xid, mac, []option{
		{OptionMessageType, []byte{byte(MessageDiscover)}},
		{OptionParameterRequest, requestedParameters},
	})
}

// BuildRequest returns the DHCPREQUEST that accepts an offer of ip from server.
func BuildRequest(xid uint32, mac net.HardwareAddr, ip, server netip.Addr) []byte {
	ipBytes, serverBytes := ip.As4(), server.As4()
	return build(xid, mac, []option{
		{OptionMessageType, []byte{byte(MessageRequest)}},
		{OptionRequestedIP, ipBytes[:]},
		{OptionServerIdentifier, serverBytes[:]},
		{OptionParameterRequest, requestedParameters},
	})
}

type option struct {
	code  byte
	value []byte
}

func build(xid uint32, mac net.HardwareAddr, options []option) []byte {
	msg := make([]byte, fixedSize, 300)
	msg[0] = opRequest
	msg[1] = 1 // htype Ethernet
	msg[2] = byte(len(mac))
	binary.BigEndian.PutUint32(msg[offsetXID:], xid)
	// We cannot receive unicast before we have an address, so ask for broadcast replies.
	binary.BigEndian.PutUint16(msg[offsetFlags:], flagBroadcast)
	copy(msg[offsetChaddr:], mac)
	msg = append(msg, magicCookie...)
	for _, o := range options {
		msg = append(msg, o.code, byte(len(o.value)))
		msg = append(msg, o.value...)
	}
	return append(msg, optionEnd)
}

// ErrMalformed reports a message that is not valid DHCPv4.
var ErrMalformed = errors.New("malformed DHCP message")

// Parse decodes a DHCPv4 message (the UDP payload).
func Parse(b []byte) (*Message, error) {
	if len(b) < fixedSize+len(magicCookie) {
		return nil, fmt.Errorf("%w: %d bytes is shorter than the fixed header", ErrMalformed, len(b))
	}
	if string(b[fixedSize:fixedSize+4]) != string(magicCookie) {
		return nil, fmt.Errorf("%w: missing magic cookie", ErrMalformed)
	}
	hlen := int(b[2])
	if hlen > 16 {
		return nil, fmt.Errorf("%w: hardware address length %d", ErrMalformed, hlen)
	}
	m := &Message{
		Op:        b[0],
		XID:       binary.BigEndian.Uint32(b[offsetXID:]),
		ClientMAC: net.HardwareAddr(append([]byte(nil), b[offsetChaddr:offsetChaddr+hlen]...)),
		YourIP:    netip.AddrFrom4([4]byte(b[offsetYiaddr : offsetYiaddr+4])),
		Options:   map[byte][]byte{},
	}
	opts := b[fixedSize+4:]
	for i := 0; i < len(opts); {
		code := opts[i]
		if code == optionEnd {
			return m, nil
		}
		if code == optionPad {
			i++
			continue
		}
		if i+1 >= len(opts) || i+2+int(opts[i+1]) > len(opts) {
			return nil, fmt.Errorf("%w: option %d overruns the message", ErrMalformed, code)
		}
		value := opts[i+2 : i+2+int(opts[i+1])]
		// RFC 3396: a repeated option is one long option split in pieces.
		m.Options[code] = append(m.Options[code], value...)
		i += 2 + len(value)
	}
	return m, nil
}

// IsReplyTo says whether m answers a request with xid from mac.
func (m *Message) IsReplyTo(xid uint32, mac net.HardwareAddr) bool {
	return m.Op == opReply && m.XID == xid && string(m.ClientMAC) == string(mac)
}

// Lease is what an ACK grants.
type Lease struct {
	IP            netip.Addr
	PrefixLength  int
	Router        netip.Addr
	DNSServers    []netip.Addr
	MTU           int // 0 when the server sent no MTU option
	SearchDomains []string
	LeaseTime     time.Duration
	ServerID      netip.Addr
}

// Lease extracts the lease from an ACK (or OFFER).
func (m *Message) Lease() (Lease, error) {
	lease := Lease{IP: m.YourIP, PrefixLength: 32}
	if mask := m.Options[OptionSubnetMask]; len(mask) == 4 {
		ones, bits := net.IPMask(mask).Size()
		if bits == 0 {
			return Lease{}, fmt.Errorf("%w: non-contiguous subnet mask %v", ErrMalformed, net.IP(mask))
		}
		lease.PrefixLength = ones
	}
	if routers := addrs(m.Options[OptionRouter]); len(routers) > 0 {
		lease.Router = routers[0]
	}
	lease.DNSServers = addrs(m.Options[OptionDNSServers])
	if mtu := m.Options[OptionInterfaceMTU]; len(mtu) == 2 {
		lease.MTU = int(binary.BigEndian.Uint16(mtu))
	}
	if t := m.Options[OptionLeaseTime]; len(t) == 4 {
		lease.LeaseTime = time.Duration(binary.BigEndian.Uint32(t)) * time.Second
	}
	if ids := addrs(m.Options[OptionServerIdentifier]); len(ids) > 0 {
		lease.ServerID = ids[0]
	}
	if search := m.Options[OptionDomainSearch]; len(search) > 0 {
		domains, err := decodeDomainSearch(search)
		if err != nil {
			return Lease{}, err
		}
		lease.SearchDomains = domains
	}
	return lease, nil
}

func addrs(b []byte) []netip.Addr {
	var out []netip.Addr
	for ; len(b) >= 4; b = b[4:] {
		out = append(out, netip.AddrFrom4([4]byte(b[:4])))
	}
	return out
}
