package framing

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"testing"
)

func TestStreamRoundTripKeepsFrameBoundaries(t *testing.T) {
	frames := [][]byte{{1, 2, 3}, {}, bytes.Repeat([]byte{0xab}, 1514)}
	var stream bytes.Buffer
	for _, f := range frames {
		enc, err := EncodeStream(f)
		if err != nil {
			t.Fatalf("encode: %v", err)
		}
		stream.Write(enc)
	}
	r := NewStreamReader(bufio.NewReader(&stream))
	buf := make([]byte, MaxFrameSize)
	for i, want := range frames {
		n, err := r.ReadFrame(buf)
		if err != nil {
			t.Fatalf("frame %d: %v", i, err)
		}
		if !bytes.Equal(buf[:n], want) {
			t.Fatalf("frame %d: got %d bytes, want %d", i, n, len(want))
		}
	}
	if _, err := r.ReadFrame(buf); !errors.Is(err, io.EOF) {
		t.Fatalf("after last frame: got %v, want io.EOF", err)
	}
}

func TestEncodeStreamPrefixIsBigEndianLength(t *testing.T) {
	enc, err := EncodeStream(make([]byte, 0x0102))
	if err != nil {
		t.Fatal(err)
	}
	if got := enc[:4]; !bytes.Equal(got, []byte{0, 0, 1, 2}) {
		t.Fatalf("prefix %x, want 00000102", got)
	}
}

func TestEncodeStreamRejectsOversizedFrame(t *testing.T) {
	if _, err := EncodeStream(make([]byte, MaxFrameSize+1)); !errors.Is(err, ErrFrameTooLarge) {
		t.Fatalf("got %v, want ErrFrameTooLarge", err)
	}
}

func TestReadFrameRejectsOversizedPrefix(t *testing.T) {
	var header [4]byte
	binary.BigEndian.PutUint32(header[:], MaxFrameSize+1)
	r := NewStreamReader(bytes.NewReader(header[:]))
	if _, err := r.ReadFrame(make([]byte, MaxFrameSize)); !errors.Is(err, ErrFrameTooLarge) {
		t.Fatalf("got %v, want ErrFrameTooLarge", err)
	}
}

func TestReadFrameReportsTruncatedBody(t *testing.T) {
	enc, _ := EncodeStream([]byte{1, 2, 3, 4})
	r := NewStreamReader(bytes.NewReader(enc[:6]))
	if _, err := r.ReadFrame(make([]byte, MaxFrameSize)); !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("got %v, want io.ErrUnexpectedEOF", err)
	}
}
