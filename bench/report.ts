// Renders a run's results as markdown tables and writes them, with the JSON, under
// build/bench/ (untracked: a benchmark run never changes the work tree). The JSON is the
// source of truth; tables and chart derive from it. BENCHMARKS.md quotes a saved copy
// (bench/results/), refreshed only by `make bench-report` (bench/publish.ts).
import { mkdirSync, writeFileSync } from "node:fs";
import { num, ratio, table, withRange } from "./format.ts";
import type { BenchResults, Ceilings, ControlPlane, Direction, EventStream, KernelCeiling, KernelGuestResults, KernelScale, LatencyCell, LogBridge, ThroughputCell } from "./model.ts";
import type { InterceptionResults } from "./interception.ts";
import { BUILD_DIR } from "./processes.ts";
import type { Summary } from "./stats.ts";

/** Where `make bench` writes a run's results. */
export const RUN_DIR = `${BUILD_DIR}/bench/`;

/** The columns every throughput table starts with: the cell, then both networks' Gbit/s and their ratio. */
const THROUGHPUT_COLUMNS = ["direction", "MTU", "streams", "ours Gbit/s", "gvproxy Gbit/s", "ours / gvproxy"];

/** A throughput row's first columns (THROUGHPUT_COLUMNS). */
function throughputCells(c: { direction: Direction; mtu: number; streams: number; ratio?: Summary }, ours: Summary | undefined, gvproxy: Summary | undefined): string[] {
  return [c.direction, String(c.mtu), String(c.streams), withRange(ours), withRange(gvproxy), ratio(c.ratio)];
}

/** The bulk throughput cells as one markdown table. */
export function throughputTable(cells: readonly ThroughputCell[]): string {
  const cpu = (s: ThroughputCell["cpuPerGB"]) => (s?.ours && s.gvproxy ? `${num(s.ours.median)} / ${num(s.gvproxy.median)}` : "–");
  return table(
    [...THROUGHPUT_COLUMNS, "network CPU s/GB, ours / gvproxy", "guest CPU s/GB, ours / gvproxy"],
    cells.map((c) => [...throughputCells(c, c.gbps.ours, c.gbps.gvproxy), cpu(c.cpuPerGB), cpu(c.guestCpuPerGB)]),
  );
}

function kernelGuestTables(k: KernelGuestResults): string {
  const cells = table(
    [...THROUGHPUT_COLUMNS, "network CPU s/GB, ours / gvproxy", "relay CPU s/GB, ours / gvproxy"],
    k.cells.map((c) => [
      ...throughputCells(c, c.ours.gbps, c.gvproxy.gbps),
      `${num(c.ours.networkCpuPerGB.median)} / ${num(c.gvproxy.networkCpuPerGB.median)}`,
      `${num(c.ours.relayCpuPerGB.median)} / ${num(c.gvproxy.relayCpuPerGB.median)}`,
    ]),
  );
  const ceilings = table(
    ["ceiling", "MTU", "Gbit/s", "relay CPU s/GB (both relays)"],
    k.ceilings.map((c) => [pairName(c.kind), String(c.mtu), withRange(c.gbps), c.relayCpuPerGB ? num(c.relayCpuPerGB.median) : "–"]),
  );
  const parts = [cells, "Ceilings (iperf3, 1 stream, namespace to namespace):", ceilings];
  if (k.latency?.length) parts.push("Latency (64 B, MTU 1500; the Go peer in the namespace is the guest side):", kernelLatencyTable(k));
  if (k.udp?.length) parts.push("UDP (iperf3 -u, MTU 1500): the highest rate with < 1% loss:", kernelUdpTable(k));
  if (k.failures?.length) parts.push(`Left out of the pairs (failed):\n\n${k.failures.map((f) => `- ${f}`).join("\n")}`);
  return parts.join("\n\n");
}

const pairName = (p: KernelCeiling["kind"]) => (p === "veth" ? "veth between two namespaces" : "two relays joined by one socket");

