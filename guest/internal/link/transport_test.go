package link

import (
	"bytes"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"bun-gvproxy/framing"
)

func TestStreamConnSpeaksLengthPrefixedFrames(t *testing.T) {
	path := filepath.Join(t.TempDir(), "qemu.sock")
	ln, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, _ := ln.Accept()
		accepted <- c
	}()

	conn, err := Dial(path, framing.Qemu)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	server := <-accepted
	defer server.Close()

	// Guest -> server: two frames, one flush, arrive with their prefixes.
	if err := conn.WriteFrame([]byte("first")); err != nil {
		t.Fatal(err)
	}
	if err := conn.WriteFrame([]byte("second!")); err != nil {
		t.Fatal(err)
	}
	if err := conn.Flush(); err != nil {
		t.Fatal(err)
	}
	reader := framing.NewStreamReader(server, 4096, framing.Limits{Max: framing.MaxFrameSize})
	buf := make([]byte, framing.MaxFrameSize)
	for _, want := range []string{"first", "second!"} {
		n, err := reader.ReadFrame(buf)
		if err != nil || string(buf[:n]) != want {
			t.Fatalf("server read %q, %v; want %q", buf[:n], err, want)
		}
	}

	// Server -> guest, then the server hangs up: a clean EOF.
	if _, err := server.Write(framing.AppendFrame(nil, []byte("reply"))); err != nil {
		t.Fatal(err)
	}
	server.Close()
	n, err := conn.ReadFrame(buf)
	if err != nil || string(buf[:n]) != "reply" {
		t.Fatalf("guest read %q, %v", buf[:n], err)
	}
	if _, err := conn.ReadFrame(buf); !errors.Is(err, io.EOF) {
		t.Fatalf("after hang-up: %v, want io.EOF", err)
	}
}

func TestDialReportsMissingSocketWithItsPath(t *testing.T) {
	path := filepath.Join(t.TempDir(), "absent.sock")
	for _, protocol := range []framing.Transport{framing.Qemu, framing.Vfkit} {
		_, err := Dial(path, protocol)
		if err == nil || !bytes.Contains([]byte(err.Error()), []byte(path)) {
			t.Fatalf("%s: got %v, want an error naming %s", protocol, err, path)
		}
	}
	if _, err := Dial(path, "bess"); err == nil {
		t.Fatal("unknown protocol accepted")
	}
}

func TestDatagramConnHandshakesThenSendsOneFramePerDatagram(t *testing.T) {
	path := filepath.Join(t.TempDir(), "vfkit.sock")
	server, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer server.Close()

	conn, err := Dial(path, framing.Vfkit)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()

	buf := make([]byte, framing.MaxFrameSize)
	n, client, err := server.ReadFromUnix(buf)
	if err != nil || string(buf[:n]) != string(framing.VfkitHandshake) {
		t.Fatalf("first datagram %q, %v; want the handshake", buf[:n], err)
	}
	if err := conn.WriteFrame([]byte("frame")); err != nil {
		t.Fatal(err)
	}
	if n, _, err = server.ReadFromUnix(buf); err != nil || string(buf[:n]) != "frame" {
		t.Fatalf("second datagram %q, %v", buf[:n], err)
	}
	// The server answers to the client's own bound path.
	if _, err := server.WriteToUnix([]byte("answer"), client); err != nil {
		t.Fatal(err)
	}
	if n, err = conn.ReadFrame(buf); err != nil || string(buf[:n]) != "answer" {
		t.Fatalf("guest read %q, %v", buf[:n], err)
	}
}

func TestDatagramConnNoticesTheServerSocketDisappearing(t *testing.T) {
	path := filepath.Join(t.TempDir(), "vfkit.sock")
	server, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	conn, err := Dial(path, framing.Vfkit)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	readErr := make(chan error, 1)
	go func() {
		_, err := conn.ReadFrame(make([]byte, framing.MaxFrameSize))
		readErr <- err
	}()
	server.Close() // removes nothing by itself; the owner deletes the path
	_ = os.Remove(path)
	select {
	case err := <-readErr:
		if !errors.Is(err, io.EOF) {
			t.Fatalf("got %v, want an EOF-wrapped error", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the read never ended after the server socket was removed")
	}
}
