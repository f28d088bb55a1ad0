/**
 * Live control of a running network (DESIGN.md "Public API, live control"): the shapes
 * of forwards, host sockets and the guest's state, and their conversion to and from the
 * JSON the `gvproxy_*` control exports take. The rules (ranges, paths, duplicates) are
 * Go's; this side checks only what JSON cannot say.
 */
import { requireRecord, type DnsZone, type HostSocket, type PortMapping } from "./config.ts";
import { GvproxyError } from "./errors.ts";

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
  /** NAT connections and UDP flows the guest opened so far. */
  readonly connections: number;
}

/** The JSON text of a forward spec; `[host, guest]` tuples become objects. */
export function forwardSpecJson(spec: ForwardSpec): string {
  if (Array.isArray(spec)) {
    if (spec.length !== 2) throw new GvproxyError("INVALID_CONFIG", `forward must be [hostPort, guestPort], got ${safeJson(spec)}`, { field: "forward" });
    return jsonArgument({ hostPort: spec[0], guestPort: spec[1] }, "forward");
  }
  return jsonArgument(requireRecord(spec, "forward"), "forward");
}

/** The JSON text of a runtime argument; what JSON cannot carry (bigint, NaN, cycles) is INVALID_CONFIG. */
export function jsonArgument(value: unknown, field: string): string {
  let text: string | undefined;
  try {
    text = JSON.stringify(value, (_key, v: unknown) => {
      if (typeof v === "bigint" || typeof v === "symbol" || typeof v === "function" || (typeof v === "number" && !Number.isFinite(v))) {
        throw new GvproxyError("INVALID_CONFIG", `${field} holds ${String(v)}, which JSON cannot carry`, { field });
      }
      return v;
    });
  } catch (error) {
    if (error instanceof GvproxyError) throw error;
    throw new GvproxyError("INVALID_CONFIG", `${field} cannot be encoded as JSON: ${String(error)}`, { field, cause: error });
  }
  if (text === undefined) throw new GvproxyError("INVALID_CONFIG", `${field} is required`, { field });
  return text;
}

/** Checks the value of `gvproxy_forwards`/`gvproxy_expose`. */
export function parseForward(value: unknown): Forward {
  const f = value as Record<string, unknown> | null;
  if (typeof f !== "object" || f === null || typeof f.guestPort !== "number") malformed("forward", value);
  if (typeof f.hostPath === "string") return { hostPath: f.hostPath, guestPort: f.guestPort, protocol: "tcp" };
  if (typeof f.hostIp !== "string" || typeof f.hostPort !== "number" || (f.protocol !== "tcp" && f.protocol !== "udp")) {
    malformed("forward", value);
  }
  return { hostIp: f.hostIp, hostPort: f.hostPort, guestPort: f.guestPort, protocol: f.protocol };
}

/** Checks the value of `gvproxy_guest`. */
export function parseGuestInfo(value: unknown): GuestInfo {
  const g = value as Record<string, unknown> | null;
  if (typeof g !== "object" || g === null || typeof g.connected !== "boolean" || typeof g.macAddress !== "string" || typeof g.connections !== "number") {
    malformed("guest", value);
  }
  return {
    connected: g.connected,
    macAddress: g.macAddress,
    connections: g.connections,
    ...(typeof g.ip === "string" ? { ip: g.ip } : {}),
    ...(typeof g.connectedAt === "number" ? { connectedAt: g.connectedAt } : {}),
  };
}

/** The argument types of the other control methods, for their signatures. */
export type { DnsZone, HostSocket };

function malformed(what: string, value: unknown): never {
  throw new GvproxyError("INTERNAL", `libgvproxy returned a malformed ${what}: ${safeJson(value)}`);
}

function safeJson(value: unknown): string {
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}
