/**
 * Config validation and serialization (src/config.ts): defaults, every field's checks
 * with the field named in the error, and the JSON handed to gvproxy_create. Pure
 * TypeScript: nothing here loads libgvproxy.
 */
import { describe, expect, test } from "bun:test";
import {
  DEFAULT_GVPROXY_OPTIONS,
  MAX_SOCKET_PATH_BYTES,
  resolveConfig,
  toGoConfigJson,
  type GvproxyConfig,
} from "../../src/config.ts";
import { expectGvproxyError } from "./helpers.ts";

const socketPath = "/tmp/box-1/net.sock";

/** Resolves a config built from `fields`, bypassing the static types like a JS caller could. */
function resolveLoose(fields: Record<string, unknown>) {
  return resolveConfig({ socketPath, ...fields } as unknown as GvproxyConfig);
}

describe("defaults", () => {
  test("a config with only socketPath gets every default of DESIGN.md", () => {
    const resolved = resolveConfig({ socketPath });
    expect(resolved).toEqual({
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
      tlsInterception: undefined,
    });
  });

  test("the exported defaults are the ones applied", () => {
    const resolved = resolveConfig({ socketPath });
    for (const [key, value] of Object.entries(DEFAULT_GVPROXY_OPTIONS)) {
      expect(resolved[key as keyof typeof resolved]).toEqual(value);
    }
  });

  test("a tuple mapping binds 127.0.0.1 over tcp; an object mapping keeps what it sets", () => {
    const resolved = resolveConfig({
      socketPath,
      portMappings: [[8080, 80], { hostPort: 8443, guestPort: 443, hostIp: "0.0.0.0" }, { hostPort: 5353, guestPort: 53, protocol: "udp" }],
    });
    expect(resolved.portMappings).toEqual([
      { hostIp: "127.0.0.1", hostPort: 8080, guestPort: 80, protocol: "tcp" },
      { hostIp: "0.0.0.0", hostPort: 8443, guestPort: 443, protocol: "tcp" },
      { hostIp: "127.0.0.1", hostPort: 5353, guestPort: 53, protocol: "udp" },
    ]);
  });

  test("the host-loopback address is the subnet's broadcast address minus one", () => {
    const resolved = resolveConfig({ socketPath, subnet: "10.0.0.0/16", gatewayIp: "10.0.0.1", guestIp: "10.0.0.2" });
    expect(resolved.hostLoopbackIp).toBe("10.0.255.254");
  });

  test("MACs are normalised to lower case and zone names fully qualified", () => {
    const resolved = resolveConfig({
      socketPath,
      guestMac: "5A:94:EF:E4:0C:01",
      dnsZones: [{ name: "example.internal", records: [{ name: "db", ip: "192.168.127.50" }] }],
    });
    expect(resolved.guestMac).toBe("5a:94:ef:e4:0c:01");
    expect(resolved.dnsZones[0]?.name).toBe("example.internal.");
  });
});

