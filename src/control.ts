/**
 * Live control of a running network (DESIGN.md "Public API, live control"): the shapes
 * of forwards, host sockets and the guest's state, and their conversion to and from the
 * JSON the `gvproxy_*` control exports take. The rules (ranges, paths, duplicates) are
 * Go's; this side checks only what JSON cannot say.
 */
import { jsonArgument, portMappingFromTuple, requireRecord, type DnsZone, type HostSocket, type PortMapping } from "./config.ts";
import { replyChoice, replyCount, replyFlag, replyNumber, replyRecord, replyText } from "./reply.ts";

/** A host Unix socket listener forwarded to a guest TCP port. */
export interface UnixForward {
  /** Path of the Unix socket to listen on (a stale socket there is replaced; nothing else is ever deleted). */
  readonly hostPath: string;
  /** Guest TCP port it forwards to. */
  readonly guestPort: number;
}

/** What {@link GvisorTapBackend.expose} takes: a port mapping (hostPort 0: the OS picks) or a Unix listener. */
export type ForwardSpec = PortMapping | UnixForward;

/** An active host-port forward, as bound (`hostPort` is the port the OS gave for 0). */
export interface PortForward {
  readonly hostIp: string;
  readonly hostPort: number;
  readonly guestPort: number;
  readonly protocol: "tcp" | "udp";
}

/** An active Unix-listener forward. */
export interface UnixListenerForward {
  readonly hostPath: string;
  readonly guestPort: number;
  readonly protocol: "tcp";
}

/** An active forward, as bound. */
export type Forward = PortForward | UnixListenerForward;

/** Which forwards {@link GvisorTapBackend.unexpose} removes. */
export type ForwardSelector =
  | { readonly hostPort: number; readonly hostIp?: string; readonly protocol?: "tcp" | "udp" }
  | { readonly hostPath: string };

/** The guest side of a network, as {@link GvisorTapBackend.guest} reports it. */
export interface GuestInfo {
  /** Whether a VM is attached to the socket now. */
  readonly connected: boolean;
  /** The MAC the guest must use (its DHCP lease is tied to it). */
  readonly macAddress: string;
  /** The address it leased, once it has used it. */
  readonly ip?: string;
  /** When the current guest attached, Unix milliseconds. */
  readonly connectedAt?: number;
  /**
   * NAT connections, UDP flows and pings the guest opened so far: one per NAT `open` event
   * (a ping counts once the host sent it; a refused or failed one never opened).
   */
  readonly connections: number;
}

/** The JSON text of a forward spec; `[host, guest]` tuples become objects as in the config. */
export function forwardSpecJson(spec: ForwardSpec): string {
  const value = Array.isArray(spec) ? portMappingFromTuple(spec, "forward") : requireRecord(spec, "forward");
  return jsonArgument(value, "forward");
}

/** Checks a forward of `gvproxy_forwards`/`gvproxy_expose` at `path` of the reply. */
export function parseForward(value: unknown, path = "forward"): Forward {
  const f = replyRecord(value, path);
  if (f.hostPath === undefined) return parsePortForward(f, path);
  return {
    hostPath: replyText(f.hostPath, `${path}.hostPath`),
    guestPort: replyCount(f.guestPort, `${path}.guestPort`),
    protocol: replyChoice(f.protocol, ["tcp"] as const, `${path}.protocol`),
  };
}

/** Checks a host-port forward (also a resolved config's port mapping) at `path` of a reply. */
export function parsePortForward(value: unknown, path: string): PortForward {
  const f = replyRecord(value, path);
  return {
    hostIp: replyText(f.hostIp, `${path}.hostIp`),
    hostPort: replyCount(f.hostPort, `${path}.hostPort`),
    guestPort: replyCount(f.guestPort, `${path}.guestPort`),
    protocol: replyChoice(f.protocol, ["tcp", "udp"] as const, `${path}.protocol`),
  };
}

/** Checks the value of `gvproxy_guest`. */
export function parseGuestInfo(value: unknown): GuestInfo {
  const g = replyRecord(value, "guest");
  return {
    connected: replyFlag(g.connected, "guest.connected"),
    macAddress: replyText(g.macAddress, "guest.macAddress"),
    connections: replyCount(g.connections, "guest.connections"),
    ...(g.ip === undefined ? {} : { ip: replyText(g.ip, "guest.ip") }),
    ...(g.connectedAt === undefined ? {} : { connectedAt: replyNumber(g.connectedAt, "guest.connectedAt") }),
  };
}

/** The argument types of the other control methods, for their signatures. */
export type { DnsZone, HostSocket };
