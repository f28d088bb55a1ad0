/**
 * A typed driver for build/gvguest, the userspace guest: it spawns the binary against
 * a network's Unix socket, sends JSON-line commands, matches replies by id, bounds every
 * command with a timeout and kills the process on close. Tests, examples and the
 * benchmarks all drive the guest through it.
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
import type { Subprocess } from "bun";

/** Where `make guest` puts the binary. */
export const GUEST_BINARY = join(import.meta.dir, "..", "build", "gvguest");

/** Address of the host's loopback as the guest sees it (default subnet). */
export const HOST_LOOPBACK_IP = "192.168.127.254";
/** Gateway address (DHCP, DNS) in the default subnet. */
export const GATEWAY_IP = "192.168.127.1";

export interface StartGuestOptions {
  readonly socketPath: string;
  /** The guest binary; {@link GUEST_BINARY} by default (the benchmarks run a snapshot of it). */
  readonly binary?: string;
  /** Socket framing; `qemu` (stream) by default. */
  readonly protocol?: "qemu" | "vfkit";
  /** Guest MAC; the guest binary's default is 5a:94:ef:e4:0c:ee. */
  readonly mac?: string;
  /** Link MTU before DHCP. */
  readonly mtu?: number;
  /** Driver-side bound on each command, unless the command sets its own. Default 15 s. */
  readonly commandTimeoutMs?: number;
  /** Print the guest's stderr as it arrives (also enabled by GVGUEST_VERBOSE=1). */
  readonly verbose?: boolean;
}

/** The lease the guest obtained by DHCP. */
export interface Lease {
  readonly ip: string;
  readonly prefixLength: number;
  readonly router: string;
  readonly dnsServers: string[];
  /** Interface MTU option; 0 when the server sent none. */
  readonly mtu: number;
  readonly searchDomains: string[];
  readonly leaseTimeSeconds: number;
  readonly serverId: string;
  /** The guest NIC's MTU after applying the lease. */
  readonly linkMtu: number;
}

export interface TcpOptions {
  readonly sack?: boolean;
  readonly moderateReceiveBuffer?: boolean;
  readonly sendBufferSize?: number;
  readonly receiveBufferSize?: number;
}

export interface GuestStatus {
  readonly connected: boolean;
  readonly mac: string;
  readonly linkMtu: number;
  readonly lease?: Lease;
  readonly tcp: Required<TcpOptions>;
}

export interface ResolveResult {
  readonly name: string;
  readonly addresses: string[];
  readonly transport: "udp" | "tcp";
}

export interface TcpRequestResult {
  readonly response: string;
  readonly bytesSent: number;
  readonly bytesReceived: number;
  readonly localAddress: string;
}

export interface UdpRequestResult {
  readonly response: string;
  readonly from: string;
}

/** One echo reply the `ping` command received. */
export interface PingReply {
  readonly seq: number;
  /** The address that answered. */
  readonly from: string;
  /** Bytes of data in the reply. */
  readonly bytes: number;
  /** The reply carried the request's data unchanged. */
  readonly intact: boolean;
}

export interface PingResult {
  readonly sent: number;
  readonly received: number;
  readonly replies: PingReply[];
}

export interface HttpResult {
  readonly status: number;
  readonly headers: Record<string, string>;
  readonly body: string;
}

/** An HTTPS request from the guest that trusts only `caPem` (the `httpsRequest` command). */
export interface HttpsRequest {
  readonly url: string;
  readonly method?: string;
  /** Replaces the Host header (`:authority` over HTTP/2); the SNI stays the URL's host. */
  readonly host?: string;
  readonly headers?: Record<string, string>;
  readonly caPem: string;
  /** Offer h2 in ALPN (else only http/1.1). */
  readonly http2?: boolean;
  /** Return only the body's length and SHA-256. */
  readonly digestOnly?: boolean;
  /** Upgrade to WebSocket, send each as a text frame and read one frame back each. */
  readonly webSocket?: readonly string[];
}

