/**
 * Bad input never yields a half-made network: every refusal is a GvproxyError with the
 * documented code and a message naming the culprit (field, path or port), nothing is left
 * behind (no socket file, no bound port), and whatever was at the socket path before
 * (a file, a directory, another program's live socket) is left exactly as it was.
 */
import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { execFileSync } from "node:child_process";
import { existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, readlinkSync, rmdirSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { GvisorTapBackend, GvproxyError, GvproxyInstance, type GvproxyConfig, type GvproxyErrorCode } from "../../src/index.ts";
import { startGuest } from "../../guest/driver.ts";
import { freeTcpPort } from "../support/host-clients.ts";
import { holdInOtherProcess, type HeldResource } from "../support/other-process.ts";
import { makeTempDir, type TempDir } from "../support/paths.ts";
import { bindError, canConnect } from "../unit/helpers.ts";

let tmp: TempDir;
let socketPath: string;
const cleanups: Array<() => unknown> = [];

beforeEach(() => {
  tmp = makeTempDir("gvb-");
  socketPath = tmp.path("net.sock");
});

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  tmp.remove();
});

/** Keeps `network` until the end of the test. */
function keep<T extends { close(): void } | { destroy(): void }>(network: T): T {
  cleanups.push(() => ("close" in network ? network.close() : network.destroy()));
  return network;
}

/** Keeps a resource held by another process until the end of the test. */
function held(resource: HeldResource): HeldResource {
  cleanups.push(() => resource.stop());
  return resource;
}

/** A config of the wrong shape, as JavaScript callers (or JSON files) can pass one. */
function untyped(config: unknown): GvproxyConfig {
  return config as GvproxyConfig;
}

/**
 * Constructs a backend from `config` (socketPath defaults to the test's), expecting a
 * refusal with `code`, whose message contains every string of `mentions`.
 */
function refused(config: Record<string, unknown>, code: GvproxyErrorCode, mentions: readonly string[], field?: string): GvproxyError {
  let thrown: unknown;
  try {
    keep(new GvisorTapBackend(untyped({ socketPath, ...config })));
  } catch (error) {
    thrown = error;
  }
  if (!(thrown instanceof GvproxyError)) {
    throw new Error(`expected GvproxyError ${code} for ${JSON.stringify(config)}, got ${thrown === undefined ? "a working network" : String(thrown)}`);
  }
  // The message is part of the compared object so a wrong code shows what was reported.
  expect({ code: thrown.code, message: thrown.message }).toMatchObject({ code });
  for (const mention of mentions) expect(thrown.message).toContain(mention);
  if (field !== undefined) expect(thrown.field).toBe(field);
  return thrown;
}

/** Nothing was created for a refused config: no socket file at the path. */
function expectNothingCreated(): void {
  expect(existsSync(socketPath)).toBe(false);
}

