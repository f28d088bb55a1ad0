package framing

import "testing"

func TestTransportsNameTheirSocketType(t *testing.T) {
	for _, tc := range []struct {
		name     string
		want     Transport
		network  string
		datagram bool
	}{{"qemu", Qemu, "unix", false}, {"vfkit", Vfkit, "unixgram", true}} {
		got, err := ParseTransport(tc.name)
		if err != nil || got != tc.want {
			t.Fatalf("ParseTransport(%q) = %q, %v", tc.name, got, err)
		}
		if got.Network() != tc.network || got.Datagram() != tc.datagram || got.String() != tc.name {
			t.Fatalf("%s: network %q, datagram %v", tc.name, got.Network(), got.Datagram())
		}
	}
	for _, bad := range []string{"", "QEMU", "stream", "unixgram"} {
		if _, err := ParseTransport(bad); err == nil {
			t.Fatalf("ParseTransport(%q) accepted", bad)
		}
	}
}

func TestVfkitHandshakeIsRecognisedExactly(t *testing.T) {
	if !IsVfkitHandshake([]byte("VFKT")) {
		t.Fatal("the handshake is not recognised")
	}
	for _, other := range [][]byte{nil, []byte("VFK"), []byte("VFKTX"), []byte("vfkt")} {
		if IsVfkitHandshake(other) {
			t.Fatalf("%q taken for the handshake", other)
		}
	}
}
