/**
 * Many networks at once in one process: 64 instances, each with its own guest process,
 * all alive together with traffic through NAT and port forwards, created and destroyed
 * concurrently from async code. No lane sees another's traffic, ids are unique, and
 * once all are gone the process holds what it held before.
 */
import { beforeAll, describe, expect, test } from "bun:test";
import { existsSync } from "node:fs";
import { GvisorTapBackend } from "../../src/index.ts";
import { HOST_LOOPBACK_IP, startGuest, type Guest } from "../../guest/driver.ts";
import { forwardedPort } from "../support/host-clients.ts";
import { startTcpEcho } from "../support/host-servers.ts";
import { makeTempDir } from "../support/paths.ts";
import { poll } from "../support/eventually.ts";
import { mib, processUsage, type ProcessUsage } from "../support/process-usage.ts";
import { SeededRandom } from "../support/seeded-random.ts";
import { bindError } from "../unit/helpers.ts";

const LANES = 64;
const linux = process.platform === "linux";

/** What one lane observed. */
interface LaneResult {
  readonly lane: number;
  readonly id: number;
  readonly socketPath: string;
  readonly hostPort: number;
  readonly leaseIp: string;
  readonly natReply: string;
  readonly forwardReply: string;
  readonly bytesSent: number;
  readonly bytesReceived: number;
}

/** Resolves every waiter once `count` parties have arrived. */
function barrier(count: number): () => Promise<void> {
  let arrived = 0;
  let release: () => void = () => {};
  const all = new Promise<void>((resolve) => (release = resolve));
  return () => {
    arrived++;
    if (arrived === count) release();
    return all;
  };
}

/**
 * One lane: a network with a forward, a guest with a lease, a NAT round trip and a
 * forwarded HTTP request that each carry the lane's name, then teardown. `together`
 * (when given) holds every lane at full strength before the traffic starts.
 */
async function lane(lane: number, echoPort: number, startDelayMs: number, together?: () => Promise<void>): Promise<LaneResult> {
  await Bun.sleep(startDelayMs);
  const tmp = makeTempDir("gvl-");
  const socketPath = tmp.path("net.sock");
  let network: GvisorTapBackend | undefined;
  let guest: Guest | undefined;
  try {
    network = new GvisorTapBackend({ socketPath, portMappings: [[0, 8000]] });
    const hostPort = forwardedPort(network, 8000);
    guest = await startGuest({ socketPath, commandTimeoutMs: 60_000 });
    const lease = await guest.dhcp({ timeoutMs: 45_000 });
    await guest.serveTcp(8000, { mode: "http", body: `lane ${lane}` });
    await together?.();
    const nat = await guest.tcpRequest({ host: HOST_LOOPBACK_IP, port: echoPort, data: `lane ${lane} via NAT`, timeoutMs: 45_000 });
    const forwarded = await (await fetch(`http://127.0.0.1:${hostPort}/`)).text();
    const stats = network.stats();
    return {
      lane,
      id: network.instance.id,
      socketPath,
      hostPort,
      leaseIp: lease.ip,
      natReply: nat.response,
      forwardReply: forwarded,
      bytesSent: stats.bytesSent,
      bytesReceived: stats.bytesReceived,
    };
  } catch (error) {
    throw new Error(`lane ${lane} failed: ${String(error)}`);
  } finally {
    await guest?.close();
    network?.close();
    tmp.remove();
  }
}

/** Samples the process every 100 ms while `work` runs; returns the peak of each figure. */
async function withPeak<T>(work: Promise<T>): Promise<{ result: T; peak: ProcessUsage }> {
  let peak = processUsage();
  const timer = setInterval(() => {
    const now = processUsage();
    peak = {
      fds: Math.max(peak.fds, now.fds),
      threads: Math.max(peak.threads, now.threads),
      rssKiB: Math.max(peak.rssKiB, now.rssKiB),
      vmSizeKiB: Math.max(peak.vmSizeKiB, now.vmSizeKiB),
    };
  }, 100);
  try {
    return { result: await work, peak };
  } finally {
    clearInterval(timer);
  }
}

