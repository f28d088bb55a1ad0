/**
 * Test hosts that look external to the virtual network without being so: a network
 * namespace made by the test, joined to the root namespace by a veth pair, holding two
 * addresses with HTTP, HTTPS, echo and DNS servers (netns-host-server.ts) and a third
 * where nothing listens. The library
 * runs in the root namespace, so its NAT dials these addresses like any outside host;
 * the root end of the veth is one of the host's own interface addresses.
 *
 * Needs Linux, root and iproute2's `ip`; {@link testHostsUnavailable} says why not when
 * they are missing. Everything is named after this process's pid and removed by
 * {@link TestHosts.close}; leftovers of test processes that died are swept first.
 */
import { afterAll } from "bun:test";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import type { Subprocess } from "bun";
import type { HostServerConfig } from "./netns-host-server.ts";
import { makeTempDir } from "./paths.ts";

const NAMESPACE_PREFIX = "gvegress-";
const SERVER_SCRIPT = join(import.meta.dir, "netns-host-server.ts");
const READY_TIMEOUT_MS = 15_000;

export interface TestHosts {
  /** The namespace's name (`gvegress-<pid>`). */
  readonly namespace: string;
  /** The root namespace's end of the veth: an address of the host itself. */
  readonly hostSideIp: string;
  /** First test host. */
  readonly hostA: string;
  /** Second test host. */
  readonly hostB: string;
  /** An address of the namespace where nothing listens: every TCP connect to it is refused. */
  readonly hostClosed: string;
  /** DNS names the HTTPS servers' certificate holds. */
  readonly certificateNames: readonly string[];
  /** That certificate (self-signed, so it is its own root), PEM. */
  readonly certificatePem: string;
  /** Stops the servers and removes the namespace, the veth and the temp files. Idempotent. */
  close(): Promise<void>;
}

/** Why namespaces cannot be made here, or undefined when they can be tried. */
export function testHostsUnavailable(): string | undefined {
  if (process.platform !== "linux") return `network namespaces need Linux, this is ${process.platform}`;
  if (process.getuid?.() !== 0) return "creating network namespaces needs root";
  if (Bun.which("ip") === null) return "iproute2's `ip` command is not installed";
  return undefined;
}

/** Runs a command and returns its stdout; throws with its stderr when it fails (shared by the namespace fixtures). */
export function run(argv: readonly string[]): string {
  const result = Bun.spawnSync([...argv], { stdout: "pipe", stderr: "pipe" });
  if (result.exitCode !== 0) {
    throw new Error(`\`${argv.join(" ")}\` failed (exit ${result.exitCode}): ${result.stderr.toString().trim()}`);
  }
  return result.stdout.toString();
}

