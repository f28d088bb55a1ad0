/**
 * The config: what TypeScript checks before anything crosses FFI (src/config.ts: types and
 * shapes, values JSON cannot carry, unknown fields, tuples, the sun_path limit), and the
 * rules Go owns (libgvproxy/internal/config), seen through the constructor: the resolved
 * config it returns as `instance.config`, and every refusal naming the field at fault.
 */
import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { GvisorTapBackend, GvproxyInstance, type GvproxyConfig } from "../../src/index.ts";
import { configJson, MAX_SOCKET_PATH_BYTES } from "../../src/config.ts";
import { bindError, expectGvproxyError, makeTempDir } from "./helpers.ts";

let temp: ReturnType<typeof makeTempDir>;
let socketPath: string;
const opened: GvisorTapBackend[] = [];

beforeEach(() => {
  temp = makeTempDir();
  socketPath = temp.path("net.sock");
});

afterEach(() => {
  for (const backend of opened.splice(0)) backend.close();
  temp.remove();
});

/** Starts a backend from `fields` (plus the test's socket path), bypassing the static types like a JS caller could. */
function start(fields: Record<string, unknown>): GvisorTapBackend {
  const backend = new GvisorTapBackend({ socketPath, ...fields } as unknown as GvproxyConfig);
  opened.push(backend);
  return backend;
}

describe("the resolved config is the one Go runs", () => {
  test("a config with only socketPath gets every default of DESIGN.md", () => {
    expect(start({}).instance.config).toEqual({
      socketPath,
      protocol: process.platform === "darwin" ? "vfkit" : "qemu",
      subnet: "192.168.127.0/24",
      gatewayIp: "192.168.127.1",
      guestIp: "192.168.127.2",
      gatewayMac: "5a:94:ef:e4:0c:dd",
      guestMac: "5a:94:ef:e4:0c:ee",
      mtu: 1500,
      portMappings: [],
      hostSockets: [],
      dnsZones: [],
      dnsSearchDomains: [],
      hostLoopback: true,
      hostLoopbackIp: "192.168.127.254",
      allowNet: [],
      captureFile: undefined,
      debug: false,
      secrets: [],
    });
  });

  test("a tuple mapping binds 127.0.0.1 over tcp; an object mapping keeps what it sets", () => {
    const config = start({
      portMappings: [[0, 80], { hostPort: 0, guestPort: 443, hostIp: "0.0.0.0" }, { hostPort: 0, guestPort: 53, protocol: "udp" }],
    }).instance.config;
    expect(config.portMappings.map(({ hostPort: _bound, ...rest }) => rest)).toEqual([
      { hostIp: "127.0.0.1", guestPort: 80, protocol: "tcp" },
      { hostIp: "0.0.0.0", guestPort: 443, protocol: "tcp" },
      { hostIp: "127.0.0.1", guestPort: 53, protocol: "udp" },
    ]);
  });

  test("hostPort 0 is reported as the port the OS bound, the same one forwards() lists", async () => {
    const backend = start({ portMappings: [[0, 80]] });
    const [mapping] = backend.instance.config.portMappings;
    expect(mapping?.hostPort).toBeGreaterThan(0);
    expect(backend.forwards()).toEqual([{ hostIp: "127.0.0.1", hostPort: mapping?.hostPort ?? -1, guestPort: 80, protocol: "tcp" }]);
    expect(await bindError(mapping?.hostPort ?? 0)).toBe("EADDRINUSE");
  });

  test("a subnet alone is enough: gateway, guest and host-loopback addresses come from it", () => {
    const config = start({ subnet: "10.0.0.0/24" }).instance.config;
    expect([config.subnet, config.gatewayIp, config.guestIp, config.hostLoopbackIp]).toEqual(["10.0.0.0/24", "10.0.0.1", "10.0.0.2", "10.0.0.254"]);
    const wide = new GvproxyInstance(temp.path("wide.sock"), [], { subnet: "10.0.0.0/16" });
    try {
      expect(wide.config.hostLoopbackIp).toBe("10.0.255.254");
    } finally {
      wide.destroy();
    }
  });

  test("hostIp may be an IPv6 address", () => {
    expect(start({ portMappings: [{ hostPort: 0, guestPort: 80, hostIp: "::1" }] }).instance.config.portMappings[0]?.hostIp).toBe("::1");
  });

  test("MACs are normalised to lower case, zone names fully qualified and lower case", () => {
    const backend = start({
      guestMac: "5A:94:EF:E4:0C:01",
      dnsZones: [{ name: "Example.Internal", records: [{ name: "db", ip: "192.168.127.50" }] }],
    });
    expect(backend.instance.config.guestMac).toBe("5a:94:ef:e4:0c:01");
    expect(backend.endpoint().macAddress).toBe("5a:94:ef:e4:0c:01");
    expect(backend.instance.config.dnsZones).toEqual([{ name: "example.internal.", records: [{ name: "db", ip: "192.168.127.50" }] }]);
  });

  test("every given field is kept", () => {
    const given = {
      mtu: 9000,
      dnsZones: [{ name: "z.internal.", records: [], defaultIp: "192.168.127.51" }],
      dnsSearchDomains: ["example.internal"],
      hostLoopback: false,
      allowNet: ["10.0.0.0/8", "[::1]:53"],
      hostSockets: [{ port: 5000, path: "/run/agent.sock" }],
      captureFile: temp.path("x.pcap"),
      debug: true,
    };
    expect(start(given).instance.config).toMatchObject(given);
    expect(start({ allowNet: "none", socketPath: temp.path("none.sock") }).instance.config.allowNet).toBe("none");
  });
});

