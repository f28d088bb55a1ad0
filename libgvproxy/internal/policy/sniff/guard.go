package sniff

import (
	"bytes"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// maxChunkLine bounds a chunk-size or trailer line of a chunked request body.
const maxChunkLine = 4096

// Judge rules on the request heads a RequestGuard sees.
type Judge interface {
	// CheckFirstBytes rules on the bytes of one request head so far: done=false with a
	// nil error while more are needed, done=true to let the request through, or an error
	// to end the stream.
	CheckFirstBytes(head []byte) (done bool, err error)
	// Refuse is the error that ends the stream for a framing violation (detail says what).
	Refuse(detail string) error
}

// GuardRequests returns a reader of src (the client's side of an HTTP/1.x connection)
// that follows request framing (Content-Length, chunked) and has judge rule on the head
// of every request, not only the first, so a keep-alive connection cannot ask for
// another site in its second request. The first error judge returns ends the stream.
// Bytes of a request are released only after its head was judged. Requests it cannot
// follow to their end are refused through judge.Refuse: protocol upgrades (WebSocket,
// h2c), CONNECT, Transfer-Encoding other than chunked, and Content-Length together with
// Transfer-Encoding (request smuggling).
func GuardRequests(src io.Reader, judge Judge) io.Reader {
	return &httpRequestGuard{d: judge, src: src}
}

type guardState int

const (
	guardHead      guardState = iota // collecting a request head
	guardBody                        // passing remaining body bytes
	guardChunkSize                   // collecting a chunk-size line
	guardChunkData                   // passing remaining chunk bytes
	guardChunkEnd                    // expecting the CRLF after chunk data
	guardTrailer                     // collecting trailer lines up to an empty one
)

type httpRequestGuard struct {
	d         Judge
	src       io.Reader
	state     guardState
	pending   []byte // bytes of the current head or line, not yet released
	remaining int64  // bytes left in guardBody or guardChunkData
	out       []byte // checked bytes ready to be read
	err       error  // sticky: a denial or the source's error
	buf       []byte // read buffer
}

func (g *httpRequestGuard) Read(b []byte) (int, error) {
	for len(g.out) == 0 && g.err == nil {
		if g.buf == nil {
			g.buf = make([]byte, 16<<10)
		}
		n, err := g.src.Read(g.buf)
		if n > 0 {
			if perr := g.process(g.buf[:n]); perr != nil {
				g.err = perr
				g.out = nil // nothing after a violation reaches the host
				break
			}
		}
		if err != nil {
			g.err = err
		}
	}
	if len(g.out) > 0 {
		n := copy(b, g.out)
		g.out = g.out[n:]
		return n, nil
	}
	return 0, g.err
}

// process runs the framing state machine over p, moving checked bytes to g.out.
func (g *httpRequestGuard) process(p []byte) error {
	for len(p) > 0 {
		var err error
		switch g.state {
		case guardHead:
			p, err = g.takeHead(p)
		case guardBody, guardChunkData:
			n := int(min(int64(len(p)), g.remaining))
			g.out = append(g.out, p[:n]...)
			p, g.remaining = p[n:], g.remaining-int64(n)
			if g.remaining == 0 && g.state == guardBody {
				g.state = guardHead
			} else if g.remaining == 0 {
				g.state = guardChunkEnd
			}
		case guardChunkSize, guardChunkEnd, guardTrailer:
			p, err = g.takeLine(p)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// takeHead collects a request head; once whole, checks its host and framing and
// releases it.
func (g *httpRequestGuard) takeHead(p []byte) ([]byte, error) {
	g.pending = append(g.pending, p...)
	end := headerEnd(g.pending)
	if end < 0 {
		// Refuse what cannot become a request head as early as the first request.
		if _, err := g.d.CheckFirstBytes(g.pending); err != nil {
			return nil, err
		}
		if len(g.pending) >= MaxInspectBytes {
			return nil, g.d.Refuse(fmt.Sprintf("http request head larger than %d bytes", MaxInspectBytes))
		}
		return nil, nil
	}
	head, rest := g.pending[:end], g.pending[end:]
	if done, err := g.d.CheckFirstBytes(head); err != nil {
		return nil, err
	} else if !done {
		return nil, g.d.Refuse("http request head not conclusive")
	}
	state, length, err := requestFraming(head)
	if err != nil {
		return nil, g.d.Refuse("http framing: " + err.Error())
	}
	g.out = append(g.out, head...)
	g.state, g.remaining = state, length
	rest = bytes.Clone(rest)
	g.pending = g.pending[:0]
	return rest, nil
}

// takeLine collects one CRLF-terminated line of chunked framing and acts on it.
func (g *httpRequestGuard) takeLine(p []byte) ([]byte, error) {
	nl := bytes.IndexByte(p, '\n')
	if nl < 0 {
		g.pending = append(g.pending, p...)
		if len(g.pending) > maxChunkLine {
			return nil, g.d.Refuse("http chunked framing: line too long")
		}
		return nil, nil
	}
	g.pending = append(g.pending, p[:nl+1]...)
	rest := p[nl+1:]
	line := g.pending
	if !bytes.HasSuffix(line, []byte("\r\n")) {
		return nil, g.d.Refuse("http chunked framing: line not ended by CRLF")
	}
	text := string(line[:len(line)-2])
	switch g.state {
	case guardChunkEnd:
		if text != "" {
			return nil, g.d.Refuse("http chunked framing: data longer than its chunk size")
		}
		g.state = guardChunkSize
	case guardChunkSize:
		size, err := parseChunkSize(text)
		if err != nil {
			return nil, g.d.Refuse("http chunked framing: " + err.Error())
		}
		if size == 0 {
			g.state = guardTrailer
		} else {
			g.state, g.remaining = guardChunkData, size
		}
	case guardTrailer:
		if text == "" {
			g.state = guardHead
		}
	}
	g.out = append(g.out, line...)
	g.pending = g.pending[:0]
	return rest, nil
}

// headerEnd returns the offset just past the empty line ending a request head, or -1.
func headerEnd(buf []byte) int {
	for start := 0; ; {
		nl := bytes.IndexByte(buf[start:], '\n')
		if nl < 0 {
			return -1
		}
		line := bytes.TrimSuffix(buf[start:start+nl], []byte("\r"))
		start += nl + 1
		if len(line) == 0 {
			return start
		}
	}
}

// requestFraming reads how the body of the request with this (already validated) head
// is delimited (RFC 9112 section 6).
func requestFraming(head []byte) (guardState, int64, error) {
	lines := strings.Split(strings.ReplaceAll(string(head), "\r\n", "\n"), "\n")
	method, _, _ := strings.Cut(lines[0], " ")
	if method == "CONNECT" {
		return 0, 0, fmt.Errorf("CONNECT tunnels cannot be followed")
	}
	var (
		lengths  []string
		encoding string
	)
	for _, line := range lines[1:] {
		name, value, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		value = strings.Trim(value, " \t")
		switch strings.ToLower(name) {
		case "content-length":
			lengths = append(lengths, value)
		case "transfer-encoding":
			if encoding != "" {
				return 0, 0, fmt.Errorf("several Transfer-Encoding headers")
			}
			encoding = value
		case "upgrade":
			return 0, 0, fmt.Errorf("protocol upgrade to %q cannot be followed", truncate(value))
		}
	}
	switch {
	case encoding != "" && len(lengths) > 0:
		return 0, 0, fmt.Errorf("both Content-Length and Transfer-Encoding")
	case encoding != "":
		if !strings.EqualFold(encoding, "chunked") {
			return 0, 0, fmt.Errorf("Transfer-Encoding %q", truncate(encoding))
		}
		return guardChunkSize, 0, nil
	case len(lengths) > 1:
		return 0, 0, fmt.Errorf("several Content-Length headers")
	case len(lengths) == 1:
		n, err := strconv.ParseInt(lengths[0], 10, 64)
		if err != nil || n < 0 || strings.TrimLeft(lengths[0], "0123456789") != "" {
			return 0, 0, fmt.Errorf("invalid Content-Length %q", truncate(lengths[0]))
		}
		if n == 0 {
			return guardHead, 0, nil
		}
		return guardBody, n, nil
	}
	return guardHead, 0, nil
}

// parseChunkSize reads the hexadecimal size of a chunk-size line, ignoring extensions.
func parseChunkSize(line string) (int64, error) {
	sizeText, _, _ := strings.Cut(line, ";")
	sizeText = strings.TrimRight(sizeText, " \t")
	if sizeText == "" || len(sizeText) > 15 || strings.Trim(sizeText, "0123456789abcdefABCDEF") != "" {
		return 0, fmt.Errorf("invalid chunk size %q", truncate(line))
	}
	return strconv.ParseInt(sizeText, 16, 64)
}
