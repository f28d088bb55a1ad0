/**
 * {@link GvisorTapBackend}: the network backend a VM runner uses. It owns one
 * {@link GvproxyInstance} and describes how a VM attaches to it (endpoint, QEMU argv).
 */
import { requireRecord, type DnsZone, type GvproxyConfig, type HostSocket, type PortMapping } from "./config.ts";
import type { Forward, ForwardSelector, ForwardSpec, GuestInfo, PortForward, UnixForward, UnixListenerForward } from "./control.ts";
import { GvproxyError } from "./errors.ts";
import { GvproxyInstance, type ConnectionType } from "./instance.ts";
import type { GvproxyEventListener, GvproxyEventType } from "./events.ts";
import { metricsFromStats, type NetworkMetrics, type NetworkStats } from "./stats.ts";
import type { Secret } from "./secrets.ts";

/** Where and how a VM connects to the network. */
export interface NetworkEndpoint {
  /** Always a Unix socket. */
  readonly type: "unix-socket";
  /** The socket path. */
  readonly path: string;
  /** SOCK_STREAM with QEMU's length-prefixed frames, or SOCK_DGRAM with one frame per datagram. */
  readonly connectionType: ConnectionType;
  /** MAC address the VM's NIC must use (the guest MAC the DHCP lease is tied to). */
  readonly macAddress: string;
}

/** Overrides for {@link GvisorTapBackend.qemuArgs}. */
export interface QemuNetArgsOptions {
  /** `-netdev` id. Default `net0`. */
  readonly id?: string;
  /** NIC device model, e.g. `virtio-net-device` for the microvm machine. Default `virtio-net-pci`. */
  readonly device?: string;
  /**
   * For `unix-dgram` endpoints only: the path QEMU binds its own datagram socket to, which
   * the network replies to. Default `<socket path>.qemu`.
   */
  readonly localPath?: string;
}

/**
 * A userspace network backend built on gvisor-tap-vsock: DHCP, DNS, NAT to the host and
 * port forwarding for one VM. A constructed backend is a working network; `close()` (or
 * `using`) releases it.
 *
 * A backend lives until you close it. The library holds every open backend, so it keeps
 * running while a VM uses it even when no JavaScript refers to it any more (garbage
 * collection never stops a network). It never keeps the process alive by itself, and when
 * the process exits (normally or by `process.exit()`, also from a signal handler) every
 * backend still open is closed on the way out and its socket file removed.
 */
export class GvisorTapBackend implements Disposable {
  /** The backend's name. */
  readonly name = "gvisor-tap-vsock";
  /** The network instance this backend owns. */
  readonly instance: GvproxyInstance;

  /**
   * Starts the network described by `config`.
   * @throws {GvproxyError} as {@link GvproxyInstance}'s constructor does
   */
  constructor(config: GvproxyConfig) {
    // Checked before destructuring: a JS caller may pass nothing at all.
    requireRecord(config, "config");
    const { socketPath, portMappings, ...options } = config;
    this.instance = new GvproxyInstance(socketPath, portMappings, options);
  }

  /**
   * How a VM attaches: the socket, its type and the MAC the VM's NIC must use.
   * @throws {GvproxyError} `DESTROYED` after {@link close}
   */
  endpoint(): NetworkEndpoint {
    this.#assertOpen("endpoint");
    return {
      type: "unix-socket",
      path: this.instance.socketPath,
      connectionType: this.instance.connectionType,
      macAddress: this.instance.config.guestMac,
    };
  }

  /**
   * Current counters of the network.
   * @throws {GvproxyError} `DESTROYED` after {@link close}
   */
  stats(): NetworkStats {
    return this.instance.stats();
  }

  /**
   * Headline metrics: bytes each way, TCP connections established now and failed attempts.
   * @throws {GvproxyError} `DESTROYED` after {@link close}
   */
  metrics(): NetworkMetrics {
    return metricsFromStats(this.stats());
  }

