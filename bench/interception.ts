// What TLS interception (secrets, issue 11) costs the data path: HTTPS downloads and
// requests through one network (ours) whose secret covers one name and not the other,
// both names served by the same HTTPS test host. Intercepted and passed-through
// requests run side by side in every run, on the same network, guest and server; only
// the name (so the SNI) differs.
//
// The server is the HTTP/1.1 server of test/support/secret-host-server.ts in a network
// namespace of its own (test/support/netns.ts): an outside host to the NAT, as a real
// API is, with its certificate given as upstreamCaPem. The client is curl in a kernel
// guest (test/support/kernel-guest.ts), not the userspace guest's httpsRequest command:
// the Linux stack and OpenSSL cost little next to the network, curl keeps one connection
// for many requests (so a request's latency is a request's, not a TLS handshake's), and
// it times each transfer itself, with no control channel in the measurement. Each path's
// curl trusts only that path's root (the interception CA, or the server's certificate),
// so a completed handshake proves which path a request took; an echo of the
// Authorization header's digest proves the substitution happened.
import { createHash } from "node:crypto";
import { readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Secret } from "../src/index.ts";
import { kernelGuestUnavailable, startKernelGuest, type KernelGuest } from "../test/support/kernel-guest.ts";
import { run as runCommand, startTestHosts, testHostsUnavailable, type TestHosts } from "../test/support/netns.ts";
import { GUEST_MAC } from "./kernel-testbed.ts";
import { startNetwork } from "./networks.ts";
import { interleaved, type Plan } from "./plan.ts";
import { cpuSeconds, REPO_ROOT, tempDir } from "./processes.ts";
import { pairedRatio, summarize, summarizeLatency, type Summary } from "./stats.ts";

export type InterceptionPath = "intercepted" | "passthrough";
const PATHS: readonly InterceptionPath[] = ["intercepted", "passthrough"];

/** The interception section of a run's results. */
export interface InterceptionResults {
  /** Bytes of one download; requests timed per run (after the first, which connects). */
  downloadBytes: number;
  requestsPerRun: number;
  mtu: number;
  runs: number;
  /** Download Gbit/s (curl's bytes over its total time) per path. */
  gbps: Record<InterceptionPath, Summary>;
  /** intercepted / passthrough Gbit/s per run. */
  throughputRatio: Summary;
  /** CPU seconds of the network's process per GB downloaded. */
  networkCpuPerGB: Record<InterceptionPath, Summary>;
  /** Each run's p50 and p99 of a request on a kept connection, µs. */
  requestP50Us: Record<InterceptionPath, Summary>;
  requestP99Us: Record<InterceptionPath, Summary>;
  /** intercepted p50 - passthrough p50 per run, µs: what interception adds to a request. */
  addedP50Us: Summary;
  /** The first request of each run: connect, TLS handshake(s) and the request, µs. */
  firstRequestUs: Record<InterceptionPath, Summary>;
}

const MTU = 1500;
const INTERCEPTED_NAME = "secret.bench.test";
const PASSTHROUGH_NAME = "plain.bench.test";
const SECRET: Secret = { placeholder: "GVP_BENCH_KEY", value: "sk-bench-4f1c9e2a7b3d", hosts: [INTERCEPTED_NAME] };
const SERVER_SCRIPT = `${REPO_ROOT}/test/support/secret-host-server.ts`;

/** Why the section cannot run here, or undefined. */
export function interceptionUnavailable(): string | undefined {
  return kernelGuestUnavailable() ?? testHostsUnavailable() ?? (Bun.which("curl") === null ? "curl is not installed" : undefined);
}

/** A CA for the interception (the network signs the guest's leaves with it), made with openssl. */
function makeCa(dir: string): { certPem: string; keyPem: string } {
  const certFile = join(dir, "ca.pem");
  const keyFile = join(dir, "ca-key.pem");
  runCommand([
    "openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", keyFile, "-out", certFile,
    "-days", "2", "-subj", "/CN=bun-gvproxy bench interception CA", "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign",
  ]);
  return { certPem: readFileSync(certFile, "utf8"), keyPem: readFileSync(keyFile, "utf8") };
}

/** What one path's curl needs: the URL's name, and the one root it trusts. */
interface Target {
  name: string;
  caFile: string;
}

