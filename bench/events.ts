// The event stream under load: events per second delivered from Go to a `connection`
// listener while a Go goroutine floods the queue (the pump run in a loop, or the
// library's timer alone), and what a `connection` listener costs a bulk transfer through
// the NAT (paired runs with and without one).
import { floodRuns, type DrainMode, type FloodCounts } from "./floods.ts";
import type { EventStream } from "./model.ts";
import { interleaved, type Plan } from "./plan.ts";
import { BUN_BIN, REPO_ROOT, runJson } from "./processes.ts";
import { pairedRatio, summarize } from "./stats.ts";
import { cpuPerByte, type MeasuredTransfer, withTestbed } from "./testbed.ts";
import { TEST_LIBRARY_ENV } from "../test/support/test-hooks.ts";

const MTU = 1500;
const FLOOD_WORKER = `${REPO_ROOT}/bench/workers/event-flood.ts`;

interface FloodResult extends FloodCounts {
  eventsPerSecond: number;
}

function flood(plan: Plan, mode: DrainMode): Promise<FloodResult> {
  return runJson<FloodResult>([BUN_BIN, FLOOD_WORKER, String(plan.quick ? 100_000 : 400_000), mode], TEST_LIBRARY_ENV);
}

/** Guest -> NAT -> host sink, sized to take about `seconds` at 1 Gbit/s. */
function guestToHost(listener: boolean, seconds: number): Promise<MeasuredTransfer> {
  return withTestbed("ours", MTU, { connectionListener: listener }, (t) => t.guestToHost(1, seconds * 125e6));
}

export async function measureEventStream(plan: Plan, log: (line: string) => void): Promise<EventStream> {
  const floods = await floodRuns(plan, "event", (mode) => flood(plan, mode), (r) => `${Math.round(r.eventsPerSecond)} events/s delivered`, log);
  const withListener: MeasuredTransfer[] = [];
  const without: MeasuredTransfer[] = [];
  for (let run = 0; run < plan.runs; run++) {
    for (const listener of interleaved(run, true, false)) {
      const t = await guestToHost(listener, plan.seconds);
      (listener ? withListener : without).push(t);
      log(`listener cost run ${run + 1}/${plan.runs} ${listener ? "with" : "without"} a connection listener: ${t.gbps.toFixed(3)} Gbit/s, ${(cpuPerByte(t) * 1e9).toFixed(2)} CPU s/GB`);
    }
  }
  return {
    eventsPerSecond: summarize(floods.active.map((r) => r.eventsPerSecond)),
    eventsPerSecondTimerOnly: summarize(floods.timer.map((r) => r.eventsPerSecond)),
    listenerThroughput: pairedRatio(withListener.map((t) => t.gbps), without.map((t) => t.gbps)),
    listenerCpuPerByte: pairedRatio(withListener.map(cpuPerByte), without.map(cpuPerByte)),
  };
}
