/**
 * Nothing leaks across create/destroy cycles: 1,000 bare cycles (socket, a TCP and a UDP
 * forward, a probe connection) and 100 cycles with a guest connected and traffic flowing
 * (DHCP, a NAT round trip, a forwarded round trip). Each runs in a fresh child process
 * (fixtures/leak-cycles.ts) so its figures are its own.
 *
 * What is compared, against the process after a warm-up (first instances load the Go
 * runtime, Bun's and Go's allocators grow to their working size):
 * - file descriptors: exactly equal, at every checkpoint;
 * - OS threads: at most 2 more (Go keeps the threads it made and may add one under load;
 *   a leak of a thread per instance would show hundreds);
 * - RSS: at most 10% above the warm figure (allocators keep freed pages, so equality is not
 *   a fair demand; a leak of even 10 KiB per cycle over 1,000 cycles breaks the bound).
 * Goroutines cannot be counted from here: libgvproxy exports no goroutine count.
 */
import { describe, expect, test } from "bun:test";
import { join } from "node:path";
import { describeChild, runScript, succeeded } from "../support/child-script.ts";
import { mib, type ProcessUsage } from "../support/process-usage.ts";

const FIXTURE = join(import.meta.dir, "fixtures", "leak-cycles.ts");
const RSS_TOLERANCE = 0.1;
const THREAD_TOLERANCE = 2;

interface LeakReport {
  readonly cycles: number;
  readonly elapsedMs: number;
  readonly initial: ProcessUsage;
  readonly warm: ProcessUsage;
  readonly samples: Array<ProcessUsage & { cycle: number }>;
  readonly final: ProcessUsage;
}

async function cycles(mode: "bare" | "traffic", count: number, warmup: number): Promise<LeakReport> {
  const run = await runScript(FIXTURE, [mode, String(count), String(warmup)], {
    timeoutMs: 150_000,
    env: { GVPROXY_LOG_LEVEL: "silent" },
  });
  if (!succeeded(run)) throw new Error(`leak-cycles ${mode} failed: ${describeChild(run)}`);
  const report = run.report as unknown as LeakReport;
  const { initial, warm, final } = report;
  console.log(
    `leaks ${mode}: ${count} cycles after ${warmup} warm-up in ${(report.elapsedMs / 1000).toFixed(1)} s ` +
      `(${(report.elapsedMs / (count + warmup)).toFixed(1)} ms/cycle)\n` +
      `  fds      initial ${initial.fds}, warm ${warm.fds}, final ${final.fds}\n` +
      `  threads  initial ${initial.threads}, warm ${warm.threads}, final ${final.threads}\n` +
      `  RSS      initial ${mib(initial.rssKiB)}, warm ${mib(warm.rssKiB)}, final ${mib(final.rssKiB)} ` +
      `(${(((final.rssKiB - warm.rssKiB) / warm.rssKiB) * 100).toFixed(1)}% vs warm)\n` +
      `  RSS at checkpoints: ${report.samples.map((s) => `${s.cycle}: ${mib(s.rssKiB)}`).join(", ")}\n` +
      `  goroutines: not measurable (libgvproxy exports no goroutine count)`,
  );
  return report;
}

function expectNoLeak(report: LeakReport): void {
  for (const sample of report.samples) {
    expect({ cycle: sample.cycle, fds: sample.fds }).toEqual({ cycle: sample.cycle, fds: report.warm.fds });
  }
  expect(report.final.threads).toBeLessThanOrEqual(report.warm.threads + THREAD_TOLERANCE);
  expect(report.final.rssKiB).toBeLessThanOrEqual(report.warm.rssKiB * (1 + RSS_TOLERANCE));
}

describe.if(process.platform === "linux")("resources return to the baseline", () => {
  test("1,000 create/destroy cycles", async () => {
    const report = await cycles("bare", 1000, 200);
    expect(report.samples.at(-1)?.cycle).toBe(1000);
    expectNoLeak(report);
  }, 180_000);

  test("100 cycles with a guest connected and traffic flowing", async () => {
    const report = await cycles("traffic", 100, 50);
    expect(report.samples.at(-1)?.cycle).toBe(100);
    expectNoLeak(report);
  }, 180_000);
});
