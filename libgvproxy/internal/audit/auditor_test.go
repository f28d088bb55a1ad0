package audit

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"strings"
	"sync"
	"testing"
)

type lines struct {
	mu    sync.Mutex
	debug []string
}

func (l *lines) Debugf(format string, args ...any) {
	l.mu.Lock()
	l.debug = append(l.debug, fmt.Sprintf(format, args...))
	l.mu.Unlock()
}

var (
	guestEnd = AddrPort(netip.MustParseAddrPort("192.168.127.2:40000"))
	outside  = AddrPort(netip.MustParseAddrPort("203.0.113.7:443"))
)

func TestNothingIsBuiltForAKindWithoutAListener(t *testing.T) {
	a := New(nil, 16)
	a.Deny(Denial{Reason: IPNotAllowed, Proto: "tcp", Destination: outside})
	f := a.Open(Conn{Proto: "tcp", Source: guestEnd, Destination: outside})
	f.Close(1, 2)
	a.Guest(GuestConnected, "", "", 1)
	built := false
	a.DNS(func() DNSEvent { built = true; return DNSEvent{} })
	if got := a.Drain(0); len(got) != 0 || built {
		t.Fatalf("events without listeners: %v (dns built: %v)", got, built)
	}
	if a.Denied() != 1 {
		t.Fatalf("Denied() = %d; denials count whether or not anyone listens", a.Denied())
	}
}

func TestDenialIsCountedLoggedAndEmittedOnce(t *testing.T) {
	log := &lines{}
	a := New(log, 16)
	a.Subscribe(KindConnection | KindDNS)
	a.Deny(Denial{Reason: SNIMismatch, Proto: "tcp", Source: guestEnd, Destination: outside, Name: "other.example", Detail: "tls inspection"})
	a.Deny(Denial{Reason: DNSRefused, Proto: "dns", Transport: "tcp", Name: "blocked.example.", QueryType: "TXT"})
	if a.Denied() != 2 || len(log.debug) != 2 || !strings.Contains(log.debug[0], "[sni-mismatch]") {
		t.Fatalf("denied %d, log %q", a.Denied(), log.debug)
	}
	events := a.Drain(0)
	if len(events) != 2 {
		t.Fatalf("events %v", events)
	}
	out, err := json.Marshal(events)
	if err != nil {
		t.Fatal(err)
	}
	want := `[{"type":"connection","timeMs":`
	if !strings.HasPrefix(string(out), want) ||
		!strings.Contains(string(out), `"phase":"denied","protocol":"tcp","via":"nat","source":{"ip":"192.168.127.2","port":40000},"destination":{"ip":"203.0.113.7","port":443},"name":"other.example","reason":"sni-mismatch","detail":"tls inspection"}`) ||
		!strings.Contains(string(out), `"protocol":"tcp","name":"blocked.example.","queryType":"TXT","decision":"denied","rcode":"NXDOMAIN","answer":[],"reason":"dns-refused"`) {
		t.Fatalf("JSON = %s", out)
	}
}

func TestFlowOpenAndCloseCarryIDBytesDurationAndReason(t *testing.T) {
	a := New(nil, 16)
	a.Subscribe(KindConnection)
	f := a.Open(Conn{Proto: "tcp", Via: ViaForward, Source: Path("/tmp/http.sock"), Destination: outside})
	f.EndedBy(Unexposed)
	f.EndedBy(PolicyChanged) // the first reason wins
	f.Close(10, 20)
	f.Close(30, 40) // once
	events := a.Drain(0)
	if len(events) != 2 {
		t.Fatalf("events %v", events)
	}
	open, closed := events[0].(*ConnectionEvent), events[1].(*ConnectionEvent)
	if open.Phase != PhaseOpen || closed.Phase != PhaseClose || open.ID == 0 || open.ID != closed.ID {
		t.Fatalf("open %+v close %+v", open, closed)
	}
	if *closed.BytesFromGuest != 10 || *closed.BytesToGuest != 20 || closed.DurationMs == nil || closed.Reason != Unexposed {
		t.Fatalf("close %+v", closed)
	}
	if open.BytesFromGuest != nil || open.Source.Path != "/tmp/http.sock" {
		t.Fatalf("open %+v", open)
	}
}

func TestTheQueueIsBoundedAndCountsDrops(t *testing.T) {
	a := New(nil, 4)
	a.Subscribe(AllKinds)
	for i := range 10 {
		a.Guest(GuestConnected, fmt.Sprint(i), "", uint64(i))
	}
	if s := a.Stats(); s.Queued != 4 || s.Dropped != 6 {
		t.Fatalf("stats %+v", s)
	}
	first := a.Drain(3)
	rest := a.Drain(0)
	if len(first) != 3 || len(rest) != 1 || first[0].(*GuestEvent).Peer != "0" || rest[0].(*GuestEvent).Peer != "3" {
		t.Fatalf("drained %v then %v: want the oldest first", first, rest)
	}
	if s := a.Stats(); s.Queued != 0 || s.Delivered != 4 || s.Dropped != 6 {
		t.Fatalf("stats %+v", s)
	}
	a.Guest(GuestConnected, "stale", "", 0)
	a.Subscribe(0)
	a.Subscribe(KindGuest)
	if got := a.Drain(0); len(got) != 0 {
		t.Fatalf("a new listener got events queued while nobody listened: %v", got)
	}
	var nilAuditor *Auditor
	nilAuditor.Deny(Denial{})
	nilAuditor.Open(Conn{}).Close(0, 0)
}

