// Scale (opt-in: `bun bench/run.ts --only=kernel-scale`, or `make bench SCALE=1`): many
// kernel guests on as many backends of one Bun process (bench/workers/scale-host.ts),
// every lane at once running a bulk iperf3 transfer guest → host through the NAT and an
// RR loop (the Go peer in the namespace against one host echo server). Reports the
// total and per-lane Gbit/s, Jain's fairness index, RR p50/p99 under that load, the host
// process's CPU per GB, and its file descriptors and goroutines before and after.
import type { Subprocess } from "bun";
import { startKernelGuest, type KernelGuest } from "../test/support/kernel-guest.ts";
import { completeLines } from "../test/support/lines.ts";
import { TEST_LIBRARY_ENV } from "../test/support/test-hooks.ts";
import { hostSpawn, iperfServer, iperfTcp, type IperfServer } from "./iperf.ts";
import { GUEST_MAC, HOST_LOOPBACK_IP } from "./kernel-testbed.ts";
import type { KernelScale } from "./model.ts";
import { BUN_BIN, cpuSeconds, PEER_BIN, REPO_ROOT, startServer, tempDir } from "./processes.ts";
import { percentile } from "./stats.ts";

const MTU = 1500;
const SIZE = 64;
/** Guests leased at once while setting up (udhcpc and the relays compete for 2 cores). */
const SETUP_BATCH = 8;

export interface ScalePlan {
  lanes: number;
  seconds: number;
}

/** Jain's fairness index: (Σx)² / (n·Σx²). */
export function jainIndex(xs: readonly number[]): number {
  const sum = xs.reduce((a, x) => a + x, 0);
  const squares = xs.reduce((a, x) => a + x * x, 0);
  return squares === 0 ? 0 : (sum * sum) / (xs.length * squares);
}

interface Host {
  proc: Subprocess<"pipe", "pipe", "pipe">;
  lines: AsyncIterator<string>;
}

async function nextJson<T>(host: Host, what: string): Promise<T> {
  for (;;) {
    const { value, done } = await host.lines.next();
    if (done) throw new Error(`scale host exited before ${what}: ${(await new Response(host.proc.stderr).text()).slice(-1000)}`);
    if (value.startsWith("{")) return JSON.parse(value) as T;
  }
}

async function startHost(dir: string, lanes: number): Promise<Host> {
  const proc = Bun.spawn([BUN_BIN, `${REPO_ROOT}/bench/workers/scale-host.ts`, JSON.stringify({ dir, lanes, mtu: MTU })], {
    stdin: "pipe",
    stdout: "pipe",
    stderr: "pipe",
    env: { ...process.env, ...TEST_LIBRARY_ENV, GVPROXY_LOG_LEVEL: "warn" },
  });
  const host = { proc, lines: completeLines(proc.stdout)[Symbol.asyncIterator]() };
  await nextJson<{ ready: string }>(host, "ready");
  return host;
}

interface PeerLatency {
  samplesUs: number[];
}

/** One lane's RR loop for `seconds` (count is only a bound). */
async function rrLoop(g: KernelGuest, target: string, seconds: number): Promise<number[]> {
  const proc = g.spawn([PEER_BIN, "rr", "-connect", target, "-size", String(SIZE), "-count", "10000000", "-for", `${seconds}s`]);
  const [out, err, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  if (code !== 0) throw new Error(`rr failed (exit ${code}): ${err.trim().slice(-300)}`);
  return (JSON.parse(out) as PeerLatency).samplesUs;
}

export async function measureKernelScale(plan: ScalePlan, log: (line: string) => void): Promise<KernelScale> {
  const dir = tempDir("gvks");
  const host = await startHost(dir, plan.lanes);
  const guests: KernelGuest[] = [];
  const servers: IperfServer[] = [];
  const echo = await startServer([PEER_BIN, "echo", "-listen", "127.0.0.1:0"]);
  try {
    for (let i = 0; i < plan.lanes; i += SETUP_BATCH) {
      const batch = await Promise.all(
        Array.from({ length: Math.min(SETUP_BATCH, plan.lanes - i) }, async (_, j) => {
          const g = await startKernelGuest({ socketPath: `${dir}/lane-${i + j}.sock`, mac: GUEST_MAC, mtu: MTU });
          guests.push(g);
          await g.lease();
          return g;
        }),
      );
      servers.push(...(await Promise.all(batch.map(() => iperfServer(hostSpawn, "127.0.0.1")))));
      log(`kernel scale: ${Math.min(i + SETUP_BATCH, plan.lanes)}/${plan.lanes} guests up`);
    }
    const target = `${HOST_LOOPBACK_IP}:${echo.address.split(":").pop()}`;
    const cpu0 = cpuSeconds(host.proc.pid);
    const lanes = await Promise.all(
      guests.map(async (g, i) => {
        const [bulk, rr] = await Promise.allSettled([iperfTcp((argv) => g.spawn(argv), HOST_LOOPBACK_IP, servers[i]!.port, plan.seconds, 1, false), rrLoop(g, target, plan.seconds)]);
        return { bulk, rr };
      }),
    );
    const cpu = cpuSeconds(host.proc.pid) - cpu0;
    const failures: string[] = [];
    const laneGbps = lanes.map((l, i) => {
      if (l.bulk.status === "fulfilled") return l.bulk.value.gbps;
      failures.push(`lane ${i} bulk: ${String(l.bulk.reason).split("\n")[0]}`);
      return 0;
    });
    const samples = lanes.flatMap((l, i) => {
      if (l.rr.status === "fulfilled") return l.rr.value;
      failures.push(`lane ${i} RR: ${String(l.rr.reason).split("\n")[0]}`);
      return [];
    });
    const bytes = lanes.reduce((a, l) => a + (l.bulk.status === "fulfilled" ? l.bulk.value.bytes : 0), 0);
    for (const g of guests.splice(0)) await g.close();
    host.proc.stdin.write("close\n");
    host.proc.stdin.flush();
    const closed = await nextJson<{ fds: KernelScale["fds"]; goroutines: NonNullable<KernelScale["goroutines"]> }>(host, "its close report");
    const totalGbps = laneGbps.reduce((a, x) => a + x, 0);
    log(`kernel scale: ${plan.lanes} lanes, ${totalGbps.toFixed(2)} Gbit/s total, Jain ${jainIndex(laneGbps).toFixed(3)}, RR p99 ${samples.length ? percentile(samples, 99).toFixed(0) : "–"} µs`);
    return {
      lanes: plan.lanes,
      seconds: plan.seconds,
      laneGbps,
      totalGbps,
      jain: jainIndex(laneGbps),
      rr: { p50Us: samples.length ? percentile(samples, 50) : 0, p99Us: samples.length ? percentile(samples, 99) : 0, samples: samples.length },
      failures,
      fds: closed.fds,
      goroutines: closed.goroutines,
      networkCpuPerGB: bytes > 0 ? (cpu / bytes) * 1e9 : 0,
    };
  } finally {
    for (const g of guests) await g.close();
    await Promise.all(servers.map((s) => s.stop()));
    await echo.stop();
    host.proc.stdin.end();
    await host.proc.exited;
    Bun.spawnSync(["rm", "-rf", dir]);
  }
}
