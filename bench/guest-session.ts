// Drives build/gvguest (the userspace guest: gVisor netstack behind the QEMU socket
// protocol) through its JSON-lines command channel: one request per line with an id,
// one reply per request, plus unsolicited events.
import type { Subprocess } from "bun";
import { artifacts } from "./artifacts.ts";

interface Reply {
  id?: number;
  ok?: boolean;
  result?: unknown;
  error?: string;
  code?: string;
  event?: string;
  reason?: string;
}

/** What the guest's bulk transfers report. */
export interface TransferResult {
  bytes: number;
  seconds: number;
  mbitsPerSecond: number;
}

/** What the guest's latency loops report (microseconds). */
export interface GuestLatency {
  count: number;
  minUs: number;
  meanUs: number;
  p50Us: number;
  p90Us: number;
  p99Us: number;
  maxUs: number;
}

export class GuestSession {
  private nextId = 1;
  private readonly pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  private connected!: Promise<void>;
  private stderr = "";

  private constructor(private readonly proc: Subprocess<"pipe", "pipe", "pipe">) {}

  /** Starts a guest on socketPath and waits until it is connected and has a DHCP lease. */
  static async start(socketPath: string, mtu: number): Promise<GuestSession> {
    const proc = Bun.spawn([artifacts().guest, "--socket", socketPath, "--mtu", String(mtu)], { stdin: "pipe", stdout: "pipe", stderr: "pipe" });
    const g = new GuestSession(proc);
    g.connected = new Promise<void>((resolve, reject) => {
      void g.readReplies(resolve, reject);
    });
    void g.collectStderr();
    try {
      await g.connected;
      await g.call("dhcp", { timeoutMs: 10_000 });
    } catch (err) {
      await g.stop();
      throw err;
    }
    return g;
  }

  private async collectStderr(): Promise<void> {
    for await (const chunk of this.proc.stderr) this.stderr = (this.stderr + new TextDecoder().decode(chunk)).slice(-4000);
  }

  private async readReplies(onConnected: () => void, onExit: (e: Error) => void): Promise<void> {
    const decoder = new TextDecoder();
    let buf = "";
    for await (const chunk of this.proc.stdout) {
      buf += decoder.decode(chunk, { stream: true });
      let nl: number;
      while ((nl = buf.indexOf("\n")) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        if (line.trim()) this.dispatch(JSON.parse(line) as Reply, onConnected);
      }
    }
    const err = new Error(`gvguest exited (${await this.proc.exited}); stderr: ${this.stderr.trim()}`);
    onExit(err);
    for (const p of this.pending.values()) p.reject(err);
    this.pending.clear();
  }

  private dispatch(msg: Reply, onConnected: () => void): void {
    if (msg.event === "connected") return onConnected();
    if (msg.event !== undefined || msg.id === undefined) return;
    const p = this.pending.get(msg.id);
    if (!p) return;
    this.pending.delete(msg.id);
    if (msg.ok) p.resolve(msg.result);
    else p.reject(new Error(`gvguest: ${msg.error ?? "failed"}${msg.code ? ` (${msg.code})` : ""}`));
  }

  /** Sends one command and resolves with its result. */
  call<T = unknown>(cmd: string, args: Record<string, unknown> = {}): Promise<T> {
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
      this.proc.stdin.write(JSON.stringify({ id, cmd, ...args }) + "\n");
      this.proc.stdin.flush();
    });
  }

  get pid(): number {
    return this.proc.pid;
  }

  async stop(): Promise<void> {
    this.proc.stdin.end();
    const exited = await Promise.race([this.proc.exited.then(() => true), Bun.sleep(3000).then(() => false)]);
    if (!exited) {
      this.proc.kill("SIGKILL");
      await this.proc.exited;
    }
  }
}
