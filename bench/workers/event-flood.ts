// Event stream capacity: a Go goroutine records synthetic NAT connections as fast as it
// can (the library's test-only hook gvproxy_test_event_flood; an open and a close event
// each) and a `connection` listener counts what it receives through the pump.
// Run by bench/events.ts in a fresh process; prints one JSON line.
//
//   bun bench/workers/event-flood.ts FLOWS active|timer
//
// "active": JS runs the pump in a loop (the stream's capacity); "timer": JS sleeps and
// only the library's own unref'd drain timer delivers.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createConsola } from "consola";
import { GvisorTapBackend, setGvproxyLogger } from "../../src/index.ts";
import { loadTestHooks } from "../../test/support/test-hooks.ts";
import { receiveUntil } from "./drain.ts";

const [flowsArg, mode] = process.argv.slice(2);
const flows = Number(flowsArg ?? 100_000);
const total = 2 * flows;

// stdout carries only the result line.
setGvproxyLogger(createConsola({ stdout: process.stderr, stderr: process.stderr }));
const dir = mkdtempSync(join(tmpdir(), "gvev-"));
const backend = new GvisorTapBackend({ socketPath: join(dir, "net.sock") });
let received = 0;
backend.on("connection", () => void received++);
const hooks = loadTestHooks();

const dropped = () => backend.stats().events.dropped;
const started = performance.now();
if (hooks.gvproxy_test_event_flood(backend.instance.id, flows) !== 0) throw new Error("gvproxy_test_event_flood refused its arguments");
await receiveUntil(mode, () => received + dropped() >= total);
const seconds = (performance.now() - started) / 1000;
hooks.gvproxy_test_event_flood_wait();
console.log(JSON.stringify({ mode, total, received, dropped: dropped(), seconds, eventsPerSecond: received / seconds }));
backend.close();
rmSync(dir, { recursive: true, force: true });
process.exit(0);
