package logqueue

import (
	"encoding/binary"
	"math"
	"time"
)

// Record is one queued log line.
type Record struct {
	Message    string  // UTF-8, structured fields already appended as " key=value"
	UnixMillis float64 // wall-clock time the record was produced
	InstanceID uint32  // 0 when the record is not tied to an instance
	Level      Level
	Source     Source
}

// RecordHeaderSize is the fixed part of a packed record; the message follows it.
const RecordHeaderSize = 24

// Offsets of the header fields, from docs/ABI.md "Log record layout" (little-endian).
const (
	offsetLength     = 0  // u32 message length
	offsetLevel      = 4  // u8
	offsetSource     = 5  // u8
	offsetReserved16 = 6  // u16, always 0
	offsetInstance   = 8  // u32
	offsetReserved32 = 12 // u32, always 0
	offsetTime       = 16 // f64 Unix milliseconds
)

// PackedSize is the number of bytes r occupies in a batch.
func (r *Record) PackedSize() int { return RecordHeaderSize + len(r.Message) }

// PackTo writes r at the start of dst and returns the bytes written. dst must hold at
// least r.PackedSize() bytes; every header byte is written, so dst need not be zeroed.
func (r *Record) PackTo(dst []byte) int {
	n := r.PackedSize()
	dst = dst[:n]
	le := binary.LittleEndian
	le.PutUint32(dst[offsetLength:], uint32(len(r.Message)))
	dst[offsetLevel] = byte(r.Level)
	dst[offsetSource] = byte(r.Source)
	le.PutUint16(dst[offsetReserved16:], 0)
	le.PutUint32(dst[offsetInstance:], r.InstanceID)
	le.PutUint32(dst[offsetReserved32:], 0)
	le.PutUint64(dst[offsetTime:], math.Float64bits(r.UnixMillis))
	copy(dst[RecordHeaderSize:], r.Message)
	return n
}

// unixMillis converts t to the record's time representation, keeping microseconds.
func unixMillis(t time.Time) float64 {
	return float64(t.UnixMicro()) / 1000
}