describe("validation names the field at fault", () => {
  // Shapes are checked in TypeScript, rules in Go; the caller sees one kind of error.
  const cases: Array<[string, Record<string, unknown>, string, RegExp]> = [
    ["socketPath missing", { socketPath: undefined }, "socketPath", /socketPath must be a non-empty path, got undefined/],
    ["socketPath empty", { socketPath: "" }, "socketPath", /non-empty path/],
    ["socketPath with NUL", { socketPath: "/tmp/a\0b" }, "socketPath", /NUL/],
    ["unknown field", { sockPath: "/x" }, "sockPath", /sockPath is not a known config field/],
    ["protocol", { protocol: "tap" }, "protocol", /protocol: "tap" is not supported \(use "qemu" or "vfkit"\)/],
    ["subnet not CIDR", { subnet: "192.168.127.0" }, "subnet", /IPv4 CIDR/],
    ["subnet host bits", { subnet: "192.168.127.5/24" }, "subnet", /network address .* 192\.168\.127\.0\/24/],
    ["subnet too small", { subnet: "192.168.127.0/30" }, "subnet", /prefix length must be between \/8 and \/29/],
    ["gatewayIp malformed", { gatewayIp: "192.168.127.300" }, "gatewayIp", /IPv4 address/],
    ["gatewayIp leading zero", { gatewayIp: "192.168.127.01" }, "gatewayIp", /IPv4 address/],
    ["gatewayIp outside subnet", { gatewayIp: "10.0.0.1" }, "gatewayIp", /outside the subnet 192\.168\.127\.0\/24/],
    ["guestIp network address", { guestIp: "192.168.127.0" }, "guestIp", /network or broadcast/],
    ["guestIp broadcast address", { guestIp: "192.168.127.255" }, "guestIp", /network or broadcast/],
    ["guestIp equals gatewayIp", { guestIp: "192.168.127.1" }, "guestIp", /differ from gatewayIp/],
    ["hostLoopbackIp outside subnet", { hostLoopbackIp: "127.0.0.1" }, "hostLoopbackIp", /outside the subnet/],
    ["hostLoopbackIp equals guestIp", { hostLoopbackIp: "192.168.127.2" }, "hostLoopbackIp", /differ/],
    ["hostLoopback not boolean", { hostLoopback: "yes" }, "hostLoopback", /true or false, got "yes"/],
    ["gatewayMac malformed", { gatewayMac: "5a:94:ef:e4:0c" }, "gatewayMac", /MAC address/],
    ["guestMac multicast", { guestMac: "01:00:5e:00:00:01" }, "guestMac", /unicast/],
    ["guestMac equals gatewayMac", { guestMac: "5a:94:ef:e4:0c:dd" }, "guestMac", /differ from gatewayMac/],
    ["mtu fractional", { mtu: 1500.5 }, "mtu", /^mtu: 1500\.5 is not an integer \(expected 576\.\.65520\)$/],
    ["mtu too small", { mtu: 575 }, "mtu", /575 is out of range 576\.\.65520/],
    ["mtu too large", { mtu: 65521 }, "mtu", /65521 is out of range/],
    ["mtu string", { mtu: "1500" }, "mtu", /got "1500"/],
    ["mtu NaN", { mtu: Number.NaN }, "mtu", /expected an integer 576\.\.65520, got "NaN"/],
    ["portMappings not array", { portMappings: 8080 }, "portMappings", /must be an array/],
    ["mapping fractional hostPort", { portMappings: [[8080, 80], { hostPort: 8.5, guestPort: 80 }] }, "portMappings[1].hostPort", /^portMappings\[1\]\.hostPort: 8\.5 is not an integer \(expected 0\.\.65535\)$/],
    ["mapping tuple guestPort zero", { portMappings: [[8080, 0]] }, "portMappings[0].guestPort", /0 is out of range 1\.\.65535/],
    ["mapping tuple too long", { portMappings: [[8080, 80, 1]] }, "portMappings[0]", /\[hostPort, guestPort\]/],
    ["mapping hostPort too large", { portMappings: [{ hostPort: 65536, guestPort: 80 }] }, "portMappings[0].hostPort", /65536 is out of range 0\.\.65535/],
    ["mapping guestPort missing", { portMappings: [{ hostPort: 8080 }] }, "portMappings[0].guestPort", /is required/],
    ["mapping hostIp", { portMappings: [{ hostPort: 8080, guestPort: 80, hostIp: "localhost" }] }, "portMappings[0].hostIp", /"localhost" is not an IP address/],
    ["mapping protocol", { portMappings: [{ hostPort: 8080, guestPort: 80, protocol: "sctp" }] }, "portMappings[0].protocol", /"tcp" or "udp"/],
    ["mapping unknown field", { portMappings: [{ hostPort: 8080, guestPort: 80, host: "x" }] }, "portMappings[0].host", /not a known config field/],
    ["mapping not an object", { portMappings: ["8080:80"] }, "portMappings[0]", /\[hostPort, guestPort\] or/],
    ["duplicate host port", { portMappings: [[8080, 80], [8080, 81]] }, "portMappings[1].hostPort", /already used by portMappings\[0\]/],
    ["duplicate via wildcard", { portMappings: [[8080, 80], { hostPort: 8080, guestPort: 81, hostIp: "0.0.0.0" }] }, "portMappings[1].hostPort", /already used by portMappings\[0\] \(127\.0\.0\.1:8080\): a wildcard/],
    ["dnsZones not array", { dnsZones: {} }, "dnsZones", /must be an array/],
    ["dns zone name", { dnsZones: [{ name: "bad name" }] }, "dnsZones[0].name", /DNS name/],
    ["dns zones equal but for case", { dnsZones: [{ name: "A.internal." }, { name: "a.internal." }] }, "dnsZones[1].name", /zone a\.internal\. is already defined by dnsZones\[0\]/],
    ["dns record ip", { dnsZones: [{ name: "a.internal", records: [{ name: "db", ip: "x" }] }] }, "dnsZones[0].records[0].ip", /IPv4 address/],
    ["dns record name", { dnsZones: [{ name: "a.internal", records: [{ name: "-db", ip: "192.168.127.9" }] }] }, "dnsZones[0].records[0].name", /DNS name/],
    ["dns zone defaultIp", { dnsZones: [{ name: "a.internal", defaultIp: "1.2.3" }] }, "dnsZones[0].defaultIp", /IPv4 address/],
    ["dns zone unknown field", { dnsZones: [{ name: "a.internal", ttl: 5 }] }, "dnsZones[0].ttl", /not a known config field/],
    ["search domain", { dnsSearchDomains: ["ok.internal", ""] }, "dnsSearchDomains[1]", /DNS name/],
    ["allowNet entry", { allowNet: ["10.0.0.0/8", "10.0.0.0/33"] }, "allowNet[1]", /CIDR/],
    ["allowNet not array", { allowNet: "10.0.0.0/8" }, "allowNet", /must be an array of entries/],
    ["allowNet port out of range", { allowNet: ["example.com:70000"] }, "allowNet[0]", /port/],
    ["allowNet bad name", { allowNet: ["exa mple.com"] }, "allowNet[0]", /exa mple\.com/],
    ["allowNet empty entry", { allowNet: [""] }, "allowNet[0]", /allowNet\[0\]/],
    ["captureFile empty", { captureFile: "" }, "captureFile", /non-empty file path/],
    ["debug not boolean", { debug: 1 }, "debug", /true or false, got 1/],
    ["a bigint", { mtu: 1500n }, "mtu", /got "1500"/],
    ["a function", { mtu: () => 1500 }, "mtu", /which JSON cannot carry/],
  ];

  test.each(cases)("%s", (_name, fields, field, message) => {
    const error = expectGvproxyError(() => start(fields), "INVALID_CONFIG");
    expect(error.field).toBe(field);
    expect(error.message).toMatch(message);
  });

  test.each([1, 2, 7])("a /%i subnet is refused (a network needs at most 24 host bits)", (bits) => {
    const error = expectGvproxyError(() => start({ subnet: `${bits === 1 ? "128" : "0"}.0.0.0/${bits}` }), "INVALID_CONFIG");
    expect(error.field).toBe("subnet");
    expect(error.message).toContain("between /8 and /29");
  });

  test("allowNet accepts every entry kind: names, wildcards, IPs, CIDRs, IPv6, each with an optional port", () => {
    const allowNet = ["example.com", "*.example.com:443", "203.0.113.7", "10.0.0.0/8:5432", "192.168.127.254:80", "[::1]:53", "2001:db8::/32", "[2001:db8::/48]:443", "db.internal."];
    expect(start({ allowNet }).instance.config.allowNet).toEqual(allowNet);
  });

  test("a config that is not an object is refused", () => {
    const error = expectGvproxyError(() => new GvisorTapBackend(null as unknown as GvproxyConfig), "INVALID_CONFIG");
    expect(error.field).toBe("config");
  });

  test("a socket path longer than sun_path allows is SOCKET_PATH_TOO_LONG, naming the path", () => {
    const long = `/tmp/${"x".repeat(MAX_SOCKET_PATH_BYTES)}`;
    const error = expectGvproxyError(() => configJson({ socketPath: long }), "SOCKET_PATH_TOO_LONG");
    expect(error.field).toBe("socketPath");
    expect(error.message).toContain(long);
  });

  test("a socket path of exactly the limit passes; multi-byte characters count as bytes", () => {
    const exact = `/${"x".repeat(MAX_SOCKET_PATH_BYTES - 1)}`;
    expect(JSON.parse(configJson({ socketPath: exact })).socketPath).toBe(exact);
    const wide = `/${"é".repeat(Math.ceil(MAX_SOCKET_PATH_BYTES / 2))}`;
    expectGvproxyError(() => configJson({ socketPath: wide }), "SOCKET_PATH_TOO_LONG");
  });
});

