/**
 * The log bridge (src/logging.ts): the batch layout of docs/ABI.md, the level mapping,
 * and real records from libgvproxy arriving at a caller's consola reporter under the tag
 * `gvproxy`, including those of an instance destroyed right after creation.
 */
import { afterEach, beforeEach, describe, expect, spyOn, test } from "bun:test";
import { consola, createConsola, type ConsolaInstance, type LogObject } from "consola";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { GvproxyInstance, gvproxyLogStats, setGvproxyLogger } from "../../src/index.ts";
import { ptr } from "bun:ffi";
import type { GvproxySymbols } from "../../src/ffi.ts";
import { decodeLogBatch, goLevelFor, repairSignals } from "../../src/logging.ts";
import { makeTempDir } from "./helpers.ts";

/** Packs records the way libgvproxy does (docs/ABI.md "Log record layout"). */
function packBatch(records: Array<{ level: number; source: number; instanceId: number; timeMs: number; message: string }>): ArrayBuffer {
  const encoded = records.map((r) => ({ ...r, bytes: new TextEncoder().encode(r.message) }));
  const buffer = new ArrayBuffer(encoded.reduce((n, r) => n + 24 + r.bytes.length, 0));
  const view = new DataView(buffer);
  let offset = 0;
  for (const r of encoded) {
    view.setUint32(offset, r.bytes.length, true);
    view.setUint8(offset + 4, r.level);
    view.setUint8(offset + 5, r.source);
    view.setUint32(offset + 8, r.instanceId, true);
    view.setFloat64(offset + 16, r.timeMs, true);
    new Uint8Array(buffer, offset + 24, r.bytes.length).set(r.bytes);
    offset += 24 + r.bytes.length;
  }
  return buffer;
}

describe("decodeLogBatch", () => {
  test("reads every header field and the UTF-8 message of records packed back to back", () => {
    const input = [
      { level: 0, source: 0, instanceId: 0, timeMs: 1700000000000.25, message: "trace from libgvproxy" },
      { level: 3, source: 1, instanceId: 7, timeMs: 1700000000001.5, message: "réseau ⚡ key=value" },
      { level: 4, source: 3, instanceId: 4294967295, timeMs: 1, message: "" },
      { level: 2, source: 2, instanceId: 1, timeMs: 2, message: "from log" },
    ];
    expect(decodeLogBatch(packBatch(input), input.length)).toEqual([
      { level: "trace", source: "libgvproxy", instanceId: 0, timeMs: 1700000000000.25, message: "trace from libgvproxy" },
      { level: "warn", source: "logrus", instanceId: 7, timeMs: 1700000000001.5, message: "réseau ⚡ key=value" },
      { level: "error", source: "gvisor", instanceId: 4294967295, timeMs: 1, message: "" },
      { level: "info", source: "log", instanceId: 1, timeMs: 2, message: "from log" },
    ]);
  });

  test("stops at count and never reads past the buffer", () => {
    const batch = packBatch([
      { level: 2, source: 0, instanceId: 1, timeMs: 1, message: "one" },
      { level: 2, source: 0, instanceId: 1, timeMs: 2, message: "two" },
    ]);
    expect(decodeLogBatch(batch, 1).map((r) => r.message)).toEqual(["one"]);
    expect(decodeLogBatch(batch.slice(0, batch.byteLength - 2), 2).map((r) => r.message)).toEqual(["one", "t"]);
  });

  test("strings are copies that survive the batch memory being overwritten", () => {
    const batch = packBatch([{ level: 2, source: 0, instanceId: 1, timeMs: 1, message: "keep me" }]);
    const [record] = decodeLogBatch(batch, 1);
    new Uint8Array(batch).fill(0x41);
    expect(record?.message).toBe("keep me");
  });
});

test("consola levels map to the Go-side filter", () => {
  expect([5, 4, 3, 2, 1, 0, Number.NEGATIVE_INFINITY, Number.POSITIVE_INFINITY].map(goLevelFor)).toEqual([0, 1, 2, 3, 3, 4, 5, 0]);
});

