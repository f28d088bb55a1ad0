package main

import (
	"encoding/json"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"bun-gvproxy/libgvproxy/internal/errs"
	"bun-gvproxy/libgvproxy/internal/stats"
)

// createWithForwards creates a network at path forwarding a free TCP port to guest port
// 80 and a free UDP port to guest port 53.
func createWithForwards(t *testing.T, path string) (res createResult, tcpPort, udpPort int) {
	t.Helper()
	tcpPort, udpPort = freeTCPPort(t), freeUDPPort(t)
	res = mustCreate(t, configJSON(t, path, map[string]any{"portMappings": []any{
		map[string]any{"hostPort": tcpPort, "guestPort": 80},
		map[string]any{"hostPort": udpPort, "guestPort": 53, "protocol": "udp"},
	}}))
	return res, tcpPort, udpPort
}

func TestCreateReturnsAListeningSocketAndBoundPorts(t *testing.T) {
	path := filepath.Join(testDir(t), "net.sock")
	res, tcpPort, udpPort := createWithForwards(t, path)
	if res.ID <= 0 || res.SocketPath != path || res.Protocol != "qemu" || res.ConnectionType != "unix-stream" {
		t.Fatalf("create result %+v", res)
	}
	conn, err := net.Dial("unix", path)
	if err != nil {
		t.Fatalf("guest socket not listening: %v", err)
	}
	_ = conn.Close()
	if _, err := net.Listen("tcp", addr(tcpPort)); err == nil {
		t.Fatalf("tcp port %d was not bound by create", tcpPort)
	}
	if _, err := net.ListenPacket("udp", addr(udpPort)); err == nil {
		t.Fatalf("udp port %d was not bound by create", udpPort)
	}
}

func TestCreateReturnsTheResolvedConfigItRuns(t *testing.T) {
	path := filepath.Join(testDir(t), "net.sock")
	res := mustCreate(t, configJSON(t, path, map[string]any{
		"subnet": "10.0.0.0/24",
		"portMappings": []any{
			map[string]any{"hostPort": 0, "guestPort": 80},
			map[string]any{"hostIp": "::1", "hostPort": 0, "guestPort": 443, "protocol": "udp"},
		},
		"dnsZones": []any{map[string]any{"name": "Box.Internal", "records": []any{map[string]any{"name": "DB", "ip": "10.0.0.50"}}}},
		"allowNet": "none",
		"secrets":  []any{map[string]any{"placeholder": "GVP_K", "value": "sk-value-never-returned", "hosts": []any{"API.Example.com."}}},
	}))
	got, err := json.Marshal(res.Config)
	if err != nil {
		t.Fatal(err)
	}
	bound := res.Forwards
	if len(bound) != 2 || bound[0].HostPort == 0 || bound[1].HostPort == 0 {
		t.Fatalf("forwards %+v", bound)
	}
	want := `{"socketPath":"` + path + `","protocol":"qemu","subnet":"10.0.0.0/24","gatewayIp":"10.0.0.1","guestIp":"10.0.0.2",` +
		`"gatewayMac":"5a:94:ef:e4:0c:dd","guestMac":"5a:94:ef:e4:0c:ee","mtu":1500,"portMappings":[` +
		`{"hostIp":"127.0.0.1","hostPort":` + strconv.Itoa(int(bound[0].HostPort)) + `,"guestPort":80,"protocol":"tcp"},` +
		`{"hostIp":"::1","hostPort":` + strconv.Itoa(int(bound[1].HostPort)) + `,"guestPort":443,"protocol":"udp"}],` +
		`"dnsZones":[{"name":"box.internal.","records":[{"name":"db","ip":"10.0.0.50"}]}],"dnsSearchDomains":[],` +
		`"hostLoopback":true,"hostLoopbackIp":"10.0.0.254","allowNet":"none","hostSockets":[],"debug":false,` +
		`"secrets":[{"placeholder":"GVP_K","hosts":["api.example.com"]}]}`
	if string(got) != want {
		t.Fatalf("config\n got %s\nwant %s", got, want)
	}
}

func TestCreateWithVfkitProtocolReportsADatagramSocket(t *testing.T) {
	path := filepath.Join(testDir(t), "net.sock")
	res := mustCreate(t, configJSON(t, path, map[string]any{"protocol": "vfkit"}))
	if res.ConnectionType != "unix-dgram" || res.Protocol != "vfkit" {
		t.Fatalf("create result %+v", res)
	}
	if _, err := net.Dial("unixgram", path); err != nil {
		t.Fatalf("datagram socket not bound: %v", err)
	}
}

