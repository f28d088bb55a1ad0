package config

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"bun-gvproxy/libgvproxy/internal/errs"
)

func TestDecodeAppliesDefaults(t *testing.T) {
	c, err := Decode([]byte(`{"socketPath":"/tmp/x.sock"}`))
	if err != nil {
		t.Fatalf("Decode: %v", err)
	}
	checks := map[string][2]string{
		"protocol":       {string(c.Protocol), string(DefaultProtocol())},
		"subnet":         {c.Subnet.String(), "192.168.127.0/24"},
		"gatewayIp":      {c.GatewayIP.String(), "192.168.127.1"},
		"guestIp":        {c.GuestIP.String(), "192.168.127.2"},
		"gatewayMac":     {c.GatewayMAC.String(), "5a:94:ef:e4:0c:dd"},
		"guestMac":       {c.GuestMAC.String(), "5a:94:ef:e4:0c:ee"},
		"hostLoopbackIp": {c.HostLoopbackIP.String(), "192.168.127.254"},
	}
	for field, got := range checks {
		if got[0] != got[1] {
			t.Errorf("%s = %s, want %s", field, got[0], got[1])
		}
	}
	if c.MTU != 1500 || !c.HostLoopback || c.Debug || c.CaptureFile != "" || len(c.PortMappings) != 0 {
		t.Errorf("unexpected defaults: %+v", c)
	}
}

func TestDecodeDerivesAddressesFromACustomSubnet(t *testing.T) {
	c, err := Decode([]byte(`{"socketPath":"/tmp/x.sock","subnet":"10.0.2.0/23"}`))
	if err != nil {
		t.Fatalf("Decode: %v", err)
	}
	if c.GatewayIP.String() != "10.0.2.1" || c.GuestIP.String() != "10.0.2.2" || c.HostLoopbackIP.String() != "10.0.3.254" {
		t.Errorf("gateway %s guest %s loopback %s", c.GatewayIP, c.GuestIP, c.HostLoopbackIP)
	}
}

func TestDecodeKeepsEveryGivenField(t *testing.T) {
	dir := t.TempDir()
	doc := `{
	  "socketPath": "/tmp/x.sock", "protocol": "vfkit", "subnet": "10.1.0.0/24",
	  "gatewayIp": "10.1.0.10", "guestIp": "10.1.0.20",
	  "gatewayMac": "02:00:00:00:00:01", "guestMac": "02:00:00:00:00:02", "mtu": 65520,
	  "portMappings": [{"hostIp": "0.0.0.0", "hostPort": 8080, "guestPort": 80},
	                   {"hostPort": 8080, "guestPort": 80, "protocol": "udp"}],
	  "dnsZones": [{"name": "Example.Internal", "records": [{"name": "db", "ip": "10.1.0.50"}], "defaultIp": "10.1.0.51"}],
	  "dnsSearchDomains": ["example.internal."],
	  "hostLoopback": false, "hostLoopbackIp": "10.1.0.99",
	  "allowNet": ["10.0.0.0/8", "example.com:443"],
	  "captureFile": "` + filepath.Join(dir, "cap.pcap") + `", "debug": true
	}`
	c, err := Decode([]byte(doc))
	if err != nil {
		t.Fatalf("Decode: %v", err)
	}
	if c.Protocol != ProtocolVfkit || c.MTU != 65520 || c.HostLoopback || c.HostLoopbackIP.String() != "10.1.0.99" || !c.Debug {
		t.Errorf("scalars not kept: %+v", c)
	}
	if len(c.PortMappings) != 2 || c.PortMappings[0].HostIP.String() != "0.0.0.0" ||
		c.PortMappings[1].HostIP.String() != "127.0.0.1" || c.PortMappings[1].Protocol != UDP || c.PortMappings[0].Protocol != TCP {
		t.Errorf("port mappings: %+v", c.PortMappings)
	}
	if len(c.DNSZones) != 1 || c.DNSZones[0].Name != "example.internal." || c.DNSZones[0].Records[0].IP.String() != "10.1.0.50" ||
		c.DNSZones[0].DefaultIP.String() != "10.1.0.51" {
		t.Errorf("dns zones: %+v", c.DNSZones)
	}
	if len(c.DNSSearchDomains) != 1 || c.DNSSearchDomains[0] != "example.internal" {
		t.Errorf("search domains: %v", c.DNSSearchDomains)
	}
	if len(c.AllowNet) != 2 {
		t.Errorf("allowNet: %v", c.AllowNet)
	}
}

