package commands

import "testing"

func TestPingArgsRefuseWhatCannotBeSent(t *testing.T) {
	payload := func(n int) *int { return &n }
	cases := []argsCase[pingArgs]{
		{"one request by default", pingArgs{Host: "192.168.127.1"}, ""},
		{"as many requests as sequence numbers", pingArgs{Host: "192.168.127.1", Count: 65535}, ""},
		// A 65536th request would reuse sequence number 0 and the loop would never end.
		{"more requests than sequence numbers", pingArgs{Host: "192.168.127.1", Count: 65536}, "count must be"},
		{"a negative count", pingArgs{Host: "192.168.127.1", Count: -1}, "count must be"},
		{"no host", pingArgs{}, "host is required"},
		{"a payload beyond a datagram", pingArgs{Host: "192.168.127.1", PayloadBytes: payload(maxPingPayload + 1)}, "payloadBytes must be"},
	}
	testArgsCheck(t, cases)
}
