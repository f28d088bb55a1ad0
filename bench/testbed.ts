// A network under test with the userspace guest attached and the standard services in
// place: a byte sink and an echo server in the guest, reachable from the host through
// port forwards, and host-side peers the guest reaches through the NAT. Every
// throughput and latency benchmark runs on one of these, ours and gvproxy alike.
import { startGuest, type Guest } from "../guest/driver.ts";
import { artifacts } from "./artifacts.ts";
import { startNetwork, type NetworkKind, type NetworkOptions, type RunningNetwork } from "./networks.ts";
import { cpuSeconds, freePort, PEER_BIN, runJson, startServer, type Server } from "./processes.ts";
import { summarizeLatency } from "./stats.ts";

/** The guest-visible address of the host's 127.0.0.1 (the NAT's default). */
export const HOST_FROM_GUEST = "192.168.127.254";
const GUEST_SINK_PORT = 5001;
const GUEST_ECHO_PORT = 5002;

export interface Throughput {
  bytes: number;
  seconds: number;
  gbps: number;
}

/** A transfer and the CPU seconds each process spent on it. */
export interface MeasuredTransfer extends Throughput {
  cpu: { network: number; guest: number };
}

/** CPU seconds the network's process spent per byte a transfer moved. */
export const cpuPerByte = (t: MeasuredTransfer): number => t.cpu.network / t.bytes;

/** Raw round-trip samples when the host measures, a summary when the guest does. */
export interface LatencyRun {
  p50Us: number;
  p99Us: number;
  perSecond: number;
  errors: number;
  samplesUs?: number[];
}

interface PeerLatency {
  samplesUs: number[];
  seconds: number;
  errors: number;
}

export class Testbed {
  private constructor(
    readonly kind: NetworkKind,
    readonly mtu: number,
    readonly network: RunningNetwork,
    readonly guest: Guest,
    private readonly sinkHostPort: number,
    private readonly echoHostPort: number,
    private readonly hostSink: Server,
    private readonly hostEcho: Server,
  ) {}

  static async start(kind: NetworkKind, mtu: number, extra: Omit<NetworkOptions, "mtu" | "forwards"> = {}): Promise<Testbed> {
    const sinkHostPort = await freePort();
    const echoHostPort = await freePort();
    const forwards = [
      { hostPort: sinkHostPort, guestPort: GUEST_SINK_PORT },
      { hostPort: echoHostPort, guestPort: GUEST_ECHO_PORT },
    ];
    const network = await startNetwork(kind, { mtu, forwards, ...extra });
    const cleanup: (() => Promise<void>)[] = [() => network.stop()];
    try {
      const guest = await startGuest({ socketPath: network.socketPath, mtu, binary: artifacts().guest });
      cleanup.unshift(async () => void (await guest.close()));
      await guest.dhcp({ timeoutMs: 10_000 });
      await guest.serveTcp(GUEST_SINK_PORT, { mode: "sink" });
      await guest.serveTcp(GUEST_ECHO_PORT, { mode: "echo" });
      const hostSink = await startServer([PEER_BIN, "sink"]);
      cleanup.unshift(() => hostSink.stop());
      const hostEcho = await startServer([PEER_BIN, "echo"]);
      return new Testbed(kind, mtu, network, guest, sinkHostPort, echoHostPort, hostSink, hostEcho);
    } catch (err) {
      for (const c of cleanup) await c().catch(() => {});
      throw err;
    }
  }

  /**
   * Runs a transfer and charges the network and guest processes' CPU time to it: on a
   * shared machine CPU per byte is steadier than bytes per second.
   */
  private async accounted(transfer: () => Promise<Throughput>): Promise<MeasuredTransfer> {
    const net0 = cpuSeconds(this.network.pid);
    const guest0 = cpuSeconds(this.guest.pid);
    const t = await transfer();
    return { ...t, cpu: { network: cpuSeconds(this.network.pid) - net0, guest: cpuSeconds(this.guest.pid) - guest0 } };
  }

  /** Host peer -> port forward -> guest sink, `streams` connections for `seconds`. */
  hostToGuest(streams: number, seconds: number): Promise<MeasuredTransfer> {
    return this.accounted(() => this.hostToGuestOnce(streams, seconds));
  }

