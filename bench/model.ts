// The shape of a benchmark run's results: what run.ts writes as JSON under
// build/bench/ (and bench/results/ keeps a saved copy of), what report.ts renders as tables and what chart.ts draws.
import type { InterceptionResults } from "./interception.ts";
import type { LatencySummary, Summary } from "./stats.ts";

export type Direction = "host-to-guest" | "guest-to-host";
export type NetworkName = "ours" | "gvproxy";

export interface Meta {
  date: string;
  command: string;
  quick: boolean;
  /** Repetitions of every throughput cell and latency measurement. */
  runs: number;
  secondsPerRun: number;
  machine: { cpus: number; cpuModel: string; kernel: string; memoryMiB: number };
  versions: { bun: string; gvisorTapVsock: string; go: string };
  /** sha256 prefixes of the binaries under test (the run's snapshot of build/). */
  artifacts?: Record<string, string>;
  /** Set when the run measured some sections only (`--only=`): never published. */
  partial?: boolean;
}

/** Gbit/s of one (direction, MTU, streams) cell, each network's runs paired with the other's. */
export interface ThroughputCell {
  direction: Direction;
  mtu: number;
  streams: number;
  gbps: Partial<Record<NetworkName, Summary>>;
  /** ours / gvproxy per pair of back-to-back runs. */
  ratio?: Summary;
  /**
   * CPU seconds the network's process (ours-host or gvproxy) spent per GB moved: less
   * sensitive than Gbit/s to what else runs on a shared machine.
   */
  cpuPerGB?: Partial<Record<NetworkName, Summary>>;
  /** The same for the guest process, which is the same binary under both networks. */
  guestCpuPerGB?: Partial<Record<NetworkName, Summary>>;
  raw: Partial<Record<NetworkName, number[]>>;
}

export type LatencyPath = "port-forward" | "nat";
export type LatencyKind = "rr" | "crr";

/** One latency measurement repeated: the median across runs of each run's percentile. */
export interface LatencyCell {
  path: LatencyPath;
  kind: LatencyKind;
  /** Bytes of request and response. */
  size: number;
  results: Partial<Record<NetworkName, LatencyResult>>;
  /** gvproxy p50 / ours p50 per pair of runs: above 1 means ours is faster. */
  p50Ratio?: Summary;
}

export interface LatencyResult {
  p50Us: Summary;
  p99Us: Summary;
  /** Transactions per second. */
  rate: Summary;
  errors: number;
  /** The distribution of the median run, when the host measured each sample. */
  typical?: LatencySummary;
}

export interface Ceilings {
  /** TCP between two host processes over loopback, Gbit/s, by peer implementation and stream count. */
  loopbackTcp: { peer: "go" | "bun"; streams: number; gbps: Summary }[];
  /** 4-byte-length-framed Unix-socket echo (the QEMU transport with no network stack), Gbit/s by MTU. */
  framedUnix: { mtu: number; frameBytes: number; gbps: Summary }[];
  /** Loopback latency: 64-byte request/response on a kept connection and connect+request+close. */
  loopbackLatency: { kind: LatencyKind; p50Us: Summary; p99Us: Summary; rate: Summary }[];
  /** 64-byte framed Unix-socket round trip. */
  framedUnixRR: { p50Us: Summary; p99Us: Summary };
}

export interface ControlPlane {
  /** dlopen + Go runtime start + first call, in a fresh process, ms. */
  loadMs: Summary;
  createDestroyMs: LatencySummary;
  statsCallUs: LatencySummary;
  /** RSS added per idle instance, MiB, by instance count. */
  rssPerInstanceMiB: { instances: number; perInstanceMiB: number; totalMiB: number; baselineMiB: number }[];
  gvproxyProcessRssMiB?: number;
}

export interface LogBridge {
  /** Records per second delivered to a counting consola reporter, JS draining in a loop. */
  recordsPerSecond: Summary;
  /** The same with JS idle: only the library's drain timer delivers. */
  recordsPerSecondTimerOnly: Summary;
  /** Fraction of the flood the bounded Go queue dropped, in each mode. */
  droppedFraction: Summary;
  droppedFractionTimerOnly: Summary;
  /** Ours with log level debug relative to info, 1 = no cost. */
  debug: LoggingCost;
  /** gvisor-tap-vsock's per-frame logging on relative to off. */
  frameLogging: Partial<Record<NetworkName, LoggingCost>>;
}

export interface EventStream {
  /** Events per second delivered to a `connection` listener, the pump run in a loop, while Go floods. */
  eventsPerSecond: Summary;
  /** The same with JS idle: only the library's drain timer pumps. */
  eventsPerSecondTimerOnly: Summary;
  /** Guest -> host NAT throughput with a `connection` listener / without, per pair: below 1 is the cost. */
  listenerThroughput: Summary;
  /** The network process's CPU per byte with / without, per pair: above 1 is the cost. */
  listenerCpuPerByte: Summary;
}

