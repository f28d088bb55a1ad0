package testguest

import (
	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/header"
)

// ARPFrame is an ARP message a raw test guest sends, from mac and ip, in an Ethernet
// frame to dst. For a request the target hardware address is left zero (pass "").
func ARPFrame(op header.ARPOp, mac tcpip.LinkAddress, ip tcpip.Address, dst, targetMAC tcpip.LinkAddress, targetIP tcpip.Address) []byte {
	frame := make([]byte, header.EthernetMinimumSize+header.ARPSize)
	header.Ethernet(frame).Encode(&header.EthernetFields{SrcAddr: mac, DstAddr: dst, Type: header.ARPProtocolNumber})
	a := header.ARP(frame[header.EthernetMinimumSize:])
	a.SetIPv4OverEthernet()
	a.SetOp(op)
	copy(a.HardwareAddressSender(), mac)
	copy(a.ProtocolAddressSender(), ip.AsSlice())
	copy(a.HardwareAddressTarget(), targetMAC)
	copy(a.ProtocolAddressTarget(), targetIP.AsSlice())
	return frame
}
