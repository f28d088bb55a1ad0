// The log bridge under load: records per second delivered from Go to a counting consola
// reporter while Go goroutines flood the queue (drained actively, or by the library's
// timer alone), and what logging costs in throughput (log level debug vs info for ours;
// gvisor-tap-vsock's per-frame logging on vs off for both).
import { floodRuns, type DrainMode, type FloodCounts } from "./floods.ts";
import type { LogBridge, NetworkName } from "./model.ts";
import type { NetworkOptions } from "./networks.ts";
import { interleaved, type Plan } from "./plan.ts";
import { pairedRatio, summarize } from "./stats.ts";
import { cpuPerByte, type MeasuredTransfer, withTestbed } from "./testbed.ts";
import { BUN_BIN, REPO_ROOT, runJson } from "./processes.ts";
import { TEST_LIBRARY_ENV } from "../test/support/test-hooks.ts";

const MTU = 1500;
const FLOOD_WORKER = `${REPO_ROOT}/bench/workers/log-flood.ts`;
const FLOOD_GOROUTINES = 4;
type Extra = Omit<NetworkOptions, "mtu" | "forwards">;

function hostToGuest(kind: NetworkName, extra: Extra, seconds: number): Promise<MeasuredTransfer> {
  return withTestbed(kind, MTU, extra, (t) => t.hostToGuest(1, seconds));
}

interface FloodResult extends FloodCounts {
  recordsPerSecond: number;
}

/** One flood of log records in a fresh process, drained actively or by the timer alone. */
function flood(plan: Plan, mode: DrainMode): Promise<FloodResult> {
  const perGoroutine = plan.quick ? 25_000 : 100_000;
  return runJson<FloodResult>([BUN_BIN, FLOOD_WORKER, String(FLOOD_GOROUTINES), String(perGoroutine), mode], TEST_LIBRARY_ENV);
}

/**
 * Pairs of (with, without) runs, order alternating: throughput with / without, and the
 * network process's CPU per byte with / without, per pair.
 */
async function pairedCost(plan: Plan, kind: NetworkName, on: Extra, log: (l: string) => void, what: string) {
  const withOn: MeasuredTransfer[] = [];
  const withOff: MeasuredTransfer[] = [];
  for (let run = 0; run < plan.runs; run++) {
    for (const enabled of interleaved(run, true, false)) {
      const t = await hostToGuest(kind, enabled ? on : {}, plan.seconds);
      (enabled ? withOn : withOff).push(t);
      log(`log cost run ${run + 1}/${plan.runs} ${kind} ${what} ${enabled ? "on" : "off"}: ${t.gbps.toFixed(3)} Gbit/s, ${(cpuPerByte(t) * 1e9).toFixed(2)} CPU s/GB`);
    }
  }
  return {
    throughput: pairedRatio(withOn.map((t) => t.gbps), withOff.map((t) => t.gbps)),
    cpuPerByte: pairedRatio(withOn.map(cpuPerByte), withOff.map(cpuPerByte)),
  };
}

export async function measureLogBridge(plan: Plan, log: (line: string) => void): Promise<LogBridge> {
  const floods = await floodRuns(plan, "log", (mode) => flood(plan, mode), (r) => `${Math.round(r.recordsPerSecond)} records/s delivered`, log);
  return {
    recordsPerSecond: summarize(floods.active.map((r) => r.recordsPerSecond)),
    recordsPerSecondTimerOnly: summarize(floods.timer.map((r) => r.recordsPerSecond)),
    droppedFraction: summarize(floods.active.map((r) => r.dropped / (r.received + r.dropped))),
    droppedFractionTimerOnly: summarize(floods.timer.map((r) => r.dropped / (r.received + r.dropped))),
    debug: await pairedCost(plan, "ours", { debugLogging: true }, log, "log level debug"),
    frameLogging: {
      ours: await pairedCost(plan, "ours", { frameLogging: true }, log, "frame logging"),
      gvproxy: await pairedCost(plan, "gvproxy", { frameLogging: true }, log, "frame logging"),
    },
  };
}