func BenchmarkEventPushAndEncode(b *testing.B) {
	a := New(nil, DefaultCapacity)
	a.Subscribe(KindConnection)
	b.ReportAllocs()
	for b.Loop() {
		for range 1000 {
			a.Open(Conn{Proto: "tcp", Source: guestEnd, Destination: outside}).Close(1, 2)
		}
		AppendJSON(nil, a.Drain(0))
	}
}

func TestAppendJSONWritesWhatEncodingJSONWould(t *testing.T) {
	a := New(nil, 64)
	a.Subscribe(AllKinds)
	f := a.Open(Conn{Proto: "tcp", Source: guestEnd, Destination: Path("/run/a\"b\\c\n.sock"), Name: "ünïcode.example"})
	f.EndedBy(PolicyChanged)
	f.Close(0, 7)
	a.Deny(Denial{Reason: SNIMismatch, Proto: "tcp", Destination: outside, Name: "bad\x00\x1f\xffname", Detail: "tls: <&>"})
	a.Deny(Denial{Reason: DNSRefused, Proto: "dns", Transport: "udp", Name: "x.", QueryType: "TXT"})
	a.Guest(GuestDisconnected, "peer", "EOF", 3)
	a.DNS(func() DNSEvent {
		return DNSEvent{Protocol: "udp", Name: "db.box.", Query: "A", Decision: DNSAllowed, Rcode: "NOERROR", Answer: []string{"192.168.127.50"}}
	})
	events := a.Drain(0)
	fast := AppendJSON(nil, events)
	var got, want any
	if err := json.Unmarshal(fast, &got); err != nil {
		t.Fatalf("AppendJSON wrote invalid JSON %s: %v", fast, err)
	}
	slow, err := json.Marshal(events)
	if err != nil {
		t.Fatal(err)
	}
	_ = json.Unmarshal(slow, &want)
	gotText, _ := json.Marshal(got)
	wantText, _ := json.Marshal(want)
	if string(gotText) != string(wantText) {
		t.Fatalf("AppendJSON:\n%s\nencoding/json:\n%s", gotText, wantText)
	}
}

func BenchmarkAppendJSON(b *testing.B) {
	a := New(nil, DefaultCapacity)
	a.Subscribe(KindConnection)
	for range 5000 {
		a.Open(Conn{Proto: "tcp", Source: guestEnd, Destination: outside, Name: "flood.example"}).Close(1, 2)
	}
	events := a.Drain(0)
	b.ReportAllocs()
	buf := make([]byte, 0, 4<<20)
	for b.Loop() {
		buf = AppendJSON(buf[:0], events)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(events)), "ns/event")
}

func BenchmarkMarshalRawEnvelope(b *testing.B) {
	a := New(nil, DefaultCapacity)
	a.Subscribe(KindConnection)
	for range 5000 {
		a.Open(Conn{Proto: "tcp", Source: guestEnd, Destination: outside, Name: "flood.example"}).Close(1, 2)
	}
	raw := json.RawMessage(AppendJSON(nil, a.Drain(0)))
	for b.Loop() {
		_, _ = json.Marshal(struct {
			Events json.RawMessage `json:"events"`
		}{raw})
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*10000), "ns/event")
}

func TestAFailedAttemptIsOneCloseWithItsReasonAndNoOpen(t *testing.T) {
	a := New(nil, 16)
	a.Subscribe(KindConnection)
	a.Attempt(Conn{Proto: "tcp", Via: ViaForward, Destination: outside}).Failed("connection refused")
	unexposed := a.Attempt(Conn{Proto: "tcp", Via: ViaForward, Destination: outside})
	unexposed.EndedBy(Unexposed) // the forward went away during the dial
	unexposed.Failed("network is closing")
	opened := a.Attempt(Conn{Proto: "tcp", Destination: outside})
	opened.Opened()
	opened.Close(1, 2)
	events := a.Drain(0)
	if len(events) != 4 {
		t.Fatalf("events %+v, want a close for each failure and an open and close for the opened one", events)
	}
	failed, cut := events[0].(*ConnectionEvent), events[1].(*ConnectionEvent)
	if failed.Phase != PhaseClose || failed.Reason != ConnectFailed || failed.Detail != "connection refused" || failed.ID == 0 ||
		*failed.BytesFromGuest != 0 || *failed.BytesToGuest != 0 || failed.DurationMs == nil || failed.Via != ViaForward {
		t.Fatalf("failed attempt %+v, want a close with reason connect-failed, its detail and no bytes", failed)
	}
	if cut.Phase != PhaseClose || cut.Reason != Unexposed || cut.Detail != "network is closing" {
		t.Fatalf("attempt cut by unexpose %+v, want its close to keep the first reason", cut)
	}
	if open := events[2].(*ConnectionEvent); open.Phase != PhaseOpen || open.ID != opened.ID() || open.Via != ViaNAT {
		t.Fatalf("opened attempt %+v, want its open", open)
	}
}