export interface HttpsResult extends HttpResult {
  /** "HTTP/1.1" or "HTTP/2.0". */
  readonly protocol: string;
  readonly bodyBytes: number;
  readonly bodySha256: string;
  readonly replies: readonly string[];
}

export interface TransferResult {
  readonly bytes: number;
  readonly seconds: number;
  readonly mbitsPerSecond: number;
}

/** How much a bulkSend sends: a byte count, or whatever fits in a time. */
export type BulkSendAmount = { readonly bytes: number; readonly seconds?: never } | { readonly seconds: number; readonly bytes?: never };

export interface LatencySummary {
  readonly count: number;
  readonly minUs: number;
  readonly meanUs: number;
  readonly p50Us: number;
  readonly p90Us: number;
  readonly p99Us: number;
  readonly maxUs: number;
}

/** What a guest-side TCP server does with a connection. */
export type TcpServeMode =
  | { readonly mode: "echo" }
  | { readonly mode: "http"; readonly body: string }
  | { readonly mode: "sink" }
  | { readonly mode: "source"; readonly bytes: number };

/** An unsolicited line from the guest, e.g. `{event: "disconnected", reason}`. */
export interface GuestEvent {
  readonly event: string;
  readonly reason?: string;
}

/** Common per-command option: the guest's own bound on the command. */
export interface Timed {
  readonly timeoutMs?: number;
}

/** A command the guest answered with `ok: false`. `code` classifies it (NXDOMAIN, TIMEOUT, ...). */
export class GuestCommandError extends Error {
  constructor(
    readonly command: string,
    message: string,
    readonly code: string | undefined,
  ) {
    super(`guest ${command} failed${code ? ` [${code}]` : ""}: ${message}`);
    this.name = "GuestCommandError";
  }
}

interface Reply {
  readonly id: number;
  readonly ok: boolean;
  readonly result?: unknown;
  readonly error?: string;
  readonly code?: string;
}

interface Pending {
  readonly command: string;
  readonly resolve: (value: unknown) => void;
  readonly reject: (error: Error) => void;
  readonly timer: ReturnType<typeof setTimeout>;
}

/** Slack the driver adds to a command's own timeout before giving up on the reply. */
const REPLY_SLACK_MS = 3000;

/** A running userspace guest. Create with {@link startGuest}; always {@link close}. */
export class Guest {
  readonly events: GuestEvent[] = [];
  readonly #proc: Subprocess<"pipe", "pipe", "pipe">;
  readonly #pending = new Map<number, Pending>();
  readonly #eventWaiters: Array<{ name: string; resolve: (e: GuestEvent) => void }> = [];
  readonly #commandTimeoutMs: number;
  #nextId = 1;
  #stderr = "";
  #closed = false;
  /** Resolves with the exit code when the process ends. */
  readonly exited: Promise<number>;

