/**
 * Envelope values in another shape than docs/ABI.md says are INTERNAL errors naming the
 * field, never TypeErrors; a create reply in the wrong shape destroys the network Go made.
 */
import { describe, expect, test } from "bun:test";
import { parseCreateReply } from "../../src/instance.ts";
import { replyChoice, replyCount, replyFlag, replyRecord, replyText } from "../../src/reply.ts";
import { expectGvproxyError } from "./helpers.ts";

describe("reply field checks", () => {
  test.each([
    ["a record", () => replyRecord([], "stats"), /stats is \[\]/],
    ["a record (null)", () => replyRecord(null, "version"), /version is null/],
    ["a count", () => replyCount(-1, "logStats.queued"), /logStats\.queued is -1/],
    ["a count (string)", () => replyCount("3", "logStats.dropped"), /logStats\.dropped is "3"/],
    ["a flag", () => replyFlag(1, "stats.guest.connected"), /stats\.guest\.connected is 1/],
    ["a text", () => replyText(undefined, "version.go"), /version\.go is undefined/],
    ["a choice", () => replyChoice("tcp", ["qemu", "vfkit"], "create.protocol"), /create\.protocol is "tcp"/],
  ])("%s in the wrong shape is INTERNAL naming the field", (_name, check, message) => {
    const error = expectGvproxyError(check, "INTERNAL");
    expect(error.message).toMatch(message);
    expect(error.message).toContain("make lib");
  });

  test("values in the right shape pass through", () => {
    expect(replyRecord({ a: 1 }, "x")).toEqual({ a: 1 });
    expect(replyCount(0, "x")).toBe(0);
    expect(replyFlag(false, "x")).toBe(false);
    expect(replyText("", "x")).toBe("");
    expect(replyChoice("vfkit", ["qemu", "vfkit"], "x")).toBe("vfkit");
  });
});

describe("the create reply", () => {
  const config = {
    socketPath: "/tmp/x.sock",
    protocol: "qemu" as const,
    subnet: "10.0.0.0/24",
    gatewayIp: "10.0.0.1",
    guestIp: "10.0.0.2",
    gatewayMac: "5a:94:ef:e4:0c:dd",
    guestMac: "5a:94:ef:e4:0c:ee",
    mtu: 1500,
    portMappings: [{ hostIp: "::1", hostPort: 40000, guestPort: 80, protocol: "tcp" as const }],
    dnsZones: [{ name: "box.internal.", records: [{ name: "db", ip: "10.0.0.50" }], defaultIp: "10.0.0.51" }],
    dnsSearchDomains: [],
    hostLoopback: true,
    hostLoopbackIp: "10.0.0.254",
    allowNet: "none" as const,
    hostSockets: [{ port: 5000, path: "/run/agent.sock" }],
    debug: false,
    secrets: [{ placeholder: "GVP_KEY", hosts: ["api.example.com"] }],
  };
  const good = { id: 7, socketPath: "/tmp/x.sock", protocol: "qemu", connectionType: "unix-stream", config };

  test("a well-formed reply is adopted and nothing is destroyed", () => {
    const destroyed: number[] = [];
    expect(parseCreateReply(good, (id) => destroyed.push(id))).toEqual({ id: 7, protocol: "qemu", connectionType: "unix-stream", config: { ...config, captureFile: undefined } });
    expect(parseCreateReply({ ...good, config: { ...config, captureFile: "/tmp/x.pcap" } }, () => {}).config.captureFile).toBe("/tmp/x.pcap");
    expect(destroyed).toEqual([]);
  });

  test.each([
    ["an unknown protocol", { ...good, protocol: "tap" }, /create\.protocol is "tap"/],
    ["a missing connection type", { ...good, connectionType: undefined }, /create\.connectionType is undefined/],
    ["no config", { ...good, config: undefined }, /create\.config is undefined/],
    ["a config with a string mtu", { ...good, config: { ...config, mtu: "1500" } }, /create\.config\.mtu is "1500"/],
    ["a config mapping without a port", { ...good, config: { ...config, portMappings: [{ hostIp: "::1", guestPort: 80, protocol: "tcp" }] } }, /create\.config\.portMappings\[0\]\.hostPort is undefined/],
    ["a config zone record without an ip", { ...good, config: { ...config, dnsZones: [{ name: "z.", records: [{ name: "db" }] }] } }, /create\.config\.dnsZones\[0\]\.records\[0\]\.ip is undefined/],
    ["a config allowNet of another string", { ...good, config: { ...config, allowNet: "all" } }, /create\.config\.allowNet is "all"/],
  ])("%s: INTERNAL, and the instance Go created is destroyed, not leaked", (_name, reply, message) => {
    const destroyed: number[] = [];
    expect(expectGvproxyError(() => parseCreateReply(reply, (id) => destroyed.push(id)), "INTERNAL").message).toMatch(message);
    expect(destroyed).toEqual([7]);
  });

  test.each([
    ["no id", { ...good, id: undefined }],
    ["a fractional id", { ...good, id: 1.5 }],
    ["a zero id", { ...good, id: 0 }],
    ["not an object", "7"],
  ])("%s: INTERNAL naming the field; there is no handle to destroy", (_name, reply) => {
    const destroyed: number[] = [];
    expect(expectGvproxyError(() => parseCreateReply(reply, (id) => destroyed.push(id)), "INTERNAL").message).toMatch(/create/);
    expect(destroyed).toEqual([]);
  });

  test("when destroying the malformed instance fails too, both failures are reported", () => {
    const error = expectGvproxyError(
      () =>
        parseCreateReply({ ...good, protocol: 3 }, () => {
          throw new Error("boom");
        }),
      "INTERNAL",
    );
    expect(error.message).toMatch(/create\.protocol is 3.*; destroying instance 7 failed too/);
    expect((error.cause as Error).message).toBe("boom");
  });
});
