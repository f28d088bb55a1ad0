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
  /** The last stdout line that is a JSON object: every fixture ends with its findings. */
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


/** A fixture child still running, read line by line while the test talks to it. */
export interface LiveFixture {
  /** Everything the child printed on stdout so far. */
  readonly stdout: () => string;
  /**
   * Reads stdout until a line satisfies `match` (a string is an exact line) and returns
   * that line; rejects when the child ends first.
   */
  waitForLine(match: string | ((line: string) => boolean)): Promise<string>;
  /** Sends `signal` to the child. */
  kill(signal: NodeJS.Signals): void;
  /** Reads the rest of the output and waits for the child to end. */
  finish(): Promise<FixtureResult>;
}

/** Starts fixture `name` and returns a handle to read its stdout as it runs. */
export function startFixture(name: string, options: FixtureOptions = {}): LiveFixture {
  const child = Bun.spawn([process.execPath, ...(options.bunArgs ?? []), fixturePath(name)], {
    env: { ...process.env, ...options.env },
    stdout: "pipe",
    stderr: "pipe",
    timeout: options.timeoutMs ?? 30_000,
    killSignal: "SIGKILL",
  });
  const stderr = new Response(child.stderr).text();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let output = "";
  let scanned = 0; // lines already offered to a matcher
  return {
    stdout: () => output,
    async waitForLine(match) {
      const matches = typeof match === "string" ? (line: string) => line === match : match;
      for (;;) {
        const lines = output.split("\n");
        // The last element is a partial line until its newline arrives.
        for (; scanned < lines.length - 1; scanned++) {
          const line = lines[scanned] ?? "";
          if (matches(line)) {
            scanned++;
            return line;
          }
        }
        const { value, done } = await reader.read();
        if (done) throw new Error(`child ended before printing the expected line; stdout:\n${output}\nstderr:\n${await stderr}`);
        output += value;
      }
    },
    kill: (signal) => child.kill(signal),
    async finish() {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        output += value;
      }
      await child.exited;
      return { exitCode: child.exitCode, signalCode: child.signalCode, stdout: output, stderr: await stderr, report: lastJsonLine(output) };
    },
  };
}

/** Describes a failed child for an assertion message. */
export function describeRun(result: FixtureResult): string {
  return `exit ${result.exitCode} signal ${result.signalCode}\nstdout:\n${result.stdout.slice(-2000)}\nstderr:\n${result.stderr.slice(-2000)}`;
}

/** The last stdout line that is a JSON object: log lines printed at exit may follow it. */
function lastJsonLine(stdout: string): Record<string, unknown> {
  for (const line of stdout.trim().split("\n").reverse()) {
    if (!line.startsWith("{")) continue;
    try {
      const parsed: unknown = JSON.parse(line);
      if (typeof parsed === "object" && parsed !== null) return parsed as Record<string, unknown>;
    } catch {
      // Not a report line.
    }
  }
  return {};
}
