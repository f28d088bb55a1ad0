package link

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"math/rand"
	"syscall"
	"testing"

	"gvisor.dev/gvisor/pkg/tcpip/header"

	"bun-gvproxy/framing"
)

func prefixOnly(size uint32) []byte { return binary.BigEndian.AppendUint32(nil, size) }

// A stream guest announcing a length that cannot be a frame loses its connection (the
// framing is lost), is counted and logged, and nothing reaches the stack; the endpoint
// serves the next guest.
func TestStreamGuestWithAnImpossibleFrameLengthIsDisconnected(t *testing.T) {
	for _, tc := range []struct {
		name  string
		bytes []byte
	}{
		{"length 0", prefixOnly(0)},
		{"length 13", append(prefixOnly(13), make([]byte, 13)...)},
		{"length 0xFFFFFFFF", prefixOnly(0xFFFFFFFF)},
		{"length MTU+15", append(prefixOnly(testMTU+15), make([]byte, testMTU+15)...)},
		{"good frame then length 1", append(streamEncode(ethernetFrame(gatewayMAC, 50, 1)), prefixOnly(1)...)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e, d, log := newTestEndpoint(t, testMTU)
			g := serve(t, e, syscall.SOCK_STREAM)
			_, _ = g.guest.Write(tc.bytes)
			err := g.wait(t)
			if !isProtocolError(err) {
				t.Fatalf("Serve returned %v, want a protocol error", err)
			}
			if s := e.Stats(); s.ProtocolErrors != 1 || s.Attached {
				t.Fatalf("stats %+v, want 1 protocol error and no guest attached", s)
			}
			if log.warnings() != 1 {
				t.Fatalf("%d warnings logged, want 1", log.warnings())
			}
			if bytes.HasPrefix(tc.bytes[4:], ethernetFrame(gatewayMAC, 50, 1)) {
				d.next(t) // the good frame before the bad length was delivered
			}
			d.none(t)
			if _, err := g.guest.Read(make([]byte, 1)); !errors.Is(err, io.EOF) {
				t.Fatalf("guest's end after the protocol error: %v, want EOF", err)
			}

			next := serve(t, e, syscall.SOCK_STREAM)
			_, _ = next.guest.Write(streamEncode(ethernetFrame(gatewayMAC, 50, 2)))
			d.next(t)
		})
	}
}

// The largest frame the MTU allows is a frame, not an error.
func TestStreamGuestMayUseTheWholeMTU(t *testing.T) {
	e, d, _ := newTestEndpoint(t, testMTU)
	g := serve(t, e, syscall.SOCK_STREAM)
	frame := ethernetFrame(gatewayMAC, testMTU, 3)
	_, _ = g.guest.Write(streamEncode(frame))
	if got := d.next(t); !bytes.Equal(got.frame, frame) {
		t.Fatal("the MTU-sized frame was altered")
	}
	if s := e.Stats(); s.ProtocolErrors != 0 || !s.Attached {
		t.Fatalf("stats %+v", s)
	}
}

// A guest that dies in the middle of a frame: the partial frame is dropped, never
// delivered, and the guest is detached without a protocol error.
func TestStreamTruncatedFrameThenEOFIsDropped(t *testing.T) {
	e, d, _ := newTestEndpoint(t, testMTU)
	g := serve(t, e, syscall.SOCK_STREAM)
	full := streamEncode(ethernetFrame(gatewayMAC, 500, 4))
	_, _ = g.guest.Write(full[:len(full)-100])
	g.closeGuest(t, framing.ErrTruncated)
	d.none(t)
	if s := e.Stats(); s.RxDropped != 1 || s.ProtocolErrors != 0 || s.FramesReceived != 0 {
		t.Fatalf("stats %+v", s)
	}
}

// A clean close between frames is a normal detach.
func TestStreamGuestClosingBetweenFramesDetachesWithEOF(t *testing.T) {
	e, _, _ := newTestEndpoint(t, testMTU)
	g := serve(t, e, syscall.SOCK_STREAM)
	g.closeGuest(t, io.EOF)
	if s := e.Stats(); s.Attached || s.ProtocolErrors != 0 {
		t.Fatalf("stats %+v", s)
	}
}

