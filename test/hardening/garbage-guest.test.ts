/**
 * A VM that writes garbage to its socket must not take the network down: the instance
 * logs, drops the frame or the connection, keeps serving (a well-behaved guest that
 * connects afterwards gets its DHCP lease), can still be destroyed, and the process
 * lives. Each scenario runs in a child process (fixtures/garbage-guest.ts) with a
 * deadline, so a crash or a hang fails that test and nothing else.
 */
import { beforeAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { describeChild, runScript, type ChildRun } from "../support/child-script.ts";
import { SeededRandom } from "../support/seeded-random.ts";

const FIXTURE = join(import.meta.dir, "fixtures", "garbage-guest.ts");
const GUEST_IP = "192.168.127.2";
/** A length prefix the MTU forbids must not make the process reserve memory for it. */
const MAX_VM_GROWTH_KIB = 512 * 1024;
const seed = SeededRandom.seedFromEnv();
console.log(`garbage-guest: random scenario seed ${seed} (replay with HARDEN_SEED=${seed})`);

interface ServedReport {
  readonly dropped?: boolean;
  readonly consumed?: boolean;
  readonly leaseIp?: string;
  readonly guestError?: string;
  readonly vmSizeGrowthKiB: number;
  readonly rssGrowthKiB: number;
  /** Every record ("type: message") logged from the garbage connection's start until it was handled. */
  readonly loggedDuringGarbage: string[];
}

const SCENARIOS = [
  "zero-length",
  "runt",
  "huge-length",
  "random",
  "oversize",
  "truncated-then-eof",
  "truncated-then-silent",
  "tiny-flood",
  "runt-flood",
  "mac-flood",
];
const runs = new Map<string, ChildRun>();

// The children run in parallel (each mostly waits), all before the first test, so that
// no other suite's measurements overlap with them.
beforeAll(async () => {
  await Promise.all(
    SCENARIOS.map(async (name) => {
      runs.set(name, await runScript(FIXTURE, [name, String(seed)], { timeoutMs: 25_000, env: { GVPROXY_LOG_LEVEL: "info" } }));
    }),
  );
}, 60_000);

/**
 * What the network reported about the garbage: every record but the routine notice of a
 * new connection. "Logs" in the contract means an operator can learn from the log that a
 * guest sent garbage and what happened to it.
 */
function reported(served: ServedReport): string[] {
  return served.loggedDuringGarbage.filter((line) => !/^info: guest connected to /.test(line));
}

function signed(n: number): string {
  return n >= 0 ? `+${n}` : String(n);
}

/** One scenario's "served" report, after checking the child lived and destroy returned. */
function scenario(name: string): { run: ChildRun; served: ServedReport } {
  const run = runs.get(name);
  if (run === undefined) throw new Error(`scenario ${name} did not run`);
  const served = run.reports.find((r) => r.phase === "served") as ServedReport | undefined;
  const destroyed = run.reports.some((r) => r.phase === "destroyed");
  console.log(
    `garbage-guest ${name}: exit ${run.exitCode}${run.signalCode ? ` (${run.signalCode})` : ""}, ${Math.round(run.elapsedMs)} ms, ` +
      (served
        ? `dropped=${served.dropped} lease=${served.leaseIp ?? "none"} rss ${signed(served.rssGrowthKiB)} KiB, vm ${signed(served.vmSizeGrowthKiB)} KiB, logged: ${JSON.stringify(reported(served))}`
        : "no report") +
      `, destroy returned=${destroyed}`,
  );
  const context = `scenario ${name}: ${describeChild(run)}`;
  // Serving comes first: a wedged network shows up as "no lease", the most telling failure.
  if (served === undefined) throw new Error(`the child died before reporting; ${context}`);
  if (served.leaseIp !== GUEST_IP) throw new Error(`a well-behaved guest got no lease after the garbage (${served.guestError}); ${context}`);
  if (!destroyed) throw new Error(`destroy() did not return (the child was killed at its deadline); ${context}`);
  expect(run.exitCode).toBe(0);
  return { run, served };
}

describe("garbage on the guest socket (QEMU framing)", () => {
  test("a length prefix of 0: logged, the empty frame dropped, the network keeps serving", () => {
    const { served } = scenario("zero-length");
    expect(reported(served)).not.toEqual([]);
  });

  test("a frame shorter than an Ethernet header: logged and dropped, the network keeps serving", () => {
    const { served } = scenario("runt");
    expect(reported(served)).not.toEqual([]);
  });

  test("a 4 GiB length prefix: the connection is dropped without reserving 4 GiB", () => {
    const { served } = scenario("huge-length");
    expect(served.dropped).toBe(true);
    expect(served.vmSizeGrowthKiB).toBeLessThan(MAX_VM_GROWTH_KIB);
    expect(reported(served)).not.toEqual([]);
  });

  test("random bytes: the connection is dropped without reserving memory for a bogus length", () => {
    const { served } = scenario("random");
    expect(served.dropped).toBe(true);
    expect(served.vmSizeGrowthKiB).toBeLessThan(MAX_VM_GROWTH_KIB);
    expect(reported(served)).not.toEqual([]);
  });

  test("a frame larger than any MTU: the network keeps serving", () => {
    const { served } = scenario("oversize");
    expect(served.vmSizeGrowthKiB).toBeLessThan(MAX_VM_GROWTH_KIB);
  });

  test("a truncated frame, then the VM dies: logged, the next guest is served", () => {
    const { served } = scenario("truncated-then-eof");
    expect(reported(served)).not.toEqual([]);
  });

  test("a truncated frame, then the VM stays silent: other guests are still served", () => {
    scenario("truncated-then-silent");
  });

  test("a flood of 200 000 header-only frames: all consumed, the sender kept, the next guest served", () => {
    const { served } = scenario("tiny-flood");
    expect(served.consumed).toBe(true);
    expect(served.dropped).toBe(false);
  });

  test("a flood of 100 000 frames shorter than an Ethernet header: the network keeps serving", () => {
    scenario("runt-flood");
  });

  test("a flood from 500 000 different source MACs: consumed, memory stays bounded, the next guest served", () => {
    const { served } = scenario("mac-flood");
    expect(served.consumed).toBe(true);
    // Generous: a table entry per MAC costs tens of bytes; this catches per-frame buffers kept.
    expect(served.rssGrowthKiB).toBeLessThan(64 * 1024);
  });
});
