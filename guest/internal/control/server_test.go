package control

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"strings"
	"sync"
	"testing"
)

type lockedBuffer struct {
	mu sync.Mutex
	bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.Buffer.Write(p)
}

func replies(t *testing.T, out string) map[string]Reply {
	t.Helper()
	got := map[string]Reply{}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		var r Reply
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			t.Fatalf("reply %q: %v", line, err)
		}
		got[string(r.ID)] = r
	}
	return got
}

func TestRepliesCarryIDsResultsAndErrorCodes(t *testing.T) {
	var out lockedBuffer
	s := NewServer(&out)
	s.Handle("echo", func(_ context.Context, p json.RawMessage) (any, error) {
		var args struct{ Text string }
		if err := json.Unmarshal(p, &args); err != nil {
			return nil, err
		}
		return args.Text, nil
	})
	s.Handle("fail", func(context.Context, json.RawMessage) (any, error) {
		return nil, WithCode("NXDOMAIN", errors.New("no such name"))
	})
	in := `{"id":1,"cmd":"echo","text":"hi"}` + "\n" + `{"id":2,"cmd":"fail"}` + "\n" + `{"id":3,"cmd":"nope"}` + "\n" + "not json\n"
	if err := s.Serve(context.Background(), strings.NewReader(in)); err != nil {
		t.Fatal(err)
	}
	got := replies(t, out.String())
	if r := got["1"]; !r.OK || r.Result != "hi" {
		t.Errorf("echo reply %+v", r)
	}
	if r := got["2"]; r.OK || r.Code != "NXDOMAIN" || r.Error != "no such name" {
		t.Errorf("fail reply %+v", r)
	}
	if r := got["3"]; r.OK || r.Code != "BAD_REQUEST" {
		t.Errorf("unknown command reply %+v", r)
	}
	if r := got["null"]; r.OK || r.Code != "BAD_REQUEST" {
		t.Errorf("bad line reply %+v", r)
	}
}

func TestCommandsRunConcurrently(t *testing.T) {
	var out lockedBuffer
	s := NewServer(&out)
	release := make(chan struct{})
	s.Handle("block", func(ctx context.Context, _ json.RawMessage) (any, error) {
		select {
		case <-release:
			return "released", nil
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	})
	s.Handle("release", func(context.Context, json.RawMessage) (any, error) {
		close(release)
		return "ok", nil
	})
	// "block" only finishes if "release", sent after it, runs while it waits.
	in := `{"id":1,"cmd":"block"}` + "\n" + `{"id":2,"cmd":"release"}` + "\n"
	pr, pw := io.Pipe()
	done := make(chan error)
	go func() { done <- s.Serve(context.Background(), pr) }()
	_, _ = pw.Write([]byte(in))
	<-release
	_ = pw.Close()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if r := replies(t, out.String())["1"]; !r.OK || r.Result != "released" {
		t.Fatalf("block reply %+v", r)
	}
}

func TestQuitStopsServingAndCancelsRunningCommands(t *testing.T) {
	var out lockedBuffer
	s := NewServer(&out)
	s.Handle("wait", func(ctx context.Context, _ json.RawMessage) (any, error) {
		<-ctx.Done()
		return nil, ctx.Err()
	})
	pr, pw := io.Pipe()
	defer pw.Close()
	go func() { _, _ = pw.Write([]byte(`{"id":1,"cmd":"wait"}` + "\n" + `{"id":2,"cmd":"quit"}` + "\n")) }()
	if err := s.Serve(context.Background(), pr); err != nil {
		t.Fatal(err)
	}
	got := replies(t, out.String())
	if !got["2"].OK || got["1"].OK {
		t.Fatalf("replies %+v", got)
	}
}

func TestPanickingCommandBecomesInternalError(t *testing.T) {
	var out lockedBuffer
	s := NewServer(&out)
	s.Handle("boom", func(context.Context, json.RawMessage) (any, error) { panic("kaput") })
	if err := s.Serve(context.Background(), strings.NewReader(`{"id":"a","cmd":"boom"}`+"\n")); err != nil {
		t.Fatal(err)
	}
	if r := replies(t, out.String())[`"a"`]; r.OK || r.Code != "INTERNAL" || !strings.Contains(r.Error, "kaput") {
		t.Fatalf("reply %+v", r)
	}
}