function kernelLatencyTable(k: KernelGuestResults): string {
  const rows: string[][] = [];
  for (const c of k.latency ?? []) {
    const what = c.kind === "rr" ? `RR ${c.size} B, kept connection` : `connect+${c.size} B request+close`;
    rows.push([c.path, what, "ours", withRange(c.ours.p50Us), withRange(c.ours.p99Us), withRange(c.ours.rate), ratio(c.p50Ratio)]);
    rows.push([c.path, what, "gvproxy", withRange(c.gvproxy.p50Us), withRange(c.gvproxy.p99Us), withRange(c.gvproxy.rate), ""]);
  }
  for (const c of k.latencyCeilings ?? []) {
    rows.push([pairName(c.pair), c.kind === "rr" ? "RR 64 B, kept connection" : "connect+64 B request+close", "ceiling", withRange(c.p50Us), withRange(c.p99Us), withRange(c.rate), ""]);
  }
  return table(["path", "what", "network", "p50 µs", "p99 µs", "per second", "gvproxy p50 / ours p50"], rows);
}

function kernelUdpTable(k: KernelGuestResults): string {
  const mbps = (s: Summary) => withRange({ ...s, median: s.median * 1e3, min: s.min * 1e3, max: s.max * 1e3 });
  const kpps = (s: Summary) => withRange({ ...s, median: s.median / 1e3, min: s.min / 1e3, max: s.max / 1e3 });
  const rows = (k.udp ?? []).map((c) => [`${c.size} B`, c.direction, `${mbps(c.ours.gbps)} Mbit/s, ${kpps(c.ours.pps)} kpps`, `${mbps(c.gvproxy.gbps)} Mbit/s, ${kpps(c.gvproxy.pps)} kpps`, ratio(c.ratio)]);
  for (const c of k.udpCeilings ?? []) rows.push([`${c.size} B`, pairName(c.pair), `${num(c.gbps * 1e3)} Mbit/s, ${num(c.pps / 1e3)} kpps`, "", ""]);
  return table(["datagram", "direction", "ours", "gvproxy", "ours / gvproxy"], rows);
}

function kernelScaleTable(s: KernelScale): string {
  return table(
    ["scale", "measured"],
    [
      ["total bulk throughput", `${num(s.totalGbps)} Gbit/s (lanes ${num(Math.min(...s.laneGbps))}–${num(Math.max(...s.laneGbps))})`],
      ["Jain's fairness index of the lanes", s.jain.toFixed(3)],
      ["RR 64 B under that load (all lanes)", `p50 ${num(s.rr.p50Us)} µs, p99 ${num(s.rr.p99Us)} µs (${s.rr.samples.toLocaleString("en-US")} round trips)`],
      ["network CPU (the Bun process)", `${num(s.networkCpuPerGB)} s/GB`],
      ["file descriptors before / after", `${s.fds.before} / ${s.fds.after}`],
      ["goroutines before / after", s.goroutines ? `${s.goroutines.before} / ${s.goroutines.after}` : "–"],
      ["lanes that failed", s.failures.length ? s.failures.join("; ") : "none"],
    ],
  );
}

function latencyTable(cells: readonly LatencyCell[]): string {
  const rows: string[][] = [];
  for (const c of cells) {
    for (const net of ["ours", "gvproxy"] as const) {
      const r = c.results[net];
      if (!r) continue;
      const label = c.kind === "rr" ? `RR ${c.size} B, kept connection` : `connect+${c.size} B request+close`;
      rows.push([c.path, label, net, withRange(r.p50Us), withRange(r.p99Us), withRange(r.rate), String(r.errors), net === "ours" ? ratio(c.p50Ratio) : ""]);
    }
  }
  return table(["path", "what", "network", "p50 µs", "p99 µs", "per second", "errors", "gvproxy p50 / ours p50"], rows);
}