describe("port mappings clash where the OS would", () => {
  test("a wildcard host address holds the port on every address, as the OS does", async () => {
    const backend = start({ portMappings: [{ hostPort: 0, guestPort: 80, hostIp: "0.0.0.0" }] });
    const port = backend.instance.config.portMappings[0]?.hostPort ?? 0;
    expect(await bindError(port, "127.0.0.1")).toBe("EADDRINUSE");
    expect(await bindError(port, "::1")).toBe("EADDRINUSE");
  });

  test("different addresses of the same port, and the same port over tcp and udp, do not clash", () => {
    const backend = start({ portMappings: [[0, 80]] });
    const port = backend.instance.config.portMappings[0]?.hostPort ?? 0;
    backend.close();
    const both = start({
      socketPath: temp.path("both.sock"),
      portMappings: [[port, 80], { hostPort: port, guestPort: 80, hostIp: "::1" }, { hostPort: port, guestPort: 53, protocol: "udp" }],
    });
    expect(both.forwards().map((f) => ("hostIp" in f ? `${f.hostIp}:${f.hostPort}/${f.protocol}` : f.hostPath))).toEqual([
      `127.0.0.1:${port}/tcp`,
      `::1:${port}/tcp`,
      `127.0.0.1:${port}/udp`,
    ]);
  });
});

