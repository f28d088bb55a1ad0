package commands

import (
	"bytes"
	"context"
	"fmt"
	"net/netip"
	"time"

	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/header"
	"gvisor.dev/gvisor/pkg/tcpip/network/ipv4"
	"gvisor.dev/gvisor/pkg/tcpip/transport/icmp"
	"gvisor.dev/gvisor/pkg/waiter"

	"bun-gvproxy/guest/internal/control"
	"bun-gvproxy/guest/internal/netstack"
)

// Defaults of the ping command: like `ping -c 1 -W 1 -s 56`.
const (
	defaultPingWait    = time.Second
	defaultPingPayload = 56
	maxPingPayload     = 65507 // the most an IPv4 datagram carries after the ICMP header
	maxPingCount       = 1<<16 - 1
)

type pingArgs struct {
	Host string `json:"host"`
	// Count echo requests are sent, one after the other.
	Count int `json:"count"`
	// WaitMs is how long each request waits for its reply before the next is sent.
	WaitMs int `json:"waitMs"`
	// PayloadBytes is the size of each request's data.
	PayloadBytes *int `json:"payloadBytes"`
}

func (a *pingArgs) check() error {
	if a.Host == "" {
		return control.WithCode(CodeBadRequest, fmt.Errorf("ping: host is required"))
	}
	// Each request has its own sequence number (uint16): a 65536th would reuse one.
	if a.Count < 0 || a.Count > maxPingCount {
		return control.WithCode(CodeBadRequest, fmt.Errorf("ping: count must be 0..%d (0: one request), got %d", maxPingCount, a.Count))
	}
	if a.WaitMs < 0 {
		return control.WithCode(CodeBadRequest, fmt.Errorf("ping: waitMs must not be negative, got %d", a.WaitMs))
	}
	if a.Count == 0 {
		a.Count = 1
	}
	if a.PayloadBytes == nil {
		n := defaultPingPayload
		a.PayloadBytes = &n
	}
	if *a.PayloadBytes < 0 || *a.PayloadBytes > maxPingPayload {
		return control.WithCode(CodeBadRequest, fmt.Errorf("ping: payloadBytes must be 0..%d", maxPingPayload))
	}
	return nil
}

// pingReply is one echo reply that answered a request of the command.
type pingReply struct {
	Seq  uint16 `json:"seq"`
	From string `json:"from"`
	// Bytes is the reply's data; Intact is whether it is the request's data unchanged.
	Bytes  int  `json:"bytes"`
	Intact bool `json:"intact"`
}

type pingResult struct {
	Sent     int         `json:"sent"`
	Received int         `json:"received"`
	Replies  []pingReply `json:"replies"`
}

// ping sends echo requests from an ICMP endpoint of the guest stack (a ping socket:
// the stack stamps its identifier on each request and delivers only the replies that
// carry it) and reports which were answered, and from where. No reply within WaitMs
// is a lost request, not an error; the command's timeoutMs bounds the whole run.
func (g *Guest) ping(ctx context.Context, args pingArgs) (any, error) {
	dst, err := g.address(ctx, args.Host)
	if err != nil {
		return nil, err
	}
	var wq waiter.Queue
	ep, tcpErr := g.Stack.Stack.NewEndpoint(icmp.ProtocolNumber4, ipv4.ProtocolNumber, &wq)
	if tcpErr != nil {
		return nil, fmt.Errorf("open ICMP endpoint: %s", tcpErr)
	}
	defer ep.Close()
	entry, readable := waiter.NewChannelEntry(waiter.ReadableEvents)
	wq.EventRegister(&entry)
	defer wq.EventUnregister(&entry)

	wait := defaultPingWait
	if args.WaitMs > 0 {
		wait = time.Duration(args.WaitMs) * time.Millisecond
	}
	payload := make([]byte, *args.PayloadBytes)
	for i := range payload {
		payload[i] = byte(i)
	}
	result := pingResult{Replies: []pingReply{}}
	for seq := uint16(1); int(seq) <= args.Count; seq++ {
		if err := sendEcho(ep, dst, seq, payload); err != nil {
			return nil, g.classify(ctx, err)
		}
		result.Sent++
		reply, ok, err := awaitEcho(ctx, ep, readable, seq, wait)
		if err != nil {
			return nil, g.classify(ctx, err)
		}
		if ok {
			reply.Intact = reply.Bytes == len(payload) && bytes.Equal(reply.data, payload)
			result.Received++
			result.Replies = append(result.Replies, reply.pingReply)
		}
	}
	return result, nil
}

func sendEcho(ep tcpip.Endpoint, dst netip.Addr, seq uint16, payload []byte) error {
	msg := make([]byte, header.ICMPv4MinimumSize+len(payload))
	h := header.ICMPv4(msg)
	h.SetType(header.ICMPv4Echo)
	h.SetSequence(seq)
	copy(h.Payload(), payload)
	to := netstack.FullAddress(dst, 0)
	if _, err := ep.Write(bytes.NewReader(msg), tcpip.WriteOptions{To: &to}); err != nil {
		return fmt.Errorf("send echo request to %s: %s", dst, err)
	}
	return nil
}

type receivedEcho struct {
	pingReply
	data []byte
}

// awaitEcho waits up to wait for the reply to request seq; replies to earlier requests
// that come late are skipped. ok is false when none came in time.
func awaitEcho(ctx context.Context, ep tcpip.Endpoint, readable <-chan struct{}, seq uint16, wait time.Duration) (receivedEcho, bool, error) {
	timer := time.NewTimer(wait)
	defer timer.Stop()
	for {
		var buf bytes.Buffer
		res, tcpErr := ep.Read(&buf, tcpip.ReadOptions{NeedRemoteAddr: true})
		if _, wouldBlock := tcpErr.(*tcpip.ErrWouldBlock); wouldBlock {
			select {
			case <-readable:
				continue
			case <-timer.C:
				return receivedEcho{}, false, nil
			case <-ctx.Done():
				return receivedEcho{}, false, ctx.Err()
			}
		}
		if tcpErr != nil {
			return receivedEcho{}, false, fmt.Errorf("read echo reply: %s", tcpErr)
		}
		h := header.ICMPv4(buf.Bytes())
		if len(h) < header.ICMPv4MinimumSize || h.Type() != header.ICMPv4EchoReply || h.Sequence() != seq {
			continue
		}
		from := netip.AddrFrom4(res.RemoteAddr.Addr.As4())
		data := h.Payload()
		return receivedEcho{pingReply: pingReply{Seq: seq, From: from.String(), Bytes: len(data)}, data: data}, true, nil
	}
}