func TestDecodeRefusesInvalidConfigNamingTheField(t *testing.T) {
	notADir := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(notADir, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	userFile := filepath.Join(t.TempDir(), "notes.txt")
	if err := os.WriteFile(userFile, []byte("a user's notes"), 0o600); err != nil {
		t.Fatal(err)
	}
	base := `"socketPath":"/tmp/x.sock"`
	pm := func(s string) string { return base + `,"portMappings":[` + s + `]` }
	cases := []struct {
		name, doc, field, msg string
	}{
		{"not JSON", `{`, "", "truncated"},
		{"trailing data", `{` + base + `} {}`, "", "after the JSON object"},
		{"array document", `[]`, "config", "expected an object"},
		{"unknown field", `{` + base + `,"subnetMask":"x"}`, "subnetMask", "unknown field"},
		{"unknown nested field", `{` + pm(`{"hostPort":1,"guestPort":1,"host":"x"}`) + `}`, "host", "unknown field"},
		{"wrong type", `{"socketPath":42}`, "socketPath", "expected a string"},
		{"wrong bool type", `{` + base + `,"hostLoopback":"yes"}`, "hostLoopback", "expected a boolean"},
		{"missing socket path", `{}`, "socketPath", "is required"},
		{"NUL in socket path", `{"socketPath":"/tmp/a\u0000b"}`, "socketPath", "NUL"},
		{"bad protocol", `{` + base + `,"protocol":"bess"}`, "protocol", `"bess" is not supported`},
		{"bad subnet", `{` + base + `,"subnet":"192.168.127.0"}`, "subnet", "not an IPv4 CIDR"},
		{"IPv6 subnet", `{` + base + `,"subnet":"fd00::/64"}`, "subnet", "not an IPv4 CIDR"},
		{"subnet not a network address", `{` + base + `,"subnet":"192.168.127.5/24"}`, "subnet", "did you mean 192.168.127.0/24"},
		{"subnet too small", `{` + base + `,"subnet":"192.168.127.0/30"}`, "subnet", "/8 and /29"},
		{"subnet too large", `{` + base + `,"subnet":"0.0.0.0/7"}`, "subnet", "/8 and /29"},
		{"subnet of one bit", `{` + base + `,"subnet":"128.0.0.0/1"}`, "subnet", "/8 and /29"},
		{"gateway not an IP", `{` + base + `,"gatewayIp":"gw"}`, "gatewayIp", "not an IPv4 address"},
		{"gateway outside subnet", `{` + base + `,"gatewayIp":"10.0.0.1"}`, "gatewayIp", "outside the subnet"},
		{"guest outside subnet", `{` + base + `,"guestIp":"192.168.128.2"}`, "guestIp", "outside the subnet 192.168.127.0/24"},
		{"guest is broadcast", `{` + base + `,"guestIp":"192.168.127.255"}`, "guestIp", "broadcast"},
		{"guest is network address", `{` + base + `,"guestIp":"192.168.127.0"}`, "guestIp", "network or broadcast"},
		{"gateway equals guest", `{` + base + `,"gatewayIp":"192.168.127.2"}`, "guestIp", "also the gateway"},
		{"bad gateway MAC", `{` + base + `,"gatewayMac":"5a:94:ef"}`, "gatewayMac", "not a 48-bit MAC"},
		{"64-bit MAC", `{` + base + `,"guestMac":"02:00:00:00:00:00:00:01"}`, "guestMac", "not a 48-bit MAC"},
		{"multicast MAC", `{` + base + `,"guestMac":"01:00:5e:00:00:01"}`, "guestMac", "multicast"},
		{"same MACs", `{` + base + `,"guestMac":"5A:94:EF:E4:0C:DD"}`, "guestMac", "also the gateway MAC"},
		{"MTU too small", `{` + base + `,"mtu":575}`, "mtu", "out of range 576..65520"},
		{"MTU too large", `{` + base + `,"mtu":65521}`, "mtu", "out of range"},
		{"MTU fractional", `{` + base + `,"mtu":1500.5}`, "mtu", "not an integer"},
		{"MTU exponent", `{` + base + `,"mtu":1.5e3}`, "mtu", "not an integer"},
		{"MTU string", `{` + base + `,"mtu":"1500"}`, "mtu", "expected an integer"},
		{"host port out of range", `{` + pm(`{"hostPort":65536,"guestPort":80}`) + `}`, "portMappings[0].hostPort", "out of range 0..65535"},
		{"guest port zero", `{` + pm(`{"hostPort":0,"guestPort":0}`) + `}`, "portMappings[0].guestPort", "out of range 1..65535"},
		{"host port too large", `{` + pm(`{"hostPort":1,"guestPort":80},{"hostPort":65536,"guestPort":80}`) + `}`, "portMappings[1].hostPort", "out of range"},
		{"guest port fractional", `{` + pm(`{"hostPort":8080,"guestPort":80.5}`) + `}`, "portMappings[0].guestPort", "not an integer"},
		{"guest port negative", `{` + pm(`{"hostPort":8080,"guestPort":-1}`) + `}`, "portMappings[0].guestPort", "out of range"},
		{"host port missing", `{` + pm(`{"guestPort":80}`) + `}`, "portMappings[0].hostPort", "is required"},
		{"guest port null", `{` + pm(`{"hostPort":80,"guestPort":null}`) + `}`, "portMappings[0].guestPort", "is required"},
		{"bad host IP", `{` + pm(`{"hostIp":"localhost","hostPort":8080,"guestPort":80}`) + `}`, "portMappings[0].hostIp", "not an IP address"},
		{"bad port protocol", `{` + pm(`{"hostPort":8080,"guestPort":80,"protocol":"sctp"}`) + `}`, "portMappings[0].protocol", `"sctp" is not supported`},
		{"duplicate host port", `{` + pm(`{"hostPort":8080,"guestPort":80},{"hostPort":9090,"guestPort":90},{"hostIp":"127.0.0.1","hostPort":8080,"guestPort":81}`) + `}`,
			"portMappings[2].hostPort", "127.0.0.1:8080/tcp is already used by portMappings[0]"},
		{"wildcard after a host address", `{` + pm(`{"hostPort":8080,"guestPort":80},{"hostIp":"0.0.0.0","hostPort":8080,"guestPort":81}`) + `}`,
			"portMappings[1].hostPort", "0.0.0.0:8080/tcp is already used by portMappings[0] (127.0.0.1:8080): a wildcard address"},
		{"host address after a wildcard", `{` + pm(`{"hostIp":"::","hostPort":8080,"guestPort":80},{"hostIp":"::1","hostPort":8080,"guestPort":81}`) + `}`,
			"portMappings[1].hostPort", "[::1]:8080/tcp is already used by portMappings[0] ([::]:8080)"},
		{"the same IPv6 address twice", `{` + pm(`{"hostIp":"::1","hostPort":8080,"guestPort":80},{"hostIp":"0:0::1","hostPort":8080,"guestPort":81}`) + `}`,
			"portMappings[1].hostPort", "[::1]:8080/tcp is already used by portMappings[0]"},
		{"empty subnet", `{` + base + `,"subnet":""}`, "subnet", `"" is not an IPv4 CIDR`},
		{"empty protocol", `{` + base + `,"protocol":""}`, "protocol", `"" is not supported`},
		{"empty guest IP", `{` + base + `,"guestIp":""}`, "guestIp", `"" is not an IPv4 address`},
		{"empty guest MAC", `{` + base + `,"guestMac":""}`, "guestMac", `"" is not a 48-bit MAC`},
		{"MAC with dashes", `{` + base + `,"guestMac":"5a-94-ef-e4-0c-ee"}`, "guestMac", `"5a-94-ef-e4-0c-ee" is not a 48-bit MAC`},
		{"MAC with dots", `{` + base + `,"guestMac":"5a94.efe4.0cee"}`, "guestMac", "not a 48-bit MAC"},
		{"empty host IP", `{` + pm(`{"hostIp":"","hostPort":8080,"guestPort":80}`) + `}`, "portMappings[0].hostIp", `"" is not an IP address`},
		{"empty zone default IP", `{` + base + `,"dnsZones":[{"name":"a.b.","defaultIp":""}]}`, "dnsZones[0].defaultIp", "not an IPv4 address"},
		{"capture file empty", `{` + base + `,"captureFile":""}`, "captureFile", "must be a non-empty file path"},
		{"zone without name", `{` + base + `,"dnsZones":[{"records":[]}]}`, "dnsZones[0].name", "a DNS name is required"},
		{"zone with bad name", `{` + base + `,"dnsZones":[{"name":"exa mple."}]}`, "dnsZones[0].name", "not a valid DNS name"},
		{"zone with empty label", `{` + base + `,"dnsZones":[{"name":"a..b"}]}`, "dnsZones[0].name", "1..63 characters"},
		{"zone label with leading dash", `{` + base + `,"dnsZones":[{"name":"-a.b"}]}`, "dnsZones[0].name", "starts or ends with '-'"},
		{"duplicate zone", `{` + base + `,"dnsZones":[{"name":"a.b."},{"name":"A.b"}]}`, "dnsZones[1].name", "already defined by dnsZones[0]"},
		{"zone default IP", `{` + base + `,"dnsZones":[{"name":"a.b.","defaultIp":"x"}]}`, "dnsZones[0].defaultIp", "not an IPv4 address"},
		{"record without name", `{` + base + `,"dnsZones":[{"name":"a.b.","records":[{"ip":"1.2.3.4"}]}]}`, "dnsZones[0].records[0].name", "required"},
		{"record bad IP", `{` + base + `,"dnsZones":[{"name":"a.b.","records":[{"name":"x","ip":"1.2.3.4"},{"name":"y","ip":"::1"}]}]}`, "dnsZones[0].records[1].ip", "not an IPv4 address"},
		{"bad search domain", `{` + base + `,"dnsSearchDomains":["ok.example","bad_.-x"]}`, "dnsSearchDomains[1]", "not a valid DNS name"},
		{"loopback IP outside subnet", `{` + base + `,"hostLoopbackIp":"127.0.0.1"}`, "hostLoopbackIp", "outside the subnet"},
		{"loopback IP is the guest", `{` + base + `,"hostLoopbackIp":"192.168.127.2"}`, "hostLoopbackIp", "already the gateway or guest"},
		{"bad allowNet entry", `{` + base + `,"allowNet":["10.0.0.0/8","not a host!"]}`, "allowNet[1]", ""},
		{"capture dir missing", `{` + base + `,"captureFile":"/nonexistent-dir/cap.pcap"}`, "captureFile", "directory /nonexistent-dir of /nonexistent-dir/cap.pcap does not exist"},
		{"capture dir is a file", `{` + base + `,"captureFile":"` + notADir + `/cap.pcap"}`, "captureFile", "is not a directory"},
		{"capture file is a directory", `{` + base + `,"captureFile":"` + os.TempDir() + `"}`, "captureFile", "is a directory"},
		{"capture file holds a user's data", `{` + base + `,"captureFile":"` + userFile + `"}`, "captureFile", "is not a pcap capture; refusing to overwrite it"},
		{"capture file name over NAME_MAX", `{` + base + `,"captureFile":"/tmp/` + strings.Repeat("x", 300) + `"}`, "captureFile", "longer than the 255 a file name may have"},
		{"capture file with NUL", `{` + base + `,"captureFile":"/tmp/a\u0000b"}`, "captureFile", "contains a NUL byte"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Decode([]byte(tc.doc))
			var coded *errs.Error
			if !errors.As(err, &coded) {
				t.Fatalf("Decode(%s) = %v, want a coded error", tc.doc, err)
			}
			if coded.Code != errs.InvalidConfig {
				t.Errorf("code = %s, want INVALID_CONFIG", coded.Code)
			}
			if coded.Field != tc.field {
				t.Errorf("field = %q, want %q (message %q)", coded.Field, tc.field, coded.Error())
			}
			if !strings.Contains(coded.Error(), tc.msg) {
				t.Errorf("message %q does not contain %q", coded.Error(), tc.msg)
			}
			if tc.field != "" && !strings.HasPrefix(coded.Error(), tc.field) {
				t.Errorf("message %q does not start with the field %q", coded.Error(), tc.field)
			}
		})
	}
}

