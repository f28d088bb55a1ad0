package commands

import (
	"bufio"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"bun-gvproxy/guest/internal/control"
)

// httpsRequestArgs is one HTTPS request from the guest, verifying the server against
// CAPem only (the interception CA a guest is given, say).
type httpsRequestArgs struct {
	URL    string `json:"url"`
	Method string `json:"method"`
	// Host, if set, replaces the Host header (":authority" over HTTP/2); the SNI stays
	// the URL's host.
	Host    string            `json:"host"`
	Headers map[string]string `json:"headers"`
	CAPem   string            `json:"caPem"`
	// HTTP2 offers h2 in ALPN (else only http/1.1).
	HTTP2 bool `json:"http2"`
	// DigestOnly returns the body's length and SHA-256 instead of the body.
	DigestOnly bool `json:"digestOnly"`
	// WebSocket sends an upgrade request and then each message as a text frame, reading
	// one frame back for each.
	WebSocket []string `json:"webSocket"`
}

func (a *httpsRequestArgs) check() error {
	if a.URL == "" || a.CAPem == "" {
		return control.WithCode(CodeBadRequest, errors.New("httpsRequest: url and caPem are required"))
	}
	return nil
}

type httpsResult struct {
	Status     int               `json:"status"`
	Protocol   string            `json:"protocol"`
	Headers    map[string]string `json:"headers"`
	Body       string            `json:"body"`
	BodyBytes  int64             `json:"bodyBytes"`
	BodySHA256 string            `json:"bodySha256"`
	Replies    []string          `json:"replies"`
}

func (g *Guest) httpsRequest(ctx context.Context, args httpsRequestArgs) (any, error) {
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM([]byte(args.CAPem)) {
		return nil, control.WithCode(CodeBadRequest, errors.New("httpsRequest: caPem holds no certificate"))
	}
	protos := []string{"http/1.1"}
	if args.HTTP2 {
		protos = []string{"h2", "http/1.1"}
	}
	transport := &http.Transport{
		DialContext:        g.dialForHTTP,
		TLSClientConfig:    &tls.Config{RootCAs: pool, NextProtos: protos},
		ForceAttemptHTTP2:  args.HTTP2,
		DisableCompression: true,
		DisableKeepAlives:  true,
	}
	defer transport.CloseIdleConnections()
	method := args.Method
	if method == "" {
		method = http.MethodGet
	}
	req, err := http.NewRequestWithContext(ctx, method, args.URL, nil)
	if err != nil {
		return nil, control.WithCode(CodeBadRequest, fmt.Errorf("url %q: %w", args.URL, err))
	}
	for k, v := range args.Headers {
		req.Header.Set(k, v)
	}
	if args.Host != "" {
		req.Host = args.Host
	}
	if len(args.WebSocket) > 0 {
		req.Header.Set("Connection", "Upgrade")
		req.Header.Set("Upgrade", "websocket")
		req.Header.Set("Sec-WebSocket-Version", "13")
		// A 16-byte nonce, as RFC 6455 asks.
		req.Header.Set("Sec-WebSocket-Key", base64.StdEncoding.EncodeToString([]byte("bun-gvproxy-gues")))
	}
	resp, err := (&http.Client{Transport: transport}).Do(req)
	if err != nil {
		return nil, g.classify(ctx, fmt.Errorf("%s %s: %w", method, args.URL, err))
	}
	defer resp.Body.Close()
	result := httpsResult{Status: resp.StatusCode, Protocol: resp.Proto, Headers: firstValues(resp.Header), Replies: []string{}}
	if resp.StatusCode == http.StatusSwitchingProtocols {
		rw, ok := resp.Body.(io.ReadWriter)
		if !ok {
			return nil, errors.New("httpsRequest: the upgraded connection is not writable")
		}
		result.Replies, err = webSocketEcho(rw, args.WebSocket)
		return result, g.classify(ctx, err)
	}
	if err := readBody(resp.Body, args.DigestOnly, &result); err != nil {
		return nil, g.classify(ctx, fmt.Errorf("%s %s: read body: %w", method, args.URL, err))
	}
	return result, nil
}

func readBody(body io.Reader, digestOnly bool, result *httpsResult) error {
	h := sha256.New()
	var text strings.Builder
	w := io.Writer(h)
	if !digestOnly {
		w = io.MultiWriter(h, &text)
	}
	n, err := io.Copy(w, body)
	result.BodyBytes, result.BodySHA256, result.Body = n, hex.EncodeToString(h.Sum(nil)), text.String()
	return err
}

// webSocketEcho sends each message as a masked text frame and reads one frame back for
// each (RFC 6455 framing, payloads under 126 bytes).
func webSocketEcho(rw io.ReadWriter, messages []string) ([]string, error) {
	br := bufio.NewReader(rw)
	replies := []string{}
	for _, m := range messages {
		if len(m) >= 126 {
			return replies, fmt.Errorf("webSocket message of %d bytes: at most 125", len(m))
		}
		frame := []byte{0x81, 0x80 | byte(len(m)), 0, 0, 0, 0}
		_, _ = rand.Read(frame[2:6])
		for i := 0; i < len(m); i++ {
			frame = append(frame, m[i]^frame[2+i%4])
		}
		if _, err := rw.Write(frame); err != nil {
			return replies, fmt.Errorf("webSocket send: %w", err)
		}
		reply, err := readFrame(br)
		if err != nil {
			return replies, err
		}
		replies = append(replies, reply)
	}
	return replies, nil
}

func readFrame(br *bufio.Reader) (string, error) {
	var head [2]byte
	if _, err := io.ReadFull(br, head[:]); err != nil {
		return "", fmt.Errorf("webSocket read: %w", err)
	}
	size := uint64(head[1] & 0x7f)
	switch size {
	case 126:
		var ext [2]byte
		if _, err := io.ReadFull(br, ext[:]); err != nil {
			return "", err
		}
		size = uint64(binary.BigEndian.Uint16(ext[:]))
	case 127:
		return "", errors.New("webSocket frame too large")
	}
	payload := make([]byte, size)
	if _, err := io.ReadFull(br, payload); err != nil {
		return "", fmt.Errorf("webSocket read: %w", err)
	}
	return string(payload), nil
}