// Random bytes as a stream: whatever they decode to, the guest ends up disconnected
// (protocol error or truncated frame), nothing larger than a frame is allocated or
// delivered, and the process lives.
func TestStreamOfRandomBytesIsSurvived(t *testing.T) {
	rng := rand.New(rand.NewSource(1))
	for i := 0; i < 20; i++ {
		e, d, _ := newTestEndpoint(t, testMTU)
		g := serve(t, e, syscall.SOCK_STREAM)
		junk := make([]byte, 1+rng.Intn(64<<10))
		rng.Read(junk)
		go func() {
			_, _ = g.guest.Write(junk)
			_ = g.guest.Close()
		}()
		err := g.wait(t)
		if !isProtocolError(err) && !errors.Is(err, framing.ErrTruncated) && !errors.Is(err, io.EOF) {
			t.Fatalf("run %d: Serve returned %v after %d random bytes", i, err, len(junk))
		}
		if e.Stats().Attached {
			t.Fatalf("run %d: the guest is still attached", i)
		}
		for len(d.packets) > 0 {
			if p := <-d.packets; len(p.frame) > maxFrameSize(testMTU) {
				t.Fatalf("run %d: a %d-byte frame was delivered", i, len(p.frame))
			}
		}
	}
}

// A flood of minimum-size frames to another MAC is dropped frame by frame; the guest
// stays attached and its next good frame is delivered.
func TestFloodOfTinyFramesIsDroppedAndTheGuestKeptServed(t *testing.T) {
	const flood = 100_000
	e, d, _ := newTestEndpoint(t, testMTU)
	g := serve(t, e, syscall.SOCK_STREAM)
	tiny := streamEncode(ethernetFrame(otherMAC, 0, 0))
	stream := bytes.Repeat(tiny, flood)
	good := ethernetFrame(gatewayMAC, 60, 5)
	stream = append(stream, streamEncode(good)...)
	go func() { _, _ = g.guest.Write(stream) }()
	if got := d.next(t); !bytes.Equal(got.frame, good) {
		t.Fatal("the frame after the flood was not the good one")
	}
	s := e.Stats()
	if s.RxDropped != flood || s.FramesReceived != flood+1 || !s.Attached || s.ProtocolErrors != 0 {
		t.Fatalf("stats %+v, want %d dropped, guest attached", s, flood)
	}
}

// On a datagram socket each frame stands alone: a bad one is dropped and counted, the
// guest stays attached, and only the first bad datagram is logged.
func TestDatagramGuestBadFramesAreDroppedOneByOne(t *testing.T) {
	e, d, log := newTestEndpoint(t, testMTU)
	g := serve(t, e, syscall.SOCK_DGRAM)
	for _, size := range []int{0, 1, 13, testMTU + 15, 65535} {
		_, _ = g.guest.Write(make([]byte, size))
	}
	_, _ = g.guest.Write(ethernetFrame(otherMAC, 100, 0)) // well-formed, not for us
	good := ethernetFrame(header.EthernetBroadcastAddress, 28, 6)
	_, _ = g.guest.Write(good)
	if got := d.next(t); !bytes.Equal(got.frame, good) {
		t.Fatal("the good broadcast frame was not delivered")
	}
	s := e.Stats()
	if s.ProtocolErrors != 5 || s.RxDropped != 6 || !s.Attached {
		t.Fatalf("stats %+v, want 5 protocol errors, 6 dropped, guest attached", s)
	}
	if log.warnings() != 1 {
		t.Fatalf("%d warnings logged, want 1", log.warnings())
	}
}

// Frames arriving before the stack is attached are dropped, not a crash.
func TestFramesBeforeTheStackIsAttachedAreDropped(t *testing.T) {
	e, d, _ := newTestEndpoint(t, testMTU)
	e.Attach(nil)
	g := serve(t, e, syscall.SOCK_STREAM)
	_, _ = g.guest.Write(streamEncode(ethernetFrame(gatewayMAC, 40, 0)))
	waitFor(t, "the frame to be dropped", func() bool { return e.Stats().RxDropped == 1 })
	d.none(t)
}
