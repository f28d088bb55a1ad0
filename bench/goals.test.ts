import { describe, expect, test } from "bun:test";
import { checkGoals } from "./goals.ts";
import type { BenchResults, ThroughputCell } from "./model.ts";
import { pairedRatio, summarize } from "./stats.ts";

function results(parts: Partial<BenchResults>): BenchResults {
  return {
    meta: {
      date: "2026-11-28T00:00:00Z",
      command: "make bench",
      quick: false,
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

function cell(mtu: number, ours: number[], gvproxy: number[]): ThroughputCell {
  return {
    direction: "host-to-guest",
    mtu,
    streams: 1,
    gbps: { ours: summarize(ours), gvproxy: summarize(gvproxy) },
    ratio: pairedRatio(ours, gvproxy),
    raw: { ours, gvproxy },
  };
}

const byGoal = (r: BenchResults) => new Map(checkGoals(r).map((g) => [g.goal, g]));

describe("checkGoals", () => {
  test("asks for 1x gvproxy at MTU 1500 but 2x at MTU 65520", () => {
    const goals = byGoal(results({ throughput: [cell(1500, [2, 2, 2], [1.9, 1.9, 1.9]), cell(65520, [6, 6, 6], [4, 4, 4])] }));
    expect(goals.get("ours / gvproxy, host-to-guest, MTU 1500, 1 stream(s)")?.met).toBe(true);
    const big = goals.get("ours / gvproxy, host-to-guest, MTU 65520, 1 stream(s)")!;
    expect(big.met).toBe(false);
    expect(big.distance).toBe("needs 1.33x more");
  });

  test("checks absolute throughput against 1.5 and 5 Gbit/s on the single-stream cells", () => {
    const goals = byGoal(results({ throughput: [cell(1500, [1.6, 1.6, 1.6], [1, 1, 1]), cell(65520, [2.5, 2.5, 2.5], [1, 1, 1])] }));
    expect(goals.get("throughput, host-to-guest, MTU 1500, 1 stream(s)")?.met).toBe(true);
    const big = goals.get("throughput, host-to-guest, MTU 65520, 1 stream(s)")!;
    expect(big.met).toBe(false);
    expect(big.distance).toBe("needs 2.00x more");
  });

  test("an upper limit is met at or below it and reports how far over otherwise", () => {
    const controlPlane = (p50: number) => ({
      loadMs: summarize([10]),
      createDestroyMs: { n: 1, p50, p90: p50, p99: p50, max: p50, mean: p50 },
      statsCallUs: { n: 1, p50: 1, p90: 1, p99: 1, max: 1, mean: 1 },
      rssPerInstanceMiB: [{ instances: 100, perInstanceMiB: 6, totalMiB: 600, baselineMiB: 60 }],
    });
    expect(byGoal(results({ controlPlane: controlPlane(5) })).get("create+destroy p50")?.met).toBe(true);
    const slow = byGoal(results({ controlPlane: controlPlane(12.5) }));
    expect(slow.get("create+destroy p50")?.distance).toBe("2.50x over");
    expect(slow.get("RSS per idle instance (100 instances)")?.met).toBe(false);
  });

  test("no measurements, no goals: nothing is claimed for what did not run", () => {
    expect(checkGoals(results({}))).toEqual([]);
  });
});
