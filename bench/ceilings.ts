// The ceilings of this machine, measured in the same run as the networks under test:
// TCP between two host processes over loopback, and the QEMU transport alone (a framed
// Unix-socket echo, no network stack). Nothing through a virtual network can beat them.
import { rmSync } from "node:fs";
import type { Ceilings, LatencyKind } from "./model.ts";
import { BUN_BIN, PEER_BIN, REPO_ROOT, runJson, startServer, tempDir } from "./processes.ts";
import { summarize, summarizeLatency } from "./stats.ts";

export const MTUS = [1500, 9000, 65520] as const;
const ETHERNET_HEADER = 14;
const BUN_PEER = `${REPO_ROOT}/bench/bun-peer.ts`;

export interface RunPlan {
  runs: number;
  seconds: number;
  /** Round trips per latency run. */
  latencyCount: number;
}

interface Throughput {
  gbps: number;
}
interface LatencySamples {
  samplesUs: number[];
  seconds: number;
}

async function loopbackTcp(plan: RunPlan): Promise<Ceilings["loopbackTcp"]> {
  const goSink = await startServer([PEER_BIN, "sink"]);
  const bunSink = await startServer([BUN_BIN, BUN_PEER, "sink"]);
  try {
    const runs = { go1: [] as number[], go4: [] as number[], bun1: [] as number[] };
    for (let r = 0; r < plan.runs; r++) {
      const s = String(plan.seconds);
      runs.go1.push((await runJson<Throughput>([PEER_BIN, "source", "-connect", goSink.address, "-streams", "1", "-seconds", s])).gbps);
      runs.go4.push((await runJson<Throughput>([PEER_BIN, "source", "-connect", goSink.address, "-streams", "4", "-seconds", s])).gbps);
      runs.bun1.push((await runJson<Throughput>([BUN_BIN, BUN_PEER, "source", bunSink.address, "1", s])).gbps);
    }
    return [
      { peer: "go", streams: 1, gbps: summarize(runs.go1) },
      { peer: "go", streams: 4, gbps: summarize(runs.go4) },
      { peer: "bun", streams: 1, gbps: summarize(runs.bun1) },
    ];
  } finally {
    await goSink.stop();
    await bunSink.stop();
  }
}

async function loopbackLatency(plan: RunPlan): Promise<Ceilings["loopbackLatency"]> {
  const echo = await startServer([PEER_BIN, "echo"]);
  try {
    const out: Ceilings["loopbackLatency"] = [];
    for (const kind of ["rr", "crr"] as LatencyKind[]) {
      const p50: number[] = [];
      const p99: number[] = [];
      const rate: number[] = [];
      for (let r = 0; r < plan.runs; r++) {
        const res = await runJson<LatencySamples>([PEER_BIN, kind, "-connect", echo.address, "-size", "64", "-count", String(plan.latencyCount)]);
        const s = summarizeLatency(res.samplesUs);
        p50.push(s.p50);
        p99.push(s.p99);
        rate.push(res.samplesUs.length / res.seconds);
      }
      out.push({ kind, p50Us: summarize(p50), p99Us: summarize(p99), rate: summarize(rate) });
    }
    return out;
  } finally {
    await echo.stop();
  }
}

async function framedUnix(plan: RunPlan): Promise<Pick<Ceilings, "framedUnix" | "framedUnixRR">> {
  const dir = tempDir("gvb-ceil");
  const echo = await startServer([PEER_BIN, "framed-echo", "-listen", `${dir}/echo.sock`]);
  try {
    const framedUnixCells: Ceilings["framedUnix"] = [];
    for (const mtu of MTUS) {
      const frame = mtu + ETHERNET_HEADER;
      const gbps: number[] = [];
      for (let r = 0; r < plan.runs; r++) {
        const res = await runJson<Throughput>([PEER_BIN, "framed-bulk", "-connect", echo.address, "-frame", String(frame), "-seconds", String(plan.seconds)]);
        gbps.push(res.gbps);
      }
      framedUnixCells.push({ mtu, frameBytes: frame, gbps: summarize(gbps) });
    }
    const p50: number[] = [];
    const p99: number[] = [];
    for (let r = 0; r < plan.runs; r++) {
      const res = await runJson<LatencySamples>([PEER_BIN, "framed-rr", "-connect", echo.address, "-frame", "64", "-count", String(plan.latencyCount)]);
      const s = summarizeLatency(res.samplesUs);
      p50.push(s.p50);
      p99.push(s.p99);
    }
    return { framedUnix: framedUnixCells, framedUnixRR: { p50Us: summarize(p50), p99Us: summarize(p99) } };
  } finally {
    await echo.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

export async function measureCeilings(plan: RunPlan): Promise<Ceilings> {
  const loopback = await loopbackTcp(plan);
  const latency = await loopbackLatency(plan);
  const framed = await framedUnix(plan);
  return { loopbackTcp: loopback, loopbackLatency: latency, ...framed };
}
