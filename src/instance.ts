/**
 * {@link GvproxyInstance}: one running virtual network, owned by the handle libgvproxy
 * issued for it. A thin class: it validates the config, crosses FFI and keeps the handle;
 * everything else is the backend's job.
 */
import { configJson, jsonArgument, secretsJson, type GvproxyOptions, type GvproxyProtocol, type PortMapping, type ResolvedGvproxyConfig } from "./config.ts";
import {
  forwardSpecJson,
  parseForward,
  parseGuestInfo,
  type DnsZone,
  type Forward,
  type ForwardSelector,
  type ForwardSpec,
  type GuestInfo,
  type HostSocket,
  type PortForward,
  type UnixForward,
  type UnixListenerForward,
} from "./control.ts";
import { GvproxyError } from "./errors.ts";
import { EventHub, type GvproxyEventListener, type GvproxyEventType } from "./events.ts";
import { callEnvelope, cString, type EnvelopePointer, type GvproxySymbols } from "./ffi.ts";
import { drainGvproxyLogs, gvproxyLogger, startLogBridge } from "./logging.ts";
import { malformedReply, replyChoice, replyCount, replyFlag, replyList, replyRecord, replyText } from "./reply.ts";
import { parseResolvedConfig } from "./resolved-config.ts";
import { parseNetworkStats, type NetworkStats } from "./stats.ts";
import type { Secret } from "./secrets.ts";

/** How the guest socket carries frames: a stream (QEMU protocol) or datagrams (vfkit). */
export type ConnectionType = "unix-stream" | "unix-dgram";

/** Versions compiled into libgvproxy. */
export interface GvproxyVersions {
  /** gvisor-tap-vsock module version, e.g. `v0.8.9`. */
  readonly gvisorTapVsock: string;
  /** gVisor module version. */
  readonly gvisor: string;
  /** Go toolchain version. */
  readonly go: string;
}

/** The value of `gvproxy_create` (docs/ABI.md), shape-checked. */
export interface CreateReply {
  readonly id: number;
  readonly protocol: GvproxyProtocol;
  readonly connectionType: ConnectionType;
  /** The configuration the network runs, every default filled in. */
  readonly config: ResolvedGvproxyConfig;
}

/**
 * Checks the value `gvproxy_create` answered with. Go has created a network by then, so a
 * reply in another shape must not leak it: when the reply carries a usable id, `destroy`
 * is called with it (its own failure is attached as the cause) before the `INTERNAL` error
 * naming the bad field is thrown.
 */
export function parseCreateReply(value: unknown, destroy: (id: number) => void): CreateReply {
  const reply = replyRecord(value, "create");
  const id = reply.id;
  const usableId = typeof id === "number" && Number.isSafeInteger(id) && id > 0 ? id : undefined;
  try {
    if (usableId === undefined) malformedReply("create.id", id);
    return {
      id: usableId,
      protocol: replyChoice(reply.protocol, ["qemu", "vfkit"] as const, "create.protocol"),
      connectionType: replyChoice(reply.connectionType, ["unix-stream", "unix-dgram"] as const, "create.connectionType"),
      config: parseResolvedConfig(reply.config, "create.config"),
    };
  } catch (error) {
    if (usableId !== undefined) {
      try {
        destroy(usableId);
      } catch (cause) {
        throw new GvproxyError("INTERNAL", `${(error as Error).message}; destroying instance ${usableId} failed too`, { cause });
      }
    }
    throw error;
  }
}

/**
 * Every instance that has not been destroyed. A network a VM is using is a resource like a
 * listening server: it must not depend on the caller keeping a reference, so the library
 * holds it here (strongly) until `destroy()`, and garbage collection never ends it.
 */
const open = new Set<GvproxyInstance>();
let exitHookInstalled = false;

/**
 * Destroys every open instance when the process exits (normally, or through
 * `process.exit()`, also from a signal handler), so no socket file is left behind and
 * their last log lines are delivered. `exit` listeners run synchronously and so do FFI
 * calls; a listener adds no handle, so the process still exits when its work is done.
 */
