// Two builds of our library side by side with the Linux kernel as the guest, for
// judging a change to the data path on a shared, noisy machine: the kernel-guest cells
// of bench/kernel.ts and bench/kernel-latency.ts, ours only, each pair of runs back to
// back with the order alternating, and per metric the medians of each build and the
// median of the paired ratios (B / A; below 1 is less time or CPU for B).
//
//   bun bench/compare-libraries.ts <libA.so> <libB.so> [pairs=6] [cells] [seconds=3]
//
// A build may carry environment for its network process before an @, comma-separated:
// `GOMAXPROCS=1@build/libgvproxy.so` pairs one build with itself on one scheduler thread.
//
// cells (comma-separated, default all): g2h1500, h2g1500, g2h65520, h2g65520 (iperf3 TCP,
// 1 stream; a suffix x4 for 4 streams) and rr, crr, pfrr, pfcrr (64 B through the NAT,
// or through a port forward; RR_COUNT and CRR_COUNT set the round trips, 5000 and 2000).
// Copy build/libgvproxy.so aside before rebuilding to keep the "before" build. Needs
// what the kernel-guest section needs (root, iperf3, make build); writes nothing but
// build/bench-peer, and its figures to stdout.
import { HOST_LOOPBACK_IP, withKernelGuest } from "./kernel-testbed.ts";
import { hostSpawn, iperfServer, iperfTcp, type Spawner } from "./iperf.ts";
import { echoIn, peerClient } from "./kernel-latency.ts";
import { buildPeer, cpuSeconds, freePort, PEER_BIN, startServer } from "./processes.ts";
import { pairedRatio, summarize } from "./stats.ts";

type Build = "A" | "B";

/** What one side of the pairs runs: the network process's environment, with the library to load. */
type BuildEnv = Readonly<Record<string, string>>;
const ALL_CELLS = ["g2h1500", "h2g1500", "g2h65520", "h2g65520", "rr", "crr", "pfrr", "pfcrr"];
const GUEST_ECHO_PORT = 7000;
const LATENCY_CELL = /^(pf)?(rr|crr)$/;
const TCP_CELL = /^(g2h|h2g)(\d+)(?:x(\d+))?$/;

/** Samples per "cell metric", per build, in pair order. */
const samples = new Map<string, Record<Build, number[]>>();

function record(cell: string, metric: string, build: Build, value: number): void {
  const key = `${cell} ${metric}`;
  const entry = samples.get(key) ?? { A: [], B: [] };
  entry[build].push(value);
  samples.set(key, entry);
}

async function measureTcp(build: Build, env: BuildEnv, cell: string, seconds: number): Promise<void> {
  const m = TCP_CELL.exec(cell);
  if (!m) throw new Error(`unknown cell ${cell}; cells: ${ALL_CELLS.join(", ")}`);
  const streams = Number(m[3] ?? 1);
  await withKernelGuest("ours", { mtu: Number(m[2]), forwards: [], env }, async (g, pid) => {
    const server = await iperfServer(hostSpawn, "127.0.0.1");
    const cpu0 = cpuSeconds(pid);
    const r = await iperfTcp((argv) => g.spawn(argv), HOST_LOOPBACK_IP, server.port, seconds, streams, m[1] === "h2g").finally(server.stop);
    record(cell, "Gbit/s", build, r.gbps);
    record(cell, "network CPU s/GB", build, ((cpuSeconds(pid) - cpu0) / r.bytes) * 1e9);
  });
}

