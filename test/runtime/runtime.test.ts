/**
 * Runtime safety (DESIGN.md "Runtime model"): loading libgvproxy, and with it a Go
 * runtime, must not change how the Bun process behaves. Each property is proven in a
 * child process running a fixture of test/runtime/fixtures, with a deadline so that a hang
 * or a crash fails the test.
 */
import { describe, expect, setDefaultTimeout, test } from "bun:test";
import { existsSync, readdirSync, rmSync } from "node:fs";
import { HOST_LOOPBACK_IP, startGuest } from "../../guest/driver.ts";
import { makeTempDir } from "../support/paths.ts";
import { TEST_LIBRARY_ENV } from "../support/test-hooks.ts";
import { describeChild, succeeded } from "../support/child-script.ts";
import { runFixture, startFixture, type FixtureResult } from "./run-fixture.ts";

const linux = process.platform === "linux";
// Children get their own deadlines (runFixture's timeoutMs); the test waits for them.
setDefaultTimeout(180_000);

/** Asserts the child exited by itself with code 0 and returns its report. */
function expectClean(result: FixtureResult): Record<string, unknown> {
  if (!succeeded(result)) throw new Error(`fixture failed: ${describeChild(result)}`);
  return result.report;
}

describe("signals", () => {
  test.if(linux)("SIGPIPE stays ignored: a SIGPIPE is harmless and a write to a closed pipe fails with EPIPE", async () => {
    const report = expectClean(await runFixture("sigpipe.ts"));
    expect(report).toEqual({ ignoredBefore: true, ignoredAfter: true, writeError: "EPIPE", alive: true });
  });

  test.if(linux)("SIGINT and SIGTERM handlers fire while Go is busy; Go's threads block them", async () => {
    const expected = 10;
    const child = startFixture("signal-handlers.ts", {
      env: { EXPECTED_SIGNALS: String(expected), GVPROXY_LOG_LEVEL: "warn" },
    });
    await child.waitForLine("ready");
    // Signals from outside the process, as a terminal or a supervisor sends them, each
    // one acknowledged by the handler before the next is sent.
    for (let i = 1; i <= expected; i++) {
      child.kill("SIGINT");
      await child.waitForLine(`SIGINT ${i}`);
      child.kill("SIGTERM");
      await child.waitForLine(`SIGTERM ${i}`);
    }
    const result = await child.finish();
    const report = expectClean(result);
    expect(report.SIGINT).toBe(expected);
    expect(report.SIGTERM).toBe(expected);
    expect(report.goThreads).toBeGreaterThan(0);
    expect(report.goThreadsOpenToSignals).toBe(0);
    expect(report.mainThreadBlocksSigint).toBe(false);
  });

  test("JavaScriptCore's thread suspension (sampling profiler, worker termination) works while threads run Go code", async () => {
    const profiles = makeTempDir("gvp-prof-");
    try {
      const report = expectClean(
        await runFixture("thread-suspension.ts", {
          bunArgs: ["--cpu-prof", `--cpu-prof-dir=${profiles.dir}`, "--cpu-prof-interval=100"],
          env: { GVPROXY_LOG_LEVEL: "warn" },
        }),
      );
      expect(report.workerTerminated).toBe(true);
      if (linux) expect(report.sigpwrCaught).toBe(true);
      expect(readdirSync(profiles.dir).some((name) => name.endsWith(".cpuprofile"))).toBe(true);
    } finally {
      profiles.remove();
    }
  });
});

test("GVPROXY_PPROF=<dir>: a CPU and a heap profile of a network that carried traffic, written on its close; Bun's threads unharmed", async () => {
  const profiles = makeTempDir("gvp-prof-");
  try {
    const report = expectClean(await runFixture("pprof.ts", { env: { GVPROXY_PPROF: profiles.dir, GVPROXY_LOG_LEVEL: "warn" }, timeoutMs: 60_000 }));
    expect(report.echo).toBe("ping");
    expect(report.workerRan).toBe(true);
    if (linux) expect([report.duringProfile, report.caughtAfter]).toEqual([true, report.caughtBefore]);
    const files = report.files as string[];
    expect(files).toHaveLength(2);
    expect(files.some((f) => /^gvproxy-\d+-1\.cpu\.pprof$/.test(f))).toBe(true);
    expect(files.some((f) => /^gvproxy-\d+-1\.heap\.pprof$/.test(f))).toBe(true);
    for (const f of files) {
      const bytes = new Uint8Array(await Bun.file(`${profiles.dir}/${f}`).arrayBuffer());
      expect([bytes[0], bytes[1]]).toEqual([0x1f, 0x8b]); // pprof: gzip-compressed protobuf
      expect(Bun.gunzipSync(bytes).length).toBeGreaterThan(100);
    }
  } finally {
    profiles.remove();
  }
});

test("WebAssembly instantiate, an out-of-bounds trap and a timer work with Go loaded", async () => {
  const report = expectClean(await runFixture("wasm-timer.ts", { env: { GVPROXY_LOG_LEVEL: "warn" } }));
  expect(report).toEqual({ sum: 499500, trap: "RuntimeError", timerFired: true, statsBytesSent: 0 });
});