describe("validation names the field at fault", () => {
  const cases: Array<[string, Record<string, unknown>, string, RegExp]> = [
    ["socketPath missing", { socketPath: undefined }, "socketPath", /socketPath must be a non-empty path, got undefined/],
    ["socketPath empty", { socketPath: "" }, "socketPath", /non-empty path/],
    ["socketPath with NUL", { socketPath: "/tmp/a\0b" }, "socketPath", /NUL/],
    ["unknown field", { sockPath: "/x" }, "sockPath", /sockPath is not a known config field/],
    ["protocol", { protocol: "tap" }, "protocol", /protocol must be "qemu" or "vfkit", got "tap"/],
    ["subnet not CIDR", { subnet: "192.168.127.0" }, "subnet", /IPv4 CIDR/],
    ["subnet host bits", { subnet: "192.168.127.5/24" }, "subnet", /network address .* 192\.168\.127\.0\/24/],
    ["subnet too small", { subnet: "192.168.127.0/30" }, "subnet", /prefix length must be 1\.\.29/],
    ["gatewayIp malformed", { gatewayIp: "192.168.127.300" }, "gatewayIp", /IPv4 address/],
    ["gatewayIp leading zero", { gatewayIp: "192.168.127.01" }, "gatewayIp", /IPv4 address/],
    ["gatewayIp outside subnet", { gatewayIp: "10.0.0.1" }, "gatewayIp", /outside subnet 192\.168\.127\.0\/24/],
    ["guestIp network address", { guestIp: "192.168.127.0" }, "guestIp", /network or broadcast/],
    ["guestIp broadcast address", { guestIp: "192.168.127.255" }, "guestIp", /network or broadcast/],
    ["guestIp equals gatewayIp", { guestIp: "192.168.127.1" }, "guestIp", /differ from gatewayIp/],
    ["hostLoopbackIp outside subnet", { hostLoopbackIp: "127.0.0.1" }, "hostLoopbackIp", /outside subnet/],
    ["hostLoopbackIp equals guestIp", { hostLoopbackIp: "192.168.127.2" }, "hostLoopbackIp", /differ/],
    ["hostLoopback not boolean", { hostLoopback: "yes" }, "hostLoopback", /true or false, got "yes"/],
    ["gatewayMac malformed", { gatewayMac: "5a:94:ef:e4:0c" }, "gatewayMac", /MAC address/],
    ["guestMac multicast", { guestMac: "01:00:5e:00:00:01" }, "guestMac", /unicast/],
    ["guestMac equals gatewayMac", { guestMac: "5a:94:ef:e4:0c:dd" }, "guestMac", /differ from gatewayMac/],
    ["mtu fractional", { mtu: 1500.5 }, "mtu", /mtu must be an integer 576\.\.65520, got 1500\.5/],
    ["mtu too small", { mtu: 575 }, "mtu", /got 575/],
    ["mtu too large", { mtu: 65521 }, "mtu", /got 65521/],
    ["mtu string", { mtu: "1500" }, "mtu", /got "1500"/],
    ["portMappings not array", { portMappings: 8080 }, "portMappings", /must be an array/],
    ["mapping fractional hostPort", { portMappings: [[8080, 80], { hostPort: 8.5, guestPort: 80 }] }, "portMappings[1].hostPort", /^portMappings\[1\]\.hostPort must be an integer 0\.\.65535, got 8\.5$/],
    ["mapping tuple guestPort zero", { portMappings: [[8080, 0]] }, "portMappings[0][1]", /got 0/],
    ["mapping tuple too long", { portMappings: [[8080, 80, 1]] }, "portMappings[0]", /\[hostPort, guestPort\]/],
    ["mapping hostPort too large", { portMappings: [{ hostPort: 65536, guestPort: 80 }] }, "portMappings[0].hostPort", /got 65536/],
    ["mapping guestPort missing", { portMappings: [{ hostPort: 8080 }] }, "portMappings[0].guestPort", /got undefined/],
    ["mapping hostIp", { portMappings: [{ hostPort: 8080, guestPort: 80, hostIp: "localhost" }] }, "portMappings[0].hostIp", /IPv4 address/],
    ["mapping protocol", { portMappings: [{ hostPort: 8080, guestPort: 80, protocol: "sctp" }] }, "portMappings[0].protocol", /"tcp" or "udp"/],
    ["mapping unknown field", { portMappings: [{ hostPort: 8080, guestPort: 80, host: "x" }] }, "portMappings[0].host", /not a known config field/],
    ["mapping not an object", { portMappings: ["8080:80"] }, "portMappings[0]", /\[hostPort, guestPort\] or/],
    ["duplicate host port", { portMappings: [[8080, 80], [8080, 81]] }, "portMappings[1].hostPort", /duplicates portMappings\[0\]/],
    ["duplicate via wildcard", { portMappings: [[8080, 80], { hostPort: 8080, guestPort: 81, hostIp: "0.0.0.0" }] }, "portMappings[1].hostPort", /duplicates/],
    ["dnsZones not array", { dnsZones: {} }, "dnsZones", /must be an array/],
    ["dns zone name", { dnsZones: [{ name: "bad name" }] }, "dnsZones[0].name", /DNS name/],
    ["dns record ip", { dnsZones: [{ name: "a.internal", records: [{ name: "db", ip: "x" }] }] }, "dnsZones[0].records[0].ip", /IPv4 address/],
    ["dns record name", { dnsZones: [{ name: "a.internal", records: [{ name: "-db", ip: "192.168.127.9" }] }] }, "dnsZones[0].records[0].name", /DNS name/],
    ["dns zone defaultIp", { dnsZones: [{ name: "a.internal", defaultIp: "1.2.3" }] }, "dnsZones[0].defaultIp", /IPv4 address/],
    ["dns zone unknown field", { dnsZones: [{ name: "a.internal", ttl: 5 }] }, "dnsZones[0].ttl", /not a known config field/],
    ["search domain", { dnsSearchDomains: ["ok.internal", ""] }, "dnsSearchDomains[1]", /DNS name/],
    ["allowNet entry", { allowNet: ["10.0.0.0/8", "10.0.0.0/33"] }, "allowNet[1]", /IPv4 CIDR/],
    ["allowNet not array", { allowNet: "10.0.0.0/8" }, "allowNet", /must be an array of entries/],
    ["allowNet port out of range", { allowNet: ["example.com:70000"] }, "allowNet[0]", /port must be 1\.\.65535/],
    ["allowNet bad name", { allowNet: ["exa mple.com"] }, "allowNet[0]", /DNS name/],
    ["allowNet bad IPv4", { allowNet: ["10.0.0.256"] }, "allowNet[0]", /IPv4 address/],
    ["allowNet empty entry", { allowNet: [""] }, "allowNet[0]", /name, \*\.wildcard, IP or CIDR/],
    ["captureFile empty", { captureFile: "" }, "captureFile", /non-empty file path/],
    ["debug not boolean", { debug: 1 }, "debug", /true or false, got 1/],
  ];

  test.each(cases)("%s", (_name, fields, field, message) => {
    const error = expectGvproxyError(() => resolveLoose(fields), "INVALID_CONFIG");
    expect(error.field).toBe(field);
    expect(error.message).toMatch(message);
  });

  test("allowNet accepts every entry kind: names, wildcards, IPs, CIDRs, IPv6, each with an optional port", () => {
    const allowNet = ["example.com", "*.example.com:443", "203.0.113.7", "10.0.0.0/8:5432", "192.168.127.254:80", "[::1]:53", "[2001:db8::]/32", "db.internal."];
    expect(resolveConfig({ socketPath, allowNet }).allowNet).toEqual(allowNet);
  });

  test("a config that is not an object is refused", () => {
    const error = expectGvproxyError(() => resolveConfig(null as unknown as GvproxyConfig), "INVALID_CONFIG");
    expect(error.field).toBe("config");
  });

  test("a socket path longer than sun_path allows is SOCKET_PATH_TOO_LONG, naming the path", () => {
    const long = `/tmp/${"x".repeat(MAX_SOCKET_PATH_BYTES)}`;
    const error = expectGvproxyError(() => resolveConfig({ socketPath: long }), "SOCKET_PATH_TOO_LONG");
    expect(error.field).toBe("socketPath");
    expect(error.message).toContain(long);
  });

  test("a socket path of exactly the limit is accepted; multi-byte characters count as bytes", () => {
    const exact = `/${"x".repeat(MAX_SOCKET_PATH_BYTES - 1)}`;
    expect(resolveConfig({ socketPath: exact }).socketPath).toBe(exact);
    const wide = `/${"é".repeat(Math.ceil(MAX_SOCKET_PATH_BYTES / 2))}`;
    expectGvproxyError(() => resolveConfig({ socketPath: wide }), "SOCKET_PATH_TOO_LONG");
  });
});

