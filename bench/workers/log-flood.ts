// Log bridge capacity: Go goroutines log records as fast as they can (the library's
// test-only hook gvproxy_test_log_flood) and a counting consola reporter receives them.
// Run by bench/log-bridge.ts in a fresh process; prints one JSON line.
//
//   bun bench/workers/log-flood.ts GOROUTINES PER_GOROUTINE active|timer
//
// "active": JS drains in a loop (the bridge's capacity); "timer": JS sleeps and only the
// library's own unref'd drain timer delivers (what an otherwise idle app gets).
import { createConsola } from "consola";
import { gvproxyLogStats, setGvproxyLogger } from "../../src/index.ts";
import { startLogBridge } from "../../src/logging.ts";
import { loadTestHooks } from "../../test/support/test-hooks.ts";
import { receiveUntil } from "./drain.ts";

const [goroutinesArg, perArg, mode] = process.argv.slice(2);
const goroutines = Number(goroutinesArg ?? 4);
const perGoroutine = Number(perArg ?? 50_000);
const total = goroutines * perGoroutine;

let received = 0;
setGvproxyLogger(createConsola({ level: 3, reporters: [{ log: () => void received++ }] }));
startLogBridge();
const hooks = loadTestHooks();

const baseline = gvproxyLogStats();
const dropped = () => gvproxyLogStats().dropped - baseline.dropped;
const started = performance.now();
if (hooks.gvproxy_test_log_flood(goroutines, perGoroutine) !== 0) throw new Error("gvproxy_test_log_flood refused its arguments");
await receiveUntil(mode, () => received + dropped() >= total);
const seconds = (performance.now() - started) / 1000;
hooks.gvproxy_test_log_flood_wait();
console.log(JSON.stringify({ mode, total, received, dropped: dropped(), seconds, recordsPerSecond: received / seconds }));
process.exit(0);
