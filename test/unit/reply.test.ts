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
  const good = { id: 7, socketPath: "/tmp/x.sock", protocol: "qemu", connectionType: "unix-stream" };

  test("a well-formed reply is adopted and nothing is destroyed", () => {
    const destroyed: number[] = [];
    expect(parseCreateReply(good, (id) => destroyed.push(id))).toEqual({ id: 7, protocol: "qemu", connectionType: "unix-stream" });
    expect(destroyed).toEqual([]);
  });

  test.each([
    ["an unknown protocol", { ...good, protocol: "tap" }, /create\.protocol is "tap"/],
    ["a missing connection type", { ...good, connectionType: undefined }, /create\.connectionType is undefined/],
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
