package commands

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"

	"gvisor.dev/gvisor/pkg/tcpip/adapters/gonet"

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
	probeEnding
}

// httpRequests sends HTTP/1.1 GET requests with chosen Host headers one after another
// on one keep-alive connection to host:port (an address, so the Host header is free to
// disagree with it), reading each response before sending the next. A failed connect
// is a command failure; what happened after is reported in the result.
func (g *Guest) httpRequests(ctx context.Context, args httpRequestsArgs) (any, error) {
	return over(ctx, g.tcpTo(args.endpoint), func(conn *gonet.TCPConn) (any, error) {
		responses, err := roundTrips(conn, args.Requests)
		ending, err := g.endProbe(ctx, err)
		if err != nil {
			return nil, err
		}
		return httpRequestsResult{Responses: responses, probeEnding: ending}, nil
	})
}

// roundTrips sends the requests one after another on conn, reading each response
// before the next; it stops at the first request that got no response.
func roundTrips(conn io.ReadWriter, specs []httpRequestSpec) ([]httpResponse, error) {
	responses := []httpResponse{}
	reader := bufio.NewReader(conn)
	for _, spec := range specs {
		resp, err := roundTrip(conn, reader, spec)
		if err != nil {
			return responses, err
		}
		responses = append(responses, resp)
	}
	return responses, nil
}

func (a *httpRequestsArgs) check() error {
	if len(a.Requests) == 0 || a.Port == 0 {
		return control.WithCode(CodeBadRequest, fmt.Errorf("httpRequests: port and at least one request are required"))
	}
	return nil
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