  constructor(proc: Subprocess<"pipe", "pipe", "pipe">, commandTimeoutMs: number, verbose: boolean) {
    this.#proc = proc;
    this.#commandTimeoutMs = commandTimeoutMs;
    this.exited = proc.exited;
    void this.#readLines(proc.stdout, (line) => this.#onLine(line));
    void this.#readLines(proc.stderr, (line) => {
      this.#stderr += `${line}\n`;
      if (verbose) process.stderr.write(`[gvguest] ${line}\n`);
    });
    void this.exited.then((code) => this.#failPending(`guest exited with code ${code}`));
  }

  /** Everything the guest logged so far. */
  get stderr(): string {
    return this.#stderr;
  }

  get pid(): number {
    return this.#proc.pid;
  }

  /** Sends one command and resolves with its result; rejects with {@link GuestCommandError} or on timeout. */
  command<T>(cmd: string, args: Record<string, unknown> = {}): Promise<T> {
    if (this.#closed) return Promise.reject(new Error(`guest is closed; cannot run ${cmd}`));
    const id = this.#nextId++;
    const guestTimeout = typeof args.timeoutMs === "number" ? args.timeoutMs : undefined;
    const limit = guestTimeout !== undefined ? guestTimeout + REPLY_SLACK_MS : this.#commandTimeoutMs;
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#pending.delete(id);
        reject(new Error(`guest ${cmd} (id ${id}) got no reply within ${limit} ms; guest stderr:\n${this.#stderr.slice(-2000)}`));
      }, limit);
      this.#pending.set(id, { command: cmd, resolve: resolve as (v: unknown) => void, reject, timer });
      this.#proc.stdin.write(`${JSON.stringify({ ...args, id, cmd })}\n`);
      this.#proc.stdin.flush();
    });
  }

  /** Obtains a lease by DHCP and configures the guest's stack with it. */
  dhcp(opts: Timed = {}): Promise<Lease> {
    return this.command("dhcp", { ...opts });
  }

  status(): Promise<GuestStatus> {
    return this.command("status");
  }

  tcpOptions(opts: TcpOptions): Promise<Required<TcpOptions>> {
    return this.command("tcpOptions", { ...opts });
  }

  /** A records for `name` from the lease's DNS server (or `server`); NXDOMAIN rejects with code "NXDOMAIN". */
  resolve(name: string, opts: { transport?: "udp" | "tcp"; server?: string } & Timed = {}): Promise<ResolveResult> {
    return this.command("resolve", { name, ...opts });
  }

  /**
   * Connects to host:port and sends `data`. With `expectBytes` it reads exactly that
   * many bytes; otherwise it half-closes and reads until the peer closes.
   */
  tcpRequest(opts: { host: string; port: number; data: string; expectBytes?: number } & Timed): Promise<TcpRequestResult> {
    return this.command("tcpRequest", { ...opts });
  }

  /** Sends one datagram, `data` or the bytes of `dataHex`, and waits for one answer. */
  udpRequest(opts: { host: string; port: number } & ({ data: string } | { dataHex: string }) & Timed): Promise<UdpRequestResult> {
    return this.command("udpRequest", { ...opts });
  }

  /** Listens on a guest TCP port: an echo server by default. */
  serveTcp(port: number, how: TcpServeMode = { mode: "echo" }): Promise<{ port: number; mode: string }> {
    return this.command("serveTcp", { port, ...how });
  }

  /** Listens on a guest UDP port and echoes datagrams. */
  serveUdp(port: number): Promise<{ port: number }> {
    return this.command("serveUdp", { port });
  }

  stopServe(port: number, protocol: "tcp" | "udp" = "tcp"): Promise<{ stopped: string }> {
    return this.command("stopServe", { port, protocol });
  }

  /** The next connection a `sink` server finished counting. */
  sinkResult(port: number, opts: Timed = {}): Promise<TransferResult> {
    return this.command("sinkResult", { port, ...opts });
  }

  /** HTTP GET from inside the guest. */
  httpGet(url: string, opts: Timed = {}): Promise<HttpResult> {
    return this.command("httpGet", { url, ...opts });
  }

  /**
   * ICMP echo from the guest: `count` (1) requests in turn, each waiting `waitMs` (1000)
   * for its reply, with `payloadBytes` (56) of data. A request without a reply is counted,
   * not an error.
   */
  ping(opts: { host: string; count?: number; waitMs?: number; payloadBytes?: number } & Timed): Promise<PingResult> {
    return this.command("ping", { ...opts });
  }

  /** An HTTPS request that verifies the server against `request.caPem` only. */
  httpsRequest(request: HttpsRequest & Timed): Promise<HttpsResult> {
    return this.command("httpsRequest", { ...request });
  }

  /**
   * Sends zero bytes to host:port, `bytes` of them or for `seconds`, then half-closes and
   * waits for the peer to close; the result counts what was sent. With `seconds`, the
   * command's `timeoutMs` (10 s by default) must exceed it, or it fails with BAD_REQUEST.
   */
  bulkSend(opts: { host: string; port: number } & BulkSendAmount & Timed): Promise<TransferResult> {
    return this.command("bulkSend", { ...opts });
  }

  /** Connects, optionally sends `data`, and counts bytes until the peer closes. */
  bulkReceive(opts: { host: string; port: number; data?: string } & Timed): Promise<TransferResult> {
    return this.command("bulkReceive", { ...opts });
  }

  /** `count` times: connect, send `size` bytes, read the echo, close. */
  connectLoop(opts: { host: string; port: number; count: number; size?: number } & Timed): Promise<LatencySummary> {
    return this.command("connectLoop", { ...opts });
  }

  /** `count` request/echo round trips of `size` bytes on one connection. */
  requestLoop(opts: { host: string; port: number; count: number; size?: number } & Timed): Promise<LatencySummary> {
    return this.command("requestLoop", { ...opts });
  }

  /** Resolves with the first event named `name` (already seen or future); rejects after `timeoutMs`. */
  waitForEvent(name: string, timeoutMs = 10_000): Promise<GuestEvent> {
    const seen = this.events.find((e) => e.event === name);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`guest sent no "${name}" event within ${timeoutMs} ms; stderr:\n${this.#stderr.slice(-2000)}`)), timeoutMs);
      this.#eventWaiters.push({
        name,
        resolve: (e) => {
          clearTimeout(timer);
          resolve(e);
        },
      });
    });
  }

  /** Asks the guest to quit, kills it if it does not exit promptly, and resolves with the exit code. */
  async close(): Promise<number> {
    if (!this.#closed) {
      this.#closed = true;
      try {
        this.#proc.stdin.write(`${JSON.stringify({ id: 0, cmd: "quit" })}\n`);
        this.#proc.stdin.end();
      } catch {
        // stdin already closed: the process is gone or going.
      }
      const killTimer = setTimeout(() => this.#proc.kill("SIGKILL"), 3000);
      await this.exited;
      clearTimeout(killTimer);
    }
    return this.exited;
  }

  #onLine(line: string): void {
    if (line.trim() === "") return;
    let message: Reply | GuestEvent;
    try {
      message = JSON.parse(line) as Reply | GuestEvent;
    } catch {
      this.#stderr += `unparseable stdout line: ${line}\n`;
      return;
    }
    if ("event" in message) {
      this.events.push(message);
      for (const waiter of this.#eventWaiters.filter((w) => w.name === message.event)) {
        this.#eventWaiters.splice(this.#eventWaiters.indexOf(waiter), 1);
        waiter.resolve(message);
      }
      return;
    }
    const pending = this.#pending.get(message.id);
    if (!pending) return; // quit's reply, or a reply after its timeout
    this.#pending.delete(message.id);
    clearTimeout(pending.timer);
    if (message.ok) pending.resolve(message.result);
    else pending.reject(new GuestCommandError(pending.command, message.error ?? "unknown error", message.code));
  }

  #failPending(reason: string): void {
    for (const [id, pending] of this.#pending) {
      clearTimeout(pending.timer);
      pending.reject(new Error(`guest ${pending.command} (id ${id}): ${reason}; stderr:\n${this.#stderr.slice(-2000)}`));
    }
    this.#pending.clear();
  }

  async #readLines(stream: ReadableStream<Uint8Array>, onLine: (line: string) => void): Promise<void> {
    const decoder = new TextDecoder();
    let buffered = "";
    for await (const chunk of stream) {
      buffered += decoder.decode(chunk, { stream: true });
      let newline = buffered.indexOf("\n");
      while (newline >= 0) {
        onLine(buffered.slice(0, newline));
        buffered = buffered.slice(newline + 1);
        newline = buffered.indexOf("\n");
      }
    }
    if (buffered !== "") onLine(buffered);
  }
}

