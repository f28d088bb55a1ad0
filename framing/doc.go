// Package framing is the one definition of how Ethernet frames travel on a VM's
// network socket, shared by the library (libgvproxy/internal/link), the test guest
// (guest/) and the benchmark peer (bench/peer).
//
// Two transports exist, as in gvisor-tap-vsock: the QEMU protocol on a SOCK_STREAM
// socket prefixes every frame with its length as a 4-byte big-endian integer; the vfkit
// protocol on a SOCK_DGRAM socket sends one frame per datagram (after an optional
// "VFKT" handshake datagram).
//
// The package has no dependencies outside the standard library, so every module can
// import it (through a replace directive) without its versions leaking into theirs.
package framing