/** The test host, the CA and the two targets: made once, shared by every run. */
interface Setup {
  hosts: TestHosts;
  ca: { certPem: string; keyPem: string };
  /** The HTTP/1.1 server's address: both names resolve to it (curl --resolve). */
  serverIp: string;
  targets: Record<InterceptionPath, Target>;
}

function sha256(text: string): string {
  return createHash("sha256").update(text).digest("hex");
}

/** curl in the guest to `target`, HTTP/1.1, the placeholder in Authorization as a client of the secret would send it. */
function curl(setup: Setup, target: Target, extra: readonly string[]): string[] {
  return [
    "curl", "--http1.1", "--silent", "--show-error", "--fail", "--cacert", target.caFile,
    "--resolve", `${target.name}:443:${setup.serverIp}`, "-H", `Authorization: Bearer ${SECRET.placeholder}`, ...extra,
  ];
}

async function inGuest(guest: KernelGuest, argv: readonly string[], timeoutMs: number): Promise<string> {
  const r = await guest.exec(argv, { timeoutMs });
  if (r.exitCode !== 0) throw new Error(`${argv.slice(0, 1).join(" ")} ${argv.at(-1)} failed (exit ${r.exitCode}): ${r.stderr.trim().slice(-300)}`);
  return r.stdout;
}

/**
 * One echo on each path before anything is timed: the server must have received the
 * value through interception and the placeholder as sent when passed through.
 */
async function checkPaths(setup: Setup, guest: KernelGuest): Promise<void> {
  for (const path of PATHS) {
    const target = setup.targets[path];
    const body = await inGuest(guest, curl(setup, target, [`https://${target.name}/echo`]), 20_000);
    const echo = JSON.parse(body) as { authorizationSha256: string; headers: Record<string, string> };
    const sent = path === "intercepted" ? SECRET.value : SECRET.placeholder;
    if (echo.authorizationSha256 !== sha256(`Bearer ${sent}`)) throw new Error(`${path}: the server did not receive the ${path === "intercepted" ? "value" : "placeholder"}`);
    if (body.includes(SECRET.value)) throw new Error(`${path}: the value reached the guest`);
  }
}

interface Download {
  gbps: number;
  cpuPerGB: number;
}

async function download(setup: Setup, guest: KernelGuest, networkPid: number, path: InterceptionPath, bytes: number): Promise<Download> {
  const target = setup.targets[path];
  const cpu0 = cpuSeconds(networkPid);
  const out = await inGuest(guest, curl(setup, target, ["-o", "/dev/null", "-w", "%{size_download} %{time_total}", `https://${target.name}/bytes?n=${bytes}`]), 300_000);
  const cpu = cpuSeconds(networkPid) - cpu0;
  const [size, seconds] = out.trim().split(" ").map(Number) as [number, number];
  if (size !== bytes) throw new Error(`${path}: downloaded ${size} of ${bytes} bytes`);
  return { gbps: (size * 8) / seconds / 1e9, cpuPerGB: cpu / (size / 1e9) };
}

interface Requests {
  firstUs: number;
  p50Us: number;
  p99Us: number;
}

/** `count` + 1 echo requests on one connection (a URL range, which curl sends on one kept connection). */
async function requests(setup: Setup, guest: KernelGuest, path: InterceptionPath, count: number): Promise<Requests> {
  const target = setup.targets[path];
  const out = await inGuest(guest, curl(setup, target, ["-o", "/dev/null", "-w", "%{time_total} %{num_connects}\\n", `https://${target.name}/echo?i=[0-${count}]`]), 120_000);
  const lines = out.trim().split("\n").map((l) => l.split(" ").map(Number) as [number, number]);
  if (lines.length !== count + 1) throw new Error(`${path}: curl reported ${lines.length} of ${count + 1} requests`);
  const connects = lines.reduce((a, [, c]) => a + c, 0);
  // A second connection would time a handshake as a request.
  if (connects !== 1 || lines[0]![1] !== 1) throw new Error(`${path}: ${connects} connections for ${count + 1} requests (want one, kept)`);
  const s = summarizeLatency(lines.slice(1).map(([t]) => t * 1e6));
  return { firstUs: lines[0]![0] * 1e6, p50Us: s.p50, p99Us: s.p99 };
}

