/**
 * The Linux kernel as a guest: a network namespace holding a TAP device that
 * `build/tap-relay` joins, frame for frame, to a network's VM socket (QEMU stream or
 * vfkit datagrams). Programs started with {@link KernelGuest.exec} or
 * {@link KernelGuest.spawn} run in the namespace (`ip netns exec`), so their TCP/IP
 * stack is the kernel's: busybox `udhcpc` takes the lease, `curl`, `iperf3`,
 * `openssl s_client` or the bench peer are the guest programs. One driver for the tests
 * (test/e2e/kernel-guest.test.ts) and the benchmarks (bench/kernel.ts).
 *
 * Needs Linux, root, iproute2, busybox and the relay binary; {@link kernelGuestUnavailable}
 * says which is missing, and {@link kernelGuestSkipReason} turns that into a skip except
 * under CI, where a fixture that cannot be set up is a failure. Every name carries this
 * process's pid (`gvk<pid>-<n>`), and leftovers of test processes that died are swept
 * before a new namespace is made. {@link KernelGuest.close} removes everything.
 */
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Subprocess } from "bun";
import type { Lease } from "../../guest/driver.ts";
import { isAlive, run, tryRun } from "./netns.ts";
import { makeTempDir, type TempDir } from "./paths.ts";

/** Where `make relay` puts the TAP relay. */
export const RELAY_BINARY = join(import.meta.dir, "..", "..", "build", "tap-relay");

const NAMESPACE_PREFIX = "gvk";
/**
 * Frames the guest kernel may queue on its TAP device for the relay. A TAP drops what
 * does not fit (a virtio NIC would stop the queue instead), and at 1,000, the default,
 * a relay descheduled for a few milliseconds on a busy host loses whole bursts of the
 * guest's segments, which the guest then retransmits.
 */
const TAP_TX_QUEUE = 10_000;
const READY_TIMEOUT_MS = 10_000;
const LEASE_TIMEOUT_S = 10;
let counter = 0;

/** Why a kernel guest cannot be made here, or undefined when it can be tried. */
export function kernelGuestUnavailable(relay = RELAY_BINARY): string | undefined {
  if (process.platform !== "linux") return `a kernel guest needs Linux network namespaces, this is ${process.platform}`;
  if (process.getuid?.() !== 0) return "a kernel guest needs root (network namespaces and TAP devices)";
  if (Bun.which("ip") === null) return "iproute2's `ip` command is not installed";
  if (!existsSync("/dev/net/tun")) return "/dev/net/tun is missing (TAP devices unavailable)";
  if (Bun.which("busybox") === null) return "busybox is not installed (its udhcpc takes the guest's lease)";
  if (!existsSync(relay)) return `${relay} is missing (run \`make relay\`)`;
  return undefined;
}

/**
 * The reason to skip kernel-guest tests, or undefined to run them. Under CI (`CI` set)
 * a missing prerequisite throws instead: CI installs everything, so a skip there would
 * hide a broken setup.
 */
export function kernelGuestSkipReason(): string | undefined {
  const reason = kernelGuestUnavailable();
  if (reason !== undefined && process.env.CI) throw new Error(`kernel guest cannot be set up under CI: ${reason}`);
  return reason;
}

export interface KernelGuestOptions {
  /** The network's VM socket. */
  readonly socketPath: string;
  /** Its protocol: `qemu` (stream, the default) or `vfkit` (datagrams). */
  readonly protocol?: "qemu" | "vfkit";
  /** MAC of the TAP device: the network's guest MAC gets the reserved lease. */
  readonly mac?: string;
  /** TAP MTU before DHCP (udhcpc applies the lease's MTU option). Default 1500. */
  readonly mtu?: number;
  /** The relay binary (the benchmarks pin a copy). */
  readonly relay?: string;
}

/** The lease udhcpc obtained and applied to the TAP device: the userspace guest's, less its NIC MTU. */
export type KernelLease = Omit<Lease, "linkMtu">;

export interface ExecResult {
  readonly exitCode: number;
  readonly stdout: string;
  readonly stderr: string;
}

/**
 * udhcpc's hook: applies the lease (address, default route, MTU, resolv.conf, which
 * `ip netns exec` bind-mounts from /etc/netns/<ns>/) and records what it got as JSON.
 */
const UDHCPC_SCRIPT = `#!/bin/sh
case "$1" in
  deconfig) ip addr flush dev "$interface"; ip link set "$interface" up ;;
  bound|renew)
    ip addr flush dev "$interface"
    ip addr add "$ip/$mask" dev "$interface"
    [ -n "$mtu" ] && ip link set "$interface" mtu "$mtu"
    [ -n "$router" ] && ip route replace default via "\${router%% *}" dev "$interface"
    : > /etc/resolv.conf
    [ -n "$domain" ] && echo "search $domain" >> /etc/resolv.conf
    for d in $dns; do echo "nameserver $d" >> /etc/resolv.conf; done
    printf '{"ip":"%s","mask":"%s","router":"%s","dns":"%s","mtu":"%s","domain":"%s","lease":"%s","serverid":"%s"}\\n' \\
      "$ip" "$mask" "$router" "$dns" "$mtu" "$domain" "$lease" "$serverid" > "$LEASE_FILE"
    ;;
esac
`;

