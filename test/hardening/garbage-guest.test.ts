/**
 * A VM that writes garbage to its socket must not take the network down: the instance
 * logs, drops the frame or the connection, keeps serving (a well-behaved guest that
 * connects afterwards gets its DHCP lease), can still be destroyed, and the process
 * lives. Each scenario runs in a child process (fixtures/garbage-guest.ts) with a
 * deadline, so a crash or a hang fails that test and nothing else.
 */
import { describe, expect, test } from "bun:test";
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
  readonly problemsDuringGarbage: string[];
}

/** Runs one scenario; returns its "served" report after checking the child lived and destroy returned. */
async function scenario(name: string): Promise<{ run: ChildRun; served: ServedReport }> {
  const run = await runScript(FIXTURE, [name, String(seed)], { timeoutMs: 25_000, env: { GVPROXY_LOG_LEVEL: "info" } });
  const served = run.reports.find((r) => r.phase === "served") as ServedReport | undefined;
  const destroyed = run.reports.some((r) => r.phase === "destroyed");
  console.log(
    `garbage-guest ${name}: exit ${run.exitCode}${run.signalCode ? ` (${run.signalCode})` : ""}, ${Math.round(run.elapsedMs)} ms, ` +
      (served
        ? `dropped=${served.dropped} lease=${served.leaseIp ?? "none"} rss +${served.rssGrowthKiB} KiB, vm +${served.vmSizeGrowthKiB} KiB, problems logged=${served.problemsDuringGarbage.length}`
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
  test.concurrent("a length prefix of 0: logged, the empty frame dropped, the network keeps serving", async () => {
    const { served } = await scenario("zero-length");
    expect(served.problemsDuringGarbage.length).toBeGreaterThan(0);
  });

  test.concurrent("a frame shorter than an Ethernet header: logged and dropped, the network keeps serving", async () => {
    const { served } = await scenario("runt");
    expect(served.problemsDuringGarbage.length).toBeGreaterThan(0);
  });

  test.concurrent("a 4 GiB length prefix: the connection is dropped without reserving 4 GiB", async () => {
    const { served } = await scenario("huge-length");
    expect(served.dropped).toBe(true);
    expect(served.vmSizeGrowthKiB).toBeLessThan(MAX_VM_GROWTH_KIB);
    expect(served.problemsDuringGarbage.length).toBeGreaterThan(0);
  });

  test.concurrent("random bytes: the connection is dropped without reserving memory for a bogus length", async () => {
    const { served } = await scenario("random");
    expect(served.dropped).toBe(true);
    expect(served.vmSizeGrowthKiB).toBeLessThan(MAX_VM_GROWTH_KIB);
    expect(served.problemsDuringGarbage.length).toBeGreaterThan(0);
  });

  test.concurrent("a frame larger than any MTU: the network keeps serving", async () => {
    const { served } = await scenario("oversize");
    expect(served.vmSizeGrowthKiB).toBeLessThan(MAX_VM_GROWTH_KIB);
  });

  test.concurrent("a truncated frame, then the VM dies: logged, the next guest is served", async () => {
    const { served } = await scenario("truncated-then-eof");
    expect(served.problemsDuringGarbage.length).toBeGreaterThan(0);
  });

  test.concurrent("a truncated frame, then the VM stays silent: other guests are still served", async () => {
    await scenario("truncated-then-silent");
  });

  test.concurrent("a flood of 200 000 header-only frames: all consumed, the sender kept, the next guest served", async () => {
    const { served } = await scenario("tiny-flood");
    expect(served.consumed).toBe(true);
    expect(served.dropped).toBe(false);
  });
});
