package framing

import "fmt"

// Transport names the socket framing a VM uses, spelled as gvisor-tap-vsock's
// listeners and the library's configuration spell it.
type Transport string

const (
	// Qemu is a SOCK_STREAM socket with a 4-byte big-endian length before each frame.
	Qemu Transport = "qemu"
	// Vfkit is a SOCK_DGRAM socket carrying one Ethernet frame per datagram.
	Vfkit Transport = "vfkit"
)

// ParseTransport accepts "qemu" or "vfkit".
func ParseTransport(s string) (Transport, error) {
	switch t := Transport(s); t {
	case Qemu, Vfkit:
		return t, nil
	}
	return "", fmt.Errorf("unknown transport %q (want qemu or vfkit)", s)
}

// Datagram reports whether frames travel one per datagram (vfkit) rather than
// length-prefixed on a stream (QEMU).
func (t Transport) Datagram() bool { return t == Vfkit }

// Network is the Go network name of the transport's Unix socket: "unixgram" for
// vfkit, "unix" for QEMU.
func (t Transport) Network() string {
	if t.Datagram() {
		return "unixgram"
	}
	return "unix"
}

func (t Transport) String() string { return string(t) }