function expectLanesCorrect(results: readonly LaneResult[]): void {
  expect(results).toHaveLength(LANES);
  for (const r of results) {
    // Each lane got its own traffic back: no crosstalk between the 64 networks.
    expect({ lane: r.lane, lease: r.leaseIp, nat: r.natReply, forward: r.forwardReply }).toEqual({
      lane: r.lane,
      lease: "192.168.127.2",
      nat: `lane ${r.lane} via NAT`,
      forward: `lane ${r.lane}`,
    });
    expect(r.bytesSent).toBeGreaterThan(0);
    expect(r.bytesReceived).toBeGreaterThan(0);
  }
  expect(new Set(results.map((r) => r.id)).size).toBe(LANES);
}

async function expectAllReleased(results: readonly LaneResult[], before: ProcessUsage): Promise<ProcessUsage> {
  for (const r of results) expect(existsSync(r.socketPath)).toBe(false);
  const unbindable = (await Promise.all(results.map((r) => bindError(r.hostPort)))).filter((e) => e !== null);
  expect(unbindable).toEqual([]);
  let after = processUsage();
  await poll(() => (after = processUsage()).fds <= before.fds, { timeoutMs: 5000, intervalMs: 50 });
  expect(after.fds).toBeLessThanOrEqual(before.fds);
  return after;
}

describe.if(linux)(`${LANES} networks at once`, () => {
  // The first network of a process loads the Go runtime and Bun's fetch opens its
  // process-wide descriptors: one lane first, so the baselines below are steady.
  beforeAll(async () => {
    const echo = startTcpEcho();
    try {
      await lane(-1, echo.port, 0);
    } finally {
      echo.close();
    }
  });

  test(`${LANES} instances with guests, all up together, traffic through NAT and forwards`, async () => {
    const echo = startTcpEcho();
    try {
      const before = processUsage();
      const started = performance.now();
      const together = barrier(LANES);
      const { result: results, peak } = await withPeak(Promise.all(Array.from({ length: LANES }, (_, i) => lane(i, echo.port, 0, together))));
      const elapsed = performance.now() - started;
      expectLanesCorrect(results);
      expect(echo.hits).toBe(LANES);
      const after = await expectAllReleased(results, before);
      console.log(
        `load: ${LANES} simultaneous instances + guests in ${(elapsed / 1000).toFixed(1)} s; ` +
          `peak fds ${peak.fds}, threads ${peak.threads}, RSS ${mib(peak.rssKiB)}; ` +
          `before/after fds ${before.fds}/${after.fds}, threads ${before.threads}/${after.threads}, RSS ${mib(before.rssKiB)}/${mib(after.rssKiB)}`,
      );
    } finally {
      echo.close();
    }
  }, 180_000);

  test(`${LANES} lanes created and destroyed concurrently, interleaved at random`, async () => {
    const random = new SeededRandom(SeededRandom.seedFromEnv());
    console.log(`load: interleaving seed ${random.seed} (replay with HARDEN_SEED=${random.seed})`);
    const echo = startTcpEcho();
    try {
      const before = processUsage();
      const started = performance.now();
      // Staggered starts: early lanes are tearing down while late ones are being created.
      const { result: results, peak } = await withPeak(
        Promise.all(Array.from({ length: LANES }, (_, i) => lane(i, echo.port, random.int(0, 3000)))),
      );
      const elapsed = performance.now() - started;
      expectLanesCorrect(results);
      const after = await expectAllReleased(results, before);
      console.log(
        `load: ${LANES} interleaved create/traffic/destroy lanes in ${(elapsed / 1000).toFixed(1)} s; ` +
          `peak fds ${peak.fds}, threads ${peak.threads}, RSS ${mib(peak.rssKiB)}; fds before/after ${before.fds}/${after.fds}`,
      );
    } finally {
      echo.close();
    }
  }, 180_000);
});
