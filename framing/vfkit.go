package framing

import "bytes"

// VfkitHandshake is the datagram old vfkit versions send before any frame. A server
// consumes it (it is not a frame); a client sending it makes the server learn the
// client's address before the first frame.
var VfkitHandshake = []byte("VFKT")

// IsVfkitHandshake reports whether a received datagram is the handshake.
func IsVfkitHandshake(datagram []byte) bool {
	return bytes.Equal(datagram, VfkitHandshake)
}
