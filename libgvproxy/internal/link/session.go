package link

import (
	"errors"
	"net"
	"sync"

	"bun-gvproxy/framing"
)

var (
	errEndpointClosed = errors.New("link closed")
	errReplaced       = errors.New("replaced by a new guest connection")
)

// session is one attached guest connection: its reader runs in Serve's goroutine, its
// writer in a goroutine Serve waits for.
type session struct {
	e         *Endpoint
	conn      net.Conn
	transport framing.Transport
	tx        txQueue

	stopOnce sync.Once
	done     chan struct{}
	reason   error
}

// Serve attaches conn, framed as transport says, as the guest and exchanges frames with it until the guest goes
// away, breaks the protocol, another connection replaces it, or the endpoint is
// closed. It returns why the guest was detached (io.EOF for a clean close). conn is
// closed on return, and every goroutine Serve started has exited.
//
// One guest is attached at a time: a new connection (a rebooted VM) replaces the one
// attached before, whose Serve returns.
func (e *Endpoint) Serve(conn net.Conn, transport framing.Transport) error {
	s := &session{e: e, conn: conn, transport: transport, done: make(chan struct{})}
	s.tx.init()
	if err := e.attach(s); err != nil {
		_ = conn.Close()
		return err
	}
	var writer sync.WaitGroup
	writer.Add(1)
	go func() {
		defer writer.Done()
		s.writeLoop()
	}()
	s.stop(s.readLoop())
	e.detach(s)
	writer.Wait()
	s.tx.close()
	return s.reason
}

func (e *Endpoint) attach(s *session) error {
	e.mu.Lock()
	if e.closed {
		e.mu.Unlock()
		return errEndpointClosed
	}
	previous := e.current.Swap(s)
	e.mu.Unlock()
	e.counters.attachments.Add(1)
	if previous != nil {
		e.log.Warnf("a new guest connection replaces the attached one")
		previous.stop(errReplaced)
	}
	return nil
}

func (e *Endpoint) detach(s *session) {
	e.mu.Lock()
	e.current.CompareAndSwap(s, nil)
	e.mu.Unlock()
}

// stop ends the session once, for the first reason given: it closes the connection,
// which unblocks the reader and the writer.
func (s *session) stop(reason error) {
	s.stopOnce.Do(func() {
		s.reason = reason
		close(s.done)
		_ = s.conn.Close()
	})
}
