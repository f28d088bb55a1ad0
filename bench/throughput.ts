// Bulk TCP throughput through both networks, host -> guest through a port forward and
// guest -> host through the NAT, for every MTU and stream count of the plan. Each run
// measures ours and gvproxy back to back (order alternating), so ratios are paired.
import type { Direction, NetworkName, ThroughputCell } from "./model.ts";
import { interleaved, type Plan } from "./plan.ts";
import { pairedRatio, summarize } from "./stats.ts";
import { type MeasuredTransfer, Testbed, withTestbed } from "./testbed.ts";

/** Bytes for a first guest -> host transfer, before any rate is known. */
const CALIBRATION_BYTES = 32 << 20;

type Key = `${Direction}/${number}/${number}`;
const key = (d: Direction, mtu: number, streams: number): Key => `${d}/${mtu}/${streams}`;

/** Every cell of one network at one MTU on one testbed. */
async function cellsOn(t: Testbed, plan: Plan, estimates: Map<string, number>): Promise<Map<Key, MeasuredTransfer>> {
  const out = new Map<Key, MeasuredTransfer>();
  for (const streams of plan.streams) {
    out.set(key("host-to-guest", t.mtu, streams), await t.hostToGuest(streams, plan.seconds));
    const estimateKey = `${t.kind}/${t.mtu}/${streams}`;
    let rate = estimates.get(estimateKey);
    if (rate === undefined) rate = (await t.guestToHost(streams, CALIBRATION_BYTES / streams)).gbps;
    const measured = await t.guestToHost(streams, (rate * 1e9 * plan.seconds) / 8 / streams);
    estimates.set(estimateKey, measured.gbps);
    out.set(key("guest-to-host", t.mtu, streams), measured);
  }
  return out;
}

type Runs = Record<NetworkName, MeasuredTransfer[]>;

const perGB = (cpu: number, bytes: number) => cpu / (bytes / 1e9);

export async function measureThroughput(plan: Plan, log: (line: string) => void): Promise<ThroughputCell[]> {
  const raw = new Map<Key, Runs>();
  const estimates = new Map<string, number>();
  for (let run = 0; run < plan.runs; run++) {
    for (const mtu of plan.mtus) {
      for (const kind of interleaved<NetworkName>(run, "ours", "gvproxy")) {
        const cells = await withTestbed(kind, mtu, {}, (t) => cellsOn(t, plan, estimates));
        for (const [k, transfer] of cells) {
          const entry = raw.get(k) ?? { ours: [], gvproxy: [] };
          entry[kind].push(transfer);
          raw.set(k, entry);
        }
        log(`throughput run ${run + 1}/${plan.runs} MTU ${mtu} ${kind}: ${[...cells].map(([k, v]) => `${k.split("/")[0]} x${k.split("/")[2]} ${v.gbps.toFixed(2)}`).join(", ")} Gbit/s`);
      }
    }
  }
  const cells: ThroughputCell[] = [];
  for (const direction of ["host-to-guest", "guest-to-host"] as Direction[]) {
    for (const mtu of plan.mtus) {
      for (const streams of plan.streams) {
        const r = raw.get(key(direction, mtu, streams));
        if (!r) continue;
        const gbps = (n: NetworkName) => r[n].map((t) => t.gbps);
        const cpu = (n: NetworkName, of: "network" | "guest") => summarize(r[n].map((t) => perGB(t.cpu[of], t.bytes)));
        cells.push({
          direction,
          mtu,
          streams,
          gbps: { ours: summarize(gbps("ours")), gvproxy: summarize(gbps("gvproxy")) },
          ratio: pairedRatio(gbps("ours"), gbps("gvproxy")),
          cpuPerGB: { ours: cpu("ours", "network"), gvproxy: cpu("gvproxy", "network") },
          guestCpuPerGB: { ours: cpu("ours", "guest"), gvproxy: cpu("gvproxy", "guest") },
          raw: { ours: gbps("ours"), gvproxy: gbps("gvproxy") },
        });
      }
    }
  }
  return cells;
}
