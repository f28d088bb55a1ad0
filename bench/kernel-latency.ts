// Request/response latency with the Linux kernel as the guest: 64-byte RR over one kept
// connection and connect+request+close, the Go peer (build/bench-peer) running in the
// namespace as the guest side. Through the NAT the guest's peer is the client of an echo
// server on the host's loopback; through the port forward a host peer is the client of
// an echo server in the guest. Ours and gvproxy back to back in every run (MTU 1500);
// the ceilings are the same peers between two namespaces over a veth and over two relays.
import { HOST_LOOPBACK_IP, withKernelGuest } from "./kernel-testbed.ts";
import { PAIR_ADDRESSES, withNamespacePair, type PairKind } from "./kernel-pair.ts";
import { hostSpawn, waitListening, type Spawner } from "./iperf.ts";
import { toLatencyResult } from "./latency.ts";
import type { KernelLatencyCeiling, KernelLatencyCell, LatencyKind, LatencyPath, NetworkName } from "./model.ts";
import { interleaved, type Plan } from "./plan.ts";
import { freePort, PEER_BIN, startServer } from "./processes.ts";
import { pairedRatio, summarize, summarizeLatency } from "./stats.ts";
import type { LatencyRun } from "./testbed.ts";

const SIZE = 64;
const MTU = 1500;
const GUEST_ECHO_PORT = 7000;
const KINDS: readonly LatencyKind[] = ["rr", "crr"];

interface PeerLatency {
  samplesUs: number[];
  seconds: number;
  errors: number;
}

