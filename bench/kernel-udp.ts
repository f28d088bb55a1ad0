// UDP with the Linux kernel as the guest: the highest rate `iperf3 -u` gets through with
// less than 1% loss, for 64-byte and 1,400-byte datagrams, guest → host and host → guest
// through the NAT (iperf3 in the namespace, `iperf3 -s` on the host's loopback). Ours and
// gvproxy back to back in every run (MTU 1500); the ceilings are the same search between
// two namespaces over a veth and over two relays.
import { withKernelGuest, HOST_LOOPBACK_IP } from "./kernel-testbed.ts";
import { PAIR_ADDRESSES, withNamespacePair, type PairKind } from "./kernel-pair.ts";
import { highestUdpRate, hostSpawn, iperfServer, iperfUdp, waitListening, type IperfServer, type Spawner, type UdpResult } from "./iperf.ts";
import type { Direction, KernelUdpCeiling, KernelUdpCell, NetworkName } from "./model.ts";
import { interleaved } from "./plan.ts";
import { pairedRatio, summarize } from "./stats.ts";

const MTU = 1500;
export const UDP_SIZES: readonly number[] = [64, 1400];
const DIRECTIONS: readonly Direction[] = ["guest-to-host", "host-to-guest"];
const MAX_LOSS_PERCENT = 1;

/** How long each probe sends, and how many bisection steps follow the first probe. */
export interface UdpPlan {
  runs: number;
  probeSeconds: number;
  steps: number;
}

interface Found {
  gbps: number;
  pps: number;
}

/**
 * One probe: a fresh server each time, since a run whose control connection broke (the
 * network dropped too much) can leave iperf3 -s busy; such a run counts as all lost.
 */
async function probe(startServer: () => Promise<IperfServer>, client: Spawner, server: string, size: number, reverse: boolean, seconds: number, mbps: number): Promise<UdpResult> {
  const s = await startServer();
  try {
    return await iperfUdp(client, server, s.port, seconds, size, mbps, reverse);
  } catch {
    return { bytes: 0, gbps: 0, lostPercent: 100, packets: 0 };
  } finally {
    await s.stop();
  }
}

/** The search for one size and direction from a client spawner to a server. */
async function search(startServer: () => Promise<IperfServer>, client: Spawner, server: string, size: number, reverse: boolean, plan: UdpPlan): Promise<Found> {
  const r = await highestUdpRate((mbps) => probe(startServer, client, server, size, reverse, plan.probeSeconds, mbps), { steps: plan.steps, maxLossPercent: MAX_LOSS_PERCENT, seconds: plan.probeSeconds });
  return { gbps: r.gbps, pps: r.pps };
}

async function measureOn(net: NetworkName, plan: UdpPlan, record: (size: number, direction: Direction, f: Found) => void): Promise<void> {
  await withKernelGuest(net, { mtu: MTU, forwards: [] }, async (g) => {
    for (const size of UDP_SIZES) {
      for (const direction of DIRECTIONS) {
        record(size, direction, await search(() => iperfServer(hostSpawn, "127.0.0.1"), (argv) => g.spawn(argv), HOST_LOOPBACK_IP, size, direction === "host-to-guest", plan));
      }
    }
  });
}

async function ceiling(pair: PairKind, size: number, plan: UdpPlan): Promise<Found> {
  return withNamespacePair(pair, MTU, async ({ inA, inB }) => {
    const startServer = () => iperfServer(inA, PAIR_ADDRESSES.a, async (port) => (await waitListening(inA, port), true));
    return search(startServer, inB, PAIR_ADDRESSES.a, size, false, plan);
  });
}

/**
 * ours / gvproxy per run, over the runs where both found a rate: a network that let no
 * rate through with < 1% loss has no ratio (its row shows 0 Mbit/s).
 */
function udpRatio(ours: readonly Found[], gvproxy: readonly Found[]): { ratio?: KernelUdpCell["ratio"] } {
  const pairs = ours.flatMap((o, i) => (o.gbps > 0 && (gvproxy[i]?.gbps ?? 0) > 0 ? [[o.gbps, gvproxy[i]!.gbps] as const] : []));
  return pairs.length ? { ratio: pairedRatio(pairs.map(([o]) => o), pairs.map(([, g]) => g)) } : {};
}

/** The UDP cells, ours and gvproxy paired per run, then one run of each ceiling. */
export async function measureKernelUdp(plan: UdpPlan, log: (line: string) => void): Promise<{ cells: KernelUdpCell[]; ceilings: KernelUdpCeiling[] }> {
  const samples = new Map<string, { size: number; direction: Direction; ours: Found[]; gvproxy: Found[] }>();
  for (let run = 0; run < plan.runs; run++) {
    for (const net of interleaved<NetworkName>(run, "ours", "gvproxy")) {
      await measureOn(net, plan, (size, direction, f) => {
        const key = `${size}/${direction}`;
        const entry = samples.get(key) ?? { size, direction, ours: [], gvproxy: [] };
        entry[net].push(f);
        samples.set(key, entry);
        log(`kernel guest UDP run ${run + 1}/${plan.runs} ${net} ${size} B ${direction}: ${(f.gbps * 1e3).toFixed(0)} Mbit/s, ${(f.pps / 1e3).toFixed(0)} kpps`);
      });
    }
  }
  const cells: KernelUdpCell[] = [...samples.values()].map((s) => ({
    size: s.size,
    direction: s.direction,
    ours: { gbps: summarize(s.ours.map((f) => f.gbps)), pps: summarize(s.ours.map((f) => f.pps)) },
    gvproxy: { gbps: summarize(s.gvproxy.map((f) => f.gbps)), pps: summarize(s.gvproxy.map((f) => f.pps)) },
    ...udpRatio(s.ours, s.gvproxy),
    runs: s.ours.length,
  }));
  const ceilings: KernelUdpCeiling[] = [];
  for (const pair of ["veth", "relay-pair"] as const) {
    for (const size of UDP_SIZES) {
      const f = await ceiling(pair, size, plan);
      log(`kernel guest UDP ceiling ${pair} ${size} B: ${(f.gbps * 1e3).toFixed(0)} Mbit/s`);
      ceilings.push({ pair, size, gbps: f.gbps, pps: f.pps });
    }
  }
  return { cells, ceilings };
}