/** Logging on relative to off, per pair of back-to-back runs. */
export interface LoggingCost {
  /** Throughput on / off: below 1 is the cost. */
  throughput: Summary;
  /** The network process's CPU per byte on / off: above 1 is the cost. */
  cpuPerByte: Summary;
}

export interface GoalCheck {
  goal: string;
  target: string;
  measured: string;
  met: boolean;
  /** How far from the goal, as a short phrase ("1.4x short", "met by 20%"). */
  distance: string;
}

export interface BenchResults {
  meta: Meta;
  ceilings?: Ceilings;
  throughput: ThroughputCell[];
  latency: LatencyCell[];
  controlPlane?: ControlPlane;
  logBridge?: LogBridge;
  eventStream?: EventStream;
  kernelGuest?: KernelGuestResults;
  kernelScale?: KernelScale;
  interception?: InterceptionResults;
  goals: GoalCheck[];
  /** Parts that could not run, and why. */
  skipped: string[];
}

/** One network's figures in a kernel-guest cell (bench/kernel.ts). */
export interface KernelSide {
  gbps: Summary;
  /** CPU seconds of the network's process per GB the receiver counted. */
  networkCpuPerGB: Summary;
  /** CPU seconds of the TAP relay per GB: the stand-in for a VMM's own cost. */
  relayCpuPerGB: Summary;
}

/** iperf3 TCP with the Linux kernel as the guest, ours and gvproxy paired per run. */
export interface KernelCell {
  direction: Direction;
  mtu: number;
  streams: number;
  ours: KernelSide;
  gvproxy: KernelSide;
  /** ours / gvproxy Gbit/s per back-to-back pair. */
  ratio: Summary;
  runs: number;
}

/** iperf3 between two namespaces: over a veth (the kernel alone) or two relays joined by a socket. */
export interface KernelCeiling {
  kind: "veth" | "relay-pair";
  mtu: number;
  gbps: Summary;
  /** relay-pair only: CPU seconds of both relays per GB. */
  relayCpuPerGB?: Summary;
}

/** RR or connect+request+close with the kernel guest, ours and gvproxy paired per run. */
export interface KernelLatencyCell {
  path: LatencyPath;
  kind: LatencyKind;
  size: number;
  ours: LatencyResult;
  gvproxy: LatencyResult;
  /** gvproxy p50 / ours p50 per pair of runs: above 1 means ours is faster. */
  p50Ratio: Summary;
  runs: number;
}

/** The same peers between two namespaces with no network between them. */
export interface KernelLatencyCeiling {
  pair: KernelCeiling["kind"];
  kind: LatencyKind;
  p50Us: Summary;
  p99Us: Summary;
  rate: Summary;
}

/** The highest UDP rate with < 1% loss (iperf3 -u) for one datagram size and direction. */
export interface KernelUdpCell {
  /** Datagram payload bytes. */
  size: number;
  direction: Direction;
  ours: { gbps: Summary; pps: Summary };
  gvproxy: { gbps: Summary; pps: Summary };
  /** ours / gvproxy rate per pair of runs where both found one (absent if none did). */
  ratio?: Summary;
  runs: number;
}

export interface KernelUdpCeiling {
  pair: KernelCeiling["kind"];
  size: number;
  gbps: number;
  pps: number;
}

/**
 * Many kernel guests on many backends of one Bun process at once, each lane running a
 * bulk transfer and an RR loop (bench/kernel-scale.ts, opt-in).
 */
export interface KernelScale {
  lanes: number;
  seconds: number;
  /** Every lane's bulk Gbit/s, lane order. */
  laneGbps: number[];
  totalGbps: number;
  /** Jain's fairness index of laneGbps: 1 = all equal, 1/lanes = one lane has it all. */
  jain: number;
  /** RR 64 B under that load, all lanes' samples together. */
  rr: { p50Us: number; p99Us: number; samples: number };
  /** Lanes whose bulk transfer or RR loop failed (with why). */
  failures: string[];
  /** The host process before the backends were made and after they were closed. */
  fds: { before: number; after: number };
  goroutines?: { before: number; after: number };
  /** CPU seconds of the host process per GB moved in total. */
  networkCpuPerGB: number;
}

export interface KernelGuestResults {
  cells: KernelCell[];
  ceilings: KernelCeiling[];
  latency?: KernelLatencyCell[];
  latencyCeilings?: KernelLatencyCeiling[];
  udp?: KernelUdpCell[];
  udpCeilings?: KernelUdpCeiling[];
  /** Cells of a run that failed (and so were left out of the pairs), with why. */
  failures?: string[];
}
