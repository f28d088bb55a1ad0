package l2switch

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"sync"

	"gvisor.dev/gvisor/pkg/buffer"
)

// MaxFrameSize bounds a frame read from a guest: the largest MTU (65520) plus the
// Ethernet header fits, and so does gVisor's largest pooled buffer chunk. A larger
// length prefix is a broken or hostile guest.
const MaxFrameSize = 1 << 16

// streamReadBuffer batches small reads of length prefixes and small frames.
const streamReadBuffer = 256 << 10

// StreamPort frames Ethernet over a stream socket with a 4-byte big-endian length
// before each frame (the QEMU protocol).
type StreamPort struct {
	conn   net.Conn
	reader *bufio.Reader
	size   [4]byte

	wmu    sync.Mutex
	prefix [4]byte
	iov    net.Buffers
}

// NewStreamPort wraps a connected stream socket.
func NewStreamPort(conn net.Conn) *StreamPort {
	return &StreamPort{conn: conn, reader: bufio.NewReaderSize(conn, streamReadBuffer)}
}

func (p *StreamPort) ReadFrame() (*buffer.View, error) {
	if _, err := io.ReadFull(p.reader, p.size[:]); err != nil {
		return nil, err
	}
	n := int(binary.BigEndian.Uint32(p.size[:]))
	if n > MaxFrameSize {
		return nil, fmt.Errorf("frame of %d bytes exceeds %d", n, MaxFrameSize)
	}
	v := buffer.NewViewSize(n)
	if _, err := io.ReadFull(p.reader, v.AsSlice()); err != nil {
		v.Release()
		return nil, err
	}
	return v, nil
}

// WriteFrame writes the length prefix and the frame's slices with one writev.
func (p *StreamPort) WriteFrame(slices [][]byte) error {
	p.wmu.Lock()
	defer p.wmu.Unlock()
	size := 0
	for _, s := range slices {
		size += len(s)
	}
	binary.BigEndian.PutUint32(p.prefix[:], uint32(size))
	p.iov = append(append(p.iov[:0], p.prefix[:]), slices...)
	iov := p.iov // WriteTo consumes its receiver; keep p.iov's backing array for reuse
	_, err := iov.WriteTo(p.conn)
	clear(p.iov)
	return err
}

func (p *StreamPort) Close() error { return p.conn.Close() }

// PacketConn is a datagram socket whose peer may change (see network's datagram guest).
type PacketConn interface {
	Read(b []byte) (int, error)
	Write(b []byte) (int, error)
	Close() error
}

// DatagramPort carries one frame per datagram (the vfkit protocol).
type DatagramPort struct {
	conn PacketConn
	wmu  sync.Mutex
	wbuf []byte
}

// NewDatagramPort wraps a datagram socket.
func NewDatagramPort(conn PacketConn) *DatagramPort { return &DatagramPort{conn: conn} }

func (p *DatagramPort) ReadFrame() (*buffer.View, error) {
	v := buffer.NewViewSize(MaxFrameSize)
	n, err := p.conn.Read(v.AsSlice())
	if err != nil {
		v.Release()
		return nil, err
	}
	v.CapLength(n)
	return v, nil
}

// WriteFrame gathers the slices into a reused buffer: a datagram must leave in one send.
func (p *DatagramPort) WriteFrame(slices [][]byte) error {
	p.wmu.Lock()
	defer p.wmu.Unlock()
	p.wbuf = p.wbuf[:0]
	for _, s := range slices {
		p.wbuf = append(p.wbuf, s...)
	}
	_, err := p.conn.Write(p.wbuf)
	return err
}

func (p *DatagramPort) Close() error { return p.conn.Close() }
