// The goals, checked against a run's results, each with how far it is from met.
import { num } from "./format.ts";
import type { BenchResults, GoalCheck } from "./model.ts";

function atLeast(goal: string, measured: number, target: number, unit: string): GoalCheck {
  const met = measured >= target;
  const f = measured / target;
  return {
    goal,
    target: `>= ${num(target)}${unit}`,
    measured: `${num(measured)}${unit}`,
    met,
    distance: met ? `met (${f.toFixed(2)}x the target)` : `needs ${(1 / f).toFixed(2)}x more`,
  };
}

function atMost(goal: string, measured: number, limit: number, unit: string): GoalCheck {
  const met = measured <= limit;
  const f = measured / limit;
  return {
    goal,
    target: `<= ${num(limit)}${unit}`,
    measured: `${num(measured)}${unit}`,
    met,
    distance: met ? `met (${f.toFixed(2)}x the limit)` : `${f.toFixed(2)}x over`,
  };
}

function throughputGoals(r: BenchResults): GoalCheck[] {
  const out: GoalCheck[] = [];
  for (const c of r.throughput) {
    const where = `${c.direction}, MTU ${c.mtu}, ${c.streams} stream(s)`;
    if (c.ratio) out.push(atLeast(`ours / gvproxy, ${where}`, c.ratio.median, c.mtu === 65520 ? 2 : 1, "x"));
    const ours = c.gbps.ours?.median;
    if (ours === undefined || c.streams !== 1) continue;
    if (c.mtu === 1500) out.push(atLeast(`throughput, ${where}`, ours, 1.5, " Gbit/s"));
    if (c.mtu === 65520) out.push(atLeast(`throughput, ${where}`, ours, 5, " Gbit/s"));
  }
  return out;
}

function latencyGoals(r: BenchResults): GoalCheck[] {
  const out: GoalCheck[] = [];
  for (const c of r.latency) {
    const ours = c.results.ours;
    if (c.p50Ratio) out.push(atLeast(`gvproxy p50 / ours p50, ${c.kind} via ${c.path}`, c.p50Ratio.median, 1, "x"));
    if (!ours || c.path !== "port-forward") continue;
    if (c.kind === "rr") out.push(atMost("RR 64 B p50 via the port forward", ours.p50Us.median, 100, " µs"));
    if (c.kind === "crr") out.push(atMost("connect+request+close p50 via the port forward", ours.p50Us.median, 300, " µs"));
  }
  return out;
}

function controlPlaneGoals(r: BenchResults): GoalCheck[] {
  const c = r.controlPlane;
  if (!c) return [];
  const out = [atMost("create+destroy p50", c.createDestroyMs.p50, 5, " ms")];
  const steady = c.rssPerInstanceMiB[c.rssPerInstanceMiB.length - 1];
  if (steady) out.push(atMost(`RSS per idle instance (${steady.instances} instances)`, steady.perInstanceMiB, 5, " MiB"));
  return out;
}

function logBridgeGoals(r: BenchResults): GoalCheck[] {
  const l = r.logBridge;
  if (!l) return [];
  return [
    atLeast("log bridge records/s", l.recordsPerSecond.median, 200_000, ""),
    atLeast("throughput with debug logging (debug / info)", l.debug.throughput.median, 0.9, "x"),
  ];
}

function eventStreamGoals(r: BenchResults): GoalCheck[] {
  const e = r.eventStream;
  if (!e) return [];
  return [
    atLeast("events/s to a connection listener", e.eventsPerSecond.median, 200_000, ""),
    atLeast("NAT throughput with a connection listener (with / without)", e.listenerThroughput.median, 0.97, "x"),
  ];
}

/** Issue 14's goals, on the kernel-guest cells. */
function kernelGuestGoals(r: BenchResults): GoalCheck[] {
  const k = r.kernelGuest;
  if (!k) return [];
  const out: GoalCheck[] = [];
  for (const c of k.cells) {
    const where = `kernel guest, ${c.direction}, MTU ${c.mtu}, ${c.streams} stream(s)`;
    if (c.mtu === 1500) out.push(atMost(`network CPU, ${where}`, c.ours.networkCpuPerGB.median, 2, " s/GB"));
    if (c.mtu === 65520) out.push(atMost(`network CPU, ${where}`, c.ours.networkCpuPerGB.median, 0.8, " s/GB"));
    if (c.mtu === 1500) out.push(atLeast(`ours / gvproxy, ${where}`, c.ratio.median, 3, "x"));
  }
  for (const c of k.latency ?? []) {
    const what = c.kind === "rr" ? "RR" : "connect+request+close";
    out.push(atLeast(`kernel guest, ${what} via ${c.path}: gvproxy p50 / ours p50`, c.p50Ratio.median, 2, "x"));
    if (c.kind === "rr") out.push(atMost(`kernel guest, RR p50 via ${c.path}`, c.ours.p50Us.median, 100, " µs"));
  }
  for (const c of k.udp ?? []) if (c.ratio) out.push(atLeast(`kernel guest, UDP ${c.size} B ${c.direction}: ours / gvproxy highest rate`, c.ratio.median, 2, "x"));
  return out;
}

/** Issue 11's goals: what TLS interception costs an HTTPS download and a request. */
function interceptionGoals(r: BenchResults): GoalCheck[] {
  const i = r.interception;
  if (!i) return [];
  return [
    atLeast("HTTPS download, intercepted / passed through", i.throughputRatio.median, 0.5, "x"),
    atMost("request p50 added by interception (kept connection)", i.addedP50Us.median / 1000, 1, " ms"),
  ];
}

export function checkGoals(r: BenchResults): GoalCheck[] {
  return [...throughputGoals(r), ...latencyGoals(r), ...controlPlaneGoals(r), ...logBridgeGoals(r), ...eventStreamGoals(r), ...kernelGuestGoals(r), ...interceptionGoals(r)];
}