test("heavy Bun.gc(true) churn never destroys a dropped instance; the process exit does", async () => {
  const result = await runFixture("gc-churn.ts", { env: { ROUNDS: "120" }, timeoutMs: 60_000 });
  try {
    const report = expectClean(result);
    expect(report.destroyed).toBe(80);
    expect(report.dropped).toBe(40);
    expect(report.listening).toBe(40);
    expect(socketsIn(report.dir)).toEqual([]);
  } finally {
    removeDir(result.report.dir);
  }
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

describe("a network lives until it is closed (issue 15)", () => {
  test.if(linux)("a backend nothing refers to, under a running VM, survives repeated Bun.gc(true) with traffic flowing", async () => {
    const result = await runFixture("unreferenced-vm.ts", { env: { GVPROXY_LOG_LEVEL: "warn" }, timeoutMs: 90_000 });
    try {
      const report = expectClean(result);
      expect(report.collections as number).toBeGreaterThan(10);
      expect(report.uploaded as number).toBeGreaterThan(0);
      expect(report.sinkReceived).toBe(report.uploaded);
      expect(report.httpOk).toBe(report.rounds);
      expect(report.guestConnectedAtEnd).toBe(true);
      expect(report.socketAliveAtEnd).toBe(true);
      expect(result.stderr).not.toContain("garbage-collected");
      // Never closed by the script: destroyed on the way out.
      expect(existsSync(String(report.socketPath))).toBe(false);
    } finally {
      removeDir(result.report.dir);
    }
  });

  test.if(linux)("a module-level backend of a service survives GC; process.exit() from its SIGTERM handler removes the socket", async () => {
    const child = startFixture("module-service.ts", { env: { GVPROXY_LOG_LEVEL: "info" }, timeoutMs: 60_000 });
    const started = JSON.parse(await child.waitForLine((line) => line.startsWith("{"))) as { socketPath: string; servicePort: number; dir: string };
    try {
      // Well after the top-level code has run and many full collections later, a VM
      // attaches and reaches the service through the network.
      await child.waitForLine("gc 25");
      const guest = await startGuest({ socketPath: started.socketPath });
      try {
        await guest.dhcp();
        await child.waitForLine("gc 50");
        const reply = await guest.httpGet(`http://${HOST_LOOPBACK_IP}:${started.servicePort}/`);
        expect(reply.body).toBe("service");
      } finally {
        await guest.close();
      }
      expect(existsSync(started.socketPath)).toBe(true);
      child.kill("SIGTERM");
      const result = await child.finish();
      expect(result.exitCode).toBe(0);
      expect(existsSync(started.socketPath)).toBe(false);
      expect(`${result.stdout}${result.stderr}`).toContain(`network stopped: socket ${started.socketPath}`);
    } finally {
      child.kill("SIGKILL"); // a no-op once it exited
      removeDir(started.dir);
    }
  });

  test("a script that never closes its networks exits by itself with code 0; their sockets are gone and their last logs delivered", async () => {
    const result = await runFixture("exit-live.ts", { env: { GVPROXY_LOG_LEVEL: "info" }, timeoutMs: 15_000 });
    try {
      const report = expectClean(result);
      expect(report.live).toBe(2);
      const paths = report.socketPaths as string[];
      expect(paths.filter((path) => existsSync(path))).toEqual([]);
      for (const path of paths) expect(`${result.stdout}${result.stderr}`).toContain(`network stopped: socket ${path}`);
    } finally {
      removeDir(result.report.dir);
    }
  });

  test("process.exit() from a SIGTERM handler destroys the open network: the socket file is gone", async () => {
    const child = startFixture("sigterm-exit.ts", { env: { GVPROXY_LOG_LEVEL: "info" }, timeoutMs: 15_000 });
    const started = JSON.parse(await child.waitForLine((line) => line.startsWith("{"))) as { socketPath: string; dir: string };
    try {
      expect(existsSync(started.socketPath)).toBe(true);
      child.kill("SIGTERM");
      const result = await child.finish();
      expect(result.exitCode).toBe(0);
      expect(result.signalCode).toBeNull();
      expect(existsSync(started.socketPath)).toBe(false);
      expect(`${result.stdout}${result.stderr}`).toContain(`network stopped: socket ${started.socketPath}`);
    } finally {
      child.kill("SIGKILL"); // a no-op once it exited
      removeDir(started.dir);
    }
  });
});

/** The socket files left in directory `dir` (a fixture's report field). */
function socketsIn(dir: unknown): string[] {
  if (typeof dir !== "string") throw new Error(`the fixture reported no directory: ${String(dir)}`);
  return readdirSync(dir).filter((name) => name.endsWith(".sock"));
}

/** Removes a fixture's temporary directory, if it reported one. */
function removeDir(dir: unknown): void {
  if (typeof dir === "string" && existsSync(dir)) rmSync(dir, { recursive: true, force: true });
}

test("a flood of 1,000,000 records while JS allocates: each delivered in order or counted dropped, memory bounded", async () => {
  const result = await runFixture("log-flood.ts", { env: TEST_LIBRARY_ENV, timeoutMs: 120_000 });
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
