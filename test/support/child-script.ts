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

/** How a child ended and what it printed: all that {@link succeeded} and {@link describeChild} look at. */
export type ChildEnd = Pick<ChildRun, "exitCode" | "signalCode" | "stdout" | "stderr">;

/** Options of {@link runScript} and {@link spawnScript}. */
export interface ChildOptions {
  /** Extra Bun flags placed before the script. */
  readonly bunArgs?: readonly string[];
  readonly env?: Record<string, string>;
  /** The child is killed (SIGKILL) after this long. Default 60 s. */
  readonly timeoutMs?: number;
}

/** Starts `bun [bunArgs] <script> ...args` with its output piped, killed (SIGKILL) at the deadline. */
export function spawnScript(script: string, args: readonly string[] = [], options: ChildOptions = {}): Bun.Subprocess<"ignore", "pipe", "pipe"> {
  return Bun.spawn([process.execPath, ...(options.bunArgs ?? []), script, ...args], {
    env: { ...process.env, ...options.env },
    stdout: "pipe",
    stderr: "pipe",
    timeout: options.timeoutMs ?? 60_000,
    killSignal: "SIGKILL",
  });
}

/** Runs `bun [bunArgs] <script> ...args`; never throws on a failed child. */
export async function runScript(script: string, args: readonly string[] = [], options: ChildOptions = {}): Promise<ChildRun> {
  const started = performance.now();
  const child = spawnScript(script, args, options);
  const [stdout, stderr] = await Promise.all([new Response(child.stdout).text(), new Response(child.stderr).text()]);
  await child.exited;
  return {
    exitCode: child.exitCode,
    signalCode: child.signalCode,
    stdout,
    stderr,
    report: reportLines(stdout).at(-1) ?? {},
    reports: reportLines(stdout),
    elapsedMs: performance.now() - started,
  };
}

/** Whether the child ended by itself with exit code 0. */
export function succeeded(run: ChildEnd): boolean {
  return run.exitCode === 0 && run.signalCode === null;
}

/** Describes a child run for an assertion message: how it ended and the tail of its output. */
export function describeChild(run: ChildEnd): string {
  return `exit ${run.exitCode} signal ${run.signalCode}\n--- stdout (tail):\n${run.stdout.slice(-3000)}\n--- stderr (tail):\n${run.stderr.slice(-3000)}`;
}

/** Every line of `stdout` that is a JSON object, in order: a script's reports. */
export function reportLines(stdout: string): Record<string, unknown>[] {
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
