package logqueue

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
)

func TestNewRejectsBadBounds(t *testing.T) {
	if _, err := New(0, DefaultMaxBytes); err == nil {
		t.Error("New accepted capacity 0")
	}
	if _, err := New(16, MaxMessageBytes-1); err == nil {
		t.Error("New accepted a byte bound below one maximal message")
	}
}

func TestDrainReturnsRecordsInPushOrder(t *testing.T) {
	q := newQueue(t, 8, DefaultMaxBytes)
	// Wrap the ring twice so order across the wrap point is exercised.
	for round := range 3 {
		for i := range 6 {
			q.Push(Record{Message: fmt.Sprintf("r%d-%d", round, i), Level: Info})
		}
		got := drainAll(t, q)
		if len(got) != 6 {
			t.Fatalf("round %d: drained %d records, want 6", round, len(got))
		}
		for i, r := range got {
			if want := fmt.Sprintf("r%d-%d", round, i); r.Message != want {
				t.Errorf("round %d record %d = %q, want %q", round, i, r.Message, want)
			}
		}
	}
}

// producerRecord is the message each concurrent producer logs.
func producerRecord(producer, seq int) string { return fmt.Sprintf("p=%d seq=%d", producer, seq) }

// checkPerProducerOrder fails unless every producer's records arrive in increasing
// sequence order, and returns how many records arrived from each producer.
func checkPerProducerOrder(t *testing.T, got []Record, producers int) []int {
	t.Helper()
	last := make([]int, producers)
	for i := range last {
		last[i] = -1
	}
	counts := make([]int, producers)
	for _, r := range got {
		var p, seq int
		if _, err := fmt.Sscanf(r.Message, "p=%d seq=%d", &p, &seq); err != nil || p < 0 || p >= producers {
			t.Fatalf("unexpected record %q", r.Message)
		}
		if seq <= last[p] {
			t.Fatalf("producer %d: seq %d delivered after %d", p, seq, last[p])
		}
		last[p] = seq
		counts[p]++
	}
	return counts
}

func TestSixteenProducersKeepTheirOrderWithoutLoss(t *testing.T) {
	const producers, perProducer = 16, 4000
	q := newQueue(t, producers*perProducer, DefaultMaxBytes)
	var wg sync.WaitGroup
	for p := range producers {
		wg.Go(func() {
			for seq := range perProducer {
				if !q.Push(Record{Message: producerRecord(p, seq)}) {
					t.Errorf("push dropped a record in a queue sized for all of them")
					return
				}
			}
		})
	}
	wg.Wait()
	got := drainAll(t, q)
	for p, n := range checkPerProducerOrder(t, got, producers) {
		if n != perProducer {
			t.Errorf("producer %d: %d records delivered, want %d", p, n, perProducer)
		}
	}
}

