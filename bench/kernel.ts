// The kernel-guest cells: the Linux kernel's TCP/IP stack as the guest (a network
// namespace whose TAP device build/tap-relay joins to the network's socket, see
// test/support/kernel-guest.ts), iperf3 in the namespace against `iperf3 -s` on the
// host's loopback through the NAT (192.168.127.254). Ours and gvproxy are measured back
// to back in every run, the order alternating; the ceilings are the same iperf3 between
// two namespaces over a veth (the kernel alone) and over two relays joined by one Unix
// socket (the relay alone, no network stack between).
import type { Subprocess } from "bun";
import { kernelGuestUnavailable, makeNamespace, removeNamespace, startKernelGuest, startRelay, type KernelGuest } from "../test/support/kernel-guest.ts";
import { run } from "../test/support/netns.ts";
import type { KernelCeiling, KernelCell, KernelGuestResults } from "./model.ts";
import { startNetwork, type NetworkKind } from "./networks.ts";
import { interleaved, type Plan } from "./plan.ts";
import { cpuSeconds, freePort, tempDir } from "./processes.ts";
import { pairedRatio, summarize } from "./stats.ts";

const HOST_LOOPBACK_IP = "192.168.127.254";
type CellKey = Pick<KernelCell, "direction" | "mtu" | "streams">;
type Direction = "guest-to-host" | "host-to-guest";
const DIRECTIONS: readonly Direction[] = ["guest-to-host", "host-to-guest"];

/** Why the kernel-guest cells cannot run here, or undefined. */
export function kernelCellsUnavailable(): string | undefined {
  return kernelGuestUnavailable() ?? (Bun.which("iperf3") === null ? "iperf3 is not installed" : undefined);
}

interface Iperf {
  bytes: number;
  gbps: number;
}

/** Runs an iperf3 client (argv prefix decides where) and returns the receiver's count. */
async function iperfClient(spawn: (argv: string[]) => Subprocess<"pipe", "pipe", "pipe">, server: string, port: number, seconds: number, streams: number, reverse: boolean): Promise<Iperf> {
  const argv = ["iperf3", "-c", server, "-p", String(port), "-t", String(seconds), "-P", String(streams), "-J", ...(reverse ? ["-R"] : [])];
  const proc = spawn(argv);
  const [out, code] = await Promise.all([new Response(proc.stdout).text(), proc.exited]);
  const json = JSON.parse(out || "{}") as { error?: string; end?: { sum_received?: { bytes: number; bits_per_second: number } } };
  if (code !== 0 || json.end?.sum_received === undefined) throw new Error(`iperf3 ${argv.slice(1).join(" ")} failed (exit ${code}): ${json.error ?? out.slice(0, 300)}`);
  return { bytes: json.end.sum_received.bytes, gbps: json.end.sum_received.bits_per_second / 1e9 };
}

/** An iperf3 server for one cell (killed after it: each cell gets a fresh one). */
async function iperfServer(spawn: (argv: string[]) => Subprocess, bind: string): Promise<{ port: number; proc: Subprocess }> {
  const port = await freePort();
  const proc = spawn(["iperf3", "-s", "-B", bind, "-p", String(port)]);
  // iperf3 prints nothing machine-readable when ready: wait until the port accepts.
  for (let i = 0; i < 200; i++) {
    const ok = await Bun.connect({ hostname: bind, port, socket: { data() {} } }).then((s) => (s.end(), true), () => false);
    if (ok) break;
    await Bun.sleep(10);
  }
  return { port, proc };
}

const hostSpawn = (argv: string[]) => Bun.spawn(argv, { stdin: "pipe", stdout: "pipe", stderr: "pipe" });

/** One network + kernel guest at one MTU; every cell of that MTU runs on it. */
async function measureOn(kind: NetworkKind, mtu: number, plan: Plan, record: (cell: CellKey, sample: Sample) => void): Promise<void> {
  const net = await startNetwork(kind, { mtu, forwards: [] });
  let guest: KernelGuest | undefined;
  try {
    guest = await startKernelGuest({ socketPath: net.socketPath, mac: "5a:94:ef:e4:0c:ee", mtu });
    await guest.lease();
    const g = guest;
    for (const direction of DIRECTIONS) {
      for (const streams of plan.streams) {
        const server = await iperfServer(hostSpawn, "127.0.0.1");
        const netCpu0 = cpuSeconds(net.pid);
        const relayCpu0 = g.relay.cpuSeconds();
        const r = await iperfClient((argv) => g.spawn(argv), HOST_LOOPBACK_IP, server.port, plan.seconds, streams, direction === "host-to-guest");
        const netCpu = cpuSeconds(net.pid) - netCpu0;
        const relayCpu = g.relay.cpuSeconds() - relayCpu0;
        server.proc.kill();
        await server.proc.exited;
        record({ direction, mtu, streams }, { kind, gbps: r.gbps, networkCpuPerGB: (netCpu / r.bytes) * 1e9, relayCpuPerGB: (relayCpu / r.bytes) * 1e9 });
      }
    }
  } finally {
    await guest?.close();
    await net.stop();
  }
}

interface Sample {
  kind: NetworkKind;
  gbps: number;
  networkCpuPerGB: number;
  relayCpuPerGB: number;
}