func TestIDsArePositiveAndDistinct(t *testing.T) {
	dir := testDir(t)
	a := mustCreate(t, configJSON(t, sockPath(dir, 1), nil))
	b := mustCreate(t, configJSON(t, sockPath(dir, 2), nil))
	if a.ID <= 0 || b.ID <= 0 || a.ID == b.ID {
		t.Fatalf("ids %d and %d", a.ID, b.ID)
	}
}

func TestEveryErrorCodeOfCreate(t *testing.T) {
	dir := testDir(t)
	regular := filepath.Join(dir, "regular.sock")
	if err := os.WriteFile(regular, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	live := filepath.Join(dir, "live.sock")
	ln, err := net.Listen("unix", live)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	busyPort := busy.Addr().(*net.TCPAddr).Port

	cases := []struct {
		name  string
		doc   []byte
		code  errs.Code
		field string
		msg   string
	}{
		{"invalid config", configJSON(t, sockPath(dir, 1), map[string]any{"mtu": 100}), errs.InvalidConfig, "mtu", "mtu: 100 is out of range"},
		{"no config at all", nil, errs.InvalidConfig, "", "empty"},
		{"path too long", configJSON(t, "/tmp/"+strings.Repeat("x", 120), nil), errs.SocketPathTooLong, "socketPath", "limit"},
		{"socket in use", configJSON(t, live, nil), errs.SocketInUse, "socketPath", live},
		{"not a socket", configJSON(t, regular, nil), errs.NotASocket, "socketPath", regular},
		{"missing directory", configJSON(t, "/tmp/no-such-dir-gvp/n.sock", nil), errs.InvalidConfig, "socketPath", "does not exist"},
		{"permission denied", configJSON(t, "/sys/gvp.sock", nil), errs.PermissionDenied, "socketPath", "/sys/gvp.sock"},
		{"capture file not permitted", configJSON(t, sockPath(dir, 4), map[string]any{"captureFile": "/sys/gvp.pcap"}), errs.PermissionDenied, "captureFile", "/sys/gvp.pcap"},
		{"address in use", configJSON(t, sockPath(dir, 2), map[string]any{"portMappings": []any{
			map[string]any{"hostPort": freeTCPPort(t), "guestPort": 1},
			map[string]any{"hostPort": busyPort, "guestPort": 2},
		}}), errs.AddressInUse, "portMappings[1].hostPort", addr(busyPort)},
		{"host IP not on this machine", configJSON(t, sockPath(dir, 3), map[string]any{"portMappings": []any{
			map[string]any{"hostIp": "192.0.2.1", "hostPort": 8080, "guestPort": 80},
		}}), errs.InvalidConfig, "portMappings[0].hostIp", "192.0.2.1"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := createInstance(tc.doc)
			coded := wantCoded(t, err, tc.code, tc.field)
			if !strings.Contains(coded.Error(), tc.msg) {
				t.Errorf("message %q does not name %q", coded.Error(), tc.msg)
			}
			// The envelope carries the same code and field.
			ok, _, e := envelopeOf(t, render(nil, err))
			if ok || e.Code != tc.code || e.Field != tc.field {
				t.Errorf("envelope: ok=%v %+v", ok, e)
			}
		})
	}
	if data, _ := os.ReadFile(regular); string(data) != "x" {
		t.Fatalf("the regular file was modified: %q", data)
	}
}

func TestFailedCreateUndoesEverything(t *testing.T) {
	dir := testDir(t)
	path := filepath.Join(dir, "net.sock")
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	first := freeTCPPort(t)
	_, err = createInstance(configJSON(t, path, map[string]any{"portMappings": []any{
		map[string]any{"hostPort": first, "guestPort": 1},
		map[string]any{"hostPort": busy.Addr().(*net.TCPAddr).Port, "guestPort": 2},
	}}))
	wantCoded(t, err, errs.AddressInUse, "portMappings[1].hostPort")
	if _, err := os.Lstat(path); !os.IsNotExist(err) {
		t.Fatalf("socket file left behind after failed create: %v", err)
	}
	ln, err := net.Listen("tcp", addr(first))
	if err != nil {
		t.Fatalf("port of mapping 0 still bound after failed create: %v", err)
	}
	_ = ln.Close()
	if n := instances.Len(); n != 0 {
		t.Fatalf("%d handles still registered", n)
	}
}

