/**
 * Network statistics: the shape `gvproxy_stats` returns (docs/ABI.md "Stats"), its parsing
 * from the untyped envelope value, and the four headline metrics a backend reports.
 */
import { replyCount, replyFlag, replyRecord } from "./reply.ts";

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
  const root = replyRecord(value, "stats");
  const tcp = replyRecord(root.tcp, "stats.tcp");
  const policy = replyRecord(root.policy, "stats.policy");
  const guest = replyRecord(root.guest, "stats.guest");
  const link = replyRecord(root.link, "stats.link");
  const events = replyRecord(root.events, "stats.events");
  return {
    bytesSent: replyCount(root.bytesSent, "stats.bytesSent"),
    bytesReceived: replyCount(root.bytesReceived, "stats.bytesReceived"),
    tcp: {
      currentEstablished: replyCount(tcp.currentEstablished, "stats.tcp.currentEstablished"),
      failedConnectionAttempts: replyCount(tcp.failedConnectionAttempts, "stats.tcp.failedConnectionAttempts"),
      retransmits: replyCount(tcp.retransmits, "stats.tcp.retransmits"),
      timeouts: replyCount(tcp.timeouts, "stats.tcp.timeouts"),
      forwardMaxInflightDrop: replyCount(tcp.forwardMaxInflightDrop, "stats.tcp.forwardMaxInflightDrop"),
    },
    policy: { denied: replyCount(policy.denied, "stats.policy.denied") },
    guest: {
      connected: replyFlag(guest.connected, "stats.guest.connected"),
      connections: replyCount(guest.connections, "stats.guest.connections"),
    },
    link: {
      framesReceived: replyCount(link.framesReceived, "stats.link.framesReceived"),
      framesSent: replyCount(link.framesSent, "stats.link.framesSent"),
      rxDropped: replyCount(link.rxDropped, "stats.link.rxDropped"),
      txDropped: replyCount(link.txDropped, "stats.link.txDropped"),
      protocolErrors: replyCount(link.protocolErrors, "stats.link.protocolErrors"),
    },
    events: {
      queued: replyCount(events.queued, "stats.events.queued"),
      delivered: replyCount(events.delivered, "stats.events.delivered"),
      dropped: replyCount(events.dropped, "stats.events.dropped"),
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
