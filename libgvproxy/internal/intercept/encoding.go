package intercept

import (
	"bufio"
	"compress/flate"
	"compress/gzip"
	"compress/zlib"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/andybalholm/brotli"
	"github.com/klauspost/compress/zstd"
)

// decodable are the content codings whose bodies the network can read to redact.
var decodable = map[string]bool{"gzip": true, "x-gzip": true, "deflate": true, "br": true, "zstd": true, "identity": true}

// narrowAcceptEncoding keeps only the codings the network can decode, so a server does
// not answer in one whose body would have to be refused.
func narrowAcceptEncoding(h http.Header) {
	values := h.Values("Accept-Encoding")
	if len(values) == 0 {
		return
	}
	var keep []string
	for _, v := range values {
		for _, part := range strings.Split(v, ",") {
			part = strings.TrimSpace(part)
			name := strings.ToLower(strings.TrimSpace(strings.SplitN(part, ";", 2)[0]))
			if decodable[name] {
				keep = append(keep, part)
			}
		}
	}
	if len(keep) == 0 {
		h.Set("Accept-Encoding", "identity")
		return
	}
	h.Set("Accept-Encoding", strings.Join(keep, ", "))
}

// decodedBody returns a reader of body without the content coding named by encoding
// (a Content-Encoding header value), or an error for a coding it cannot decode.
func decodedBody(encoding string, body io.Reader) (io.Reader, error) {
	encoding = strings.ToLower(strings.TrimSpace(encoding))
	switch encoding {
	case "", "identity":
		return body, nil
	case "gzip", "x-gzip":
		return &lazyReader{open: func() (io.Reader, error) { return gzip.NewReader(body) }}, nil
	case "deflate":
		return &lazyReader{open: func() (io.Reader, error) { return openDeflate(body) }}, nil
	case "br":
		return brotli.NewReader(body), nil
	case "zstd":
		return &lazyReader{open: func() (io.Reader, error) {
			d, err := zstd.NewReader(body, zstd.WithDecoderConcurrency(1), zstd.WithDecoderLowmem(true))
			if err != nil {
				return nil, err
			}
			return d.IOReadCloser(), nil
		}}, nil
	}
	return nil, fmt.Errorf("the response's Content-Encoding %q cannot be decoded, so it cannot be checked for secrets", encoding)
}

// openDeflate reads HTTP "deflate", which is zlib-wrapped by the standard but sent raw
// by some servers: a zlib header is two bytes whose big-endian value is a multiple of 31.
func openDeflate(body io.Reader) (io.Reader, error) {
	br := bufio.NewReader(body)
	head, err := br.Peek(2)
	if err == nil && head[0]&0x0f == 8 && (uint16(head[0])<<8|uint16(head[1]))%31 == 0 {
		return zlib.NewReader(br)
	}
	return flate.NewReader(br), nil
}

// lazyReader opens its decoder on the first Read, so reading the coding's header
// happens while the body is copied (an error there ends the body, not the headers).
type lazyReader struct {
	open func() (io.Reader, error)
	r    io.Reader
	err  error
}

func (l *lazyReader) Read(p []byte) (int, error) {
	if l.r == nil && l.err == nil {
		l.r, l.err = l.open()
	}
	if l.err != nil {
		return 0, l.err
	}
	return l.r.Read(p)
}