/** The latency cells of one build on one network (the guest's echo server started once). */
async function measureLatency(build: Build, env: BuildEnv, cells: readonly string[]): Promise<void> {
  const hostEcho = await startServer([PEER_BIN, "echo", "-listen", "127.0.0.1:0"]);
  const hostPort = await freePort();
  try {
    await withKernelGuest("ours", { mtu: 1500, forwards: [{ hostPort, guestPort: GUEST_ECHO_PORT }], env }, async (g, pid) => {
      const inGuest: Spawner = (argv) => g.spawn(argv);
      let guestEcho = false;
      for (const cell of cells) {
        const [, forward, kind] = LATENCY_CELL.exec(cell) ?? [];
        if (forward && !guestEcho) {
          await echoIn(inGuest, `0.0.0.0:${GUEST_ECHO_PORT}`, GUEST_ECHO_PORT);
          guestEcho = true;
        }
        const target = forward ? `127.0.0.1:${hostPort}` : `${HOST_LOOPBACK_IP}:${hostEcho.address.split(":").pop()}`;
        const count = kind === "rr" ? Number(process.env.RR_COUNT ?? 5000) : Number(process.env.CRR_COUNT ?? 2000);
        const cpu0 = cpuSeconds(pid);
        const r = await peerClient(forward ? hostSpawn : inGuest, kind === "crr" ? "crr" : "rr", target, count);
        record(cell, "p50 µs", build, r.p50Us);
        record(cell, "p99 µs", build, r.p99Us);
        record(cell, "network CPU µs/op", build, ((cpuSeconds(pid) - cpu0) / r.samplesUs.length) * 1e6);
      }
    });
  } finally {
    await hostEcho.stop();
  }
}

/** Settings before a build's @: NAME=value, comma-separated. */
const SETTINGS = /^[A-Za-z_][A-Za-z0-9_]*=[^,]*(,[A-Za-z_][A-Za-z0-9_]*=[^,]*)*$/;

/**
 * `[NAME=value,...@]path`: the library at path (GVPROXY_LIBRARY_PATH, which the network
 * host bench/ours-host.ts loads) and the settings before the @. Text before the first @
 * that is not settings is part of the path (a path may hold an @).
 */
export function parseBuild(arg: string): BuildEnv {
  const at = arg.indexOf("@");
  const settings = at > 0 && SETTINGS.test(arg.slice(0, at)) ? arg.slice(0, at) : "";
  const path = settings === "" ? arg : arg.slice(at + 1);
  if (path === "") throw new Error(`"${arg}" names no library`);
  const env: Record<string, string> = {};
  for (const setting of settings === "" ? [] : settings.split(",")) {
    const [name = "", value = ""] = setting.split(/=(.*)/s);
    if (name === "GVPROXY_LIBRARY_PATH") throw new Error(`"${arg}": the library is the path after the @, not a setting`);
    env[name] = value;
  }
  return { ...env, GVPROXY_LIBRARY_PATH: path };
}

async function main(argv: readonly string[]): Promise<void> {
  const [libA, libB, pairsArg, cellsArg, secondsArg] = argv;
  if (!libA || !libB) throw new Error("usage: bun bench/compare-libraries.ts <libA.so> <libB.so> [pairs] [cells] [seconds]");
  const builds: Record<Build, BuildEnv> = { A: parseBuild(libA), B: parseBuild(libB) };
  const pairs = Number(pairsArg ?? 6);
  const cells = cellsArg ? cellsArg.split(",") : ALL_CELLS;
  const seconds = Number(secondsArg ?? 3);
  await buildPeer();
  const tcpCells = cells.filter((c) => !LATENCY_CELL.test(c));
  const latencyCells = cells.filter((c) => LATENCY_CELL.test(c));
  for (let pair = 0; pair < pairs; pair++) {
    for (const build of pair % 2 === 0 ? (["A", "B"] as const) : (["B", "A"] as const)) {
      for (const cell of tcpCells) await measureTcp(build, builds[build], cell, seconds);
      if (latencyCells.length > 0) await measureLatency(build, builds[build], latencyCells);
    }
    console.error(`pair ${pair + 1}/${pairs} done`);
  }
  const fmt = (v: number) => v.toPrecision(4);
  for (const [key, { A, B }] of samples) {
    const ratio = pairedRatio(B, A);
    console.log(`${key.padEnd(30)} A ${fmt(summarize(A).median)}  B ${fmt(summarize(B).median)}  B/A paired ${ratio.median.toFixed(3)} (${ratio.min.toFixed(2)}–${ratio.max.toFixed(2)}), B lower in ${B.filter((b, i) => b < A[i]!).length} of ${B.length}`);
  }
}

if (import.meta.main) await main(process.argv.slice(2));
