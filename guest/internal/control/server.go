package control

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"sync"
)

// Handler runs one command and returns its result.
type Handler func(ctx context.Context, params json.RawMessage) (any, error)

// Server reads commands, runs each in its own goroutine and writes the replies.
type Server struct {
	handlers map[string]Handler
	out      *json.Encoder
	outMu    sync.Mutex
	inFlight sync.WaitGroup
}

// NewServer writes replies and events to out.
func NewServer(out io.Writer) *Server {
	return &Server{handlers: map[string]Handler{}, out: json.NewEncoder(out)}
}

// Handle registers the handler for cmd.
func (s *Server) Handle(cmd string, h Handler) { s.handlers[cmd] = h }

// Emit writes an unsolicited event line.
func (s *Server) Emit(e Event) { s.write(e) }

func (s *Server) write(v any) {
	s.outMu.Lock()
	defer s.outMu.Unlock()
	if err := s.out.Encode(v); err != nil {
		log.Printf("control: write reply: %v", err)
	}
}

// Serve processes lines from in until EOF, a "quit" command or ctx ends, then waits
// for commands still running (their contexts are cancelled) and returns.
func (s *Server) Serve(ctx context.Context, in io.Reader) error {
	ctx, cancel := context.WithCancel(ctx)
	defer func() {
		cancel()
		s.inFlight.Wait()
	}()
	lines := make(chan []byte)
	readErr := make(chan error, 1)
	go func() {
		scanner := bufio.NewScanner(in)
		scanner.Buffer(make([]byte, 64*1024), 16*1024*1024)
		for scanner.Scan() {
			lines <- append([]byte(nil), scanner.Bytes()...)
		}
		readErr <- scanner.Err()
		close(lines)
	}()
	for {
		select {
		case <-ctx.Done():
			return nil
		case line, ok := <-lines:
			if !ok {
				if err := <-readErr; err != nil {
					return fmt.Errorf("read commands: %w", err)
				}
				return nil // stdin EOF: clean exit
			}
			if s.dispatch(ctx, line) {
				return nil
			}
		}
	}
}

// dispatch starts one command; it returns true for "quit".
func (s *Server) dispatch(ctx context.Context, line []byte) bool {
	if len(line) == 0 {
		return false
	}
	req, err := ParseRequest(line)
	if err != nil {
		s.write(Reply{ID: json.RawMessage("null"), Error: fmt.Sprintf("invalid command line: %v", err), Code: "BAD_REQUEST"})
		return false
	}
	if req.Cmd == "quit" {
		s.write(Reply{ID: req.ID, OK: true})
		return true
	}
	handler, ok := s.handlers[req.Cmd]
	if !ok {
		s.write(Reply{ID: req.ID, Error: fmt.Sprintf("unknown command %q", req.Cmd), Code: "BAD_REQUEST"})
		return false
	}
	s.inFlight.Add(1)
	go func() {
		defer s.inFlight.Done()
		s.write(s.run(ctx, req, handler))
	}()
	return false
}

func (s *Server) run(ctx context.Context, req Request, handler Handler) (reply Reply) {
	reply.ID = req.ID
	defer func() {
		if p := recover(); p != nil {
			reply = Reply{ID: req.ID, Error: fmt.Sprintf("%s panicked: %v", req.Cmd, p), Code: "INTERNAL"}
		}
	}()
	result, err := handler(ctx, req.Params)
	if err != nil {
		return Reply{ID: req.ID, Error: err.Error(), Code: codeOf(err)}
	}
	return Reply{ID: req.ID, OK: true, Result: result}
}