describe("records from libgvproxy", () => {
  let temp: ReturnType<typeof makeTempDir>;
  let received: LogObject[];

  function useReporter(level: number): ConsolaInstance {
    const logger = createConsola({ level, reporters: [{ log: (entry) => received.push(entry) }] });
    setGvproxyLogger(logger);
    return logger;
  }

  function recordsOf(id: number): LogObject[] {
    return received.filter((entry) => entry.instanceId === id);
  }

  beforeEach(() => {
    temp = makeTempDir();
    received = [];
  });

  afterEach(() => {
    setGvproxyLogger(consola);
    temp.remove();
  });

  test("a failed signal repair is logged as a warning, not thrown", () => {
    useReporter(3);
    const envelope = Buffer.from(`${JSON.stringify({ ok: false, error: { code: "INTERNAL", message: "sigaction failed" } })}\0`);
    const freed: unknown[] = [];
    const symbols = {
      gvproxy_signals_repair: () => ptr(envelope),
      gvproxy_free: (pointer: unknown) => void freed.push(pointer),
    } as unknown as GvproxySymbols;
    expect(() => repairSignals(symbols)).not.toThrow();
    expect(freed).toHaveLength(1);
    const warnings = received.filter((entry) => entry.type === "warn").map((entry) => String(entry.args[0]));
    expect(warnings.some((line) => line.includes("signal dispositions") && line.includes("sigaction failed"))).toBe(true);
  });

  test("arrive at a caller's consola reporter, tagged gvproxy, with the instance id and time", () => {
    useReporter(3);
    const socketPath = join(temp.dir, "net.sock");
    const before = Date.now();
    const instance = new GvproxyInstance(socketPath);
    instance.destroy();
    const mine = recordsOf(instance.id);
    expect(mine.length).toBeGreaterThan(0);
    for (const entry of mine) {
      expect(entry.tag).toBe("gvproxy");
      expect(["trace", "debug", "info", "warn", "error"]).toContain(entry.type);
      expect(entry.date.getTime()).toBeGreaterThanOrEqual(before - 1000);
    }
    expect(mine.some((entry) => String(entry.args[0]).includes(socketPath))).toBe(true);
  });

  test("of an instance destroyed right after creation are all delivered before destroy returns", () => {
    useReporter(3);
    const socketPath = join(temp.dir, "net.sock");
    const instance = new GvproxyInstance(socketPath);
    const afterCreate = recordsOf(instance.id).length;
    instance.destroy();
    // No await: destroy() itself drained the queue.
    expect(recordsOf(instance.id).length).toBeGreaterThan(afterCreate);
    expect(gvproxyLogStats().queued).toBe(0);
  });

  test("below the logger's level are discarded on the Go side, not queued", () => {
    useReporter(1); // warn
    const delivered = gvproxyLogStats().delivered;
    new GvproxyInstance(join(temp.dir, "quiet.sock")).destroy();
    expect(gvproxyLogStats().delivered).toBe(delivered);
    expect(received.filter((entry) => entry.type === "info")).toEqual([]);
  });

  test("a reporter that throws neither breaks create/destroy nor loses the records after it", async () => {
    let calls = 0;
    setGvproxyLogger(
      createConsola({
        level: 3,
        reporters: [
          {
            log: (entry) => {
              calls++;
              if (calls === 1) throw new Error("reporter broke");
              received.push(entry);
            },
          },
        ],
      }),
    );
    const stderr = spyOn(console, "error").mockImplementation(() => {});
    try {
      const socketPath = join(temp.dir, "net.sock");
      const instance = new GvproxyInstance(socketPath);
      expect(existsSync(socketPath)).toBe(true);
      instance.destroy();
      expect(existsSync(socketPath)).toBe(false);
      expect(stderr).toHaveBeenCalledTimes(1);
      expect(String(stderr.mock.calls[0]?.[0])).toContain("log reporter threw");
      expect(recordsOf(instance.id).length).toBe(calls - 1);
      expect(calls).toBeGreaterThan(1);
    } finally {
      stderr.mockRestore();
    }
  });
});
