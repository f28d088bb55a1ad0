/**
 * Runs a fixture script of test/runtime/fixtures in a child Bun process with a deadline,
 * so a hang or a crash of the child fails the test instead of the test runner. The child
 * is run as every script child is (test/support/child-script.ts); this adds where the
 * fixtures live and reading a child's stdout while it runs.
 */
import { join } from "node:path";
import { reportLines, runScript, spawnScript, type ChildOptions, type ChildRun } from "../support/child-script.ts";

/** What a fixture run produced; `report` is the last JSON line: every fixture ends with its findings. */
export type FixtureResult = Pick<ChildRun, "exitCode" | "signalCode" | "stdout" | "stderr" | "report">;

/** Options of {@link runFixture} and {@link startFixture}: the child's default deadline is 30 s. */
export type FixtureOptions = ChildOptions;

/** Path of a fixture script. */
export function fixturePath(name: string): string {
  return join(import.meta.dir, "fixtures", name);
}

/** The fixtures' deadline unless the test gives its own. */
const withFixtureDeadline = (options: FixtureOptions): FixtureOptions => ({ timeoutMs: 30_000, ...options });

/** Runs fixture `name` and collects its output; never throws on a failed child. */
export function runFixture(name: string, options: FixtureOptions = {}): Promise<FixtureResult> {
  return runScript(fixturePath(name), [], withFixtureDeadline(options));
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
  const child = spawnScript(fixturePath(name), [], withFixtureDeadline(options));
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
      return { exitCode: child.exitCode, signalCode: child.signalCode, stdout: output, stderr: await stderr, report: reportLines(output).at(-1) ?? {} };
    },
  };
}
