package main

import (
	"bun-gvproxy/libgvproxy/internal/audit"
	"bun-gvproxy/libgvproxy/internal/config"
	"bun-gvproxy/libgvproxy/internal/errs"
	"bun-gvproxy/libgvproxy/internal/network"
)

// The Go side of the live-control exports (controlexports.go): each looks the instance
// up, validates its argument with internal/config's rules, and changes the network or
// changes nothing.

func withInstance[T any](id int64, fn func(*network.Network) (T, error)) (T, error) {
	n, ok := instances.Get(id)
	if !ok {
		var zero T
		return zero, errNoInstance(id)
	}
	return fn(n)
}

func exposeForward(id int64, arg []byte) (network.ForwardInfo, error) {
	return withInstance(id, func(n *network.Network) (network.ForwardInfo, error) {
		fw, err := config.ParseForward(arg, "forward")
		if err != nil {
			return network.ForwardInfo{}, err
		}
		return n.Expose(fw)
	})
}

type unexposeResult struct {
	Removed int `json:"removed"`
}

func unexposeForward(id int64, arg []byte) (unexposeResult, error) {
	return withInstance(id, func(n *network.Network) (unexposeResult, error) {
		sel, err := config.ParseForwardSelector(arg, "forward")
		if err != nil {
			return unexposeResult{}, err
		}
		return unexposeResult{Removed: n.Unexpose(sel)}, nil
	})
}

func listForwards(id int64) ([]network.ForwardInfo, error) {
	return withInstance(id, func(n *network.Network) ([]network.ForwardInfo, error) { return n.Forwards(), nil })
}

func addHostSocket(id int64, arg []byte) ([]network.HostSocketInfo, error) {
	return withInstance(id, func(n *network.Network) ([]network.HostSocketInfo, error) {
		hs, err := config.ParseHostSocket(arg, "hostSocket")
		if err != nil {
			return nil, err
		}
		if err := n.AddHostSocket(hs); err != nil {
			return nil, err
		}
		return n.HostSockets(), nil
	})
}

type removedResult struct {
	Removed bool `json:"removed"`
}

func removeHostSocket(id int64, port int64) (removedResult, error) {
	return withInstance(id, func(n *network.Network) (removedResult, error) {
		if port < 1 || port > 65535 {
			return removedResult{}, errs.Field(errs.InvalidConfig, "port", "%d is out of range 1..65535", port)
		}
		return removedResult{Removed: n.RemoveHostSocket(uint16(port))}, nil
	})
}

type setAllowNetResult struct {
	Cut   int      `json:"cut"`
	Rules []string `json:"rules"`
}

func setAllowNet(id int64, arg []byte) (setAllowNetResult, error) {
	return withInstance(id, func(n *network.Network) (setAllowNetResult, error) {
		allow, err := config.ParseAllowNet(arg, "allowNet")
		if err != nil {
			return setAllowNetResult{}, err
		}
		cut, err := n.SetAllowNet(allow)
		rules := allow.Entries
		if allow.None {
			rules = []string{config.AllowNetNone}
		}
		return setAllowNetResult{Cut: cut, Rules: rules}, err
	})
}

func setDNSZones(id int64, arg []byte) (any, error) {
	return withInstance(id, func(n *network.Network) (any, error) {
		zones, err := config.ParseDNSZones(arg, "dnsZones")
		if err != nil {
			return nil, err
		}
		n.SetDNSZones(zones)
		return nil, nil
	})
}

func guestInfo(id int64) (network.GuestInfo, error) {
	return withInstance(id, func(n *network.Network) (network.GuestInfo, error) { return n.Guest(), nil })
}

func subscribeEvents(id int64, mask int64) (any, error) {
	return withInstance(id, func(n *network.Network) (any, error) {
		if mask < 0 || audit.Kind(mask)&^audit.AllKinds != 0 {
			return nil, errs.Field(errs.InvalidConfig, "mask", "%d is not a mask of event kinds (1 guest, 2 connection, 4 dns)", mask)
		}
		n.Subscribe(audit.Kind(mask))
		return nil, nil
	})
}

// drainEventsEnvelope is the envelope of gvproxy_drain_events, written directly: at
// 200,000 events/s, passing the events through encoding/json (even as a RawMessage,
// which it re-scans) would cost more than encoding them.
func drainEventsEnvelope(id int64, limit int64) string {
	n, ok := instances.Get(id)
	if !ok {
		return render(nil, errNoInstance(id))
	}
	events := n.DrainEvents(int(limit))
	b := make([]byte, 0, 64+320*len(events))
	b = append(b, `{"ok":true,"value":{"events":`...)
	b = audit.AppendJSON(b, events)
	b = append(b, "}}"...)
	return string(b)
}