function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on("exit", destroyOpenInstances);
}

/** The `exit` listener: destroys every open instance, each failure logged, none skipped. */
function destroyOpenInstances(): void {
  for (const instance of [...open]) {
    try {
      instance.destroy();
    } catch (error) {
      gvproxyLogger().warn(`destroying GvproxyInstance ${instance.id} (${instance.socketPath}) at exit failed: ${String(error)}`);
    }
  }
}

/**
 * A running gvisor-tap-vsock network: DHCP, DNS, NAT to the host and port forwarding for
 * one VM, reached through a Unix socket. Construction either yields a working network
 * (socket listening, host ports bound) or throws a {@link GvproxyError}.
 *
 * An instance lives until you destroy it: the library holds every open instance, so
 * dropping the last reference (while a VM still uses the network) never stops it. It
 * never keeps the process alive either, and when the process exits every instance still
 * open is destroyed on the way out (its socket file removed).
 */
export class GvproxyInstance implements Disposable {
  /** The handle libgvproxy issued for this network. */
  readonly id: number;
  /** The socket path the caller gave. */
  readonly socketPath: string;
  /** The guest socket protocol in use. */
  readonly protocol: GvproxyProtocol;
  /** Whether the guest socket is SOCK_STREAM (`qemu`) or SOCK_DGRAM (`vfkit`). */
  readonly connectionType: ConnectionType;
  /**
   * The configuration the network was created with, as libgvproxy resolved it: every
   * default filled in, bound ports included. Later changes (expose, setAllowNet,
   * setDnsZones, addHostSocket) are not reflected here; `forwards()` lists the live forwards.
   */
  readonly config: ResolvedGvproxyConfig;
  #destroyed = false;
  #events: EventHub | undefined;

  /**
   * Starts a network listening on `socketPath`, forwarding `portMappings` from the host.
   *
   * @param socketPath Unix socket path the VM connects to; unique per VM
   * @param portMappings host-to-guest forwards, `[hostPort, guestPort]` or objects
   * @param options every other setting; defaults as in DESIGN.md
   * @throws {GvproxyError} `INVALID_CONFIG`, `SOCKET_PATH_TOO_LONG`, `SOCKET_IN_USE`,
   *   `NOT_A_SOCKET`, `ADDRESS_IN_USE`, `PERMISSION_DENIED`, `LIBRARY_NOT_FOUND`, `INTERNAL`
   */
  constructor(socketPath: string, portMappings: readonly PortMapping[] = [], options: GvproxyOptions = {}) {
    const json = cString(configJson({ ...options, socketPath, portMappings }));
    const created = callLibrary((symbols) => symbols.gvproxy_create(json));
    const reply = parseCreateReply(created, (id) => callLibrary((symbols) => symbols.gvproxy_destroy(id)));
    this.id = reply.id;
    this.config = reply.config;
    this.socketPath = socketPath;
    this.protocol = reply.protocol;
    this.connectionType = reply.connectionType;
    open.add(this);
    installExitHook();
  }

  /** The gvisor-tap-vsock version compiled into libgvproxy, e.g. `v0.8.9`. */
  static version(): string {
    return GvproxyInstance.versions().gvisorTapVsock;
  }

  /** Every version compiled into libgvproxy: gvisor-tap-vsock, gVisor and Go. */
  static versions(): GvproxyVersions {
    const value = replyRecord(callLibrary((symbols) => symbols.gvproxy_version()), "version");
    return {
      gvisorTapVsock: replyText(value.gvisorTapVsock, "version.gvisorTapVsock"),
      gvisor: replyText(value.gvisor, "version.gvisor"),
      go: replyText(value.go, "version.go"),
    };
  }

