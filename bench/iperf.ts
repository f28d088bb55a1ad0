// iperf3 as the kernel-guest cells drive it: a server on one side, a client on the other
// (the caller's spawn decides where: the host, or `ip netns exec`), TCP for a duration
// and UDP at a given rate, each returning what the receiver counted.
import type { Subprocess } from "bun";
import { freePort } from "./processes.ts";

/** Starts argv somewhere (on the host or in a namespace) with piped stdio. */
export type Spawner = (argv: string[]) => Subprocess<"pipe", "pipe", "pipe">;

export const hostSpawn: Spawner = (argv) => Bun.spawn(argv, { stdin: "pipe", stdout: "pipe", stderr: "pipe" });

/** What an iperf3 run's receiver counted. */
export interface IperfResult {
  bytes: number;
  gbps: number;
}

/** A UDP run: the receiver's rate and the loss the receiver saw. */
export interface UdpResult extends IperfResult {
  lostPercent: number;
  packets: number;
}

type IperfJson = {
  error?: string;
  end?: { sum_received?: { bytes: number; bits_per_second: number; lost_percent?: number; packets?: number } };
};

async function runClient(spawn: Spawner, argv: string[]): Promise<NonNullable<NonNullable<IperfJson["end"]>["sum_received"]>> {
  const proc = spawn(argv);
  const [out, code] = await Promise.all([new Response(proc.stdout).text(), proc.exited]);
  let json: IperfJson = {};
  try {
    json = JSON.parse(out || "{}") as IperfJson;
  } catch {
    // reported below with the raw output
  }
  const sum = json.end?.sum_received;
  if (code !== 0 || sum === undefined) throw new Error(`iperf3 ${argv.slice(1).join(" ")} failed (exit ${code}): ${json.error ?? out.slice(0, 300)}`);
  return sum;
}

function clientArgs(server: string, port: number, seconds: number, reverse: boolean): string[] {
  return ["iperf3", "-c", server, "-p", String(port), "-t", String(seconds), "-J", ...(reverse ? ["-R"] : [])];
}

/** TCP for `seconds` with `streams` connections; reverse sends server → client. */
export async function iperfTcp(spawn: Spawner, server: string, port: number, seconds: number, streams: number, reverse: boolean): Promise<IperfResult> {
  const sum = await runClient(spawn, [...clientArgs(server, port, seconds, reverse), "-P", String(streams)]);
  return { bytes: sum.bytes, gbps: sum.bits_per_second / 1e9 };
}

/**
 * UDP datagrams of `size` bytes offered at `mbps` (0: as fast as the sender can) for
 * `seconds`. Socket buffers of 4 MiB on both ends (-w is passed to the server too), so
 * the loss measured is the path's, not iperf3's default buffers'.
 */
export async function iperfUdp(spawn: Spawner, server: string, port: number, seconds: number, size: number, mbps: number, reverse: boolean): Promise<UdpResult> {
  const argv = [...clientArgs(server, port, seconds, reverse), "-u", "-l", String(size), "-b", mbps > 0 ? `${Math.round(mbps * 1e6)}` : "0", "-w", "4M"];
  const sum = await runClient(spawn, argv);
  return { bytes: sum.bytes, gbps: sum.bits_per_second / 1e9, lostPercent: sum.lost_percent ?? 0, packets: sum.packets ?? 0 };
}

/** An iperf3 server; it serves one test at a time, so clients run one after another. */
export interface IperfServer {
  port: number;
  stop(): Promise<void>;
}

/** Starts `iperf3 -s` bound to `bind` and waits until it accepts connections. */
export async function iperfServer(spawn: Spawner, bind: string, accepts: (port: number) => Promise<boolean> = (port) => tcpAccepts(bind, port)): Promise<IperfServer> {
  const port = await freePort();
  const proc = spawn(["iperf3", "-s", "-B", bind, "-p", String(port)]);
  // iperf3 prints nothing machine-readable when ready: wait until the port accepts.
  for (let i = 0; i < 200 && proc.exitCode === null; i++) {
    if (await accepts(port)) break;
    await Bun.sleep(10);
  }
  return {
    port,
    async stop() {
      proc.kill();
      await proc.exited;
    },
  };
}

/**
 * Waits until something listens on TCP `port` where `spawn` runs (`ss` there), for a
 * server in a namespace the host cannot connect into.
 */
export async function waitListening(spawn: Spawner, port: number, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const proc = spawn(["ss", "-Hltn", `sport = :${port}`]);
    const [out] = await Promise.all([new Response(proc.stdout).text(), proc.exited]);
    if (out.trim() !== "") return;
    if (Date.now() > deadline) throw new Error(`nothing listens on port ${port} after ${timeoutMs} ms`);
    await Bun.sleep(10);
  }
}

async function tcpAccepts(host: string, port: number): Promise<boolean> {
  return Bun.connect({ hostname: host, port, socket: { data() {} } }).then(
    (s) => (s.end(), true),
    () => false,
  );
}

/**
 * The highest UDP rate with less than `maxLossPercent` loss: one probe as fast as the
 * sender can (if that loses too little, it is the answer: the sender is the limit), then
 * a bisection between the best offered rate that passed and the lowest that failed,
 * starting just under what got through the first time. Returns the receiver's rate and
 * packets per second of the best passing probe (zeros if none passed).
 */
export async function highestUdpRate(
  probe: (mbps: number) => Promise<UdpResult>,
  options: { steps: number; maxLossPercent: number; seconds: number },
): Promise<{ gbps: number; pps: number; lostPercent: number; probes: number }> {
  const passes = (r: UdpResult) => r.lostPercent < options.maxLossPercent && r.packets > 0;
  const first = await probe(0);
  let best = passes(first) ? first : undefined;
  let probes = 1;
  if (best === undefined) {
    let lo = 0;
    let hi = (first.gbps * 1e3) / Math.max(0.01, 1 - first.lostPercent / 100); // what was offered, Mbit/s
    let next = first.gbps * 1e3 * 0.9;
    for (let i = 0; i < options.steps && next > 0; i++) {
      const r = await probe(next);
      probes++;
      if (passes(r)) {
        if (best === undefined || r.gbps > best.gbps) best = r;
        lo = next;
      } else {
        hi = next;
      }
      if ((hi - lo) / hi < 0.05) break;
      next = (lo + hi) / 2;
    }
  }
  if (best === undefined) return { gbps: 0, pps: 0, lostPercent: 100, probes };
  return { gbps: best.gbps, pps: best.packets / options.seconds, lostPercent: best.lostPercent, probes };
}