function ceilingsTable(c: Ceilings): string {
  const rows: string[][] = [];
  for (const t of c.loopbackTcp) rows.push([`loopback TCP, ${t.peer} peers, ${t.streams} stream(s)`, `${withRange(t.gbps)} Gbit/s`]);
  for (const f of c.framedUnix) rows.push([`framed Unix echo, ${f.frameBytes} B frames (MTU ${f.mtu})`, `${withRange(f.gbps)} Gbit/s`]);
  for (const l of c.loopbackLatency) {
    const what = l.kind === "rr" ? "loopback TCP RR 64 B" : "loopback TCP connect+64 B request+close";
    rows.push([what, `p50 ${withRange(l.p50Us)} µs, p99 ${withRange(l.p99Us)} µs, ${withRange(l.rate)}/s`]);
  }
  rows.push(["framed Unix RR 64 B", `p50 ${withRange(c.framedUnixRR.p50Us)} µs, p99 ${withRange(c.framedUnixRR.p99Us)} µs`]);
  return table(["ceiling", "median (min–max)"], rows);
}

function controlPlaneTable(c: ControlPlane): string {
  const rows: string[][] = [
    ["library load (fresh process: dlopen, Go runtime, first call)", `${withRange(c.loadMs)} ms`],
    ["create+destroy", `p50 ${num(c.createDestroyMs.p50)} ms, p99 ${num(c.createDestroyMs.p99)} ms`],
    ["stats() call", `p50 ${num(c.statsCallUs.p50)} µs, p99 ${num(c.statsCallUs.p99)} µs`],
  ];
  for (const r of c.rssPerInstanceMiB) {
    rows.push([`RSS, ${r.instances} idle instance(s)`, `${num(r.perInstanceMiB)} MiB each (total ${num(r.totalMiB)} MiB over ${num(r.baselineMiB)} MiB with the library loaded)`]);
  }
  if (c.gvproxyProcessRssMiB !== undefined) rows.push(["RSS of one idle gvproxy process", `${num(c.gvproxyProcessRssMiB)} MiB`]);
  return table(["control plane", "measured"], rows);
}

function logBridgeTable(l: LogBridge): string {
  const pct = (s: LogBridge["droppedFraction"]) => `${(s.median * 100).toFixed(1)} % (${(s.min * 100).toFixed(1)}–${(s.max * 100).toFixed(1)})`;
  const rows: string[][] = [
    ["records/s to a counting consola reporter, JS draining in a loop", withRange(l.recordsPerSecond)],
    ["records/s, JS idle (library drain timer only)", withRange(l.recordsPerSecondTimerOnly)],
    ["flood dropped by the bounded queue (loop / timer only)", `${pct(l.droppedFraction)} / ${pct(l.droppedFractionTimerOnly)}`],
    ["log level debug / info (ours): throughput, CPU per byte", `${ratio(l.debug.throughput)}, ${ratio(l.debug.cpuPerByte)}`],
  ];
  for (const [net, c] of Object.entries(l.frameLogging)) {
    rows.push([`per-frame logging on / off (${net}): throughput, CPU per byte`, `${ratio(c.throughput)}, ${ratio(c.cpuPerByte)}`]);
  }
  return table(["log bridge", "measured"], rows);
}

function eventStreamTable(e: EventStream): string {
  return table(
    ["event stream", "measured"],
    [
      ["events/s to a counting `connection` listener, pump in a loop", withRange(e.eventsPerSecond)],
      ["events/s, JS idle (library drain timer only)", withRange(e.eventsPerSecondTimerOnly)],
      ["guest -> host NAT with a `connection` listener / without: throughput, CPU per byte", `${ratio(e.listenerThroughput)}, ${ratio(e.listenerCpuPerByte)}`],
    ],
  );
}

