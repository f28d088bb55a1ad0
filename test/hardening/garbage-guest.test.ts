/**
 * A VM that writes garbage to its socket must not take the network down: the instance
 * logs what was wrong (a protocol error names the bad length and is counted in
 * stats().link.protocolErrors), drops the frame or the connection, keeps serving (a well-behaved guest that
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
  /** How far stats().link.protocolErrors moved while the garbage was handled. */
  readonly protocolErrors: number;
  /** How far stats().link.rxDropped moved meanwhile. */
  readonly rxDropped: number;
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

/** What the link says of a frame shorter than an Ethernet header (`size` a number or a pattern). */
function tooShort(size: string): string {
  return `guest sent a ${size}-byte frame, shorter than an Ethernet header \\(14 bytes\\)`;
}

/** What the link says of a frame larger than the default MTU (1500) allows. */
function tooLarge(size: string): string {
  return `guest sent a ${size}-byte frame, larger than the 1514 bytes the MTU allows`;
}

/**
 * A stream guest that broke the framing: counted once in stats().link.protocolErrors, and
 * logged as exactly two records naming the bad length, the warning that drops the
 * connection and the disconnect notice with the same reason. `detail` is a pattern.
 */
function expectProtocolError(served: ServedReport, detail: string): void {
  expect(served.dropped).toBe(true);
  expect(served.protocolErrors).toBe(1);
  const records = reported(served);
  expect(records).toHaveLength(2);
  expect(records[0]).toMatch(new RegExp(`^warn: dropping guest connection: ${detail}$`));
  expect(records[1]).toMatch(new RegExp(`^info: guest disconnected from /\\S+/net\\.sock: ${detail}$`));
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
  test("a length prefix of 0: a protocol error, logged and counted, the connection dropped, the network keeps serving", () => {
    expectProtocolError(scenario("zero-length").served, tooShort("0"));
  });

  test("a frame shorter than an Ethernet header: a protocol error, logged and counted, the network keeps serving", () => {
    expectProtocolError(scenario("runt").served, tooShort("5"));
  });

  test("a 4 GiB length prefix: a protocol error, the connection dropped without reserving 4 GiB", () => {
    const { served } = scenario("huge-length");
    expectProtocolError(served, tooLarge("4294967295"));
    expect(served.vmSizeGrowthKiB).toBeLessThan(MAX_VM_GROWTH_KIB);
  });

  test("random bytes: a protocol error, the connection dropped without reserving memory for a bogus length", () => {
    const { served } = scenario("random");
    // The first four random bytes are the length: it is out of range for all but ~1 in 3 million seeds.
    expectProtocolError(served, `(${tooShort("\\d+")}|${tooLarge("\\d+")})`);
    expect(served.vmSizeGrowthKiB).toBeLessThan(MAX_VM_GROWTH_KIB);
  });

  test("a frame larger than the MTU allows: a protocol error, logged and counted, the network keeps serving", () => {
    const { served } = scenario("oversize");
    expectProtocolError(served, tooLarge("70000"));
    expect(served.vmSizeGrowthKiB).toBeLessThan(MAX_VM_GROWTH_KIB);
  });

  test("a truncated frame, then the VM dies: not a protocol error, the lost frame counted and the reason logged", () => {
    const { served } = scenario("truncated-then-eof");
    expect(served.protocolErrors).toBe(0);
    expect(served.rxDropped).toBe(1);
    expect(reported(served)).toEqual([expect.stringMatching(/^info: guest disconnected from \S+\/net\.sock: stream ended inside a frame: unexpected EOF$/)]);
  });

  test("a truncated frame, then the VM stays silent: nothing counted or logged yet, other guests are still served", () => {
    const { served } = scenario("truncated-then-silent");
    expect(served.dropped).toBe(false);
    expect(served.protocolErrors).toBe(0);
    expect(reported(served)).toEqual([]);
  });

  test("a flood of 200 000 header-only frames: all consumed, the sender kept, the next guest served", () => {
    const { served } = scenario("tiny-flood");
    expect(served.consumed).toBe(true);
    expect(served.dropped).toBe(false);
    expect(served.protocolErrors).toBe(0);
  });

  test("a flood of 100 000 frames shorter than an Ethernet header: the first is a protocol error, the network keeps serving", () => {
    expectProtocolError(scenario("runt-flood").served, tooShort("([1-9]|1[0-3])"));
  });

  test("a flood from 500 000 different source MACs: consumed, memory stays bounded, the next guest served", () => {
    const { served } = scenario("mac-flood");
    expect(served.consumed).toBe(true);
    expect(served.protocolErrors).toBe(0);
    // Generous: a table entry per MAC costs tens of bytes; this catches per-frame buffers kept.
    expect(served.rssGrowthKiB).toBeLessThan(64 * 1024);
  });
});
