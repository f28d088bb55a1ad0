// The kernel-guest cells: the Linux kernel's TCP/IP stack as the guest (a network
// namespace whose TAP device build/tap-relay joins to the network's socket, see
// test/support/kernel-guest.ts), iperf3 in the namespace against `iperf3 -s` on the
// host's loopback through the NAT (192.168.127.254). Ours and gvproxy are measured back
// to back in every run, the order alternating; the ceilings are the same iperf3 between
// two namespaces over a veth (the kernel alone) and over two relays joined by one Unix
// socket (the relay alone, no network stack between).
import { HOST_LOOPBACK_IP, withKernelGuest } from "./kernel-testbed.ts";
import { hostSpawn, iperfServer, iperfTcp, waitListening, type IperfResult } from "./iperf.ts";
import { PAIR_ADDRESSES, withNamespacePair } from "./kernel-pair.ts";
import { measureKernelLatency } from "./kernel-latency.ts";
import { measureKernelUdp, type UdpPlan } from "./kernel-udp.ts";
import type { KernelCeiling, KernelCell, KernelGuestResults } from "./model.ts";
import type { NetworkKind } from "./networks.ts";
import { interleaved, type Plan } from "./plan.ts";
import { cpuSeconds, freePort } from "./processes.ts";
import { pairedRatio, summarize } from "./stats.ts";

type CellKey = Pick<KernelCell, "direction" | "mtu" | "streams">;
type Direction = "guest-to-host" | "host-to-guest";
const DIRECTIONS: readonly Direction[] = ["guest-to-host", "host-to-guest"];

/**
 * One network + kernel guest at one MTU; every cell of that MTU runs on it. A cell whose
 * iperf3 fails (gvproxy has dropped iperf3's control connection under 4 reverse streams)
 * is tried once more, then recorded as failed: the run goes on.
 */
async function measureOn(kind: NetworkKind, mtu: number, plan: Plan, record: (cell: CellKey, sample: Sample | Error) => void): Promise<void> {
  await withKernelGuest(kind, { mtu, forwards: [] }, async (g, pid) => {
    const once = async (direction: Direction, streams: number): Promise<Sample> => {
      // A fresh server per cell: iperf3 -s keeps no state worth sharing between tests.
      const server = await iperfServer(hostSpawn, "127.0.0.1");
      const netCpu0 = cpuSeconds(pid);
      const relayCpu0 = g.relay.cpuSeconds();
      const r = await iperfTcp((argv) => g.spawn(argv), HOST_LOOPBACK_IP, server.port, kernelSeconds(plan), streams, direction === "host-to-guest").finally(server.stop);
      const netCpu = cpuSeconds(pid) - netCpu0;
      const relayCpu = g.relay.cpuSeconds() - relayCpu0;
      return { kind, gbps: r.gbps, networkCpuPerGB: (netCpu / r.bytes) * 1e9, relayCpuPerGB: (relayCpu / r.bytes) * 1e9 };
    };
    for (const direction of DIRECTIONS) {
      for (const streams of plan.streams) {
        const sample = await once(direction, streams).catch(() => once(direction, streams)).catch((error: unknown) => (error instanceof Error ? error : new Error(String(error))));
        record({ direction, mtu, streams }, sample);
      }
    }
  });
}

interface Sample {
  kind: NetworkKind;
  gbps: number;
  networkCpuPerGB: number;
  relayCpuPerGB: number;
}

/** iperf3 TCP between two namespaces joined by a veth or two relays. */
async function ceiling(kind: KernelCeiling["kind"], mtu: number, seconds: number): Promise<{ gbps: number; relayCpuPerGB?: number }> {
  return withNamespacePair(kind, mtu, async (pair) => {
    const port = await freePort();
    pair.inA(["iperf3", "-s", "-B", PAIR_ADDRESSES.a, "-p", String(port)]);
    await waitListening(pair.inA, port);
    const cpu0 = pair.relayCpuSeconds();
    const r: IperfResult = await iperfTcp(pair.inB, PAIR_ADDRESSES.a, port, seconds, 1, false);
    return kind === "relay-pair" ? { gbps: r.gbps, relayCpuPerGB: ((pair.relayCpuSeconds() - cpu0) / r.bytes) * 1e9 } : { gbps: r.gbps };
  });
}