func TestSixteenProducersWithConcurrentDrainAccountForEveryRecord(t *testing.T) {
	const producers, perProducer = 16, 20000
	q := newQueue(t, 1024, DefaultMaxBytes) // small: drops are expected
	var wg sync.WaitGroup
	for p := range producers {
		wg.Go(func() {
			for seq := range perProducer {
				q.Push(Record{Message: producerRecord(p, seq)})
			}
		})
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()

	var got []Record
	buf := make([]byte, BatchBufferSize)
	collect := func(batch []byte, count int) {
		records, err := decodeBatch(batch, count)
		if err != nil {
			t.Fatalf("decode: %v", err)
		}
		got = append(got, records...)
	}
	for finished := false; !finished; {
		select {
		case <-done:
			finished = true
		default:
		}
		if _, err := q.Drain(buf, 0, collect); err != nil {
			t.Fatalf("drain: %v", err)
		}
	}
	if _, err := q.Drain(buf, 0, collect); err != nil {
		t.Fatalf("final drain: %v", err)
	}

	checkPerProducerOrder(t, got, producers)
	s := q.Stats()
	if s.Delivered != uint64(len(got)) {
		t.Errorf("stats delivered = %d, callbacks saw %d", s.Delivered, len(got))
	}
	if total := uint64(producers * perProducer); s.Delivered+s.Dropped != total {
		t.Errorf("delivered %d + dropped %d != pushed %d", s.Delivered, s.Dropped, total)
	}
	if s.Queued != 0 {
		t.Errorf("queued = %d after the final drain, want 0", s.Queued)
	}
}

func TestOverflowCountsEachDropExactly(t *testing.T) {
	const capacity, extra = 100, 37
	q := newQueue(t, capacity, DefaultMaxBytes)
	accepted := 0
	for i := range capacity + extra {
		if q.Push(Record{Message: fmt.Sprint(i)}) {
			accepted++
		}
	}
	s := q.Stats()
	if accepted != capacity || s.Queued != capacity || s.Dropped != extra || s.Capacity != capacity {
		t.Fatalf("accepted %d, stats %+v; want %d accepted/queued, %d dropped", accepted, s, capacity, extra)
	}
	// The oldest records are kept; the newest were dropped.
	got := drainAll(t, q)
	if got[0].Message != "0" || got[len(got)-1].Message != fmt.Sprint(capacity-1) {
		t.Errorf("kept %q..%q, want 0..%d", got[0].Message, got[len(got)-1].Message, capacity-1)
	}
	// Draining frees room again.
	if !q.Push(Record{Message: "after"}) {
		t.Error("push failed after the queue was drained")
	}
}

func TestByteBoundDropsWhenMessagesWouldExceedIt(t *testing.T) {
	q := newQueue(t, 1000, MaxMessageBytes) // room for exactly one maximal message
	big := strings.Repeat("x", MaxMessageBytes)
	if !q.Push(Record{Message: big}) {
		t.Fatal("first maximal message dropped")
	}
	if q.Push(Record{Message: "y"}) {
		t.Fatal("a message beyond the byte bound was queued")
	}
	if s := q.Stats(); s.Dropped != 1 || s.Queued != 1 {
		t.Fatalf("stats %+v, want 1 queued, 1 dropped", s)
	}
	drainAll(t, q)
	if !q.Push(Record{Message: "y"}) {
		t.Error("byte bound not released by the drain")
	}
}

func TestDrainHonoursMax(t *testing.T) {
	q := newQueue(t, 100, DefaultMaxBytes)
	for i := range 10 {
		q.Push(Record{Message: fmt.Sprint(i)})
	}
	n, err := q.Drain(make([]byte, BatchBufferSize), 4, func([]byte, int) {})
	if err != nil || n != 4 {
		t.Fatalf("Drain(max 4) = %d, %v; want 4", n, err)
	}
	got := drainAll(t, q)
	if len(got) != 6 || got[0].Message != "4" {
		t.Fatalf("after draining 4, the rest starts at %q (%d records), want \"4\" (6)", got[0].Message, len(got))
	}
}

func TestDrainAllStopsAtRecordsQueuedWhenItStarted(t *testing.T) {
	q := newQueue(t, 100, DefaultMaxBytes)
	for i := range 10 {
		q.Push(Record{Message: fmt.Sprint(i)})
	}
	// A producer that keeps pace with the drain must not keep it going.
	n, err := q.Drain(make([]byte, minBufferSize), 0, func(_ []byte, count int) {
		for range count {
			q.Push(Record{Message: "late"})
		}
	})
	if err != nil || n != 10 {
		t.Fatalf("Drain(all) = %d, %v; want the 10 queued at the start", n, err)
	}
	if s := q.Stats(); s.Queued != 10 {
		t.Errorf("queued = %d, want the 10 late records", s.Queued)
	}
}

func TestDrainSplitsIntoBoundedBatches(t *testing.T) {
	t.Run("record count", func(t *testing.T) {
		q := newQueue(t, 2*MaxBatchRecords+5, DefaultMaxBytes)
		for range 2*MaxBatchRecords + 5 {
			q.Push(Record{Message: "m"})
		}
		var counts []int
		n, _ := q.Drain(make([]byte, BatchBufferSize), 0, func(_ []byte, count int) { counts = append(counts, count) })
		if n != 2*MaxBatchRecords+5 || fmt.Sprint(counts) != fmt.Sprint([]int{MaxBatchRecords, MaxBatchRecords, 5}) {
			t.Fatalf("delivered %d in batches %v", n, counts)
		}
	})
	t.Run("buffer size", func(t *testing.T) {
		q := newQueue(t, 100, DefaultMaxBytes)
		msg := strings.Repeat("z", MaxMessageBytes)
		for range 5 {
			q.Push(Record{Message: msg})
		}
		buf := make([]byte, 2*(RecordHeaderSize+MaxMessageBytes)+10)
		var lens []int
		q.Drain(buf, 0, func(batch []byte, count int) {
			if _, err := decodeBatch(batch, count); err != nil {
				t.Fatalf("decode: %v", err)
			}
			lens = append(lens, count)
		})
		if fmt.Sprint(lens) != "[2 2 1]" {
			t.Fatalf("batches of %v records, want [2 2 1]", lens)
		}
	})
}

func TestDrainRejectsABufferThatCannotHoldAMaximalRecord(t *testing.T) {
	q := newQueue(t, 10, DefaultMaxBytes)
	q.Push(Record{Message: "kept"})
	_, err := q.Drain(make([]byte, minBufferSize-1), 0, func([]byte, int) { t.Error("deliver called") })
	if !errors.Is(err, ErrBufferTooSmall) {
		t.Fatalf("err = %v, want ErrBufferTooSmall", err)
	}
	if s := q.Stats(); s.Queued != 1 {
		t.Errorf("a failed drain popped records: %+v", s)
	}
}

func TestDrainFromInsideDeliverReturnsZero(t *testing.T) {
	q := newQueue(t, 10, DefaultMaxBytes)
	q.Push(Record{Message: "a"})
	q.Push(Record{Message: "b"})
	inner := -1
	outer, err := q.Drain(make([]byte, BatchBufferSize), 1, func([]byte, int) {
		inner, _ = q.Drain(make([]byte, BatchBufferSize), 0, func([]byte, int) { t.Error("nested deliver called") })
	})
	if err != nil || outer != 1 || inner != 0 {
		t.Fatalf("outer = %d (%v), inner = %d; want 1 and 0", outer, err, inner)
	}
	if s := q.Stats(); s.Queued != 1 || s.Delivered != 1 {
		t.Errorf("stats %+v, want 1 queued and 1 delivered", s)
	}
}

func TestPushTruncatesHugeMessages(t *testing.T) {
	q := newQueue(t, 10, DefaultMaxBytes)
	q.Push(Record{Message: strings.Repeat("h", 10*MaxMessageBytes)})
	got := drainAll(t, q)
	if len(got) != 1 || len(got[0].Message) > MaxMessageBytes || !strings.Contains(got[0].Message, "[truncated ") {
		t.Fatalf("got %d records, message length %d", len(got), len(got[0].Message))
	}
}
