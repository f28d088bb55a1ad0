// Request/response latency (64 B over a kept connection) and connect+request+close,
// through the port forward (host peer -> guest echo) and through the NAT (guest ->
// host echo), ours and gvproxy interleaved run by run at MTU 1500.
import type { LatencyCell, LatencyKind, LatencyPath, LatencyResult, NetworkName } from "./model.ts";
import { interleaved, type Plan } from "./plan.ts";
import { pairedRatio, summarize, summarizeLatency } from "./stats.ts";
import { type LatencyRun, type Testbed, withTestbed } from "./testbed.ts";

const SIZE = 64;
const MTU = 1500;

interface Probe {
  path: LatencyPath;
  kind: LatencyKind;
  run(t: Testbed, plan: Plan): Promise<LatencyRun>;
}

const PROBES: readonly Probe[] = [
  { path: "port-forward", kind: "rr", run: (t, p) => t.forwardRR(SIZE, p.rrCount) },
  { path: "port-forward", kind: "crr", run: (t, p) => t.forwardCRR(SIZE, p.crrCount) },
  { path: "nat", kind: "rr", run: (t, p) => t.natRR(SIZE, p.rrCount) },
  { path: "nat", kind: "crr", run: (t, p) => t.natCRR(SIZE, p.crrCount) },
];

/** One network's runs of a probe: medians across runs, the median run's distribution. */
export function toLatencyResult(runs: readonly LatencyRun[]): LatencyResult {
  const byP50 = [...runs].sort((a, b) => a.p50Us - b.p50Us);
  const typical = byP50[Math.floor(byP50.length / 2)]!;
  return {
    p50Us: summarize(runs.map((r) => r.p50Us)),
    p99Us: summarize(runs.map((r) => r.p99Us)),
    rate: summarize(runs.map((r) => r.perSecond)),
    errors: runs.reduce((a, r) => a + r.errors, 0),
    ...(typical.samplesUs ? { typical: summarizeLatency(typical.samplesUs) } : {}),
  };
}

export async function measureLatency(plan: Plan, log: (line: string) => void): Promise<LatencyCell[]> {
  const runs = PROBES.map(() => ({ ours: [] as LatencyRun[], gvproxy: [] as LatencyRun[] }));
  for (let run = 0; run < plan.runs; run++) {
    for (const kind of interleaved<NetworkName>(run, "ours", "gvproxy")) {
      await withTestbed(kind, MTU, {}, async (t) => {
        for (const [i, probe] of PROBES.entries()) {
          const r = await probe.run(t, plan);
          runs[i]![kind].push(r);
          log(`latency run ${run + 1}/${plan.runs} ${kind} ${probe.kind} via ${probe.path}: p50 ${r.p50Us.toFixed(0)} µs, p99 ${r.p99Us.toFixed(0)} µs`);
        }
      });
    }
  }
  return PROBES.map((probe, i) => {
    const r = runs[i]!;
    return {
      path: probe.path,
      kind: probe.kind,
      size: SIZE,
      results: { ours: toLatencyResult(r.ours), gvproxy: toLatencyResult(r.gvproxy) },
      // Above 1 means ours answers faster.
      p50Ratio: pairedRatio(r.gvproxy.map((x) => x.p50Us), r.ours.map((x) => x.p50Us)),
    };
  });
}
