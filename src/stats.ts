/**
 * Network statistics: the shape `gvproxy_stats` returns (docs/ABI.md "Stats"), its parsing
 * from the untyped envelope value, and the four headline metrics a backend reports.
 */
import { GvproxyError } from "./errors.ts";

/** TCP counters of the virtual network's stack. */
export interface TcpStats {
  /** TCP connections currently in the ESTABLISHED state. */
  readonly currentEstablished: number;
  /** Connection attempts that failed (refused, reset or timed out). */
  readonly failedConnectionAttempts: number;
  /** Segments retransmitted. */
  readonly retransmits: number;
  /** Retransmission timeouts. */
  readonly timeouts: number;
  /** Forwarded connections dropped because too many were being set up at once. */
  readonly forwardMaxInflightDrop: number;
}

/** Egress policy counters (`allowNet`). */
export interface PolicyStats {
  /**
   * Outbound flows refused: by `allowNet` or by the fixed guard (loopback, 0.0.0.0,
   * link-local and in-subnet destinations other than the host-loopback NAT address);
   * dropped broadcast and multicast are not counted.
   */
  readonly denied: number;
}

/** State of the guest's socket connection. */
export interface GuestStats {
  /** Whether a guest is connected to the socket now. */
  readonly connected: boolean;
  /** Guest connections accepted over the instance's life (a rebooted VM reconnects). */
  readonly connections: number;
}

/** Frames between the gateway and the guest, and what was refused there. */
export interface LinkStats {
  /** Well-formed frames received from the guest. */
  readonly framesReceived: number;
  /** Frames sent to the guest. */
  readonly framesSent: number;
  /** Guest frames not delivered: malformed datagrams, frames to another MAC. */
  readonly rxDropped: number;
  /** Frames for the guest not sent: no guest attached, or the guest stopped reading. */
  readonly txDropped: number;
  /** Guest protocol violations (bad frame lengths); on a stream each one dropped the connection. */
  readonly protocolErrors: number;
}

/** Counters of the event stream (`on(...)`). */
export interface EventStats {
  /** Events waiting on the Go side for the next pump pass. */
  readonly queued: number;
  /** Events handed to the JS side. */
  readonly delivered: number;
  /** Events dropped because the bounded queue was full (the JS thread did not keep up). */
  readonly dropped: number;
}

/** Counters of one network instance, available right after construction. */
export interface NetworkStats {
  /** Bytes sent to the guest. */
  readonly bytesSent: number;
  /** Bytes received from the guest. */
  readonly bytesReceived: number;
  /** TCP counters. */
  readonly tcp: TcpStats;
  /** Egress policy counters. */
  readonly policy: PolicyStats;
  /** Guest connection state. */
  readonly guest: GuestStats;
  /** Link counters. */
  readonly link: LinkStats;
  /** Event stream counters. */
  readonly events: EventStats;
}

/** The headline metrics of a network backend. */
export interface NetworkMetrics {
  /** Bytes sent to the guest. */
  readonly bytesSent: number;
  /** Bytes received from the guest. */
  readonly bytesReceived: number;
  /** TCP connections established now (`tcp.currentEstablished`). */
  readonly tcpConnections: number;
  /** TCP connection attempts that failed (`tcp.failedConnectionAttempts`). */
  readonly tcpConnectionErrors: number;
}

/**
 * Checks the `value` of a `gvproxy_stats` envelope against {@link NetworkStats}. A library
 * that answers in another shape is a build mismatch: an `INTERNAL` error says which field.
 */
export function parseNetworkStats(value: unknown): NetworkStats {
  const root = record(value, "stats");
  const tcp = record(root.tcp, "stats.tcp");
  const policy = record(root.policy, "stats.policy");
  const guest = record(root.guest, "stats.guest");
  const link = record(root.link, "stats.link");
  const events = record(root.events, "stats.events");
  return {
    bytesSent: count(root.bytesSent, "stats.bytesSent"),
    bytesReceived: count(root.bytesReceived, "stats.bytesReceived"),
    tcp: {
      currentEstablished: count(tcp.currentEstablished, "stats.tcp.currentEstablished"),
      failedConnectionAttempts: count(tcp.failedConnectionAttempts, "stats.tcp.failedConnectionAttempts"),
      retransmits: count(tcp.retransmits, "stats.tcp.retransmits"),
      timeouts: count(tcp.timeouts, "stats.tcp.timeouts"),
      forwardMaxInflightDrop: count(tcp.forwardMaxInflightDrop, "stats.tcp.forwardMaxInflightDrop"),
    },
    policy: { denied: count(policy.denied, "stats.policy.denied") },
    guest: {
      connected: flag(guest.connected, "stats.guest.connected"),
      connections: count(guest.connections, "stats.guest.connections"),
    },
    link: {
      framesReceived: count(link.framesReceived, "stats.link.framesReceived"),
      framesSent: count(link.framesSent, "stats.link.framesSent"),
      rxDropped: count(link.rxDropped, "stats.link.rxDropped"),
      txDropped: count(link.txDropped, "stats.link.txDropped"),
      protocolErrors: count(link.protocolErrors, "stats.link.protocolErrors"),
    },
    events: {
      queued: count(events.queued, "stats.events.queued"),
      delivered: count(events.delivered, "stats.events.delivered"),
      dropped: count(events.dropped, "stats.events.dropped"),
    },
  };
}

/** Derives the headline {@link NetworkMetrics} from full {@link NetworkStats}. */
export function metricsFromStats(stats: NetworkStats): NetworkMetrics {
  return {
    bytesSent: stats.bytesSent,
    bytesReceived: stats.bytesReceived,
    tcpConnections: stats.tcp.currentEstablished,
    tcpConnectionErrors: stats.tcp.failedConnectionAttempts,
  };
}

function record(value: unknown, path: string): Record<string, unknown> {
  if (typeof value !== "object" || value === null || Array.isArray(value)) malformed(path, value);
  return value as Record<string, unknown>;
}

function count(value: unknown, path: string): number {
  if (typeof value !== "number" || !Number.isInteger(value) || value < 0) malformed(path, value);
  return value;
}

function flag(value: unknown, path: string): boolean {
  if (typeof value !== "boolean") malformed(path, value);
  return value;
}

function malformed(path: string, value: unknown): never {
  throw new GvproxyError(
    "INTERNAL",
    `libgvproxy returned malformed stats: ${path} is ${JSON.stringify(value)}; is build/libgvproxy out of date? run \`make lib\``,
  );
}
