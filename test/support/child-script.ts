/**
 * Runs a Bun script in a child process with a deadline and collects its output, so a
 * crash (a Go panic takes the whole process down) or a hang fails one test instead of
 * killing the test runner. Scripts end by printing one JSON line: their report.
 */

/** What a child run produced. */
export interface ChildRun {
  readonly exitCode: number | null;
  readonly signalCode: string | number | null;
  readonly stdout: string;
  readonly stderr: string;
  /** The last stdout line parsed as a JSON object; empty when there is none. */
  readonly report: Record<string, unknown>;
  /** Every stdout line that is a JSON object, in order (a script may report in phases). */
  readonly reports: Record<string, unknown>[];
  /** Wall-clock duration of the run in milliseconds. */
  readonly elapsedMs: number;
}

/** Options of {@link runScript}. */
export interface ChildOptions {
  readonly env?: Record<string, string>;
  /** The child is killed (SIGKILL) after this long. Default 60 s. */
  readonly timeoutMs?: number;
}

/** Runs `bun <script> ...args`; never throws on a failed child. */
export async function runScript(script: string, args: readonly string[] = [], options: ChildOptions = {}): Promise<ChildRun> {
  const started = performance.now();
  const child = Bun.spawn([process.execPath, script, ...args], {
    env: { ...process.env, ...options.env },
    stdout: "pipe",
    stderr: "pipe",
    timeout: options.timeoutMs ?? 60_000,
    killSignal: "SIGKILL",
  });
  const [stdout, stderr] = await Promise.all([new Response(child.stdout).text(), new Response(child.stderr).text()]);
  await child.exited;
  return {
    exitCode: child.exitCode,
    signalCode: child.signalCode,
    stdout,
    stderr,
    report: jsonLines(stdout).at(-1) ?? {},
    reports: jsonLines(stdout),
    elapsedMs: performance.now() - started,
  };
}

/** Whether the child ended by itself with exit code 0. */
export function succeeded(run: ChildRun): boolean {
  return run.exitCode === 0 && run.signalCode === null;
}

/** Describes a child run for an assertion message: how it ended and the tail of its output. */
export function describeChild(run: ChildRun): string {
  return `exit ${run.exitCode} signal ${run.signalCode}\n--- stdout (tail):\n${run.stdout.slice(-3000)}\n--- stderr (tail):\n${run.stderr.slice(-3000)}`;
}

function jsonLines(stdout: string): Record<string, unknown>[] {
  const objects: Record<string, unknown>[] = [];
  for (const line of stdout.split("\n")) {
    if (!line.startsWith("{")) continue;
    try {
      const parsed: unknown = JSON.parse(line);
      if (typeof parsed === "object" && parsed !== null && !Array.isArray(parsed)) objects.push(parsed as Record<string, unknown>);
    } catch {
      // Not a report line.
    }
  }
  return objects;
}