func TestPortMappingsClashOnlyWhereTheOSWould(t *testing.T) {
	c, err := Decode([]byte(`{"socketPath":"/tmp/x.sock","portMappings":[` +
		`{"hostPort":8080,"guestPort":80},{"hostIp":"::1","hostPort":8080,"guestPort":80},` +
		`{"hostIp":"0.0.0.0","hostPort":8080,"guestPort":80,"protocol":"udp"},` +
		`{"hostIp":"0.0.0.0","hostPort":0,"guestPort":81},{"hostPort":0,"guestPort":82}]}`))
	if err != nil {
		t.Fatalf("distinct addresses, protocols and OS-picked ports must not clash: %v", err)
	}
	if got := c.PortMappings[1].HostIP.String(); got != "::1" {
		t.Errorf("IPv6 host address = %s, want ::1", got)
	}
}

func TestDecodeLiveControlFields(t *testing.T) {
	cfg, err := Decode([]byte(`{"socketPath":"/tmp/x.sock","portMappings":[{"hostPort":0,"guestPort":80},{"hostPort":0,"guestPort":81}],` +
		`"hostSockets":[{"port":5000,"path":"/run/agent.sock"}],"allowNet":"none"}`))
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.PortMappings) != 2 || cfg.PortMappings[0].HostPort != 0 || !cfg.AllowNone || len(cfg.AllowNet) != 0 {
		t.Fatalf("config = %+v", cfg)
	}
	if len(cfg.HostSockets) != 1 || cfg.HostSockets[0] != (HostSocket{Port: 5000, Path: "/run/agent.sock"}) {
		t.Fatalf("hostSockets = %+v", cfg.HostSockets)
	}
	for _, bad := range []struct{ json, field string }{
		{`"allowNet":"all"`, "allowNet"},
		{`"allowNet":{"x":1}`, "allowNet"},
		{`"allowNet":["ok.example","bad name"]`, "allowNet[1]"},
		{`"hostSockets":[{"port":0,"path":"/run/a.sock"}]`, "hostSockets[0].port"},
		{`"hostSockets":[{"port":1,"path":"relative.sock"}]`, "hostSockets[0].path"},
		{`"hostSockets":[{"port":1,"path":"/a.sock"},{"port":1,"path":"/b.sock"}]`, "hostSockets[1].port"},
		{`"hostSockets":[{"port":1}]`, "hostSockets[0].path"},
	} {
		_, err := Decode([]byte(`{"socketPath":"/tmp/x.sock",` + bad.json + `}`))
		if coded := errs.As(err); err == nil || coded.Field != bad.field {
			t.Errorf("%s: error %v, want one on %s", bad.json, err, bad.field)
		}
	}
}

