package commands

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"

	"bun-gvproxy/guest/internal/control"
)

type httpRequestSpec struct {
	// HostHeader is sent verbatim as the Host header (it need not match the address).
	HostHeader string `json:"hostHeader"`
	Path       string `json:"path"` // default "/"
}

type httpRequestsArgs struct {
	endpoint
	Requests []httpRequestSpec `json:"requests"`
}

type httpResponse struct {
	Status int    `json:"status"`
	Body   string `json:"body"`
}

type httpRequestsResult struct {
	// Responses holds one entry per request answered, in order; it stops at the first
	// request that got no response.
	Responses []httpResponse `json:"responses"`
	Error     string         `json:"error,omitempty"`
	// Reset: the connection was reset rather than answered or closed.
	Reset bool `json:"reset"`
}

// httpRequests sends HTTP/1.1 GET requests with chosen Host headers one after another
// on one keep-alive connection to host:port (an address, so the Host header is free to
// disagree with it), reading each response before sending the next. A failed connect
// is a command failure; what happened after is reported in the result.
func (g *Guest) httpRequests(parent context.Context, raw json.RawMessage) (any, error) {
	args, err := decode[httpRequestsArgs](raw)
	if err != nil {
		return nil, err
	}
	if len(args.Requests) == 0 || args.Port == 0 {
		return nil, control.WithCode(CodeBadRequest, fmt.Errorf("httpRequests: port and at least one request are required"))
	}
	ctx, cancel, err := g.begin(parent, raw)
	if err != nil {
		return nil, err
	}
	defer cancel()
	conn, err := g.dialTCP(ctx, args.Host, args.Port)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	defer bindToContext(ctx, conn)()
	result := httpRequestsResult{Responses: []httpResponse{}}
	reader := bufio.NewReader(conn)
	for _, spec := range args.Requests {
		resp, err := roundTrip(conn, reader, spec)
		if err != nil {
			if coded := g.classify(ctx, err); isTimeoutCode(coded) {
				return nil, coded
			}
			result.Error = err.Error()
			result.Reset = isReset(err)
			break
		}
		result.Responses = append(result.Responses, resp)
	}
	return result, nil
}

// roundTrip writes one request on conn and reads its response from reader.
func roundTrip(conn io.Writer, reader *bufio.Reader, spec httpRequestSpec) (httpResponse, error) {
	path := spec.Path
	if path == "" {
		path = "/"
	}
	request := fmt.Sprintf("GET %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: gvguest\r\n\r\n", path, spec.HostHeader)
	if _, err := io.WriteString(conn, request); err != nil {
		return httpResponse{}, fmt.Errorf("send request for host %q: %w", spec.HostHeader, err)
	}
	resp, err := http.ReadResponse(reader, nil)
	if err != nil {
		return httpResponse{}, fmt.Errorf("response for host %q: %w", spec.HostHeader, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return httpResponse{}, fmt.Errorf("body for host %q: %w", spec.HostHeader, err)
	}
	return httpResponse{Status: resp.StatusCode, Body: string(body)}, nil
}