describe("missing or wrongly typed fields", () => {
  // A JavaScript caller can pass anything; even then the error is a GvproxyError that
  // names what is missing, never a TypeError from inside the library.
  test.each([
    ["no config at all", undefined],
    ["null as config", null],
    ["a string as config", "net.sock"],
    ["an array as config", []],
  ])("%s: INVALID_CONFIG", (_name, config) => {
    let thrown: unknown;
    try {
      keep(new GvisorTapBackend(untyped(config)));
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(GvproxyError);
    expect((thrown as GvproxyError).code).toBe("INVALID_CONFIG");
    expect((thrown as GvproxyError).message).toMatch(/config|socketPath/);
  });

  test.each([
    ["socketPath missing", { socketPath: undefined }, "socketPath", ["socketPath"]],
    ["socketPath a number", { socketPath: 42 }, "socketPath", ["socketPath", "42"]],
    ["socketPath null", { socketPath: null }, "socketPath", ["socketPath", "null"]],
    ["socketPath empty", { socketPath: "" }, "socketPath", ["socketPath"]],
    ["a misspelt option", { portMapping: [[8080, 80]] }, "portMapping", ["portMapping"]],
    ["portMappings a string", { portMappings: "8080:80" }, "portMappings", ["portMappings", "8080:80"]],
    ["a mapping with one port", { portMappings: [[8080]] }, "portMappings[0]", ["portMappings[0]"]],
    ["a mapping without guestPort", { portMappings: [{ hostPort: 8080 }] }, "portMappings[0].guestPort", ["portMappings[0].guestPort"]],
    ["a mapping of null", { portMappings: [null] }, "portMappings[0]", ["portMappings[0]", "null"]],
    ["a mapping protocol sctp", { portMappings: [{ hostPort: 8080, guestPort: 80, protocol: "sctp" }] }, "portMappings[0].protocol", ["sctp"]],
    ["mtu a string", { mtu: "1500" }, "mtu", ["mtu", "1500"]],
    ["subnet a number", { subnet: 24 }, "subnet", ["subnet", "24"]],
    ["hostLoopback a string", { hostLoopback: "yes" }, "hostLoopback", ["hostLoopback", "yes"]],
    ["debug a number", { debug: 1 }, "debug", ["debug"]],
    ["protocol unknown", { protocol: "tcp" }, "protocol", ["protocol", "tcp"]],
    ["dnsZones an object", { dnsZones: {} }, "dnsZones", ["dnsZones"]],
    ["dnsSearchDomains a string", { dnsSearchDomains: "example.internal" }, "dnsSearchDomains", ["dnsSearchDomains"]],
    ["allowNet a string", { allowNet: "10.0.0.0/8" }, "allowNet", ["allowNet"]],
    ["captureFile a boolean", { captureFile: true }, "captureFile", ["captureFile"]],
  ])("%s: INVALID_CONFIG naming the field", (_name, config, field, mentions) => {
    refused(config, "INVALID_CONFIG", mentions, field);
    expectNothingCreated();
  });
});

describe("socket path", () => {
  test("one byte over the sun_path limit: SOCKET_PATH_TOO_LONG naming the path; at the limit it works", () => {
    const limit = process.platform === "linux" ? 107 : 103;
    const atLimit = join(tmp.dir, "s".repeat(limit - tmp.dir.length - 1));
    expect(Buffer.byteLength(atLimit)).toBe(limit);
    const network = keep(new GvisorTapBackend({ socketPath: atLimit }));
    expect(existsSync(network.endpoint().path)).toBe(true);
    network.close();
    const over = `${atLimit}x`;
    socketPath = over;
    const error = refused({}, "SOCKET_PATH_TOO_LONG", [over], "socketPath");
    expect(error.message).toContain(String(limit));
    expect(existsSync(over)).toBe(false);
  });

  test("the limit counts bytes, not characters: 60 two-byte characters are too long", () => {
    socketPath = join(tmp.dir, "é".repeat(60));
    expect(socketPath.length).toBeLessThan(107);
    refused({}, "SOCKET_PATH_TOO_LONG", [socketPath], "socketPath");
  });

  test("a NUL byte: INVALID_CONFIG (the kernel would silently cut the path there)", () => {
    socketPath = join(tmp.dir, "net\0.sock");
    refused({}, "INVALID_CONFIG", ["NUL"], "socketPath");
    expect(readdirSync(tmp.dir)).toEqual([]);
  });

  test("a missing directory: INVALID_CONFIG naming the directory; nothing is created", () => {
    const missing = tmp.path("no/such/dir");
    socketPath = join(missing, "net.sock");
    refused({}, "INVALID_CONFIG", [missing], "socketPath");
    expect(existsSync(tmp.path("no"))).toBe(false);
  });

  test("a 'directory' that is a regular file: INVALID_CONFIG naming it; the file is untouched", () => {
    const file = tmp.path("plain-file");
    writeFileSync(file, "keep me");
    socketPath = join(file, "net.sock");
    refused({}, "INVALID_CONFIG", [file], "socketPath");
    expect(readFileSync(file, "utf8")).toBe("keep me");
  });

  // Root bypasses permission bits, so a mode-0555 directory would prove nothing. sysfs
  // refuses to create sockets for everybody, root included (EPERM; EROFS where /sys is
  // mounted read-only; EACCES for others): an unwritable directory on every Linux.
  test.if(process.platform === "linux")("an unwritable directory (/sys, refused even to root): PERMISSION_DENIED naming the path", () => {
    socketPath = "/sys/gvproxy-hardening.sock";
    refused({}, "PERMISSION_DENIED", [socketPath], "socketPath");
    expectNothingCreated();
  });

  // A read-only tmpfs is the faithful "unwritable directory" (EROFS), but mounting needs
  // CAP_SYS_ADMIN: where it cannot be mounted the test says so and passes vacuously.
  test.if(process.platform === "linux")("a read-only mount (tmpfs -o ro, when mountable): PERMISSION_DENIED naming the path", () => {
    const mountPoint = tmp.path("ro");
    mkdirSync(mountPoint);
    try {
      execFileSync("mount", ["-t", "tmpfs", "-o", "ro,size=64k", "tmpfs", mountPoint], { stdio: "pipe" });
    } catch (error) {
      console.log(`read-only mount unavailable here (${String(error).split("\n")[0]}); covered by the /sys case`);
      return;
    }
    cleanups.push(() => {
      execFileSync("umount", [mountPoint]);
      rmdirSync(mountPoint);
    });
    socketPath = join(mountPoint, "net.sock");
    refused({}, "PERMISSION_DENIED", [socketPath], "socketPath");
    expectNothingCreated();
  });

  test("a regular file at the path: NOT_A_SOCKET; the file keeps its content and mtime", () => {
    writeFileSync(socketPath, "precious data");
    const before = statSync(socketPath);
    refused({}, "NOT_A_SOCKET", [socketPath], "socketPath");
    const after = statSync(socketPath);
    expect(readFileSync(socketPath, "utf8")).toBe("precious data");
    expect([after.ino, after.mtimeMs, after.size]).toEqual([before.ino, before.mtimeMs, before.size]);
  });

  test("a directory at the path: NOT_A_SOCKET; the directory and its contents stay", () => {
    mkdirSync(socketPath);
    writeFileSync(join(socketPath, "inside"), "x");
    refused({}, "NOT_A_SOCKET", [socketPath], "socketPath");
    expect(statSync(socketPath).isDirectory()).toBe(true);
    expect(readdirSync(socketPath)).toEqual(["inside"]);
  });

  test("a symlink at the path (even to nothing): NOT_A_SOCKET; the link stays", () => {
    symlinkSync(tmp.path("nowhere"), socketPath);
    refused({}, "NOT_A_SOCKET", [socketPath], "socketPath");
    expect(lstatSync(socketPath).isSymbolicLink()).toBe(true);
    expect(readlinkSync(socketPath)).toBe(tmp.path("nowhere"));
  });

  test.if(process.platform === "linux")("a FIFO at the path: NOT_A_SOCKET; the FIFO stays", () => {
    execFileSync("mkfifo", [socketPath]);
    refused({}, "NOT_A_SOCKET", [socketPath], "socketPath");
    expect(lstatSync(socketPath).isFIFO()).toBe(true);
  });

  test("another program's live socket: SOCKET_IN_USE; it still accepts connections afterwards", async () => {
    const other = held(await holdInOtherProcess("unix", socketPath));
    refused({}, "SOCKET_IN_USE", [socketPath], "socketPath");
    expect(await canConnect(socketPath)).toBe(true);
    // The probe and the connection above both reached the other program.
    expect(await other.accepted()).toBeGreaterThanOrEqual(1);
  });

  test("another network's live stream socket: SOCKET_IN_USE; the first network still serves its guest", async () => {
    const first = keep(new GvisorTapBackend({ socketPath }));
    refused({}, "SOCKET_IN_USE", [socketPath], "socketPath");
    const guest = await startGuest({ socketPath });
    cleanups.push(() => guest.close());
    expect((await guest.dhcp()).ip).toBe("192.168.127.2");
    expect(first.stats().guest.connected).toBe(true);
  });

  test.if(process.platform === "linux")("another network's live datagram (vfkit) socket: SOCKET_IN_USE for a stream network", () => {
    keep(new GvisorTapBackend({ socketPath, protocol: "vfkit" }));
    refused({ protocol: "qemu" }, "SOCKET_IN_USE", [socketPath], "socketPath");
    expect(lstatSync(socketPath).isSocket()).toBe(true);
  });

  test("a stale socket (its program was killed): replaced by a working network", async () => {
    const other = await holdInOtherProcess("unix", socketPath);
    await other.kill();
    expect(lstatSync(socketPath).isSocket()).toBe(true);
    expect(await canConnect(socketPath)).toBe(false);
    const network = keep(new GvisorTapBackend({ socketPath }));
    const guest = await startGuest({ socketPath });
    cleanups.push(() => guest.close());
    expect((await guest.dhcp()).ip).toBe("192.168.127.2");
    expect(network.stats().guest.connections).toBe(1);
  });
});

describe("addresses", () => {
  test.each([
    ["prefix above 32", "10.0.0.0/33"],
    ["host bits set", "10.0.0.1/24"],
    ["no prefix", "10.0.0.0"],
    ["octet above 255", "300.0.0.0/8"],
    ["too small for gateway, guest and host loopback", "10.0.0.0/30"],
    ["IPv6", "fd00::/64"],
    ["surrounding space", " 10.0.0.0/24"],
    ["empty", ""],
  ])("subnet with %s: INVALID_CONFIG naming subnet and value", (_name, subnet) => {
    // The message quotes the offending value (or its address part).
    refused({ subnet }, "INVALID_CONFIG", ["subnet", `"${subnet.split("/")[0]}`], "subnet");
    expectNothingCreated();
  });

  test.each([
    ["gatewayIp outside the subnet", { gatewayIp: "10.0.0.1" }, "gatewayIp", ["10.0.0.1", "192.168.127.0/24"]],
    ["guestIp outside the subnet", { guestIp: "192.168.128.2" }, "guestIp", ["192.168.128.2", "192.168.127.0/24"]],
    ["guestIp equal to gatewayIp", { guestIp: "192.168.127.1" }, "guestIp", ["192.168.127.1", "gatewayIp"]],
    ["guestIp the network address", { guestIp: "192.168.127.0" }, "guestIp", ["192.168.127.0"]],
    ["guestIp the broadcast address", { guestIp: "192.168.127.255" }, "guestIp", ["192.168.127.255"]],
    ["guestIp with a leading zero", { guestIp: "192.168.127.02" }, "guestIp", ["192.168.127.02"]],
    ["guestIp a name", { guestIp: "localhost" }, "guestIp", ["localhost"]],
    ["hostLoopbackIp equal to guestIp", { hostLoopbackIp: "192.168.127.2" }, "hostLoopbackIp", ["192.168.127.2"]],
    ["hostLoopbackIp outside the subnet", { hostLoopbackIp: "127.0.0.1" }, "hostLoopbackIp", ["127.0.0.1"]],
  ])("%s: INVALID_CONFIG", (_name, config, field, mentions) => {
    refused(config, "INVALID_CONFIG", [field, ...mentions], field);
    expectNothingCreated();
  });

  test.each([
    ["five octets", "5a:94:ef:e4:0c"],
    ["seven octets", "5a:94:ef:e4:0c:ee:ff"],
    ["a non-hex digit", "zz:94:ef:e4:0c:ee"],
    ["dashes", "5a-94-ef-e4-0c-ee"],
    ["no separators", "5a94efe40cee"],
    ["a multicast address", "01:00:5e:00:00:01"],
    ["the broadcast address", "ff:ff:ff:ff:ff:ff"],
    ["empty", ""],
  ])("guestMac with %s: INVALID_CONFIG naming guestMac and the value", (_name, guestMac) => {
    refused({ guestMac }, "INVALID_CONFIG", ["guestMac", JSON.stringify(guestMac)], "guestMac");
    expectNothingCreated();
  });

  test("guestMac equal to gatewayMac in another letter case: INVALID_CONFIG", () => {
    refused({ guestMac: "5A:94:EF:E4:0C:DD" }, "INVALID_CONFIG", ["guestMac", "gatewayMac"], "guestMac");
  });
});

describe("MTU", () => {
  test.each([575, 65521, 0, -1, 1500.5, Number.NaN, Number.POSITIVE_INFINITY, 2 ** 53])("%p: INVALID_CONFIG naming mtu and the range", (mtu) => {
    refused({ mtu }, "INVALID_CONFIG", ["mtu", "576..65520"], "mtu");
    expectNothingCreated();
  });

  test.each([576, 65520])("%p (a bound) is accepted", (mtu) => {
    const network = keep(new GvisorTapBackend({ socketPath, mtu }));
    expect(network.instance.config.mtu).toBe(mtu);
  });
});

describe("port mappings", () => {
  test.each([
    ["65536", 65536],
    ["negative", -1],
    ["fractional", 80.5],
    ["NaN", Number.NaN],
    ["a numeric string", "8080"],
    ["huge", 1e10],
  ])("hostPort %s: INVALID_CONFIG naming the mapping", (_name, hostPort) => {
    // A tuple's ports are named as the mapping fields they are, like every other error about them (ADDRESS_IN_USE too).
    refused({ portMappings: [[hostPort, 80]] }, "INVALID_CONFIG", ["portMappings[0].hostPort", "0..65535"], "portMappings[0].hostPort");
    expectNothingCreated();
  });

  test("hostPort 0 lets the OS pick: two such mappings bind two ports, reported by forwards()", () => {
    const network = keep(new GvisorTapBackend({ socketPath, portMappings: [[0, 80], [0, 81]] }));
    const ports = network.forwards().map((f) => ("hostPort" in f ? f.hostPort : 0));
    expect(ports.every((p) => p > 0)).toBe(true);
    expect(new Set(ports).size).toBe(2);
  });

  test.each([0, 65536, -80, 80.25])("guestPort %p: INVALID_CONFIG naming the mapping", (guestPort) => {
    refused({ portMappings: [{ hostPort: 8080, guestPort }] }, "INVALID_CONFIG", ["portMappings[0].guestPort"], "portMappings[0].guestPort");
  });

  test("the same host port twice: INVALID_CONFIG naming both mappings; the port stays free", async () => {
    // A duplicate needs a number (hostPort 0 never clashes); the config is refused before anything binds.
    const port = await freeTcpPort();
    refused({ portMappings: [[port, 80], [port, 81]] }, "INVALID_CONFIG", ["portMappings[1]", "portMappings[0]", String(port)], "portMappings[1].hostPort");
    expect(await bindError(port)).toBeNull();
  });

  test("a wildcard and a loopback mapping of the same port clash too", async () => {
    // As above: a number, refused before anything binds.
    const port = await freeTcpPort();
    refused(
      { portMappings: [{ hostPort: port, guestPort: 80, hostIp: "0.0.0.0" }, [port, 81]] },
      "INVALID_CONFIG",
      ["portMappings[1]", String(port)],
      "portMappings[1].hostPort",
    );
  });

  test("the same port over TCP and UDP is not a clash", async () => {
    // Picked, then bound: one config must name the same number twice, which 0 cannot say.
    const port = await freeTcpPort();
    const network = keep(
      new GvisorTapBackend({ socketPath, portMappings: [[port, 80], { hostPort: port, guestPort: 80, protocol: "udp" }] }),
    );
    expect(network.instance.config.portMappings).toHaveLength(2);
  });

  test("a TCP port another process holds: ADDRESS_IN_USE naming port and mapping; nothing is left bound", async () => {
    const other = held(await holdInOtherProcess("tcp", 0));
    // Picked, then bound: a create that fails reports no ports, so the first mapping's must be known up front.
    const free = await freeTcpPort();
    refused({ portMappings: [[free, 80], [other.port, 81]] }, "ADDRESS_IN_USE", [String(other.port)], "portMappings[1].hostPort");
    expectNothingCreated();
    expect(await bindError(free)).toBeNull();
    // The other program keeps its port.
    expect(await bindError(other.port)).toBe("EADDRINUSE");
  });

  test("a UDP port another process holds: ADDRESS_IN_USE naming the port", async () => {
    const other = held(await holdInOtherProcess("udp", 0));
    refused({ portMappings: [{ hostPort: other.port, guestPort: 53, protocol: "udp" }] }, "ADDRESS_IN_USE", [String(other.port)], "portMappings[0].hostPort");
    expectNothingCreated();
  });

  test("a hostIp that is not an address of this host: INVALID_CONFIG naming hostIp", () => {
    refused({ portMappings: [{ hostPort: 0, guestPort: 80, hostIp: "203.0.113.7" }] }, "INVALID_CONFIG", ["203.0.113.7"], "portMappings[0].hostIp");
    expectNothingCreated();
  });

  test("a hostIp that is a name: INVALID_CONFIG naming hostIp", () => {
    refused({ portMappings: [{ hostPort: 8080, guestPort: 80, hostIp: "localhost" }] }, "INVALID_CONFIG", ["localhost"], "portMappings[0].hostIp");
  });
});

describe("DNS zones and records", () => {
  const label64 = "a".repeat(64);
  test.each([
    ["a zone name with a space", [{ name: "bad name.internal." }], "dnsZones[0].name"],
    ["an empty zone name", [{ name: "" }], "dnsZones[0].name"],
    ["a label starting with a dash", [{ name: "-bad.internal" }], "dnsZones[0].name"],
    ["a 64-character label", [{ name: `${label64}.internal` }], "dnsZones[0].name"],
    ["a 254-character name", [{ name: `${"abcdefghi.".repeat(25)}abcd` }], "dnsZones[0].name"],
    ["a zone that is a string", ["example.internal."], "dnsZones[0]"],
    ["records that are an object", [{ name: "example.internal.", records: {} }], "dnsZones[0].records"],
    ["a record IP above 255", [{ name: "example.internal.", records: [{ name: "db", ip: "999.1.1.1" }] }], "dnsZones[0].records[0].ip"],
    ["a record without IP", [{ name: "example.internal.", records: [{ name: "db" }] }], "dnsZones[0].records[0].ip"],
    ["a record name with a space", [{ name: "example.internal.", records: [{ name: "d b", ip: "192.168.127.50" }] }], "dnsZones[0].records[0].name"],
    ["an IPv6 record", [{ name: "example.internal.", records: [{ name: "db", ip: "fd00::1" }] }], "dnsZones[0].records[0].ip"],
    ["a malformed defaultIp", [{ name: "example.internal.", defaultIp: "x" }], "dnsZones[0].defaultIp"],
    ["a misspelt zone field", [{ name: "example.internal.", record: [] }], "dnsZones[0].record"],
  ])("%s: INVALID_CONFIG naming the zone field", (_name, dnsZones, field) => {
    refused({ dnsZones }, "INVALID_CONFIG", [field], field);
    expectNothingCreated();
  });

  test.each([
    ["a search domain with a space", { dnsSearchDomains: ["bad domain"] }, "dnsSearchDomains[0]"],
    ["a search domain that is a number", { dnsSearchDomains: [7] }, "dnsSearchDomains[0]"],
    ["an allowNet entry with prefix 33", { allowNet: ["10.0.0.0/33"] }, "allowNet[0]"],
  ])("%s: INVALID_CONFIG naming it", (_name, config, field) => {
    refused(config, "INVALID_CONFIG", [field], field);
  });
});

describe("capture file", () => {
  test("in a missing directory: INVALID_CONFIG naming the directory; no socket is left", () => {
    const dir = tmp.path("no-such-dir");
    refused({ captureFile: join(dir, "cap.pcap") }, "INVALID_CONFIG", [dir], "captureFile");
    expectNothingCreated();
  });

  test("under a regular file: INVALID_CONFIG naming it", () => {
    const file = tmp.path("plain");
    writeFileSync(file, "");
    refused({ captureFile: join(file, "cap.pcap") }, "INVALID_CONFIG", [file], "captureFile");
    expectNothingCreated();
  });

  test("a directory as the capture file: INVALID_CONFIG; the directory stays", () => {
    const dir = tmp.path("a-dir");
    mkdirSync(dir);
    refused({ captureFile: dir }, "INVALID_CONFIG", [dir], "captureFile");
    expect(statSync(dir).isDirectory()).toBe(true);
  });

  test("an empty path: INVALID_CONFIG", () => {
    refused({ captureFile: "" }, "INVALID_CONFIG", ["captureFile"], "captureFile");
  });

  test("a file name longer than NAME_MAX (255 bytes): INVALID_CONFIG naming captureFile; no socket is left", () => {
    const long = tmp.path("c".repeat(300));
    refused({ captureFile: long }, "INVALID_CONFIG", [long], "captureFile");
    expectNothingCreated();
  });

  test.if(process.platform === "linux")("in an unwritable directory (/sys): PERMISSION_DENIED naming the capture file", () => {
    refused({ captureFile: "/sys/gvproxy-hardening.pcap" }, "PERMISSION_DENIED", ["/sys/gvproxy-hardening.pcap"], "captureFile");
    expectNothingCreated();
  });
});

describe("methods after destroy", () => {
  test("every backend method throws DESTROYED naming the socket; close stays idempotent", () => {
    const network = new GvisorTapBackend({ socketPath });
    network.close();
    const calls: Array<[string, () => unknown]> = [
      ["stats", () => network.stats()],
      ["metrics", () => network.metrics()],
      ["endpoint", () => network.endpoint()],
      ["qemuArgs", () => network.qemuArgs()],
      ["instance.stats", () => network.instance.stats()],
    ];
    for (const [name, call] of calls) {
      let thrown: unknown;
      try {
        call();
      } catch (error) {
        thrown = error;
      }
      expect({ name, isGvproxyError: thrown instanceof GvproxyError }).toEqual({ name, isGvproxyError: true });
      expect((thrown as GvproxyError).code).toBe("DESTROYED");
      expect((thrown as GvproxyError).message).toContain(socketPath);
    }
    expect(() => network.close()).not.toThrow();
    expect(() => network.instance.destroy()).not.toThrow();
    expect(existsSync(socketPath)).toBe(false);
  });

  test("a destroyed instance's id is not reused by the next instance", () => {
    const first = new GvproxyInstance(socketPath);
    first.destroy();
    const second = keep(new GvproxyInstance(socketPath));
    expect(second.id).not.toBe(first.id);
    expect(() => first.stats()).toThrow(GvproxyError);
    expect(second.stats().bytesSent).toBe(0);
  });
});