func TestRuntimeArgumentsAreValidatedLikeTheConfig(t *testing.T) {
	fw, err := ParseForward([]byte(`{"hostPort":0,"guestPort":80}`), "forward")
	if err != nil || fw.HostPort != 0 || fw.GuestPort != 80 || fw.HostIP.String() != "127.0.0.1" || fw.Protocol != TCP {
		t.Fatalf("ParseForward = %+v, %v", fw, err)
	}
	unix, err := ParseForward([]byte(`{"hostPath":"/tmp/http.sock","guestPort":80}`), "forward")
	if err != nil || unix.HostPath != "/tmp/http.sock" || unix.GuestPort != 80 {
		t.Fatalf("ParseForward(unix) = %+v, %v", unix, err)
	}
	sel, err := ParseForwardSelector([]byte(`{"hostPort":8080,"protocol":"udp"}`), "selector")
	if err != nil || sel.HostPort != 8080 || sel.Protocol != UDP || sel.HostIP != "" {
		t.Fatalf("ParseForwardSelector = %+v, %v", sel, err)
	}
	allow, err := ParseAllowNet([]byte(`"none"`), "allowNet")
	if err != nil || !allow.None {
		t.Fatalf("ParseAllowNet(none) = %+v, %v", allow, err)
	}
	zones, err := ParseDNSZones([]byte(`[{"name":"Box.Internal","records":[{"name":"db","ip":"192.168.127.50"}]}]`), "zones")
	if err != nil || len(zones) != 1 || zones[0].Name != "box.internal." {
		t.Fatalf("ParseDNSZones = %+v, %v", zones, err)
	}
	for _, bad := range []struct {
		parse func() error
		field string
	}{
		{func() error { _, err := ParseForward([]byte(`{"hostPort":70000,"guestPort":80}`), "f"); return err }, "f.hostPort"},
		{func() error { _, err := ParseForward([]byte(`{"guestPort":80,"extra":1}`), "f"); return err }, "f.extra"},
		{func() error {
			_, err := ParseForward([]byte(`{"hostPath":"/x.sock","hostPort":1,"guestPort":80}`), "f")
			return err
		}, "f"},
		{func() error { _, err := ParseForward([]byte(`{"hostPath":"/x.sock"}`), "f"); return err }, "f.guestPort"},
		{func() error { _, err := ParseForwardSelector([]byte(`{}`), "s"); return err }, "s.hostPort"},
		{func() error { _, err := ParseHostSocket([]byte(`{"port":5000,"path":""}`), "h"); return err }, "h.path"},
		{func() error { _, err := ParseAllowNet([]byte(`null`), "a"); return err }, "a"},
		{func() error { _, err := ParseAllowNet([]byte(`["*"]`), "a"); return err }, "a[0]"},
		{func() error { _, err := ParseDNSZones([]byte(`[{"name":"a."},{"name":"A"}]`), "z"); return err }, "z[1].name"},
	} {
		err := bad.parse()
		if coded := errs.As(err); err == nil || coded.Field != bad.field || coded.Code != errs.InvalidConfig {
			t.Errorf("error %v, want INVALID_CONFIG on %s", err, bad.field)
		}
	}
}