/** Runs the peer's rr or crr client where `spawn` runs it and summarises its samples. */
export async function peerClient(spawn: Spawner, kind: LatencyKind, address: string, count: number): Promise<LatencyRun & { samplesUs: number[] }> {
  const argv = [PEER_BIN, kind, "-connect", address, "-size", String(SIZE), "-count", String(count)];
  const proc = spawn(argv);
  const [out, err, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  if (code !== 0) throw new Error(`${argv.slice(1).join(" ")} failed (exit ${code}): ${err.trim().slice(-500)}`);
  const res = JSON.parse(out) as PeerLatency;
  const s = summarizeLatency(res.samplesUs);
  return { p50Us: s.p50, p99Us: s.p99, perSecond: res.samplesUs.length / res.seconds, errors: res.errors, samplesUs: res.samplesUs };
}

/** An echo server of the peer where `spawn` runs it, listening on `listen` (its port given). */
export async function echoIn(spawn: Spawner, listen: string, port: number): Promise<void> {
  spawn([PEER_BIN, "echo", "-listen", listen]);
  await waitListening(spawn, port);
}

const countFor = (kind: LatencyKind, plan: Plan) => (kind === "rr" ? plan.rrCount : plan.crrCount);

/** Every probe of one network: NAT (guest client) then port forward (host client). */
async function measureOn(kind: NetworkName, plan: Plan, record: (path: LatencyPath, latency: LatencyKind, r: LatencyRun) => void): Promise<void> {
  const hostPort = await freePort();
  const hostEcho = await startServer([PEER_BIN, "echo", "-listen", "127.0.0.1:0"]);
  try {
    await withKernelGuest(kind, { mtu: MTU, forwards: [{ hostPort, guestPort: GUEST_ECHO_PORT }] }, async (g) => {
      const inGuest: Spawner = (argv) => g.spawn(argv);
      const natTarget = `${HOST_LOOPBACK_IP}:${hostEcho.address.split(":").pop()}`;
      for (const latency of KINDS) record("nat", latency, await peerClient(inGuest, latency, natTarget, countFor(latency, plan)));
      await echoIn(inGuest, `0.0.0.0:${GUEST_ECHO_PORT}`, GUEST_ECHO_PORT);
      for (const latency of KINDS) record("port-forward", latency, await peerClient(hostSpawn, latency, `127.0.0.1:${hostPort}`, countFor(latency, plan)));
    });
  } finally {
    await hostEcho.stop();
  }
}

/** RR and CRR between two namespaces joined by `pair` (echo in a, client in b). */
async function ceiling(pair: PairKind, plan: Plan): Promise<Record<LatencyKind, LatencyRun>> {
  return withNamespacePair(pair, MTU, async ({ inA, inB }) => {
    await echoIn(inA, `${PAIR_ADDRESSES.a}:${GUEST_ECHO_PORT}`, GUEST_ECHO_PORT);
    const target = `${PAIR_ADDRESSES.a}:${GUEST_ECHO_PORT}`;
    return { rr: await peerClient(inB, "rr", target, plan.rrCount), crr: await peerClient(inB, "crr", target, plan.crrCount) };
  });
}

/**
 * RR and CRR through each network with the kernel guest, then the namespace-pair
 * ceilings. A run that fails on one network is reported and left out of the pairs.
 */
export async function measureKernelLatency(plan: Plan, runs: number, log: (line: string) => void): Promise<{ cells: KernelLatencyCell[]; ceilings: KernelLatencyCeiling[]; failures: string[] }> {
  const samples = new Map<string, { path: LatencyPath; kind: LatencyKind; ours: (LatencyRun | undefined)[]; gvproxy: (LatencyRun | undefined)[] }>();
  const failures: string[] = [];
  for (let run = 0; run < runs; run++) {
    for (const net of interleaved<NetworkName>(run, "ours", "gvproxy")) {
      await measureOn(net, plan, (path, kind, r) => {
        const entry = samples.get(`${path}/${kind}`) ?? { path, kind, ours: [], gvproxy: [] };
        entry[net][run] = r;
        samples.set(`${path}/${kind}`, entry);
        log(`kernel guest latency run ${run + 1}/${runs} ${net} ${kind} via ${path}: p50 ${r.p50Us.toFixed(0)} µs, p99 ${r.p99Us.toFixed(0)} µs`);
      }).catch((error: unknown) => {
        const why = `latency ${net}, run ${run + 1}: ${(error instanceof Error ? error.message : String(error)).split("\n")[0]}`;
        failures.push(why);
        log(`kernel guest ${why}`);
      });
    }
  }
  const cells: KernelLatencyCell[] = [];
  for (const s of samples.values()) {
    const paired = s.ours.flatMap((o, i) => (o !== undefined && s.gvproxy[i] !== undefined ? [[o, s.gvproxy[i]] as const] : []));
    if (paired.length === 0) continue;
    const ours = paired.map(([o]) => o);
    const gvproxy = paired.map(([, g]) => g);
    // p50Ratio above 1 means ours answers faster.
    cells.push({ path: s.path, kind: s.kind, size: SIZE, ours: toLatencyResult(ours), gvproxy: toLatencyResult(gvproxy), p50Ratio: pairedRatio(gvproxy.map((x) => x.p50Us), ours.map((x) => x.p50Us)), runs: paired.length });
  }
  const ceilings: KernelLatencyCeiling[] = [];
  for (const pair of ["veth", "relay-pair"] as const) {
    const byKind: Record<LatencyKind, LatencyRun[]> = { rr: [], crr: [] };
    for (let i = 0; i < runs; i++) {
      const r = await ceiling(pair, plan);
      for (const kind of KINDS) byKind[kind].push(r[kind]);
    }
    log(`kernel guest latency ceiling ${pair}: RR p50 ${byKind.rr[0]?.p50Us.toFixed(0)} µs`);
    for (const kind of KINDS) {
      ceilings.push({ pair, kind, p50Us: summarize(byKind[kind].map((r) => r.p50Us)), p99Us: summarize(byKind[kind].map((r) => r.p99Us)), rate: summarize(byKind[kind].map((r) => r.perSecond)) });
    }
  }
  return { cells, ceilings, failures };
}