  /**
   * Starts forwarding a host port or Unix socket to a guest port. When it returns the
   * listener is up (hostPort 0: the OS picked the port, reported in the result); when it
   * throws nothing changed.
   * @throws {GvproxyError} `INVALID_CONFIG`, `ADDRESS_IN_USE`, `SOCKET_IN_USE`,
   *   `NOT_A_SOCKET`, `SOCKET_PATH_TOO_LONG`, `PERMISSION_DENIED`, `DESTROYED`
   */
  expose(spec: PortMapping): PortForward;
  expose(spec: UnixForward): UnixListenerForward;
  expose(spec: ForwardSpec): Forward;
  expose(spec: ForwardSpec): Forward {
    this.#assertLive("expose");
    const arg = cString(forwardSpecJson(spec));
    return parseForward(callLibrary((symbols) => symbols.gvproxy_expose(this.id, arg)));
  }

  /**
   * Removes the forwards `selector` names; when it returns their ports or paths are free
   * and their live connections closed. Returns whether one was removed.
   * @throws {GvproxyError} `INVALID_CONFIG`, `DESTROYED`
   */
  unexpose(selector: ForwardSelector): boolean {
    this.#assertLive("unexpose");
    const arg = cString(jsonArgument(selector, "forward"));
    const value = replyRecord(callLibrary((symbols) => symbols.gvproxy_unexpose(this.id, arg)), "unexpose");
    return replyCount(value.removed, "unexpose.removed") > 0;
  }

  /** Every active forward (configured ones first), as bound. */
  forwards(): Forward[] {
    this.#assertLive("forwards");
    return replyList(callLibrary((symbols) => symbols.gvproxy_forwards(this.id)), "forwards", parseForward);
  }

  /**
   * Lets the guest reach the host Unix socket `socket.path` at `hostLoopbackIp:socket.port`.
   * @throws {GvproxyError} `INVALID_CONFIG` (also for a port already mapped), `SOCKET_PATH_TOO_LONG`, `DESTROYED`
   */
  addHostSocket(socket: HostSocket): void {
    this.#assertLive("addHostSocket");
    const arg = cString(jsonArgument(socket, "hostSocket"));
    callLibrary((symbols) => symbols.gvproxy_add_host_socket(this.id, arg));
  }

  /** Removes the host socket on guest port `port` and closes its connections; false if there was none. */
  removeHostSocket(port: number): boolean {
    this.#assertLive("removeHostSocket");
    if (!Number.isInteger(port)) throw new GvproxyError("INVALID_CONFIG", `port must be an integer, got ${String(port)}`, { field: "port" });
    const value = replyRecord(callLibrary((symbols) => symbols.gvproxy_remove_host_socket(this.id, port)), "removeHostSocket");
    return replyFlag(value.removed, "removeHostSocket.removed");
  }

  /**
   * Replaces the egress allow-list (`[]`: no filtering, `"none"`: every egress flow
   * refused). New flows follow it when this returns; live connections and UDP flows it
   * no longer allows are cut (reason `policy-changed`). Returns how many were cut.
   * @throws {GvproxyError} `INVALID_CONFIG` (nothing changed), `DESTROYED`
   */
  setAllowNet(allowNet: readonly string[] | "none"): number {
    this.#assertLive("setAllowNet");
    const arg = cString(jsonArgument(allowNet, "allowNet"));
    const value = replyRecord(callLibrary((symbols) => symbols.gvproxy_set_allow_net(this.id, arg)), "setAllowNet");
    return replyCount(value.cut, "setAllowNet.cut");
  }

  /**
   * Replaces the DNS zones the gateway answers, at once.
   * @throws {GvproxyError} `INVALID_CONFIG` (nothing changed), `DESTROYED`
   */
  setDnsZones(zones: readonly DnsZone[]): void {
    this.#assertLive("setDnsZones");
    const arg = cString(jsonArgument(zones, "dnsZones"));
    callLibrary((symbols) => symbols.gvproxy_set_dns_zones(this.id, arg));
  }

