// Made-up benchmark results for the bench's own tests (chart, goals): one valid run
// whose sections a test fills in, so each test states only the numbers it is about.
import type { BenchResults, ThroughputCell } from "./model.ts";
import { summarize } from "./stats.ts";

/** A run's results: empty sections, a fixed meta, then `parts`. */
export function fixtureResults(parts: Partial<BenchResults> = {}, quick = false): BenchResults {
  return {
    meta: {
      date: "2026-11-28T00:00:00Z",
      command: "make bench",
      quick,
      runs: 3,
      secondsPerRun: 1,
      machine: { cpus: 2, cpuModel: "test", kernel: "6", memoryMiB: 1 },
      versions: { bun: "1", gvisorTapVsock: "v0.8.9", go: "go1" },
    },
    throughput: [],
    latency: [],
    goals: [],
    skipped: [],
    ...parts,
  };
}

/** A single-stream throughput cell with both networks' runs (Gbit/s). */
export function fixtureThroughputCell(direction: ThroughputCell["direction"], mtu: number, ours: number[], gvproxy: number[]): ThroughputCell {
  return { direction, mtu, streams: 1, gbps: { ours: summarize(ours), gvproxy: summarize(gvproxy) }, raw: { ours, gvproxy } };
}
