package dns

import (
	"context"
	"net"
	"testing"

	mdns "github.com/miekg/dns"
)

// answerWith serves one query on the server end of a pipe with reply(query).
func answerWith(t *testing.T, server net.Conn, stream bool, reply func(q *mdns.Msg) *mdns.Msg) {
	t.Helper()
	go func() {
		c := &mdns.Conn{Conn: server}
		if !stream {
			c.UDPSize = mdns.MaxMsgSize
		}
		q, err := c.ReadMsg()
		if err != nil {
			return
		}
		_ = c.WriteMsg(reply(q))
	}()
}

func TestQueryReportsRecordsOfTheAskedType(t *testing.T) {
	for _, stream := range []bool{false, true} {
		client, server := pipe(t)
		answerWith(t, server, stream, func(q *mdns.Msg) *mdns.Msg {
			if q.Question[0].Qtype != mdns.TypeTXT || q.Question[0].Name != "blocked.example." {
				t.Errorf("question %v, want TXT blocked.example.", q.Question[0])
			}
			m := new(mdns.Msg)
			m.SetReply(q)
			rr, _ := mdns.NewRR(`blocked.example. 60 IN TXT "exfil" "trated"`)
			m.Answer = append(m.Answer, rr)
			return m
		})
		answer, err := Query(context.Background(), client, stream, "blocked.example", mdns.TypeTXT)
		if err != nil {
			t.Fatalf("stream=%v: %v", stream, err)
		}
		if answer.Rcode != "NOERROR" || len(answer.Answers) != 1 || answer.Answers[0].Data != "exfiltrated" || answer.Answers[0].Type != "TXT" {
			t.Fatalf("stream=%v: got %+v", stream, answer)
		}
	}
}

func TestQueryReturnsNXDomainAsAnAnswerNotAnError(t *testing.T) {
	client, server := pipe(t)
	answerWith(t, server, false, func(q *mdns.Msg) *mdns.Msg {
		m := new(mdns.Msg)
		m.SetRcode(q, mdns.RcodeNameError)
		return m
	})
	answer, err := Query(context.Background(), client, false, "nope.example", mdns.TypeMX)
	if err != nil || answer.Rcode != "NXDOMAIN" || len(answer.Answers) != 0 {
		t.Fatalf("got %+v, %v; want NXDOMAIN without records", answer, err)
	}
}

func TestQueryRejectsAnAnswerToAnotherQuery(t *testing.T) {
	client, server := pipe(t)
	answerWith(t, server, false, func(q *mdns.Msg) *mdns.Msg {
		m := new(mdns.Msg)
		m.SetReply(q)
		m.Id = q.Id + 1
		return m
	})
	if _, err := Query(context.Background(), client, false, "a.example", mdns.TypeA); err == nil {
		t.Fatal("an answer with another id was accepted")
	}
}

func TestParseTypeKnowsNamesAndRejectsOthers(t *testing.T) {
	if qt, err := ParseType("aaaa"); err != nil || qt != mdns.TypeAAAA {
		t.Fatalf("ParseType(aaaa) = %d, %v", qt, err)
	}
	if _, err := ParseType("BOGUS"); err == nil {
		t.Fatal("unknown type accepted")
	}
}