/**
 * Spawns the guest and resolves once it is connected to the socket. Rejects with the
 * guest's own error output when it cannot connect.
 */
export async function startGuest(options: StartGuestOptions): Promise<Guest> {
  const binary = options.binary ?? GUEST_BINARY;
  if (!existsSync(binary)) {
    throw new Error(`${binary} is missing: run \`make guest\``);
  }
  const argv = [binary, "--socket", options.socketPath, "--protocol", options.protocol ?? "qemu"];
  if (options.mac !== undefined) argv.push("--mac", options.mac);
  if (options.mtu !== undefined) argv.push("--mtu", String(options.mtu));
  const proc = Bun.spawn(argv, { stdin: "pipe", stdout: "pipe", stderr: "pipe" });
  const verbose = options.verbose ?? process.env.GVGUEST_VERBOSE === "1";
  const guest = new Guest(proc, options.commandTimeoutMs ?? 15_000, verbose);
  const connected = guest.waitForEvent("connected", 10_000);
  const exitedEarly = guest.exited.then((code) => {
    throw new Error(`guest exited with code ${code} before connecting:\n${guest.stderr}`);
  });
  exitedEarly.catch(() => {}); // a later, normal exit is not an error
  try {
    await Promise.race([connected, exitedEarly]);
  } catch (error) {
    proc.kill("SIGKILL");
    throw error;
  }
  return guest;
}