describe("serialization to the Go config JSON", () => {
  test("every field is written with the ABI's names and defaults applied", () => {
    const json = JSON.parse(
      toGoConfigJson(
        resolveConfig({
          socketPath,
          protocol: "vfkit",
          portMappings: [[8080, 80]],
          dnsZones: [{ name: "example.internal.", records: [{ name: "db", ip: "192.168.127.50" }], defaultIp: "192.168.127.51" }],
          dnsSearchDomains: ["example.internal"],
          allowNet: ["10.0.0.0/8"],
          captureFile: "/tmp/x.pcap",
          debug: true,
          secrets: [{ placeholder: "P", value: "v", hosts: ["a.example"] }],
          tlsInterception: { upstreamCaPem: ["pem"] },
        }),
      ),
    );
    expect(json).toEqual({
      socketPath,
      protocol: "vfkit",
      subnet: "192.168.127.0/24",
      gatewayIp: "192.168.127.1",
      guestIp: "192.168.127.2",
      gatewayMac: "5a:94:ef:e4:0c:dd",
      guestMac: "5a:94:ef:e4:0c:ee",
      mtu: 1500,
      portMappings: [{ hostIp: "127.0.0.1", hostPort: 8080, guestPort: 80, protocol: "tcp" }],
      dnsZones: [{ name: "example.internal.", records: [{ name: "db", ip: "192.168.127.50" }], defaultIp: "192.168.127.51" }],
      dnsSearchDomains: ["example.internal"],
      hostLoopback: true,
      hostLoopbackIp: "192.168.127.254",
      hostSockets: [],
      allowNet: ["10.0.0.0/8"],
      captureFile: "/tmp/x.pcap",
      debug: true,
      secrets: [{ placeholder: "P", value: "v", hosts: ["a.example"] }],
      tlsInterception: { upstreamCaPem: ["pem"] },
    });
  });

  test("no capture file is written as the empty string; a zone without default omits defaultIp", () => {
    const json = JSON.parse(toGoConfigJson(resolveConfig({ socketPath, dnsZones: [{ name: "z.internal" }] })));
    expect(json.captureFile).toBe("");
    expect(json.dnsZones).toEqual([{ name: "z.internal.", records: [] }]);
  });
});
