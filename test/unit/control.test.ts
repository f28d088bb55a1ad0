/**
 * The live-control arguments and results on the TypeScript side (src/control.ts): what
 * JSON cannot carry is refused before the library is called, and malformed library
 * answers are INTERNAL errors, never a TypeError.
 */
import { describe, expect, test } from "bun:test";
import { jsonArgument } from "../../src/config.ts";
import { forwardSpecJson, parseForward, parseGuestInfo } from "../../src/control.ts";
import { expectGvproxyError } from "./helpers.ts";

describe("arguments", () => {
  test("a [host, guest] tuple becomes a port-mapping object; objects pass as written", () => {
    expect(JSON.parse(forwardSpecJson([0, 80]))).toEqual({ hostPort: 0, guestPort: 80 });
    expect(JSON.parse(forwardSpecJson({ hostPath: "/tmp/a.sock", guestPort: 80 }))).toEqual({ hostPath: "/tmp/a.sock", guestPort: 80 });
  });

  test.each([
    ["a bigint", { hostPort: 1n, guestPort: 80 }],
    ["NaN", { hostPort: Number.NaN, guestPort: 80 }],
    ["a function", { hostPort: 1, guestPort: () => 80 }],
    ["a three-element tuple", [1, 2, 3]],
    ["null", null],
  ])("%s is INVALID_CONFIG naming the argument", (_name, value) => {
    const error = expectGvproxyError(() => forwardSpecJson(value as never), "INVALID_CONFIG");
    expect(error.field).toBe("forward");
  });

  test("a cycle or undefined cannot be sent", () => {
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    expect(expectGvproxyError(() => jsonArgument(cyclic, "dnsZones"), "INVALID_CONFIG").field).toBe("dnsZones");
    expect(expectGvproxyError(() => jsonArgument(undefined, "allowNet"), "INVALID_CONFIG").message).toContain("allowNet is required");
  });
});

describe("results", () => {
  test("forwards and guest info are checked", () => {
    expect(parseForward({ hostIp: "127.0.0.1", hostPort: 8080, guestPort: 80, protocol: "udp" })).toEqual({
      hostIp: "127.0.0.1",
      hostPort: 8080,
      guestPort: 80,
      protocol: "udp",
    });
    expect(parseForward({ hostPath: "/tmp/a.sock", guestPort: 80, protocol: "tcp" })).toEqual({ hostPath: "/tmp/a.sock", guestPort: 80, protocol: "tcp" });
    expect(parseGuestInfo({ connected: false, macAddress: "5a:94:ef:e4:0c:ee", connections: 0 })).toEqual({
      connected: false,
      macAddress: "5a:94:ef:e4:0c:ee",
      connections: 0,
    });
    for (const bad of [null, {}, { guestPort: 80, hostPort: 1, hostIp: "x", protocol: "sctp" }]) {
      expectGvproxyError(() => parseForward(bad), "INTERNAL");
    }
    expectGvproxyError(() => parseGuestInfo({ connected: "yes" }), "INTERNAL");
  });
});
