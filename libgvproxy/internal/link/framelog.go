package link

import (
	"gvisor.dev/gvisor/pkg/tcpip/header"
)

// logFrame writes a one-line summary of a frame at debug level (Config.LogFrames, the
// instance's debug option). upstream dumps whole decoded packets at info level; a
// summary keeps debug usable at speed.
func (e *Endpoint) logFrame(direction string, frame []byte) {
	eth := header.Ethernet(frame)
	e.log.Debugf("frame %s %d bytes %s -> %s type 0x%04x", direction, len(frame), eth.SourceAddress(), eth.DestinationAddress(), uint16(eth.Type()))
}