function interceptionTable(i: InterceptionResults): string {
  const rows = (["intercepted", "passthrough"] as const).map((p) => [
    p === "intercepted" ? "intercepted (secret's host)" : "passed through (other host)",
    withRange(i.gbps[p]),
    withRange(i.networkCpuPerGB[p]),
    withRange(i.requestP50Us[p]),
    withRange(i.requestP99Us[p]),
    withRange(i.firstRequestUs[p]),
  ]);
  const cells = table(["path", "download Gbit/s", "network CPU s/GB", "request p50 µs", "request p99 µs", "first request µs (connect, TLS, request)"], rows);
  return `${cells}\n\nIntercepted / passed through download: ${ratio(i.throughputRatio)}; request p50 added by interception: ${withRange(i.addedP50Us)} µs.`;
}

/**
 * The whole report as markdown; section headings at `headingLevel` (3 stand-alone, 4 where
 * BENCHMARKS.md embeds it under its own headings).
 */
export function renderReport(r: BenchResults, headingLevel = 3): string {
  const m = r.meta;
  const h = "#".repeat(headingLevel);
  const parts = [
    `Command: \`${m.command}\` — ${m.date}, ${m.runs} run(s) per cell, ${m.secondsPerRun} s each.`,
    `Machine: ${m.machine.cpus} CPUs (${m.machine.cpuModel}), ${m.machine.memoryMiB} MiB, Linux ${m.machine.kernel}; Bun ${m.versions.bun}, gvisor-tap-vsock ${m.versions.gvisorTapVsock}, ${m.versions.go}.`,
    "Values are medians of the runs with (min–max) across runs; ratios are medians of per-pair ratios of back-to-back runs.",
  ];
  if (m.artifacts) {
    parts.push(`Binaries under test (sha256 prefix): ${Object.entries(m.artifacts).map(([f, d]) => `\`${f}\` ${d}`).join(", ")}.`);
  }
  if (r.goals.length) {
    parts.push(`${h} Goals`, table(["goal", "target", "measured", "met", "distance"], r.goals.map((g) => [g.goal, g.target, g.measured, g.met ? "yes" : "no", g.distance])));
  }
  if (r.throughput.length) parts.push(`${h} Bulk TCP throughput`, throughputTable(r.throughput));
  if (r.latency.length) parts.push(`${h} Latency`, latencyTable(r.latency));
  if (r.ceilings) parts.push(`${h} Ceilings`, ceilingsTable(r.ceilings));
  if (r.controlPlane) parts.push(`${h} Control plane`, controlPlaneTable(r.controlPlane));
  if (r.logBridge) parts.push(`${h} Log bridge`, logBridgeTable(r.logBridge));
  if (r.eventStream) parts.push(`${h} Event stream`, eventStreamTable(r.eventStream));
  if (r.kernelGuest) parts.push(`${h} Kernel guest (the Linux kernel as the guest, through the NAT)`, kernelGuestTables(r.kernelGuest));
  if (r.interception) {
    const i = r.interception;
    const what = `${num(i.downloadBytes / 2 ** 20)} MiB downloads and ${i.requestsPerRun} requests on one kept connection per path and run, ${i.runs} runs, curl in a kernel guest, HTTP/1.1, MTU ${i.mtu}`;
    parts.push(`${h} TLS interception (secrets): ${what}`, interceptionTable(i));
  }
  if (r.kernelScale) {
    const s = r.kernelScale;
    parts.push(`${h} Kernel guests at scale (${s.lanes} guests on ${s.lanes} backends of one Bun process, each a bulk transfer and an RR loop at once, ${s.seconds} s)`, kernelScaleTable(s));
  }
  if (r.skipped.length) parts.push(`${h} Not measured`, r.skipped.map((s) => `- ${s}`).join("\n"));
  return parts.join("\n\n") + "\n";
}

/** Writes <name>.json and <name>.md under build/bench/ and returns their paths. */
export function writeResults(r: BenchResults, name: string): { json: string; markdown: string } {
  mkdirSync(RUN_DIR, { recursive: true });
  const json = `${RUN_DIR}${name}.json`;
  const markdown = `${RUN_DIR}${name}.md`;
  writeFileSync(json, JSON.stringify(r, null, 2) + "\n");
  writeFileSync(markdown, renderReport(r));
  return { json, markdown };
}
