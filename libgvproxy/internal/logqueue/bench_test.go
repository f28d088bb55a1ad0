package logqueue

import (
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sirupsen/logrus"
)

// reportRate adds a records/s metric, the unit the brief's targets are stated in.
func reportRate(b *testing.B, records int) {
	b.ReportMetric(float64(records)/b.Elapsed().Seconds(), "records/s")
}

// startDrainer drains q on its own goroutine until stop is called, as the JS thread
// would, so that a push benchmark measures the accepting path rather than drops.
func startDrainer(q *Queue) (stop func()) {
	var done atomic.Bool
	var wg sync.WaitGroup
	wg.Go(func() {
		buf := make([]byte, BatchBufferSize)
		for !done.Load() {
			if n, _ := q.Drain(buf, 0, func([]byte, int) {}); n == 0 {
				time.Sleep(50 * time.Microsecond)
			}
		}
	})
	return func() { done.Store(true); wg.Wait() }
}

// emptierUntimed returns what a benchmark on the accepting path calls before its i-th
// push: q is emptied, outside the timed region, each time it could have filled, so no
// push is a drop.
func emptierUntimed(b *testing.B, q *Queue) func(i int) {
	buf := make([]byte, BatchBufferSize)
	return func(i int) {
		if i%DefaultCapacity == 0 {
			b.StopTimer()
			_, _ = q.Drain(buf, 0, func([]byte, int) {})
			b.StartTimer()
		}
	}
}

// benchRecord is a typical gvisor-tap-vsock line.
var benchRecord = Record{Message: "tcpproxy: connection from 192.168.127.2:40000 to 10.0.0.1:443", Level: Info}

// BenchmarkPush is one producer on the accepting path: the queue is emptied, untimed,
// whenever it fills, so no push is a drop.
func BenchmarkPush(b *testing.B) {
	q, _ := New(DefaultCapacity, DefaultMaxBytes)
	empty := emptierUntimed(b, q)
	for i := 0; i < b.N; i++ {
		empty(i)
		q.Push(benchRecord)
	}
	reportRate(b, b.N)
	if s := q.Stats(); s.Dropped != 0 {
		b.Fatalf("%d drops on the accepting path", s.Dropped)
	}
}

// BenchmarkPushParallel is every core pushing while a drainer consumes, as in a flood:
// records/s counts every push, accepted/s those the drainer got.
func BenchmarkPushParallel(b *testing.B) {
	q, _ := New(DefaultCapacity, DefaultMaxBytes)
	stop := startDrainer(q)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			q.Push(benchRecord)
		}
	})
	b.StopTimer()
	stop()
	reportRate(b, b.N)
	s := q.Stats()
	b.ReportMetric(float64(uint64(b.N)-s.Dropped)/b.Elapsed().Seconds(), "accepted/s")
}

// BenchmarkLog is one goroutine calling Log with two fields on the accepting path (the
// default queue is emptied, untimed, whenever it fills): the per-call cost of a record.
func BenchmarkLog(b *testing.B) {
	withLevel(b, Info)
	empty := emptierUntimed(b, Default)
	for i := 0; i < b.N; i++ {
		empty(i)
		Log(Info, 1, "flood", "g", 3, "seq", i)
	}
	reportRate(b, b.N)
}

// BenchmarkLogWithFields is a libgvproxy Log call with two fields, including formatting
// and the timestamp, on every core while a drainer consumes.
func BenchmarkLogWithFields(b *testing.B) {
	Install()
	withLevel(b, Info)
	_, _ = Default.Drain(make([]byte, BatchBufferSize), 0, func([]byte, int) {})
	before := Default.Stats().Dropped
	stop := startDrainer(Default)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		seq := 0
		for pb.Next() {
			Log(Info, 1, "flood", "g", 3, "seq", seq)
			seq++
		}
	})
	b.StopTimer()
	stop()
	reportRate(b, b.N)
	b.ReportMetric(float64(Default.Stats().Dropped-before)/float64(b.N), "dropped/op")
}

// BenchmarkLogDisabled is the cost of a record below the threshold: it must be a few
// nanoseconds, since network goroutines log at debug level on hot paths.
func BenchmarkLogDisabled(b *testing.B) {
	withLevel(b, Warn)
	for b.Loop() {
		Log(Debug, 1, "packet", "len", 1500)
	}
}

// BenchmarkLogrusDisabled is the same for gvisor-tap-vsock's logrus debug calls.
func BenchmarkLogrusDisabled(b *testing.B) {
	Install()
	withLevel(b, Warn)
	for b.Loop() {
		logrus.Debugf("packet len %d", 1500)
	}
}

// BenchmarkLogrusEnabled is a logrus entry with one field reaching the queue.
func BenchmarkLogrusEnabled(b *testing.B) {
	Install()
	withLevel(b, Info)
	stop := startDrainer(Default)
	b.ResetTimer()
	for b.Loop() {
		logrus.WithField("port", 8080).Info("forwarding")
	}
	b.StopTimer()
	stop()
	reportRate(b, b.N)
}

// BenchmarkDrain packs a full queue of typical records into batches: the JS side's cost
// per drain, minus the callback.
func BenchmarkDrain(b *testing.B) {
	q, _ := New(DefaultCapacity, DefaultMaxBytes)
	r := Record{Message: "tcpproxy: connection from 192.168.127.2:40000 to 10.0.0.1:443", Level: Info}
	buf := make([]byte, BatchBufferSize)
	var records, bytes, batches int
	for b.Loop() {
		b.StopTimer()
		for range DefaultCapacity {
			q.Push(r)
		}
		b.StartTimer()
		n, _ := q.Drain(buf, 0, func(batch []byte, _ int) { bytes += len(batch); batches++ })
		records += n
	}
	reportRate(b, records)
	b.ReportMetric(float64(bytes)/b.Elapsed().Seconds()/(1<<20), "MiB/s")
	b.ReportMetric(float64(records)/float64(batches), "records/batch")
}
