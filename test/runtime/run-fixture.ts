/**
 * Runs a fixture script of test/runtime/fixtures in a child Bun process with a deadline,
 * so a hang or a crash of the child fails the test instead of the test runner.
 */
import { join } from "node:path";

/** What a fixture run produced. */
export interface FixtureResult {
  readonly exitCode: number | null;
  readonly signalCode: string | number | null;
  readonly stdout: string;
  readonly stderr: string;
  /** The last stdout line parsed as JSON: every fixture ends with its findings. */
  readonly report: Record<string, unknown>;
}

/** Options of {@link runFixture}. */
export interface FixtureOptions {
  /** Extra Bun flags placed before the script. */
  readonly bunArgs?: readonly string[];
  readonly env?: Record<string, string>;
  /** The child is killed (SIGKILL) after this long. */
  readonly timeoutMs?: number;
}

/** Path of a fixture script. */
export function fixturePath(name: string): string {
  return join(import.meta.dir, "fixtures", name);
}

/** Runs fixture `name` and collects its output; never throws on a failed child. */
export async function runFixture(name: string, options: FixtureOptions = {}): Promise<FixtureResult> {
  const child = Bun.spawn([process.execPath, ...(options.bunArgs ?? []), fixturePath(name)], {
    env: { ...process.env, ...options.env },
    stdout: "pipe",
    stderr: "pipe",
    timeout: options.timeoutMs ?? 30_000,
    killSignal: "SIGKILL",
  });
  const [stdout, stderr] = await Promise.all([new Response(child.stdout).text(), new Response(child.stderr).text()]);
  await child.exited;
  return { exitCode: child.exitCode, signalCode: child.signalCode, stdout, stderr, report: lastJsonLine(stdout) };
}

/** Describes a failed child for an assertion message. */
export function describeRun(result: FixtureResult): string {
  return `exit ${result.exitCode} signal ${result.signalCode}\nstdout:\n${result.stdout.slice(-2000)}\nstderr:\n${result.stderr.slice(-2000)}`;
}

function lastJsonLine(stdout: string): Record<string, unknown> {
  const line = stdout.trim().split("\n").at(-1) ?? "";
  try {
    const parsed: unknown = JSON.parse(line);
    return typeof parsed === "object" && parsed !== null ? (parsed as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}
