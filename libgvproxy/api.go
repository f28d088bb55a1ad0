package main

import (
	"encoding/json"

	"bun-gvproxy/libgvproxy/internal/audit"
	"bun-gvproxy/libgvproxy/internal/config"
	"bun-gvproxy/libgvproxy/internal/errs"
	"bun-gvproxy/libgvproxy/internal/network"
	"bun-gvproxy/libgvproxy/internal/profiling"
	"bun-gvproxy/libgvproxy/internal/registry"
	"bun-gvproxy/libgvproxy/internal/stats"
)

// The Go side of the lifecycle exports: plain functions the cgo layer (exports.go) and
// the tests call. Each returns the value of its envelope or a coded error.

var instances = registry.New[*network.Network]()

// profiler profiles the library while networks are open, when GVPROXY_PPROF asks.
var profiler profiling.Profiler

// createResult is the value of gvproxy_create.
type createResult struct {
	ID             int32  `json:"id"`
	SocketPath     string `json:"socketPath"`
	Protocol       string `json:"protocol"`
	ConnectionType string `json:"connectionType"`
	// Forwards are the configured forwards as bound (hostPort 0 resolved).
	Forwards []network.ForwardInfo `json:"forwards"`
	// Config is the configuration the network runs, every default filled in.
	Config config.Resolved `json:"config"`
}

func createInstance(configJSON []byte) (createResult, error) {
	cfg, err := config.Decode(configJSON)
	if err != nil {
		return createResult{}, err
	}
	id, err := instances.Reserve()
	if err != nil {
		return createResult{}, errs.Wrap(errs.Internal, err, "cannot allocate an instance handle")
	}
	log := instanceLogger{id: uint32(id)}
	n, err := network.New(cfg, network.Options{Log: log})
	if err != nil {
		instances.Release(id)
		return createResult{}, err
	}
	instances.Fill(id, n)
	profiler.Opened(log)
	connType := "unix-stream"
	if cfg.Protocol == config.ProtocolVfkit {
		connType = "unix-dgram"
	}
	log.Infof("network started: socket %s (%s), gateway %s, guest %s, mtu %d, %d port mapping(s)",
		cfg.SocketPath, cfg.Protocol, cfg.GatewayIP, cfg.GuestIP, cfg.MTU, len(cfg.PortMappings))
	forwards := n.Forwards()
	return createResult{
		ID: id, SocketPath: cfg.SocketPath, Protocol: string(cfg.Protocol), ConnectionType: connType,
		Forwards: forwards, Config: cfg.Resolve(boundPorts(forwards)),
	}, nil
}

// boundPorts lists the host port each forward got, in order: at creation the forwards
// are the configured port mappings, so entry i is the port of portMappings[i].
func boundPorts(forwards []network.ForwardInfo) []uint16 {
	ports := make([]uint16, len(forwards))
	for i, f := range forwards {
		ports[i] = f.HostPort
	}
	return ports
}

func destroyInstance(id int64) error {
	_, err := destroyReportingEvents(id)
	return err
}

// destroyedValue is the value of gvproxy_destroy when a listener was subscribed: the
// events the shutdown itself produced (connections it closed) and any still queued,
// which the caller delivers before destroy returns. Without one it is null.
type destroyedValue struct {
	Events json.RawMessage `json:"events"`
}

func destroyReportingEvents(id int64) (any, error) {
	n, ok := instances.Remove(id)
	if !ok {
		return nil, errNoInstance(id)
	}
	n.Close()
	log := instanceLogger{id: uint32(id)}
	log.Infof("network stopped: socket %s", n.SocketPath())
	profiler.Closed(log)
	if !n.Audit().Wants(audit.AllKinds) {
		return nil, nil
	}
	return destroyedValue{Events: audit.AppendJSON(nil, n.DrainEvents(0))}, nil
}

func instanceStats(id int64) (stats.Snapshot, error) {
	n, ok := instances.Get(id)
	if !ok {
		return stats.Snapshot{}, errNoInstance(id)
	}
	return n.Stats(), nil
}

// errNoInstance is the error of every export given a handle that names no live
// instance: never created, destroyed already, or still being created.
func errNoInstance(id int64) error {
	return errs.New(errs.Destroyed, "instance %d does not exist or was already destroyed", id)
}