/** Removes namespaces (and their processes and resolv.conf dirs) of dead test processes. */
function sweepLeftovers(): void {
  for (const line of run(["ip", "netns", "list"]).split("\n")) {
    const name = line.split(" ")[0] ?? "";
    const match = /^gvk(\d+)-\d+$/.exec(name);
    if (match === null || isAlive(Number(match[1]))) continue;
    deleteNamespace(name);
  }
}

function deleteNamespace(name: string): void {
  if (existsSync(`/run/netns/${name}`)) {
    for (const stray of run(["ip", "netns", "pids", name]).split("\n").filter(Boolean)) {
      try {
        process.kill(Number(stray), "SIGKILL");
      } catch {
        // already gone
      }
    }
    tryRun(["ip", "netns", "del", name]);
  }
  rmSync(`/etc/netns/${name}`, { recursive: true, force: true });
}

/** Creates a namespace `gvk<pid>-<n>` with its loopback up and a resolv.conf of its own. */
export function makeNamespace(): string {
  sweepLeftovers();
  const name = `${NAMESPACE_PREFIX}${process.pid}-${counter++}`;
  run(["ip", "netns", "add", name]);
  try {
    run(["ip", "-n", name, "link", "set", "lo", "up"]);
    mkdirSync(`/etc/netns/${name}`, { recursive: true });
    writeFileSync(`/etc/netns/${name}/resolv.conf`, "");
  } catch (error) {
    deleteNamespace(name);
    throw error;
  }
  return name;
}

/** Removes a namespace made by {@link makeNamespace}, killing what still runs in it. */
export function removeNamespace(name: string): void {
  deleteNamespace(name);
}

/** CPU seconds (user + system) process `pid` has used, from /proc/<pid>/stat; 0 once gone. */
export function cpuSeconds(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    const ticks = Number(fields[11]) + Number(fields[12]); // utime, stime (fields 14 and 15)
    return ticks / 100; // USER_HZ
  } catch {
    return 0;
  }
}