export function tryRun(argv: readonly string[]): void {
  Bun.spawnSync([...argv], { stdout: "ignore", stderr: "ignore" });
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Removes namespaces (and their veths) left by earlier test processes that are gone. */
function sweepLeftovers(): void {
  for (const line of run(["ip", "netns", "list"]).split("\n")) {
    const name = line.split(" ")[0] ?? "";
    if (!name.startsWith(NAMESPACE_PREFIX)) continue;
    const pid = Number(name.slice(NAMESPACE_PREFIX.length));
    if (Number.isInteger(pid) && !isAlive(pid)) {
      for (const stray of run(["ip", "netns", "pids", name]).split("\n").filter(Boolean)) {
        try {
          process.kill(Number(stray), "SIGKILL");
        } catch {
          // already gone
        }
      }
      tryRun(["ip", "netns", "del", name]);
      tryRun(["ip", "link", "del", vethName(pid)]);
    }
  }
}

function vethName(pid: number): string {
  return `gve${pid}h`; // at most 15 characters for a 10-digit pid
}

/** A /24 in 10.200.0.0/16 that no interface or route of this host uses yet. */
function freeSubnet(): string {
  const inUse = run(["ip", "-4", "-o", "addr", "show"]) + run(["ip", "-4", "route", "show", "table", "all"]);
  for (let i = 0; i < 250; i++) {
    const third = ((process.pid + i) % 250) + 1;
    const prefix = `10.200.${third}.`;
    if (!inUse.includes(prefix)) return prefix;
  }
  throw new Error("no free /24 in 10.200.0.0/16 for the test hosts");
}

function makeCertificate(dir: string, names: readonly string[]): { certFile: string; keyFile: string } {
  // A setup failure, not a reason to skip: CI must not lose the suite to a missing tool.
  if (Bun.which("openssl") === null) throw new Error("openssl is not installed (the HTTPS test hosts need a certificate)");
  const certFile = join(dir, "cert.pem");
  const keyFile = join(dir, "key.pem");
  const san = names.map((n) => `DNS:${n}`).join(",");
  run([
    "openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
    "-keyout", keyFile, "-out", certFile, "-days", "2", "-subj", "/CN=gvegress test host", "-addext", `subjectAltName=${san}`,
  ]);
  return { certFile, keyFile };
}

/** Resolves when the server prints `ready`; rejects with its output if it exits or stalls. */
async function waitReady(server: Subprocess<"pipe", "pipe", "pipe">): Promise<void> {
  const decoder = new TextDecoder();
  let output = "";
  const ready = (async () => {
    for await (const chunk of server.stdout) {
      output += decoder.decode(chunk, { stream: true });
      if (output.includes("ready\n")) return;
    }
    throw new Error("closed stdout");
  })();
  let timer: ReturnType<typeof setTimeout> | undefined;
  const stalled = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`not ready within ${READY_TIMEOUT_MS} ms`)), READY_TIMEOUT_MS);
  });
  try {
    await Promise.race([ready, stalled]);
  } catch (error) {
    server.kill("SIGKILL");
    const stderr = await new Response(server.stderr).text();
    throw new Error(`test host servers did not start (${(error as Error).message}):\n${output}${stderr}`);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Creates the namespace and its veth, adds two host addresses, and starts the servers
 * with a self-signed certificate for `certificateNames` (`serverScript`: another server
 * program taking the same config, netns-host-server.ts by default). On failure everything made so
 * far is removed before the error is thrown.
 */
export async function startTestHosts(certificateNames: readonly string[], serverScript: string = SERVER_SCRIPT): Promise<TestHosts> {
  sweepLeftovers();
  const pid = process.pid;
  const namespace = `${NAMESPACE_PREFIX}${pid}`;
  const hostVeth = vethName(pid);
  const tmp = makeTempDir("gvegress-");
  let server: Subprocess<"pipe", "pipe", "pipe"> | undefined;
  let closed = false;
  const close = async () => {
    if (closed) return;
    closed = true;
    if (server !== undefined) {
      server.kill("SIGKILL");
      await server.exited;
    }
    tryRun(["ip", "netns", "del", namespace]); // also deletes the namespace's end of the veth, and so the pair
    if (existsSync(`/sys/class/net/${hostVeth}`)) tryRun(["ip", "link", "del", hostVeth]);
    tmp.remove();
  };
  try {
    const prefix = freeSubnet();
    const [hostSideIp, hostA, hostB, hostClosed] = [`${prefix}1`, `${prefix}2`, `${prefix}3`, `${prefix}4`];
    run(["ip", "netns", "add", namespace]);
    run(["ip", "link", "add", hostVeth, "type", "veth", "peer", "name", "eth-test", "netns", namespace]);
    run(["ip", "addr", "add", `${hostSideIp}/24`, "dev", hostVeth]);
    run(["ip", "link", "set", hostVeth, "up"]);
    run(["ip", "-n", namespace, "link", "set", "lo", "up"]);
    run(["ip", "-n", namespace, "addr", "add", `${hostA}/24`, "dev", "eth-test"]);
    run(["ip", "-n", namespace, "addr", "add", `${hostB}/24`, "dev", "eth-test"]);
    run(["ip", "-n", namespace, "addr", "add", `${hostClosed}/24`, "dev", "eth-test"]);
    run(["ip", "-n", namespace, "link", "set", "eth-test", "up"]);
    const config: HostServerConfig = { ips: [hostA, hostB], ...makeCertificate(tmp.dir, certificateNames) };
    server = Bun.spawn(["ip", "netns", "exec", namespace, process.execPath, serverScript, JSON.stringify(config)], {
      stdin: "pipe", // the server exits when this closes, even if this process dies
      stdout: "pipe",
      stderr: "pipe",
    });
    await waitReady(server);
    const certificatePem = readFileSync(config.certFile, "utf8");
    return { namespace, hostSideIp, hostA, hostB, hostClosed, certificateNames, certificatePem, close };
  } catch (error) {
    await close();
    throw error;
  }
}

/** A test file's hosts, started once when the file loads: running, or why its tests are skipped. */
export interface FileTestHosts {
  /** Why the file's tests are skipped; undefined when the hosts run. */
  readonly skipReason: string | undefined;
  /** The running hosts; throws if there are none (a skipped file's tests never ask). */
  get(): TestHosts;
}

/**
 * Starts a test file's hosts ({@link startTestHosts}'s arguments) and removes them after
 * the file's tests (afterAll), whatever those did. Where namespaces cannot be made, or
 * when the setup fails outside CI, the file's tests are to be skipped: `skipReason` says
 * why, warned once as "<suite> skipped: ...". CI runs as root with iproute2 installed,
 * so a setup failure there is a bug and is thrown. Call it at the file's top level.
 */
export async function startFileTestHosts(suite: string, certificateNames: readonly string[], serverScript?: string): Promise<FileTestHosts> {
  let hosts: TestHosts | undefined;
  let skipReason = testHostsUnavailable();
  if (skipReason === undefined) {
    try {
      hosts = await startTestHosts(certificateNames, serverScript);
    } catch (error) {
      if (process.env.CI === "true") throw error;
      skipReason = `test hosts could not be set up: ${(error as Error).message}`;
    }
  }
  if (skipReason !== undefined) console.warn(`${suite} skipped: ${skipReason}`);
  afterAll(async () => {
    await hosts?.close();
  });
  return {
    skipReason,
    get() {
      if (hosts === undefined) throw new Error("test hosts are not running");
      return hosts;
    },
  };
}
