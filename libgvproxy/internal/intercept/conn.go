package intercept

import (
	"net"
	"sync"
	"sync/atomic"
)

// guestConn is the guest's side of one intercepted connection: it replays the bytes
// the network already read (the ClientHello), counts the bytes each way for the flow's
// close event, and signals done when the server or a hijacker closes it.
type guestConn struct {
	net.Conn
	prefix    []byte
	flow      *Flow
	fromGuest atomic.Uint64
	toGuest   atomic.Uint64
	done      chan struct{}
	closeOnce sync.Once
}

func newGuestConn(c net.Conn, prefix []byte, flow *Flow) *guestConn {
	return &guestConn{Conn: c, prefix: prefix, flow: flow, done: make(chan struct{})}
}

func (c *guestConn) Read(b []byte) (int, error) {
	if len(c.prefix) > 0 {
		n := copy(b, c.prefix)
		c.prefix = c.prefix[n:]
		c.fromGuest.Add(uint64(n))
		return n, nil
	}
	n, err := c.Conn.Read(b)
	c.fromGuest.Add(uint64(n))
	return n, err
}

func (c *guestConn) Write(b []byte) (int, error) {
	n, err := c.Conn.Write(b)
	c.toGuest.Add(uint64(n))
	return n, err
}

func (c *guestConn) Close() error {
	err := c.Conn.Close()
	c.closeOnce.Do(func() { close(c.done) })
	return err
}
