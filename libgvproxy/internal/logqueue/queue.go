package logqueue

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
)

// Default bounds of the process-wide queue.
const (
	DefaultCapacity = 65536    // records
	DefaultMaxBytes = 16 << 20 // bytes of queued messages
)

// Batch bounds used by Drain: one batch never holds more than this many records, and
// a buffer of BatchBufferSize bytes always fits at least one record of maximal size.
const (
	MaxBatchRecords = 4096
	BatchBufferSize = 256 << 10
)

// minBufferSize is the smallest drain buffer that fits any record.
const minBufferSize = RecordHeaderSize + MaxMessageBytes

// ErrBufferTooSmall is returned by Drain for a buffer that cannot hold a maximal record.
var ErrBufferTooSmall = errors.New("logqueue: drain buffer too small")

// Queue is a bounded FIFO of records. Any goroutine may Push; Push never blocks beyond a
// short critical section and drops (and counts) a record when the queue is full. One
// consumer at a time drains it. A mutex around a ring is enough: the critical section
// copies one 32-byte record, which measured well above the throughput the network
// goroutines can produce (see the benchmarks).
type Queue struct {
	mu       sync.Mutex
	ring     []Record // fixed length = capacity
	head     int      // index of the oldest record
	count    int      // records queued
	bytes    int      // sum of queued message lengths
	maxBytes int

	dropped   atomic.Uint64
	delivered atomic.Uint64

	// drainMu makes Drain exclusive and non-reentrant: a drain callback that drains
	// again gets 0 instead of a deadlock. It also guards scratch.
	drainMu sync.Mutex
	scratch []Record
}

// New returns a queue holding at most capacity records whose messages total at most
// maxBytes bytes.
func New(capacity, maxBytes int) (*Queue, error) {
	if capacity <= 0 {
		return nil, fmt.Errorf("logqueue: capacity %d must be positive", capacity)
	}
	if maxBytes < MaxMessageBytes {
		return nil, fmt.Errorf("logqueue: byte bound %d below one maximal message (%d)", maxBytes, MaxMessageBytes)
	}
	return &Queue{
		ring:     make([]Record, capacity),
		maxBytes: maxBytes,
		scratch:  make([]Record, 0, min(capacity, MaxBatchRecords)),
	}, nil
}

// Push appends r, truncating its message to MaxMessageBytes. It returns false, and counts
// a drop, when the queue is at its record or byte bound.
func (q *Queue) Push(r Record) bool {
	r.Message = Truncate(r.Message)
	q.mu.Lock()
	if q.count == len(q.ring) || q.bytes+len(r.Message) > q.maxBytes {
		q.mu.Unlock()
		q.dropped.Add(1)
		return false
	}
	tail := q.head + q.count
	if tail >= len(q.ring) {
		tail -= len(q.ring)
	}
	q.ring[tail] = r
	q.count++
	q.bytes += len(r.Message)
	q.mu.Unlock()
	return true
}

// Stats is a snapshot of the queue's counters, as reported by gvproxy_log_stats.
type Stats struct {
	Capacity  int    `json:"capacity"`
	Queued    int    `json:"queued"`
	Dropped   uint64 `json:"dropped"`
	Delivered uint64 `json:"delivered"`
}

// Stats returns the current counters.
func (q *Queue) Stats() Stats {
	q.mu.Lock()
	queued := q.count
	q.mu.Unlock()
	return Stats{
		Capacity:  len(q.ring),
		Queued:    queued,
		Dropped:   q.dropped.Load(),
		Delivered: q.delivered.Load(),
	}
}

// Drain pops up to max records (max <= 0: the records queued when Drain starts, so a
// concurrent flood cannot keep it going forever), packs them into buf in batches and
// calls deliver(batch, count) for each batch, on the calling goroutine. The batch aliases
// buf and is only valid during the call. Drain returns the number of records delivered.
// A Drain that starts while another is running (on any goroutine, or from inside its
// deliver) returns 0 and leaves the queue alone.
func (q *Queue) Drain(buf []byte, max int, deliver func(batch []byte, count int)) (int, error) {
	if len(buf) < minBufferSize {
		return 0, fmt.Errorf("%w: %d bytes, need %d", ErrBufferTooSmall, len(buf), minBufferSize)
	}
	if !q.drainMu.TryLock() {
		return 0, nil
	}
	defer q.drainMu.Unlock()

	if max <= 0 {
		max = q.Stats().Queued
	}
	total := 0
	for total < max {
		records := q.popBatch(len(buf), min(max-total, MaxBatchRecords))
		if len(records) == 0 {
			break
		}
		n := 0
		for i := range records {
			n += records[i].PackTo(buf[n:])
		}
		clear(records) // drop the scratch's references to the delivered messages
		deliver(buf[:n], len(records))
		q.delivered.Add(uint64(len(records)))
		total += len(records)
	}
	return total, nil
}

// popChunk bounds how many records popBatch moves per lock hold, so a producer waits at
// most for a few microseconds of copying even while a large batch is being assembled.
const popChunk = 256

// popBatch moves the oldest records that fit byteBudget packed bytes (at most maxRecords)
// into q.scratch and returns it. Packing happens after the lock is released, so producers
// wait only for these copies of record headers.
func (q *Queue) popBatch(byteBudget, maxRecords int) []Record {
	batch := q.scratch[:0]
	used := 0
	for len(batch) < maxRecords {
		var more bool
		batch, used, more = q.popChunk(batch, used, byteBudget, min(maxRecords, len(batch)+popChunk))
		if !more {
			break
		}
	}
	q.scratch = batch[:0]
	return batch
}

// popChunk appends records to batch, under one lock hold, until batch holds limit
// records, the next record would exceed byteBudget, or the queue is empty. more reports
// whether it stopped only because of limit.
func (q *Queue) popChunk(batch []Record, used, byteBudget, limit int) (_ []Record, _ int, more bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	for len(batch) < limit {
		if q.count == 0 {
			return batch, used, false
		}
		r := &q.ring[q.head]
		if used+r.PackedSize() > byteBudget {
			return batch, used, false
		}
		used += r.PackedSize()
		batch = append(batch, *r)
		q.bytes -= len(r.Message)
		*r = Record{} // release the message to the garbage collector
		q.head++
		if q.head == len(q.ring) {
			q.head = 0
		}
		q.count--
	}
	return batch, used, true
}