func TestDestroyAndStatsOfUnknownOrDestroyedIDs(t *testing.T) {
	res := mustCreate(t, configJSON(t, filepath.Join(testDir(t), "n.sock"), nil))
	if err := destroyInstance(int64(res.ID)); err != nil {
		t.Fatalf("destroy: %v", err)
	}
	for _, id := range []int64{int64(res.ID), 0, -1, 1 << 40} {
		wantCoded(t, destroyInstance(id), errs.Destroyed, "")
		_, err := instanceStats(id)
		wantCoded(t, err, errs.Destroyed, "")
	}
}

func TestDestroyRemovesTheSocketAndFreesHostPortsAtOnce(t *testing.T) {
	dir := testDir(t)
	path := filepath.Join(dir, "net.sock")
	res, tcpPort, udpPort := createWithForwards(t, path)
	// A host client connected through the forward must not keep the port busy.
	client, err := net.Dial("tcp", addr(tcpPort))
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	if err := destroyInstance(int64(res.ID)); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Lstat(path); !os.IsNotExist(err) {
		t.Fatalf("socket file still exists: %v", err)
	}
	ln, err := net.Listen("tcp", addr(tcpPort))
	if err != nil {
		t.Fatalf("rebind tcp %d right after destroy: %v", tcpPort, err)
	}
	_ = ln.Close()
	pc, err := net.ListenPacket("udp", addr(udpPort))
	if err != nil {
		t.Fatalf("rebind udp %d right after destroy: %v", udpPort, err)
	}
	_ = pc.Close()
	// And the same config can be created again at once.
	again := mustCreate(t, configJSON(t, path, map[string]any{"portMappings": []any{
		map[string]any{"hostPort": tcpPort, "guestPort": 80},
	}}))
	if again.ID == res.ID {
		t.Fatalf("handle %d reused right away", res.ID)
	}
}

func TestStatsStartAtZero(t *testing.T) {
	res := mustCreate(t, configJSON(t, filepath.Join(testDir(t), "n.sock"), nil))
	ok, value, _ := envelopeOf(t, guarded("gvproxy_stats", func() (any, error) { return instanceStats(int64(res.ID)) }))
	if !ok {
		t.Fatal("stats failed")
	}
	var s stats.Snapshot
	if err := json.Unmarshal(value, &s); err != nil {
		t.Fatal(err)
	}
	if s != (stats.Snapshot{}) {
		t.Fatalf("fresh instance stats %+v", s)
	}
	for _, key := range []string{`"bytesSent"`, `"forwardMaxInflightDrop"`, `"policy":{"denied":0}`, `"guest":{"connected":false,"connections":0}`} {
		if !strings.Contains(string(value), key) {
			t.Errorf("stats JSON %s lacks %s", value, key)
		}
	}
}

func TestVersionComesFromBuildInfo(t *testing.T) {
	v := buildVersions()
	// go test binaries carry module build info, so the pinned module version shows.
	if v.GvisorTapVsock != "v0.8.9" || !strings.HasPrefix(v.Gvisor, "v0.0.0-") || !strings.HasPrefix(v.Go, "go1.") {
		t.Fatalf("versions %+v", v)
	}
}

func TestAPanicInAnExportBecomesAnInternalError(t *testing.T) {
	testPanicHook = func(export string) { panic("boom in " + export) }
	defer func() { testPanicHook = nil }()
	out := guarded("gvproxy_create", func() (any, error) { return createInstance(nil) })
	ok, _, e := envelopeOf(t, out)
	if ok || e.Code != errs.Internal || !strings.Contains(e.Message, "boom in gvproxy_create") {
		t.Fatalf("envelope %s", out)
	}
}

func TestEnvelopeShapes(t *testing.T) {
	if out := render(nil, nil); out != `{"ok":true,"value":null}` {
		t.Errorf("null success = %s", out)
	}
	out := render(nil, errs.Field(errs.InvalidConfig, "mtu", "bad"))
	if out != `{"ok":false,"error":{"code":"INVALID_CONFIG","message":"mtu: bad","field":"mtu"}}` {
		t.Errorf("failure = %s", out)
	}
	out = render(nil, os.ErrClosed)
	if ok, _, e := envelopeOf(t, out); ok || e.Code != errs.Internal {
		t.Errorf("uncoded error = %s", out)
	}
}