  private async hostToGuestOnce(streams: number, seconds: number): Promise<Throughput> {
    const res = await runJson<Throughput>([PEER_BIN, "source", "-connect", `127.0.0.1:${this.sinkHostPort}`, "-streams", String(streams), "-seconds", String(seconds)]);
    // The guest counted too; a disagreement means a stream lost data, not a slow one.
    let guestBytes = 0;
    for (let i = 0; i < streams; i++) {
      guestBytes += (await this.guest.sinkResult(GUEST_SINK_PORT, { timeoutMs: 30_000 })).bytes;
    }
    if (guestBytes !== res.bytes) throw new Error(`${this.kind} MTU ${this.mtu}: host sent ${res.bytes} bytes, guest received ${guestBytes}`);
    return res;
  }

  /**
   * Guest -> NAT -> host peer sink, `streams` connections of `bytesPerStream` each (the
   * guest sends a byte count, not a duration; the caller sizes it).
   */
  guestToHost(streams: number, bytesPerStream: number): Promise<MeasuredTransfer> {
    return this.accounted(() => this.guestToHostOnce(streams, bytesPerStream));
  }

  private async guestToHostOnce(streams: number, bytesPerStream: number): Promise<Throughput> {
    const port = Number(this.hostSink.address.split(":")[1]);
    const bytes = Math.max(1 << 20, Math.round(bytesPerStream));
    const results = await Promise.all(
      Array.from({ length: streams }, () =>
        this.guest.bulkSend({ host: HOST_FROM_GUEST, port, bytes, timeoutMs: 120_000 }),
      ),
    );
    const total = results.reduce((a, r) => a + r.bytes, 0);
    const elapsed = Math.max(...results.map((r) => r.seconds));
    return { bytes: total, seconds: elapsed, gbps: (total * 8) / elapsed / 1e9 };
  }

  /** Request/response on a kept connection: host peer -> port forward -> guest echo. */
  async forwardRR(size: number, count: number): Promise<LatencyRun> {
    return this.peerLatency("rr", size, count);
  }

  /** connect + request + response + close: host peer -> port forward -> guest echo. */
  async forwardCRR(size: number, count: number): Promise<LatencyRun> {
    return this.peerLatency("crr", size, count);
  }

  private async peerLatency(kind: "rr" | "crr", size: number, count: number): Promise<LatencyRun> {
    const res = await runJson<PeerLatency>([PEER_BIN, kind, "-connect", `127.0.0.1:${this.echoHostPort}`, "-size", String(size), "-count", String(count)]);
    const s = summarizeLatency(res.samplesUs);
    return { p50Us: s.p50, p99Us: s.p99, perSecond: res.samplesUs.length / res.seconds, errors: res.errors, samplesUs: res.samplesUs };
  }

  /** Request/response on a kept connection: guest -> NAT -> host echo. */
  async natRR(size: number, count: number): Promise<LatencyRun> {
    return this.guestLatency("requestLoop", size, count);
  }

  /** connect + request + response + close: guest -> NAT -> host echo. */
  async natCRR(size: number, count: number): Promise<LatencyRun> {
    return this.guestLatency("connectLoop", size, count);
  }

  private async guestLatency(loop: "requestLoop" | "connectLoop", size: number, count: number): Promise<LatencyRun> {
    const port = Number(this.hostEcho.address.split(":")[1]);
    const r = await this.guest[loop]({ host: HOST_FROM_GUEST, port, count, size, timeoutMs: 120_000 });
    return { p50Us: r.p50Us, p99Us: r.p99Us, perSecond: 1e6 / r.meanUs, errors: 0 };
  }

  async stop(): Promise<void> {
    await this.hostEcho.stop();
    await this.hostSink.stop();
    await this.guest.close();
    await this.network.stop();
  }
}

/** Starts a testbed, runs fn on it and always stops it. */
export async function withTestbed<T>(
  kind: NetworkKind,
  mtu: number,
  extra: Omit<NetworkOptions, "mtu" | "forwards">,
  fn: (t: Testbed) => Promise<T>,
): Promise<T> {
  const t = await Testbed.start(kind, mtu, extra);
  try {
    return await fn(t);
  } finally {
    await t.stop();
  }
}
