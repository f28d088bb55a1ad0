package logqueue

import (
	"reflect"
	"testing"
	"time"
)

func TestPackedRecordsDecodeToTheSameRecords(t *testing.T) {
	want := []Record{
		{Message: "plain", UnixMillis: 1764345600123.456, InstanceID: 0, Level: Trace, Source: SourceLibgvproxy},
		{Message: "", UnixMillis: 1, InstanceID: 7, Level: Debug, Source: SourceLogrus},
		{Message: "ünïcödé ✓ key=value", UnixMillis: 2.5, InstanceID: 1<<32 - 1, Level: Error, Source: SourceGvisor},
		{Message: "std", UnixMillis: 0, InstanceID: 42, Level: Warn, Source: SourceStdlog},
	}
	// A dirty buffer proves every header byte is written, reserved ones included.
	buf := make([]byte, 1024)
	for i := range buf {
		buf[i] = 0xAA
	}
	n := 0
	for i := range want {
		n += want[i].PackTo(buf[n:])
	}
	got, err := decodeBatch(buf[:n], len(want))
	if err != nil {
		t.Fatalf("decode: %v", err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("round trip:\n got %+v\nwant %+v", got, want)
	}
}

func TestPackedHeaderMatchesTheABITable(t *testing.T) {
	r := Record{Message: "hi", UnixMillis: 1.5, InstanceID: 0x01020304, Level: Warn, Source: SourceStdlog}
	buf := make([]byte, r.PackedSize())
	if n := r.PackTo(buf); n != 26 {
		t.Fatalf("packed %d bytes, want 24 + 2", n)
	}
	want := []byte{
		2, 0, 0, 0, // message length
		3,    // level warn
		2,    // source: Go log package
		0, 0, // reserved
		4, 3, 2, 1, // instance id, little-endian
		0, 0, 0, 0, // reserved
		0, 0, 0, 0, 0, 0, 0xf8, 0x3f, // 1.5 as a little-endian f64
		'h', 'i',
	}
	if !reflect.DeepEqual(buf, want) {
		t.Fatalf("packed bytes\n got % x\nwant % x", buf, want)
	}
}

func TestRecordTimeIsUnixMillisecondsWithFraction(t *testing.T) {
	at := time.Date(2026, 11, 28, 12, 0, 0, 123456789, time.UTC)
	got := unixMillis(at)
	want := float64(at.Unix())*1000 + 123.456
	if d := got - want; d < -0.001 || d > 0.001 {
		t.Fatalf("unixMillis = %f, want %f", got, want)
	}
}
