package audit

import (
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// DefaultCapacity bounds the events a network queues for the JS thread: at the pump's
// 50 ms period it holds more than a quarter of a second of a 200,000/s stream.
const DefaultCapacity = 65536

// Logger receives the debug line of every denial.
type Logger interface {
	Debugf(format string, args ...any)
}

// Auditor counts denials and queues a network's events. All methods are safe for
// concurrent use; a nil *Auditor records nothing.
type Auditor struct {
	log    Logger
	now    func() time.Time
	mask   atomic.Uint32
	denied atomic.Uint64
	nextID atomic.Uint64

	mu        sync.Mutex
	ring      []any // grows (doubling) up to capacity, so an idle network holds little
	capacity  int
	head      int
	count     int
	dropped   atomic.Uint64
	delivered atomic.Uint64
}

// New returns an auditor logging denials to log and queueing at most capacity events.
func New(log Logger, capacity int) *Auditor {
	return &Auditor{log: log, now: time.Now, capacity: max(capacity, 1)}
}

// Subscribe sets the kinds that have a listener; events of other kinds are not built.
// With no listener left, the queue is emptied: a later listener starts from its own
// subscription, not from what nobody was listening to.
func (a *Auditor) Subscribe(kinds Kind) {
	a.mask.Store(uint32(kinds & AllKinds))
	if kinds&AllKinds == 0 {
		a.mu.Lock()
		clear(a.ring)
		a.head, a.count = 0, 0
		a.mu.Unlock()
	}
}

// Wants reports whether kind has a listener, so a caller can skip building an event.
func (a *Auditor) Wants(kind Kind) bool {
	return a != nil && Kind(a.mask.Load())&kind != 0
}

// Denial is one refused attempt. Proto is "tcp", "udp" or "dns"; Via is ViaNAT when
// empty. Detail is the sentence for a person, Reason the code for a program.
type Denial struct {
	Reason      Reason
	Proto       string
	Via         Via
	Source      Endpoint
	Destination Endpoint
	Name        string
	Detail      string
	// QueryType ("A", "TXT", ...) and Transport ("udp", "tcp") describe a refused DNS query.
	QueryType string
	Transport string
}

func (d Denial) String() string {
	var b strings.Builder
	b.WriteString(d.Proto)
	if !d.Destination.IsZero() {
		b.WriteString(" ")
		b.WriteString(d.Destination.String())
	}
	if d.Name != "" {
		b.WriteString(" name=")
		b.WriteString(d.Name)
	}
	b.WriteString(" [")
	b.WriteString(string(d.Reason))
	b.WriteString("]")
	if d.Detail != "" {
		b.WriteString(": ")
		b.WriteString(d.Detail)
	}
	return b.String()
}

// Deny is the single path of every refusal: it counts it (Denied, the `policy.denied`
// stat), logs it at debug, and queues a `connection` denied event (a `dns` denied event
// for Proto "dns") when that kind has a listener.
func (a *Auditor) Deny(d Denial) {
	if a == nil {
		return
	}
	a.denied.Add(1)
	if a.log != nil {
		a.log.Debugf("egress denied: %s", d)
	}
	if d.Via == "" {
		d.Via = ViaNAT
	}
	if d.Proto == "dns" {
		if a.Wants(KindDNS) {
			a.push(&DNSEvent{
				Type: "dns", TimeMs: a.timeMs(), Protocol: d.Transport, Name: d.Name,
				Query: d.QueryType, Decision: DNSDenied, Rcode: "NXDOMAIN", Answer: []string{},
				Reason: d.Reason, Detail: d.Detail,
			})
		}
		return
	}
	if a.Wants(KindConnection) {
		a.push(&ConnectionEvent{
			Type: "connection", TimeMs: a.timeMs(), Phase: PhaseDenied, Protocol: d.Proto, Via: d.Via,
			Source: endpointOrNil(d.Source), Destination: endpointOrNil(d.Destination), Name: d.Name,
			Reason: d.Reason, Detail: d.Detail,
		})
	}
}

// Denied is the number of denials so far.
func (a *Auditor) Denied() uint64 {
	if a == nil {
		return 0
	}
	return a.denied.Load()
}

// Conn describes a connection or UDP flow the network proxies.
type Conn struct {
	Proto       string // "tcp" or "udp"
	Via         Via
	Source      Endpoint
	Destination Endpoint
	Name        string // the DNS name, SNI or Host the connection was allowed by, if known
}

// Flow is one proxied connection from open to close. Its methods are safe for
// concurrent use, except Named, which its owner calls before Opened (before anyone
// else holds the flow); a nil *Flow does nothing.
type Flow struct {
	a      *Auditor
	id     uint64
	conn   Conn
	opened time.Time
	reason atomic.Pointer[Reason]
	detail atomic.Pointer[string]
	closed atomic.Bool
}

// Open records a new connection and queues its `open` event when connection events
// have a listener. The returned Flow must be closed with Close.
func (a *Auditor) Open(c Conn) *Flow {
	f := a.Attempt(c)
	f.Opened()
	return f
}

// Attempt records a connection whose far side is still being dialed: nothing is queued
// until Opened (its `open` event) or Failed. The returned Flow must end with Close or
// Failed.
func (a *Auditor) Attempt(c Conn) *Flow {
	if a == nil {
		return nil
	}
	if c.Via == "" {
		c.Via = ViaNAT
	}
	return &Flow{a: a, id: a.nextID.Add(1), conn: c, opened: a.now()}
}

// ID is the connection's id, as its events carry it.
func (f *Flow) ID() uint64 {
	if f == nil {
		return 0
	}
	return f.id
}

// Conn is what the flow was opened with.
func (f *Flow) Conn() Conn {
	if f == nil {
		return Conn{}
	}
	return f.conn
}

// Named records the server name the connection turned out to be for (the SNI read
// after the dial), before Opened; an empty name keeps the one it was begun with.
func (f *Flow) Named(name string) {
	if f != nil && name != "" {
		f.conn.Name = name
	}
}

// Opened queues the `open` event of an Attempt whose far side answered.
func (f *Flow) Opened() {
	if f != nil && f.a.Wants(KindConnection) {
		f.a.push(f.event(PhaseOpen, f.opened))
	}
}

// Failed ends an Attempt that never opened because its far side refused or could not be
// reached: one close with reason connect-failed (unless a reason was recorded first, an
// unexpose during the dial), detail saying why, no bytes and the time the attempt took.
func (f *Flow) Failed(detail string) {
	if f == nil {
		return
	}
	f.EndedBy(ConnectFailed)
	f.detail.CompareAndSwap(nil, &detail)
	f.Close(0, 0)
}

// EndedBy records why the network ended the connection (policy-changed, unexposed,
// secret-misuse ...); the close event carries it. The first reason wins.
func (f *Flow) EndedBy(r Reason) {
	if f != nil {
		f.reason.CompareAndSwap(nil, &r)
	}
}

// Close queues the `close` event with the bytes each way and the duration, once.
func (f *Flow) Close(bytesFromGuest, bytesToGuest uint64) {
	if f == nil || !f.closed.CompareAndSwap(false, true) {
		return
	}
	if !f.a.Wants(KindConnection) {
		return
	}
	now := f.a.now()
	e := f.event(PhaseClose, now)
	if r := f.reason.Load(); r != nil {
		e.Reason = *r
	}
	if d := f.detail.Load(); d != nil {
		e.Detail = *d
	}
	duration := float64(now.Sub(f.opened).Microseconds()) / 1000
	e.BytesFromGuest, e.BytesToGuest, e.DurationMs = &bytesFromGuest, &bytesToGuest, &duration
	f.a.push(e)
}

func (f *Flow) event(phase string, at time.Time) *ConnectionEvent {
	return &ConnectionEvent{
		Type: "connection", TimeMs: unixMs(at), ID: f.id, Phase: phase, Protocol: f.conn.Proto, Via: f.conn.Via,
		Source: endpointOrNil(f.conn.Source), Destination: endpointOrNil(f.conn.Destination), Name: f.conn.Name,
	}
}

// Guest queues a `guest` event when guest events have a listener.
func (a *Auditor) Guest(phase, peer, reason string, connections uint64) {
	if !a.Wants(KindGuest) {
		return
	}
	a.push(&GuestEvent{Type: "guest", TimeMs: a.timeMs(), Phase: phase, Peer: peer, Reason: reason, Connections: connections})
}

// DNS queues a `dns` event for an answered query when DNS events have a listener; build
// is called only then.
func (a *Auditor) DNS(build func() DNSEvent) {
	if !a.Wants(KindDNS) {
		return
	}
	e := build()
	e.Type, e.TimeMs = "dns", a.timeMs()
	if e.Answer == nil {
		e.Answer = []string{}
	}
	a.push(&e)
}

func endpointOrNil(e Endpoint) *Endpoint {
	if e.IsZero() {
		return nil
	}
	return &e
}

func (a *Auditor) timeMs() float64 { return unixMs(a.now()) }

func unixMs(t time.Time) float64 { return float64(t.UnixMicro()) / 1000 }

// push appends an event, or drops and counts it when the queue is full.
func (a *Auditor) push(e any) {
	a.mu.Lock()
	if a.count == len(a.ring) {
		if len(a.ring) == a.capacity {
			a.mu.Unlock()
			a.dropped.Add(1)
			return
		}
		a.growLocked()
	}
	tail := a.head + a.count
	if tail >= len(a.ring) {
		tail -= len(a.ring)
	}
	a.ring[tail] = e
	a.count++
	a.mu.Unlock()
}

// growLocked doubles the ring (at least 64 slots, at most capacity), keeping the order.
func (a *Auditor) growLocked() {
	grown := make([]any, min(max(2*len(a.ring), 64), a.capacity))
	for i := range a.count {
		grown[i] = a.ring[(a.head+i)%len(a.ring)]
	}
	a.ring, a.head = grown, 0
}

// Drain removes and returns up to limit queued events (limit <= 0: all), oldest first.
func (a *Auditor) Drain(limit int) []any {
	if a == nil {
		return nil
	}
	a.mu.Lock()
	n := a.count
	if limit > 0 {
		n = min(n, limit)
	}
	out := make([]any, n)
	for i := range out {
		out[i] = a.ring[a.head]
		a.ring[a.head] = nil
		a.head++
		if a.head == len(a.ring) {
			a.head = 0
		}
	}
	a.count -= n
	a.mu.Unlock()
	a.delivered.Add(uint64(n))
	return out
}

// Stats are the event queue's counters.
type Stats struct {
	Queued    uint64 `json:"queued"`
	Delivered uint64 `json:"delivered"`
	Dropped   uint64 `json:"dropped"`
}

// Stats returns the queue's counters.
func (a *Auditor) Stats() Stats {
	if a == nil {
		return Stats{}
	}
	a.mu.Lock()
	queued := a.count
	a.mu.Unlock()
	return Stats{Queued: uint64(queued), Delivered: a.delivered.Load(), Dropped: a.dropped.Load()}
}
