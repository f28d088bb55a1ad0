package logqueue

import (
	"encoding/binary"
	"fmt"
	"math"
	"testing"
)

// decodeBatch parses a packed batch independently of PackTo, following the table in
// docs/ABI.md, and checks the invariants a reader relies on: reserved bytes are zero and
// the records fill the batch exactly.
func decodeBatch(batch []byte, count int) ([]Record, error) {
	le := binary.LittleEndian
	var out []Record
	off := 0
	for off < len(batch) {
		if len(batch)-off < 24 {
			return nil, fmt.Errorf("record %d: %d bytes left, header needs 24", len(out), len(batch)-off)
		}
		h := batch[off : off+24]
		msgLen := int(le.Uint32(h[0:4]))
		if reserved := le.Uint16(h[6:8]); reserved != 0 {
			return nil, fmt.Errorf("record %d: reserved u16 at 6 is %d", len(out), reserved)
		}
		if reserved := le.Uint32(h[12:16]); reserved != 0 {
			return nil, fmt.Errorf("record %d: reserved u32 at 12 is %d", len(out), reserved)
		}
		if off+24+msgLen > len(batch) {
			return nil, fmt.Errorf("record %d: message of %d bytes overruns the batch", len(out), msgLen)
		}
		out = append(out, Record{
			Level:      Level(h[4]),
			Source:     Source(h[5]),
			InstanceID: le.Uint32(h[8:12]),
			UnixMillis: math.Float64frombits(le.Uint64(h[16:24])),
			Message:    string(batch[off+24 : off+24+msgLen]),
		})
		off += 24 + msgLen
	}
	if len(out) != count {
		return nil, fmt.Errorf("batch holds %d records, count says %d", len(out), count)
	}
	return out, nil
}

// drainAll drains q completely and returns the decoded records.
func drainAll(t *testing.T, q *Queue) []Record {
	t.Helper()
	var got []Record
	buf := make([]byte, BatchBufferSize)
	_, err := q.Drain(buf, 0, func(batch []byte, count int) {
		records, err := decodeBatch(batch, count)
		if err != nil {
			t.Fatalf("decode batch: %v", err)
		}
		got = append(got, records...)
	})
	if err != nil {
		t.Fatalf("drain: %v", err)
	}
	return got
}

// newQueue is New for tests, failing the test on error.
func newQueue(t testing.TB, capacity, maxBytes int) *Queue {
	t.Helper()
	q, err := New(capacity, maxBytes)
	if err != nil {
		t.Fatalf("New(%d, %d): %v", capacity, maxBytes, err)
	}
	return q
}

// withLevel sets the global threshold for one test (or benchmark run) and restores the
// previous one.
func withLevel(t testing.TB, level Level) {
	t.Helper()
	prev := CurrentLevel()
	if err := SetLevel(int(level)); err != nil {
		t.Fatalf("SetLevel(%d): %v", level, err)
	}
	t.Cleanup(func() {
		if err := SetLevel(int(prev)); err != nil {
			t.Errorf("restore level: %v", err)
		}
	})
}

// resetDefault empties the default queue so a test sees only its own records.
func resetDefault(t *testing.T) {
	t.Helper()
	drainAll(t, Default)
}
