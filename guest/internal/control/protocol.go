// Package control is the guest's command channel: one JSON object per line on stdin,
// one JSON reply per command on stdout, plus unsolicited event lines.
package control

import (
	"encoding/json"
	"errors"
)

// Request is the envelope every command line shares; commands decode their own
// arguments from the same line (Params).
type Request struct {
	ID  json.RawMessage `json:"id"`
	Cmd string          `json:"cmd"`
	// Params is the whole raw line, for the command's argument struct.
	Params json.RawMessage `json:"-"`
}

// Reply answers one request. Code classifies failures a caller may branch on.
type Reply struct {
	ID     json.RawMessage `json:"id"`
	OK     bool            `json:"ok"`
	Result any             `json:"result,omitempty"`
	Error  string          `json:"error,omitempty"`
	Code   string          `json:"code,omitempty"`
}

// Event is an unsolicited line, e.g. {"event":"disconnected","reason":"..."}.
type Event struct {
	Event  string `json:"event"`
	Reason string `json:"reason,omitempty"`
}

// CodedError carries a machine-readable code into the reply.
type CodedError struct {
	Code string
	Err  error
}

func (e *CodedError) Error() string { return e.Err.Error() }
func (e *CodedError) Unwrap() error { return e.Err }

// WithCode tags err with code (nil stays nil).
func WithCode(code string, err error) error {
	if err == nil {
		return nil
	}
	return &CodedError{Code: code, Err: err}
}

// codeOf returns the code attached anywhere in err's chain, or "".
func codeOf(err error) string {
	var coded *CodedError
	if errors.As(err, &coded) {
		return coded.Code
	}
	return ""
}

// ParseRequest decodes one command line.
func ParseRequest(line []byte) (Request, error) {
	var req Request
	if err := json.Unmarshal(line, &req); err != nil {
		return Request{}, err
	}
	req.Params = append(json.RawMessage(nil), line...)
	return req, nil
}
