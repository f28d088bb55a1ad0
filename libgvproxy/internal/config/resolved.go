package config

// Resolved is a Config in the JSON names of the config document, every default filled
// in: the "config" of gvproxy_create's value (docs/ABI.md). It is what the network runs,
// so the caller never recomputes a default (instance.config on the TypeScript side).
type Resolved struct {
	SocketPath       string               `json:"socketPath"`
	Protocol         string               `json:"protocol"`
	Subnet           string               `json:"subnet"`
	GatewayIP        string               `json:"gatewayIp"`
	GuestIP          string               `json:"guestIp"`
	GatewayMAC       string               `json:"gatewayMac"`
	GuestMAC         string               `json:"guestMac"`
	MTU              int                  `json:"mtu"`
	PortMappings     []ResolvedMapping    `json:"portMappings"`
	DNSZones         []ResolvedDNSZone    `json:"dnsZones"`
	DNSSearchDomains []string             `json:"dnsSearchDomains"`
	HostLoopback     bool                 `json:"hostLoopback"`
	HostLoopbackIP   string               `json:"hostLoopbackIp"`
	AllowNet         any                  `json:"allowNet"` // []string, or "none"
	HostSockets      []ResolvedHostSocket `json:"hostSockets"`
	CaptureFile      string               `json:"captureFile,omitempty"` // absent: no capture
	Debug            bool                 `json:"debug"`
	// Secrets shows each secret's placeholder and hosts: a value never leaves Go.
	Secrets []ResolvedSecret `json:"secrets"`
}

// ResolvedSecret is a secret without its value, hosts normalised.
type ResolvedSecret struct {
	Placeholder string   `json:"placeholder"`
	Hosts       []string `json:"hosts"`
}

// ResolvedMapping is a port mapping with its host address and protocol filled in.
type ResolvedMapping struct {
	HostIP    string `json:"hostIp"`
	HostPort  uint16 `json:"hostPort"`
	GuestPort uint16 `json:"guestPort"`
	Protocol  string `json:"protocol"`
}

// ResolvedDNSZone is a zone with its name fully qualified and lower case.
type ResolvedDNSZone struct {
	Name      string              `json:"name"`
	Records   []ResolvedDNSRecord `json:"records"`
	DefaultIP string              `json:"defaultIp,omitempty"`
}

// ResolvedDNSRecord is one name of a zone.
type ResolvedDNSRecord struct {
	Name string `json:"name"`
	IP   string `json:"ip"`
}

// ResolvedHostSocket is one hostSockets entry.
type ResolvedHostSocket struct {
	Port uint16 `json:"port"`
	Path string `json:"path"`
}

// Resolve returns c in its JSON form. boundPorts, when it has an entry for a mapping,
// is the port the OS bound for it (a mapping with hostPort 0 reports the port it got).
func (c *Config) Resolve(boundPorts []uint16) Resolved {
	r := Resolved{
		SocketPath: c.SocketPath, Protocol: string(c.Protocol), Subnet: c.Subnet.String(),
		GatewayIP: c.GatewayIP.String(), GuestIP: c.GuestIP.String(),
		GatewayMAC: c.GatewayMAC.String(), GuestMAC: c.GuestMAC.String(), MTU: c.MTU,
		PortMappings: make([]ResolvedMapping, 0, len(c.PortMappings)),
		DNSZones:     resolveZones(c.DNSZones), DNSSearchDomains: append([]string{}, c.DNSSearchDomains...),
		HostLoopback: c.HostLoopback, HostLoopbackIP: c.HostLoopbackIP.String(),
		AllowNet:    append([]string{}, c.AllowNet...),
		HostSockets: make([]ResolvedHostSocket, 0, len(c.HostSockets)),
		CaptureFile: c.CaptureFile, Debug: c.Debug,
	}
	if c.AllowNone {
		r.AllowNet = AllowNetNone
	}
	r.Secrets = make([]ResolvedSecret, 0, len(c.Secrets))
	for _, s := range c.Secrets {
		r.Secrets = append(r.Secrets, ResolvedSecret{Placeholder: s.Placeholder, Hosts: append([]string{}, s.Hosts...)})
	}
	for i, pm := range c.PortMappings {
		port := pm.HostPort
		if i < len(boundPorts) {
			port = boundPorts[i]
		}
		r.PortMappings = append(r.PortMappings, ResolvedMapping{HostIP: pm.HostIP.String(), HostPort: port, GuestPort: pm.GuestPort, Protocol: string(pm.Protocol)})
	}
	for _, hs := range c.HostSockets {
		r.HostSockets = append(r.HostSockets, ResolvedHostSocket(hs))
	}
	return r
}

// resolveZones is the JSON form of zones (also setDnsZones' zones).
func resolveZones(zones []DNSZone) []ResolvedDNSZone {
	out := make([]ResolvedDNSZone, 0, len(zones))
	for _, z := range zones {
		rz := ResolvedDNSZone{Name: z.Name, Records: make([]ResolvedDNSRecord, 0, len(z.Records))}
		if z.DefaultIP.IsValid() {
			rz.DefaultIP = z.DefaultIP.String()
		}
		for _, rec := range z.Records {
			rz.Records = append(rz.Records, ResolvedDNSRecord{Name: rec.Name, IP: rec.IP.String()})
		}
		out = append(out, rz)
	}
	return out
}
