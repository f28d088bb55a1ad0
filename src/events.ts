/**
 * The typed event stream of a network (DESIGN.md "Public API, live control"): what the
 * guest connected to or was refused, its DNS queries, and its link coming and going.
 * Events are plain JSON data produced on the Go side only while a listener of their
 * type exists, queued there (bounded; drops counted in `stats().events.dropped`) and
 * delivered on the JS thread by the same pump as the logs.
 */
import { GvproxyError } from "./errors.ts";
import { callEnvelope, type GvproxySymbols } from "./ffi.ts";
import { addPumpHook, gvproxyLogger, startLogBridge } from "./logging.ts";

/** One end of a connection: an address and port, or a Unix socket path. */
export type GvproxyEndpoint = { readonly ip: string; readonly port: number } | { readonly path: string };

/** Stable reason codes of denials and cuts (`ip-not-allowed`, `policy-changed`, ...). */
export type GvproxyReason =
  | "ip-not-allowed"
  | "port-not-allowed"
  | "egress-none"
  | "quic-refused"
  | "sni-mismatch"
  | "host-mismatch"
  | "not-inspectable"
  | "dns-refused"
  | "dns-malformed"
  | "host-loopback"
  | "link-local"
  | "virtual-subnet"
  | "policy-changed"
  | "unexposed"
  | "secret-misuse"
  | "upstream-certificate"
  | "connect-failed";

/**
 * A `connection` event: a connection or UDP flow opened, closed, or was refused. One
 * whose far side refused or could not be reached (the guest's port for a forward, the
 * host's for NAT), or whose guest gave up its connect while the network dialed the far
 * side, never opened: it is a lone `close` with reason `connect-failed`. An
 * ICMP echo request the guest sent beyond the gateway (a ping) is a flow of protocol
 * `icmp` with port 0 at both ends: open and close around the host's reply, denied, or a
 * `connect-failed` close when the host cannot send it (no ping or raw socket permitted).
 */
export interface ConnectionEvent {
  readonly type: "connection";
  /** Wall-clock time, Unix milliseconds. */
  readonly timeMs: number;
  /** Pairs an open with its close (a `connect-failed` close has none); absent on a denial. */
  readonly id?: number;
  readonly phase: "open" | "close" | "denied";
  readonly protocol: "tcp" | "udp" | "icmp";
  /** The guest's egress (`nat`), a forward into the guest, or a host socket. */
  readonly via: "nat" | "forward" | "host-socket";
  readonly source?: GvproxyEndpoint;
  readonly destination?: GvproxyEndpoint;
  /** The DNS name, TLS SNI or HTTP Host the connection was allowed by or refused for. */
  readonly name?: string;
  /** Why it was refused, or why the network ended it. */
  readonly reason?: GvproxyReason;
  /** The refusal in words. */
  readonly detail?: string;
  /** On close: bytes the guest sent. */
  readonly bytesFromGuest?: number;
  /** On close: bytes sent to the guest. */
  readonly bytesToGuest?: number;
  /**
   * On close: how long it lasted, from when the network began connecting its far side
   * (the dial, for NAT, forwards and host sockets) to its end. The `open` event carries
   * that same start as its `timeMs`, so an open can be timed before events delivered
   * ahead of it (delivery is in order per connection, not across connections).
   */
  readonly durationMs?: number;
}

/** A `guest` event: a VM attached to the socket or went away. */
export interface GuestEvent {
  readonly type: "guest";
  readonly timeMs: number;
  readonly phase: "connected" | "disconnected";
  /** The peer's socket address, for datagram (vfkit) guests. */
  readonly peer?: string;
  /** Why it disconnected. */
  readonly reason?: string;
  /** Guest connections accepted so far, this one included. */
  readonly connections: number;
}

/** A `dns` event: one query to the gateway DNS and what became of it. */
export interface DnsEvent {
  readonly type: "dns";
  readonly timeMs: number;
  readonly protocol: "udp" | "tcp";
  /** The name asked for, as the guest wrote it (fully qualified). */
  readonly name: string;
  /** Record type, e.g. `A`, `TXT`. */
  readonly queryType: string;
  readonly decision: "allowed" | "denied";
  /** Response code, e.g. `NOERROR`, `NXDOMAIN`. */
  readonly rcode?: string;
  /** Addresses (and CNAME targets) answered. */
  readonly answer: readonly string[];
  readonly reason?: GvproxyReason;
  readonly detail?: string;
}

/** Event objects by type. */
export interface GvproxyEventMap {
  readonly connection: ConnectionEvent;
  readonly guest: GuestEvent;
  readonly dns: DnsEvent;
}

