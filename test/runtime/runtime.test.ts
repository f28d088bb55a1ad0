/**
 * Runtime safety (DESIGN.md "Runtime model"): loading libgvproxy, and with it a Go
 * runtime, must not change how the Bun process behaves. Each property is proven in a
 * child process running a fixture of test/runtime/fixtures, with a deadline so that a hang
 * or a crash fails the test.
 */
import { describe, expect, setDefaultTimeout, test } from "bun:test";
import { existsSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describeRun, fixturePath, runFixture, type FixtureResult } from "./run-fixture.ts";

const linux = process.platform === "linux";
// Children get their own deadlines (runFixture's timeoutMs); the test waits for them.
setDefaultTimeout(180_000);

/** Asserts the child exited by itself with code 0 and returns its report. */
function expectClean(result: FixtureResult): Record<string, unknown> {
  if (result.exitCode !== 0 || result.signalCode !== null) throw new Error(`fixture failed: ${describeRun(result)}`);
  return result.report;
}

describe("signals", () => {
  test.if(linux)("SIGPIPE stays ignored: a SIGPIPE is harmless and a write to a closed pipe fails with EPIPE", async () => {
    const report = expectClean(await runFixture("sigpipe.ts"));
    expect(report).toEqual({ ignoredBefore: true, ignoredAfter: true, writeError: "EPIPE", alive: true });
  });

  test.if(linux)("SIGINT and SIGTERM handlers fire while Go is busy; Go's threads block them", async () => {
    const expected = 10;
    const child = Bun.spawn([process.execPath, fixturePath("signal-handlers.ts")], {
      env: { ...process.env, EXPECTED_SIGNALS: String(expected), GVPROXY_LOG_LEVEL: "warn" },
      stdout: "pipe",
      stderr: "pipe",
      timeout: 30_000,
      killSignal: "SIGKILL",
    });
    const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
    let output = "";
    /** Reads the child's stdout until it has printed the line `line`. */
    const waitForLine = async (line: string): Promise<void> => {
      while (!output.split("\n").includes(line)) {
        const { value, done } = await reader.read();
        if (done) throw new Error(`child ended before printing "${line}": ${output}`);
        output += value;
      }
    };
    await waitForLine("ready");
    // Signals from outside the process, as a terminal or a supervisor sends them, each
    // one acknowledged by the handler before the next is sent.
    for (let i = 1; i <= expected; i++) {
      child.kill("SIGINT");
      await waitForLine(`SIGINT ${i}`);
      child.kill("SIGTERM");
      await waitForLine(`SIGTERM ${i}`);
    }
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      output += value;
    }
    const stderr = await new Response(child.stderr).text();
    await child.exited;
    const result = { exitCode: child.exitCode, signalCode: child.signalCode, stdout: output, stderr, report: JSON.parse(output.trim().split("\n").at(-1) ?? "{}") };
    const report = expectClean(result);
    expect(report.SIGINT).toBe(expected);
    expect(report.SIGTERM).toBe(expected);
    expect(report.goThreads).toBeGreaterThan(0);
    expect(report.goThreadsOpenToSignals).toBe(0);
    expect(report.mainThreadBlocksSigint).toBe(false);
  });

  test("JavaScriptCore's thread suspension (sampling profiler, worker termination) works while threads run Go code", async () => {
    const profiles = mkdtempSync(join(tmpdir(), "gvp-prof-"));
    try {
      const report = expectClean(
        await runFixture("thread-suspension.ts", {
          bunArgs: ["--cpu-prof", `--cpu-prof-dir=${profiles}`, "--cpu-prof-interval=100"],
          env: { GVPROXY_LOG_LEVEL: "warn" },
        }),
      );
      expect(report.workerTerminated).toBe(true);
      if (linux) expect(report.sigpwrCaught).toBe(true);
      expect(readdirSync(profiles).some((name) => name.endsWith(".cpuprofile"))).toBe(true);
    } finally {
      rmSync(profiles, { recursive: true, force: true });
    }
  });
});

test("WebAssembly instantiate, an out-of-bounds trap and a timer work with Go loaded", async () => {
  const report = expectClean(await runFixture("wasm-timer.ts", { env: { GVPROXY_LOG_LEVEL: "warn" } }));
  expect(report).toEqual({ sum: 499500, trap: "RuntimeError", timerFired: true, statsBytesSent: 0 });
});

test("heavy Bun.gc(true) churn while creating, destroying and dropping instances leaves no socket behind", async () => {
  const report = expectClean(await runFixture("gc-churn.ts", { env: { ROUNDS: "120" }, timeoutMs: 60_000 }));
  expect(report.destroyed).toBe(80);
  expect(report.dropped).toBe(40);
  expect(report.leftover).toBe(0);
  expect(report.dirGone).toBe(true);
});

test("Bun.spawn and Bun.spawnSync work: output, exit codes and signal deaths of children", async () => {
  const report = expectClean(await runFixture("spawn.ts", { env: { GVPROXY_LOG_LEVEL: "warn" } }));
  expect(report).toEqual({
    echoed: "hello",
    echoExit: 3,
    sync: "sync",
    syncExit: 0,
    sleeperSignal: "SIGTERM",
    manyExits: Array.from({ length: 20 }, (_, i) => i % 4),
  });
});

test("the process exits by itself with code 0 while instances are live", async () => {
  const result = await runFixture("exit-live.ts", { env: { GVPROXY_LOG_LEVEL: "warn" }, timeoutMs: 15_000 });
  const dir = typeof result.report.dir === "string" ? result.report.dir : undefined;
  try {
    const report = expectClean(result);
    expect(report.live).toBe(2);
  } finally {
    if (dir !== undefined && existsSync(dir)) rmSync(dir, { recursive: true, force: true });
  }
});

test("a flood of 1,000,000 records while JS allocates: each delivered in order or counted dropped, memory bounded", async () => {
  const result = await runFixture("log-flood.ts", { timeoutMs: 120_000 });
  const report = expectClean(result);
  const total = report.total as number;
  expect(total).toBe(1_000_000);
  expect((report.received as number) + (report.dropped as number)).toBe(total);
  expect(report.received as number).toBeGreaterThan(0);
  expect(report.outOfOrder).toBe(0);
  expect(report.queuedAtEnd).toBe(0);
  // Bounded: the Go queue holds at most `queueCapacity` records, so memory must not grow
  // with the flood's size (a few hundred bytes per record would be ~300 MiB unbounded).
  expect((report.peakRssMiB as number) - (report.baselineRssMiB as number)).toBeLessThan(256);
  console.log(
    `log flood: ${report.received} delivered, ${report.dropped} dropped (queue capacity ${report.queueCapacity}), ` +
      `${report.recordsPerSecond} records/s delivered, ${report.elapsedMs} ms, peak RSS ${report.peakRssMiB} MiB (baseline ${report.baselineRssMiB} MiB)`,
  );
});