export async function measureKernelGuest(plan: Plan, log: (line: string) => void): Promise<KernelGuestResults> {
  // Per cell, each network's sample of every run (undefined where it failed): only the
  // runs both networks completed are paired.
  const samples = new Map<string, { cell: CellKey; ours: (Sample | undefined)[]; gvproxy: (Sample | undefined)[] }>();
  const failures: string[] = [];
  const runs = kernelRuns(plan);
  for (let runIndex = 0; runIndex < runs; runIndex++) {
    for (const mtu of plan.mtus) {
      for (const kind of interleaved<NetworkKind>(runIndex, "ours", "gvproxy")) {
        log(`kernel guest: run ${runIndex + 1}/${runs}, MTU ${mtu}, ${kind}`);
        await measureOn(kind, mtu, plan, (cell, s) => {
          const key = `${cell.direction}/${cell.mtu}/${cell.streams}`;
          const entry = samples.get(key) ?? { cell, ours: [], gvproxy: [] };
          entry[kind][runIndex] = s instanceof Error ? undefined : s;
          samples.set(key, entry);
          if (s instanceof Error) {
            failures.push(`TCP ${key} ${kind}, run ${runIndex + 1}: ${s.message.split("\n")[0]}`);
            log(`kernel guest: ${kind} ${key} failed: ${s.message.split("\n")[0]}`);
          }
        });
      }
    }
  }
  const cells: KernelCell[] = [];
  for (const { cell, ours: o, gvproxy: v } of samples.values()) {
    const paired = o.flatMap((s, i) => (s !== undefined && v[i] !== undefined ? [[s, v[i]] as const] : []));
    if (paired.length === 0) continue;
    const ours = paired.map(([s]) => s);
    const gvproxy = paired.map(([, s]) => s);
    const side = (list: Sample[]) => ({ gbps: summarize(list.map((s) => s.gbps)), networkCpuPerGB: summarize(list.map((s) => s.networkCpuPerGB)), relayCpuPerGB: summarize(list.map((s) => s.relayCpuPerGB)) });
    cells.push({ ...cell, ours: side(ours), gvproxy: side(gvproxy), ratio: pairedRatio(ours.map((s) => s.gbps), gvproxy.map((s) => s.gbps)), runs: paired.length });
  }
  const ceilings: KernelCeiling[] = [];
  for (const mtu of plan.mtus) {
    for (const kind of ["veth", "relay-pair"] as const) {
      log(`kernel guest ceiling: ${kind}, MTU ${mtu}`);
      const measured = [];
      for (let i = 0; i < runs; i++) measured.push(await ceiling(kind, mtu, kernelSeconds(plan)));
      ceilings.push({
        kind,
        mtu,
        gbps: summarize(measured.map((r) => r.gbps)),
        ...(kind === "relay-pair" ? { relayCpuPerGB: summarize(measured.map((r) => r.relayCpuPerGB ?? 0)) } : {}),
      });
    }
  }
  const latency = await measureKernelLatency(plan, runs, log);
  const udp = await measureKernelUdp(udpPlanFor(plan), log);
  return { cells, ceilings, latency: latency.cells, latencyCeilings: latency.ceilings, udp: udp.cells, udpCeilings: udp.ceilings, failures: [...failures, ...latency.failures] };
}

/**
 * Runs of every kernel-guest cell, and the length of each iperf3 TCP run: three runs of
 * 2 s in the full run (paired medians still), so the section (TCP, latency, UDP and the
 * ceilings) stays near six minutes of a full `make bench`.
 */
function kernelRuns(plan: Plan): number {
  return plan.quick ? 1 : Math.min(plan.runs, 3);
}

function kernelSeconds(plan: Plan): number {
  return Math.min(plan.seconds, 2);
}

/** The UDP search's budget: each probe is an iperf3 run, so fewer runs than the TCP cells. */
function udpPlanFor(plan: Plan): UdpPlan {
  return plan.quick ? { runs: 1, probeSeconds: 1, steps: 3 } : { runs: kernelRuns(plan), probeSeconds: 1, steps: 3 };
}