/** Resolves with the relay's first stdout line containing `key`; rejects if it exits first. */
async function waitRelayLine(relay: Subprocess<"pipe", "pipe", "pipe">, key: string, reader: { read(): Promise<{ value?: Uint8Array; done: boolean }> }): Promise<void> {
  const decoder = new TextDecoder();
  let output = "";
  let timer: ReturnType<typeof setTimeout> | undefined;
  const stalled = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no "${key}" within ${READY_TIMEOUT_MS} ms`)), READY_TIMEOUT_MS);
  });
  const ready = (async () => {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) throw new Error("the relay exited");
      output += decoder.decode(value, { stream: true });
      if (output.includes(`"${key}"`)) return;
    }
  })();
  try {
    await Promise.race([ready, stalled]);
  } catch (error) {
    relay.kill("SIGKILL");
    const stderr = await new Response(relay.stderr).text();
    throw new Error(`tap-relay did not start (${(error as Error).message}): ${stderr.trim()}`);
  } finally {
    clearTimeout(timer);
  }
}

/** A relay process serving one TAP device in a namespace. */
export interface Relay {
  readonly pid: number;
  readonly device: string;
  /** Resolves when the relay has connected (or, listening, accepted its peer). */
  readonly ready: Promise<void>;
  /** The relay's CPU seconds so far. */
  cpuSeconds(): number;
  stop(): Promise<void>;
}

/**
 * Starts `tap-relay` in `namespace` creating TAP `device`, then sets its MAC and MTU and
 * brings it up. With `listen`, the relay waits for one peer relay on that path instead of
 * connecting to a network (the relay-pair ceiling).
 */
export async function startRelay(options: {
  namespace: string;
  device: string;
  connect?: string;
  listen?: string;
  protocol?: "qemu" | "vfkit";
  mac?: string;
  mtu?: number;
  relay?: string;
}): Promise<Relay> {
  const argv = [options.relay ?? RELAY_BINARY, "-tap", options.device, "-protocol", options.protocol ?? "qemu"];
  if (options.listen !== undefined) argv.push("-listen", options.listen);
  else argv.push("-connect", options.connect ?? "");
  const proc = Bun.spawn(["ip", "netns", "exec", options.namespace, ...argv], {
    stdin: "pipe", // the relay exits when this closes, even if this process dies
    stdout: "pipe",
    stderr: "pipe",
  });
  const reader = proc.stdout.getReader();
  const stop = async () => {
    proc.kill("SIGKILL");
    await proc.exited;
  };
  try {
    await waitRelayLine(proc, options.listen !== undefined ? "listening" : "ready", reader);
    const link = ["ip", "-n", options.namespace, "link", "set", options.device];
    if (options.mac !== undefined) run([...link, "address", options.mac]);
    run([...link, "mtu", String(options.mtu ?? 1500), "txqueuelen", String(TAP_TX_QUEUE), "up"]);
  } catch (error) {
    await stop();
    throw error;
  }
  const ready = options.listen !== undefined ? waitRelayLine(proc, "ready", reader) : Promise.resolve();
  ready.catch(() => undefined);
  return { pid: proc.pid, device: options.device, ready, cpuSeconds: () => cpuSeconds(proc.pid), stop };
}

/** A kernel guest on a network. Create with {@link startKernelGuest}; always {@link close}. */
export interface KernelGuest {
  /** The namespace's name (`gvk<pid>-<n>`). */
  readonly namespace: string;
  /** The TAP device in it (`gkt<pid>`), the guest's NIC. */
  readonly device: string;
  readonly relay: Relay;
  /** Runs udhcpc once (DHCP discover → lease applied) and returns the lease. */
  lease(): Promise<KernelLease>;
  /** Runs `argv` in the namespace to completion. */
  exec(argv: readonly string[], options?: { timeoutMs?: number; stdin?: string }): Promise<ExecResult>;
  /** Starts `argv` in the namespace; the caller owns the process (it is killed on close). */
  spawn(argv: readonly string[]): Subprocess<"pipe", "pipe", "pipe">;
  /** Stops every process started in the namespace, the relay, and removes the namespace. Idempotent. */
  close(): Promise<void>;
}

/** Makes the namespace, starts the relay onto `socketPath` and brings the TAP up (no lease yet). */
export async function startKernelGuest(options: KernelGuestOptions): Promise<KernelGuest> {
  const reason = kernelGuestUnavailable(options.relay);
  if (reason !== undefined) throw new Error(`kernel guest unavailable: ${reason}`);
  const namespace = makeNamespace();
  const device = `gkt${process.pid}`;
  const tmp: TempDir = makeTempDir("gvk-");
  const children = new Set<Subprocess>();
  let relay: Relay | undefined;
  let closed = false;
  const close = async () => {
    if (closed) return;
    closed = true;
    for (const child of children) child.kill("SIGKILL");
    await Promise.all([...children].map((c) => c.exited));
    await relay?.stop();
    deleteNamespace(namespace);
    tmp.remove();
  };
  try {
    relay = await startRelay({ namespace, device, connect: options.socketPath, protocol: options.protocol, mac: options.mac, mtu: options.mtu, relay: options.relay });
  } catch (error) {
    await close();
    throw error;
  }
  const spawn = (argv: readonly string[]): Subprocess<"pipe", "pipe", "pipe"> => {
    if (closed) throw new Error(`kernel guest ${namespace} is closed`);
    const child = Bun.spawn(["ip", "netns", "exec", namespace, ...argv], { stdin: "pipe", stdout: "pipe", stderr: "pipe" });
    children.add(child);
    void child.exited.then(() => children.delete(child));
    return child;
  };
  const exec = async (argv: readonly string[], execOptions: { timeoutMs?: number; stdin?: string } = {}): Promise<ExecResult> => {
    const child = spawn(argv);
    if (execOptions.stdin !== undefined) child.stdin.write(execOptions.stdin);
    void child.stdin.end();
    const timeoutMs = execOptions.timeoutMs ?? 30_000;
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    try {
      const [stdout, stderr, exitCode] = await Promise.all([new Response(child.stdout).text(), new Response(child.stderr).text(), child.exited]);
      if (child.signalCode === "SIGKILL" && !closed) throw new Error(`\`${argv.join(" ")}\` in ${namespace} did not finish within ${timeoutMs} ms: ${stderr.trim()}`);
      return { exitCode, stdout, stderr };
    } finally {
      clearTimeout(timer);
    }
  };
  const lease = async (): Promise<KernelLease> => {
    const script = tmp.path("udhcpc.sh");
    const leaseFile = tmp.path("lease.json");
    writeFileSync(script, UDHCPC_SCRIPT, { mode: 0o755 });
    rmSync(leaseFile, { force: true });
    const argv = ["env", `LEASE_FILE=${leaseFile}`, "busybox", "udhcpc", "-f", "-q", "-n", "-i", device, "-s", script, "-t", "5", "-T", "2", "-O", "mtu", "-O", "search"];
    const result = await exec(argv, { timeoutMs: (LEASE_TIMEOUT_S + 5) * 1000 });
    if (result.exitCode !== 0 || !existsSync(leaseFile)) {
      throw new Error(`udhcpc in ${namespace} got no lease (exit ${result.exitCode}): ${result.stderr.trim()}`);
    }
    return parseLease(readFileSync(leaseFile, "utf8"));
  };
  return { namespace, device, relay, lease, exec, spawn, close };
}

function parseLease(json: string): KernelLease {
  const raw = JSON.parse(json) as Record<string, string>;
  const words = (s: string | undefined) => (s ?? "").split(" ").filter(Boolean);
  return {
    ip: raw.ip ?? "",
    prefixLength: Number(raw.mask),
    router: words(raw.router)[0] ?? "",
    dnsServers: words(raw.dns),
    mtu: Number(raw.mtu || 0),
    searchDomains: words(raw.domain),
    leaseTimeSeconds: Number(raw.lease || 0),
    serverId: raw.serverid ?? "",
  };
}
