package link

import (
	"encoding/binary"
	"fmt"
	"io"
	"sync"
	"time"
)

// pcap file format constants (https://wiki.wireshark.org/Development/LibpcapFileFormat).
const (
	pcapMagic          = 0xa1b2c3d4
	pcapVersionMajor   = 2
	pcapVersionMinor   = 4
	linkTypeEthernet   = 1 // LINKTYPE_ETHERNET: records are whole Ethernet frames
	pcapFileHeaderSize = 24
	pcapRecordHeader   = 16
)

// pcapWriter records frames exactly as they crossed the guest connection. gVisor's
// sniffer would record IP packets (LINKTYPE_RAW) and panic on a write error; this one
// keeps the Ethernet header and, on a write error (disk full), logs once and stops
// capturing while the network keeps running.
type pcapWriter struct {
	mu     sync.Mutex
	w      io.Writer
	buf    []byte
	failed bool
	log    Logger
}

func newPCAPWriter(w io.Writer, snapLen int, log Logger) (*pcapWriter, error) {
	var h [pcapFileHeaderSize]byte
	binary.LittleEndian.PutUint32(h[0:], pcapMagic)
	binary.LittleEndian.PutUint16(h[4:], pcapVersionMajor)
	binary.LittleEndian.PutUint16(h[6:], pcapVersionMinor)
	// h[8:16]: thiszone and sigfigs stay 0 (timestamps are UTC).
	binary.LittleEndian.PutUint32(h[16:], uint32(snapLen))
	binary.LittleEndian.PutUint32(h[20:], linkTypeEthernet)
	if _, err := w.Write(h[:]); err != nil {
		return nil, fmt.Errorf("write pcap header: %w", err)
	}
	return &pcapWriter{w: w, log: log}, nil
}

// record writes one frame given as consecutive slices, in a single Write so a reader
// of a live capture never sees half a record.
func (p *pcapWriter) record(slices [][]byte) {
	size := 0
	for _, s := range slices {
		size += len(s)
	}
	now := time.Now()
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.failed {
		return
	}
	p.buf = p.buf[:0]
	p.buf = binary.LittleEndian.AppendUint32(p.buf, uint32(now.Unix()))
	p.buf = binary.LittleEndian.AppendUint32(p.buf, uint32(now.Nanosecond()/1000))
	p.buf = binary.LittleEndian.AppendUint32(p.buf, uint32(size))
	p.buf = binary.LittleEndian.AppendUint32(p.buf, uint32(size))
	for _, s := range slices {
		p.buf = append(p.buf, s...)
	}
	if _, err := p.w.Write(p.buf); err != nil {
		p.failed = true
		p.log.Errorf("packet capture stopped: %v", err)
	}
}