/**
 * Resolves with the command's result, or with its {@link GuestCommandError} when the
 * guest reported a failure. Anything else (no reply, guest crashed) still rejects, so a
 * test expecting a failure cannot be satisfied by a broken driver.
 */
export async function outcome<T>(command: Promise<T>): Promise<T | GuestCommandError> {
  try {
    return await command;
  } catch (error) {
    if (error instanceof GuestCommandError) return error;
    throw error;
  }
}

/*
 * The egress-policy probes (guest/README.md): raw DNS queries of any type to any server,
 * a TLS handshake with a chosen SNI, HTTP requests with chosen Host headers on one
 * connection, a binary datagram. They take addresses, not names, so a test decides
 * exactly where each packet goes.
 */

export interface DnsRecord {
  readonly name: string;
  readonly type: string;
  readonly ttl: number;
  /** Presentation form: an address, a target name, the joined TXT strings, "10 mx.example." */
  readonly data: string;
}

export interface DnsAnswer {
  /** NOERROR, NXDOMAIN, SERVFAIL, REFUSED ... */
  readonly rcode: string;
  readonly answers: DnsRecord[];
}

export interface DnsQuery extends Timed {
  readonly name: string;
  /** A (default), AAAA, TXT, MX, CNAME, ANY ... */
  readonly type?: string;
  /** Server address; the lease's DNS server by default. */
  readonly server?: string;
  readonly port?: number;
  readonly transport?: "udp" | "tcp";
}

/** One DNS query; an NXDOMAIN is an answer, a refused or unanswered query a GuestCommandError. */
export function dnsQuery(guest: Guest, query: DnsQuery): Promise<DnsAnswer> {
  return guest.command("dnsQuery", { ...query });
}

export interface TlsOutcome {
  /** Some byte came back from the other end. */
  readonly serverAnswered: boolean;
  /** The handshake finished (certificates are not verified). */
  readonly handshakeComplete: boolean;
  /** The connection was reset or aborted. */
  readonly reset: boolean;
  readonly error?: string;
  /** DNS names of the server's certificate. */
  readonly certificateNames: string[];
  /** The reply to `data`, read to EOF. */
  readonly response: string;
}

/**
 * Connects to host:port and runs a TLS handshake with `serverName` as SNI, then sends
 * `data` if given. A refused connect rejects (CONNECTION_REFUSED); after a connect the
 * outcome says what happened.
 */
export function tlsHandshake(
  guest: Guest,
  opts: { host: string; port: number; serverName: string; data?: string } & Timed,
): Promise<TlsOutcome> {
  return guest.command("tlsHandshake", { ...opts });
}

export interface HttpExchange {
  /** One per answered request, in order. */
  readonly responses: Array<{ status: number; body: string }>;
  readonly error?: string;
  readonly reset: boolean;
}

/** GET requests with the given Host headers, one after another on one connection to host:port. */
export function httpRequests(
  guest: Guest,
  opts: { host: string; port: number; requests: Array<{ hostHeader: string; path?: string }> } & Timed,
): Promise<HttpExchange> {
  return guest.command("httpRequests", { ...opts });
}

/** One datagram of binary payload (hex), waiting for one answer. */
export function udpRequestHex(
  guest: Guest,
  opts: { host: string; port: number; dataHex: string } & Timed,
): Promise<UdpRequestResult> {
  return guest.udpRequest(opts);
}