/** Two namespaces joined by `link` (veth, or two relays), iperf3 between them. */
async function ceiling(kind: KernelCeiling["kind"], mtu: number, seconds: number): Promise<{ gbps: number; relayCpuPerGB?: number }> {
  const a = makeNamespace();
  const b = makeNamespace();
  const stops: Array<() => Promise<void>> = [];
  const dir = tempDir("gvkc");
  try {
    let devA: string;
    let devB: string;
    let relayCpu = () => 0;
    if (kind === "veth") {
      devA = `gkva${process.pid}`.slice(0, 15);
      devB = `gkvb${process.pid}`.slice(0, 15);
      run(["ip", "link", "add", devA, "netns", a, "type", "veth", "peer", "name", devB, "netns", b]);
      for (const [ns, dev] of [[a, devA], [b, devB]] as const) run(["ip", "-n", ns, "link", "set", dev, "mtu", String(mtu), "up"]);
    } else {
      devA = devB = `gkt${process.pid}`;
      const listener = await startRelay({ namespace: a, device: devA, listen: `${dir}/pair.sock`, mtu });
      stops.push(listener.stop);
      const dialer = await startRelay({ namespace: b, device: devB, connect: `${dir}/pair.sock`, mtu });
      stops.push(dialer.stop);
      await listener.ready;
      relayCpu = () => listener.cpuSeconds() + dialer.cpuSeconds();
    }
    run(["ip", "-n", a, "addr", "add", "10.99.0.1/24", "dev", devA]);
    run(["ip", "-n", b, "addr", "add", "10.99.0.2/24", "dev", devB]);
    const inNs = (ns: string) => (argv: string[]) => Bun.spawn(["ip", "netns", "exec", ns, ...argv], { stdin: "pipe", stdout: "pipe", stderr: "pipe" });
    const port = await freePort();
    const server = inNs(a)(["iperf3", "-s", "-B", "10.99.0.1", "-p", String(port)]);
    stops.push(async () => void server.kill());
    let r: Iperf | undefined;
    const cpu0 = relayCpu();
    for (let i = 0; i < 100 && r === undefined; i++) {
      r = await iperfClient(inNs(b), "10.99.0.1", port, seconds, 1, false).catch(async (error: unknown) => {
        if (i === 99) throw error;
        await Bun.sleep(20); // the server is not listening yet
        return undefined;
      });
    }
    if (r === undefined) throw new Error("iperf3 ceiling did not run");
    return kind === "relay-pair" ? { gbps: r.gbps, relayCpuPerGB: ((relayCpu() - cpu0) / r.bytes) * 1e9 } : { gbps: r.gbps };
  } finally {
    for (const stop of stops.reverse()) await stop();
    removeNamespace(a);
    removeNamespace(b);
    run(["rm", "-rf", dir]);
  }
}

export async function measureKernelGuest(plan: Plan, log: (line: string) => void): Promise<KernelGuestResults> {
  const samples = new Map<string, { cell: CellKey; ours: Sample[]; gvproxy: Sample[] }>();
  const record = (cell: CellKey, s: Sample) => {
    const key = `${cell.direction}/${cell.mtu}/${cell.streams}`;
    const entry = samples.get(key) ?? { cell, ours: [], gvproxy: [] };
    entry[s.kind].push(s);
    samples.set(key, entry);
  };
  for (let runIndex = 0; runIndex < plan.runs; runIndex++) {
    for (const mtu of plan.mtus) {
      for (const kind of interleaved<NetworkKind>(runIndex, "ours", "gvproxy")) {
        log(`kernel guest: run ${runIndex + 1}/${plan.runs}, MTU ${mtu}, ${kind}`);
        await measureOn(kind, mtu, plan, record);
      }
    }
  }
  const cells: KernelCell[] = [...samples.values()].map(({ cell, ours, gvproxy }) => ({
    ...cell,
    ours: { gbps: summarize(ours.map((s) => s.gbps)), networkCpuPerGB: summarize(ours.map((s) => s.networkCpuPerGB)), relayCpuPerGB: summarize(ours.map((s) => s.relayCpuPerGB)) },
    gvproxy: { gbps: summarize(gvproxy.map((s) => s.gbps)), networkCpuPerGB: summarize(gvproxy.map((s) => s.networkCpuPerGB)), relayCpuPerGB: summarize(gvproxy.map((s) => s.relayCpuPerGB)) },
    ratio: pairedRatio(ours.map((s) => s.gbps), gvproxy.map((s) => s.gbps)),
    runs: ours.length,
  }));
  const ceilings: KernelCeiling[] = [];
  for (const mtu of plan.mtus) {
    for (const kind of ["veth", "relay-pair"] as const) {
      log(`kernel guest ceiling: ${kind}, MTU ${mtu}`);
      const runs = [];
      for (let i = 0; i < Math.max(1, Math.min(plan.runs, 3)); i++) runs.push(await ceiling(kind, mtu, plan.seconds));
      ceilings.push({
        kind,
        mtu,
        gbps: summarize(runs.map((r) => r.gbps)),
        ...(kind === "relay-pair" ? { relayCpuPerGB: summarize(runs.map((r) => r.relayCpuPerGB ?? 0)) } : {}),
      });
    }
  }
  return { cells, ceilings };
}
