package commands

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"

	"bun-gvproxy/guest/internal/control"
)

type httpGetArgs struct {
	URL string `json:"url"`
}

// httpGet fetches a URL with net/http dialing through the guest's stack; names are
// resolved by the lease's DNS server.
func (g *Guest) httpGet(ctx context.Context, args httpGetArgs) (any, error) {
	transport := &http.Transport{DialContext: g.dialForHTTP, DisableKeepAlives: true}
	defer transport.CloseIdleConnections()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, args.URL, nil)
	if err != nil {
		return nil, control.WithCode(CodeBadRequest, fmt.Errorf("url %q: %w", args.URL, err))
	}
	resp, err := (&http.Client{Transport: transport}).Do(req)
	if err != nil {
		return nil, g.classify(ctx, fmt.Errorf("GET %s: %w", args.URL, err))
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, g.classify(ctx, fmt.Errorf("GET %s: read body: %w", args.URL, err))
	}
	return map[string]any{"status": resp.StatusCode, "headers": firstValues(resp.Header), "body": string(body)}, nil
}

// dialForHTTP is net/http's dialer through the guest's stack (names resolved by the
// lease's DNS server).
func (g *Guest) dialForHTTP(ctx context.Context, _, hostport string) (net.Conn, error) {
	to, err := parseEndpoint(hostport)
	if err != nil {
		return nil, err
	}
	return g.dialTCP(ctx, to.Host, to.Port)
}

// firstValues is a response's headers with the first value of each, as the commands
// report them.
func firstValues(h http.Header) map[string]string {
	out := make(map[string]string, len(h))
	for name := range h {
		out[name] = h.Get(name)
	}
	return out
}

// parseEndpoint splits "host:port" as net/http hands it to a dialer.
func parseEndpoint(hostport string) (endpoint, error) {
	host, portText, err := net.SplitHostPort(hostport)
	if err != nil {
		return endpoint{}, err
	}
	port, err := strconv.ParseUint(portText, 10, 16)
	if err != nil {
		return endpoint{}, fmt.Errorf("port in %q: %w", hostport, err)
	}
	return endpoint{Host: host, Port: uint16(port)}, nil
}