describe("the JSON handed to gvproxy_create", () => {
  test("fields pass as written: tuples become objects, absent and null fields are left to Go's defaults", () => {
    const json = JSON.parse(
      configJson({
        socketPath,
        protocol: "vfkit",
        portMappings: [[8080, 80], { hostPort: 8443, guestPort: 443, hostIp: "::1" }],
        dnsZones: [{ name: "example.internal.", records: [{ name: "db", ip: "192.168.127.50" }] }],
        subnet: null,
      } as unknown as GvproxyConfig),
    );
    expect(json).toEqual({
      socketPath,
      protocol: "vfkit",
      portMappings: [{ hostPort: 8080, guestPort: 80 }, { hostPort: 8443, guestPort: 443, hostIp: "::1" }],
      dnsZones: [{ name: "example.internal.", records: [{ name: "db", ip: "192.168.127.50" }] }],
    });
  });

  test("values JSON cannot carry are refused naming the field", () => {
    const fn = () => 80;
    expect(expectGvproxyError(() => configJson({ socketPath, portMappings: [[fn, 80]] } as unknown as GvproxyConfig), "INVALID_CONFIG").field).toBe("portMappings[0].hostPort");
    expect(expectGvproxyError(() => configJson({ socketPath, mtu: Symbol("x") } as unknown as GvproxyConfig), "INVALID_CONFIG").field).toBe("mtu");
    expect(expectGvproxyError(() => configJson({ socketPath, debug: fn as unknown as boolean }), "INVALID_CONFIG").field).toBe("debug");
  });

  test("numbers JSON cannot carry go as text, for Go to refuse with the field's range, never as null (the default)", () => {
    expect(JSON.parse(configJson({ socketPath, mtu: Number.NaN, portMappings: [[2n ** 70n, Infinity]] } as unknown as GvproxyConfig))).toMatchObject({
      mtu: "NaN",
      portMappings: [{ hostPort: "1180591620717411303424", guestPort: "Infinity" }],
    });
  });
});
