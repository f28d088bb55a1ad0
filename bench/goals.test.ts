import { describe, expect, test } from "bun:test";
import { checkGoals } from "./goals.ts";
import type { BenchResults, KernelCell, KernelLatencyCell, ThroughputCell } from "./model.ts";
import { fixtureResults, fixtureThroughputCell } from "./results-fixture.ts";
import { pairedRatio, summarize } from "./stats.ts";

const results = (parts: Partial<BenchResults>) => fixtureResults(parts);

/** A host-to-guest cell with its paired ratio, as run.ts records it. */
function cell(mtu: number, ours: number[], gvproxy: number[]): ThroughputCell {
  return { ...fixtureThroughputCell("host-to-guest", mtu, ours, gvproxy), ratio: pairedRatio(ours, gvproxy) };
}

const byGoal = (r: BenchResults) => new Map(checkGoals(r).map((g) => [g.goal, g]));

describe("checkGoals", () => {
  // Each throughput goal on the single-stream cells: met at MTU 1500, missed at 65520 by the distance given
  // (at1500, at65520: ours and gvproxy Gbit/s, three equal runs each).
  test.each([
    { what: "asks for 1x gvproxy at MTU 1500 but 2x at MTU 65520", goal: "ours / gvproxy", at1500: [2, 1.9] as const, at65520: [6, 4] as const, distance: "needs 1.33x more" },
    { what: "checks absolute throughput against 1.5 and 5 Gbit/s on the single-stream cells", goal: "throughput", at1500: [1.6, 1] as const, at65520: [2.5, 1] as const, distance: "needs 2.00x more" },
  ])("$what", ({ goal, at1500, at65520, distance }) => {
    const threeRuns = (mtu: number, [ours, gvproxy]: readonly [number, number]) => cell(mtu, [ours, ours, ours], [gvproxy, gvproxy, gvproxy]);
    const goals = byGoal(results({ throughput: [threeRuns(1500, at1500), threeRuns(65520, at65520)] }));
    expect(goals.get(`${goal}, host-to-guest, MTU 1500, 1 stream(s)`)?.met).toBe(true);
    const big = goals.get(`${goal}, host-to-guest, MTU 65520, 1 stream(s)`)!;
    expect(big.met).toBe(false);
    expect(big.distance).toBe(distance);
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

  test("kernel guest: network CPU per GB (2.0 at MTU 1500, 0.8 at 65520), 3x gvproxy at 1500, RR at half gvproxy's p50 and 100 µs, UDP 2x", () => {
    const side = (gbps: number, cpu: number) => ({ gbps: summarize([gbps]), networkCpuPerGB: summarize([cpu]), relayCpuPerGB: summarize([1]) });
    const kcell = (mtu: number, cpu: number, ratio: number): KernelCell => ({ direction: "guest-to-host", mtu, streams: 1, ours: side(ratio, cpu), gvproxy: side(1, 9), ratio: summarize([ratio]), runs: 1 });
    const latency = (kind: "rr" | "crr", ours: number, gvproxy: number): KernelLatencyCell => {
      const res = (p50: number) => ({ p50Us: summarize([p50]), p99Us: summarize([p50 * 2]), rate: summarize([1e6 / p50]), errors: 0 });
      return { path: "nat", kind, size: 64, ours: res(ours), gvproxy: res(gvproxy), p50Ratio: pairedRatio([gvproxy], [ours]), runs: 1 };
    };
    const goals = byGoal(
      results({
        kernelGuest: {
          cells: [kcell(1500, 2.5, 3.3), kcell(65520, 0.6, 2)],
          ceilings: [],
          latency: [latency("rr", 120, 300), latency("crr", 600, 900)],
          udp: [{ size: 64, direction: "guest-to-host", ours: { gbps: summarize([0.1]), pps: summarize([1]) }, gvproxy: { gbps: summarize([0.04]), pps: summarize([1]) }, ratio: summarize([2.5]), runs: 1 }],
        },
      }),
    );
    expect(goals.get("network CPU, kernel guest, guest-to-host, MTU 1500, 1 stream(s)")?.distance).toBe("1.25x over");
    expect(goals.get("network CPU, kernel guest, guest-to-host, MTU 65520, 1 stream(s)")?.met).toBe(true);
    expect(goals.get("ours / gvproxy, kernel guest, guest-to-host, MTU 1500, 1 stream(s)")?.met).toBe(true);
    expect(goals.get("kernel guest, RR via nat: gvproxy p50 / ours p50")?.met).toBe(true);
    expect(goals.get("kernel guest, RR p50 via nat")?.distance).toBe("1.20x over");
    expect(goals.get("kernel guest, connect+request+close via nat: gvproxy p50 / ours p50")?.distance).toBe("needs 1.33x more");
    expect(goals.get("kernel guest, UDP 64 B guest-to-host: ours / gvproxy highest rate")?.met).toBe(true);
  });

  test("interception: the download at half the passed-through rate or better, at most 1 ms added to a request's p50", () => {
    const both = (intercepted: number, passthrough: number) => ({ intercepted: summarize([intercepted]), passthrough: summarize([passthrough]) });
    const interception = (ratio: number, addedUs: number) => ({
      downloadBytes: 1 << 20,
      requestsPerRun: 10,
      mtu: 1500,
      runs: 1,
      gbps: both(ratio, 1),
      throughputRatio: summarize([ratio]),
      networkCpuPerGB: both(2, 1),
      requestP50Us: both(200 + addedUs, 200),
      requestP99Us: both(400 + addedUs, 400),
      addedP50Us: summarize([addedUs]),
      firstRequestUs: both(5000, 4000),
    });
    const met = byGoal(results({ interception: interception(0.6, 250) }));
    expect(met.get("HTTPS download, intercepted / passed through")?.met).toBe(true);
    expect(met.get("request p50 added by interception (kept connection)")?.met).toBe(true);
    const missed = byGoal(results({ interception: interception(0.4, 1500) }));
    expect(missed.get("HTTPS download, intercepted / passed through")?.distance).toBe("needs 1.25x more");
    expect(missed.get("request p50 added by interception (kept connection)")?.distance).toBe("1.50x over");
  });

  test("no measurements, no goals: nothing is claimed for what did not run", () => {
    expect(checkGoals(results({}))).toEqual([]);
  });
});