/** An event type a listener can subscribe to. */
export type GvproxyEventType = keyof GvproxyEventMap;

/** A listener of events of type `T`. */
export type GvproxyEventListener<T extends GvproxyEventType> = (event: GvproxyEventMap[T]) => void;

/** The Go side's bit for each type (docs/ABI.md "Events"). */
const KIND_BITS: Record<GvproxyEventType, number> = { guest: 1, connection: 2, dns: 4 };
/** Events one pump pass delivers at most per network; the rest wait for the next pass. */
const DRAIN_MAX_EVENTS = 65536;

type AnyListener = (event: never) => void;

/**
 * The listeners of one network and the hook that delivers their events. Subscribing the
 * first listener of a type tells Go to start producing that type; removing the last one
 * tells it to stop.
 */
export class EventHub {
  readonly #id: number;
  readonly #listeners = new Map<GvproxyEventType, Set<AnyListener>>();
  #removeHook: (() => void) | undefined;
  #mask = 0;

  constructor(id: number) {
    this.#id = id;
  }

  /** Adds `listener` for `type` and returns the function that removes it. */
  on<T extends GvproxyEventType>(type: T, listener: GvproxyEventListener<T>): () => void {
    if (!(type in KIND_BITS)) {
      throw new GvproxyError("INVALID_CONFIG", `unknown event type ${JSON.stringify(type)}; use "connection", "guest" or "dns"`);
    }
    if (typeof listener !== "function") {
      throw new GvproxyError("INVALID_CONFIG", `the listener of "${type}" events must be a function, got ${typeof listener}`);
    }
    let set = this.#listeners.get(type);
    if (set === undefined) {
      set = new Set();
      this.#listeners.set(type, set);
    }
    set.add(listener as AnyListener);
    this.#sync();
    return () => this.off(type, listener);
  }

  /** Removes `listener` for `type`; a listener that is not there is ignored. */
  off<T extends GvproxyEventType>(type: T, listener: GvproxyEventListener<T>): void {
    const set = this.#listeners.get(type);
    if (set === undefined || !set.delete(listener as AnyListener)) return;
    if (set.size === 0) this.#listeners.delete(type);
    this.#sync();
  }

  /** Delivers what is queued and leaves the pump: the network is about to be destroyed. */
  detach(): void {
    this.drain();
    this.#removeHook?.();
    this.#removeHook = undefined;
  }

  /**
   * Delivers `finalEvents` (what the network's shutdown produced, from gvproxy_destroy's
   * value) and then forgets every listener.
   */
  close(finalEvents: unknown): void {
    const events = (finalEvents as { events?: unknown } | null | undefined)?.events;
    if (this.#mask !== 0 && Array.isArray(events)) {
      for (const event of events as Array<{ type?: unknown }>) this.#dispatch(event);
    }
    this.#listeners.clear();
    this.#removeHook?.();
    this.#removeHook = undefined;
    this.#mask = 0;
  }

  /** Pulls the queued events from Go and hands each to the listeners of its type. */
  drain(): void {
    if (this.#mask === 0) return;
    const symbols = startLogBridge();
    const value = callEnvelope(symbols, symbols.gvproxy_drain_events(this.#id, DRAIN_MAX_EVENTS)) as { events?: unknown };
    if (!Array.isArray(value.events)) throw new GvproxyError("INTERNAL", "libgvproxy returned a malformed event batch");
    for (const event of value.events as Array<{ type?: unknown }>) this.#dispatch(event);
  }

  #dispatch(event: { type?: unknown }): void {
    const set = this.#listeners.get(event.type as GvproxyEventType);
    if (set === undefined) return;
    for (const listener of set) {
      try {
        (listener as (e: unknown) => void)(event);
      } catch (error) {
        gvproxyLogger().error(`a "${String(event.type)}" event listener threw; the other listeners still run:`, error);
      }
    }
  }

  #sync(): void {
    let mask = 0;
    for (const type of this.#listeners.keys()) mask |= KIND_BITS[type];
    if (mask === this.#mask) return;
    const symbols: GvproxySymbols = startLogBridge();
    callEnvelope(symbols, symbols.gvproxy_subscribe(this.#id, mask));
    this.#mask = mask;
    if (mask !== 0 && this.#removeHook === undefined) this.#removeHook = addPumpHook(() => this.drain());
    if (mask === 0 && this.#removeHook !== undefined) {
      this.#removeHook();
      this.#removeHook = undefined;
    }
  }
}