/** One run: a fresh network and kernel guest, both paths measured in alternating order. */
async function measureRun(setup: Setup, runs: number, run: number, sizes: { bytes: number; count: number }, log: (line: string) => void) {
  const net = await startNetwork("ours", {
    mtu: MTU,
    forwards: [],
    interception: { secrets: [SECRET], tlsInterception: { ca: setup.ca, upstreamCaPem: [setup.hosts.certificatePem] } },
  });
  let guest: KernelGuest | undefined;
  try {
    guest = await startKernelGuest({ socketPath: net.socketPath, mac: GUEST_MAC, mtu: MTU });
    await guest.lease();
    await checkPaths(setup, guest);
    const downloads = {} as Record<InterceptionPath, Download>;
    const latency = {} as Record<InterceptionPath, Requests>;
    for (const path of interleaved<InterceptionPath>(run, "intercepted", "passthrough")) {
      downloads[path] = await download(setup, guest, net.pid, path, sizes.bytes);
      log(`interception run ${run + 1}/${runs} ${path}: download ${downloads[path].gbps.toFixed(2)} Gbit/s, ${downloads[path].cpuPerGB.toFixed(2)} network CPU s/GB`);
    }
    for (const path of interleaved<InterceptionPath>(run, "intercepted", "passthrough")) {
      latency[path] = await requests(setup, guest, path, sizes.count);
      log(`interception run ${run + 1}/${runs} ${path}: request p50 ${latency[path].p50Us.toFixed(0)} µs, p99 ${latency[path].p99Us.toFixed(0)} µs, first ${latency[path].firstUs.toFixed(0)} µs`);
    }
    return { downloads, latency };
  } finally {
    await guest?.close();
    await net.stop();
  }
}

async function makeSetup(dir: string): Promise<Setup> {
  const hosts = await startTestHosts([INTERCEPTED_NAME, PASSTHROUGH_NAME], SERVER_SCRIPT);
  try {
    const ca = makeCa(dir);
    const caFile = join(dir, "interception-ca.pem");
    const serverCertFile = join(dir, "server.pem");
    writeFileSync(caFile, ca.certPem);
    writeFileSync(serverCertFile, hosts.certificatePem);
    return {
      hosts,
      ca,
      // secret-host-server.ts: the HTTP/1.1 server is on the second address.
      serverIp: hosts.hostB,
      targets: { intercepted: { name: INTERCEPTED_NAME, caFile }, passthrough: { name: PASSTHROUGH_NAME, caFile: serverCertFile } },
    };
  } catch (error) {
    await hosts.close();
    throw error;
  }
}

export async function measureInterception(plan: Plan, log: (line: string) => void): Promise<InterceptionResults> {
  const sizes = plan.quick ? { bytes: 64 << 20, count: 200 } : { bytes: 512 << 20, count: 1000 };
  const runs: Awaited<ReturnType<typeof measureRun>>[] = [];
  // At least three pairs even in a quick run: one pair of sub-second downloads on a shared
  // machine says little, and three cost a few seconds.
  const count = Math.max(plan.runs, 3);
  const dir = tempDir("gvb-intercept");
  try {
    // Inside the try: a setup that fails leaves no directory (with a CA key) behind.
    const setup = await makeSetup(dir);
    try {
      for (let run = 0; run < count; run++) runs.push(await measureRun(setup, count, run, sizes, log));
    } finally {
      await setup.hosts.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const per = <T>(pick: (r: (typeof runs)[number], path: InterceptionPath) => T) => (path: InterceptionPath) => runs.map((r) => pick(r, path));
  const gbps = per((r, p) => r.downloads[p].gbps);
  const p50 = per((r, p) => r.latency[p].p50Us);
  const byPath = (values: (path: InterceptionPath) => number[]) => ({ intercepted: summarize(values("intercepted")), passthrough: summarize(values("passthrough")) });
  return {
    downloadBytes: sizes.bytes,
    requestsPerRun: sizes.count,
    mtu: MTU,
    runs: runs.length,
    gbps: byPath(gbps),
    throughputRatio: pairedRatio(gbps("intercepted"), gbps("passthrough")),
    networkCpuPerGB: byPath(per((r, p) => r.downloads[p].cpuPerGB)),
    requestP50Us: byPath(p50),
    requestP99Us: byPath(per((r, p) => r.latency[p].p99Us)),
    addedP50Us: summarize(p50("intercepted").map((v, i) => v - p50("passthrough")[i]!)),
    firstRequestUs: byPath(per((r, p) => r.latency[p].firstUs)),
  };
}