  /**
   * Replaces the secrets (see {@link GvproxyOptions.secrets}); the next request uses the
   * new set. `[]` stops interception for new connections. Returns how many are in force.
   * @throws {GvproxyError} `INVALID_CONFIG` naming the field (nothing changed), `DESTROYED`
   */
  setSecrets(secrets: readonly Secret[]): number {
    this.#assertLive("setSecrets");
    const arg = cString(secretsJson(secrets));
    const value = callLibrary((symbols) => symbols.gvproxy_set_secrets(this.id, arg)) as { count?: unknown };
    return typeof value.count === "number" ? value.count : 0;
  }

  /**
   * The PEM certificate of the CA that signs intercepted connections' certificates: put
   * it into the guest's trust store. The given `tlsInterception.ca`, else one generated
   * in memory for this network on first use.
   * @throws {GvproxyError} `DESTROYED`
   */
  caCertificatePem(): string {
    this.#assertLive("caCertificatePem");
    const value = callLibrary((symbols) => symbols.gvproxy_ca_certificate(this.id)) as { certPem?: unknown };
    if (typeof value.certPem !== "string") throw new GvproxyError("INTERNAL", "libgvproxy returned no CA certificate");
    return value.certPem;
  }

  /** The guest side: attached or not, its MAC, leased IP, since when, connections so far. */
  guest(): GuestInfo {
    this.#assertLive("guest");
    return parseGuestInfo(callLibrary((symbols) => symbols.gvproxy_guest(this.id)));
  }

  /**
   * Calls `listener` with every event of `type` from now on, on the JS thread. Returns
   * the function that removes it. Events are produced only while a listener exists.
   * @throws {GvproxyError} `INVALID_CONFIG` for an unknown type, `DESTROYED`
   */
  on<T extends GvproxyEventType>(type: T, listener: GvproxyEventListener<T>): () => void {
    this.#assertLive("on");
    this.#events ??= new EventHub(this.id);
    return this.#events.on(type, listener);
  }

  /** Removes `listener` for `type`. */
  off<T extends GvproxyEventType>(type: T, listener: GvproxyEventListener<T>): void {
    this.#events?.off(type, listener);
  }

  /** Whether {@link destroy} has been called. */
  get destroyed(): boolean {
    return this.#destroyed;
  }

  /**
   * Current counters of the network.
   * @throws {GvproxyError} `DESTROYED` after {@link destroy}
   */
  stats(): NetworkStats {
    this.#assertLive("stats");
    return parseNetworkStats(callLibrary((symbols) => symbols.gvproxy_stats(this.id)));
  }

  /**
   * Stops the network and releases everything it created: host ports can be bound again
   * at once and the socket file is gone. Its remaining log records are delivered before
   * this returns. Calling it again does nothing.
   */
  destroy(): void {
    if (this.#destroyed) return;
    this.#destroyed = true;
    open.delete(this);
    // The hub delivers what is queued and leaves the pump (which must not drain a
    // destroyed network); the events of the shutdown itself come back as the value.
    this.#events?.detach();
    const finalEvents = callLibrary((symbols) => symbols.gvproxy_destroy(this.id));
    this.#events?.close(finalEvents);
  }

  /** Same as {@link destroy}, so `using inst = new GvproxyInstance(...)` cleans up. */
  [Symbol.dispose](): void {
    this.destroy();
  }

  #assertLive(method: string): void {
    if (this.#destroyed) {
      throw new GvproxyError("DESTROYED", `GvproxyInstance ${this.id} (${this.socketPath}) was destroyed; ${method}() is unavailable`);
    }
  }
}

/**
 * Calls an envelope-returning export and unwraps its envelope, then drains the log queue
 * even when the call throws, so the records explaining a failure arrive with it.
 */
function callLibrary(call: (symbols: GvproxySymbols) => EnvelopePointer): unknown {
  const symbols = startLogBridge();
  try {
    return callEnvelope(symbols, call(symbols));
  } finally {
    drainGvproxyLogs();
  }
}