  /**
   * QEMU arguments attaching a NIC to this network: `-netdev stream` for a stream
   * endpoint, `-netdev dgram` for a datagram one, and the NIC with the guest MAC.
   * @throws {GvproxyError} `DESTROYED` after {@link close}
   */
  qemuArgs(options: QemuNetArgsOptions = {}): string[] {
    const endpoint = this.endpoint();
    const id = options.id ?? "net0";
    const device = options.device ?? "virtio-net-pci";
    const path = qemuOptionValue(endpoint.path);
    const netdev =
      endpoint.connectionType === "unix-stream"
        ? `stream,id=${id},server=off,addr.type=unix,addr.path=${path}`
        : `dgram,id=${id},local.type=unix,local.path=${qemuOptionValue(options.localPath ?? `${endpoint.path}.qemu`)},remote.type=unix,remote.path=${path}`;
    return ["-netdev", netdev, "-device", `${device},netdev=${id},mac=${endpoint.macAddress}`];
  }

  /** Forwards a host port (`[0, 80]`: the OS picks) or Unix socket to a guest port; see {@link GvproxyInstance.expose}. */
  expose(spec: PortMapping): PortForward;
  expose(spec: UnixForward): UnixListenerForward;
  expose(spec: ForwardSpec): Forward;
  expose(spec: ForwardSpec): Forward {
    return this.instance.expose(spec);
  }

  /** Removes forwards; the port or path is free when it returns. See {@link GvproxyInstance.unexpose}. */
  unexpose(selector: ForwardSelector): boolean {
    return this.instance.unexpose(selector);
  }

  /** Every active forward, configured ones included, as bound. */
  forwards(): Forward[] {
    return this.instance.forwards();
  }

  /** Lets the guest reach a host Unix socket at `192.168.127.254:port`; see {@link GvproxyInstance.addHostSocket}. */
  addHostSocket(socket: HostSocket): void {
    this.instance.addHostSocket(socket);
  }

  /** Removes the host socket on guest port `port`; false if there was none. */
  removeHostSocket(port: number): boolean {
    return this.instance.removeHostSocket(port);
  }

  /** Replaces the egress allow-list, cutting live flows it no longer allows; see {@link GvproxyInstance.setAllowNet}. */
  setAllowNet(allowNet: readonly string[] | "none"): number {
    return this.instance.setAllowNet(allowNet);
  }

  /** Replaces the DNS zones, at once. */
  setDnsZones(zones: readonly DnsZone[]): void {
    this.instance.setDnsZones(zones);
  }

  /** Replaces the secrets; the next request uses them. See {@link GvproxyInstance.setSecrets}. */
  setSecrets(secrets: readonly Secret[]): number {
    return this.instance.setSecrets(secrets);
  }

  /** The CA the guest must trust for intercepted connections; see {@link GvproxyInstance.caCertificatePem}. */
  caCertificatePem(): string {
    return this.instance.caCertificatePem();
  }

  /** The guest side of the network; see {@link GvproxyInstance.guest}. */
  guest(): GuestInfo {
    return this.instance.guest();
  }

  /** Subscribes to `connection`, `guest` or `dns` events; returns the unsubscribe function. */
  on<T extends GvproxyEventType>(type: T, listener: GvproxyEventListener<T>): () => void {
    return this.instance.on(type, listener);
  }

  /** Removes a listener added with {@link on}. */
  off<T extends GvproxyEventType>(type: T, listener: GvproxyEventListener<T>): void {
    this.instance.off(type, listener);
  }

  /**
   * Stops the network and releases its socket and ports; until this is called the network
   * runs (or until the process exits). Calling it again does nothing.
   */
  close(): void {
    this.instance.destroy();
  }

  /** Same as {@link close}, so `using backend = new GvisorTapBackend(...)` cleans up. */
  [Symbol.dispose](): void {
    this.close();
  }

  #assertOpen(method: string): void {
    if (this.instance.destroyed) {
      throw new GvproxyError("DESTROYED", `GvisorTapBackend for ${this.instance.socketPath} was closed; ${method}() is unavailable`);
    }
  }
}

/** QEMU's option syntax separates with commas; a literal comma in a value is doubled. */
function qemuOptionValue(value: string): string {
  return value.replaceAll(",", ",,");
}
