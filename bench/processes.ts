// Child processes of the benchmarks: servers that announce readiness with one JSON line
// and clients that print one JSON result. A server exits when its stdin closes, which is
// how its owner stops it and also what happens when the orchestrator dies. Linux only:
// CPU accounting reads /proc.
import { mkdtempSync, readFileSync, rmSync } from "node:fs";

export const REPO_ROOT = new URL("..", import.meta.url).pathname.replace(/\/$/, "");
export const BUILD_DIR = `${REPO_ROOT}/build`;
export const PEER_BIN = `${BUILD_DIR}/bench-peer`;
export const BUN_BIN = process.execPath;

/** A running server child: where it listens, and how to stop it. */
export interface Server {
  readonly address: string;
  readonly pid: number;
  /** Where the server's stderr goes; removed by stop(). */
  readonly stderrPath: string;
  stop(): Promise<void>;
}

/**
 * Reads stdout up to the {"ready": address} line. Anything before it that is not such
 * a line is skipped, so a stray banner does not break the handshake.
 */
async function readReady(stream: ReadableStream<Uint8Array>, what: string): Promise<string> {
  const reader = stream.getReader();
  const decoder = new TextDecoder();
  let text = "";
  try {
    for (;;) {
      let nl: number;
      while ((nl = text.indexOf("\n")) >= 0) {
        const line = text.slice(0, nl).trim();
        text = text.slice(nl + 1);
        const address = readyAddress(line);
        if (address !== undefined) return address;
      }
      const { value, done } = await reader.read();
      if (done) throw new Error(`${what} exited before announcing readiness (output: ${JSON.stringify(text)})`);
      text += decoder.decode(value, { stream: true });
    }
  } finally {
    reader.releaseLock();
  }
}

function readyAddress(line: string): string | undefined {
  if (!line.startsWith("{")) return undefined;
  try {
    const parsed = JSON.parse(line) as { ready?: unknown };
    return typeof parsed.ready === "string" ? parsed.ready : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Starts a server and waits for its {"ready": address} line. Its stderr goes to a file
 * (a pipe nobody reads would block a chatty server), quoted if it fails to start.
 */
export async function startServer(cmd: string[], env?: Record<string, string>): Promise<Server> {
  const stderrPath = `/tmp/gvb-${process.pid}-${Math.random().toString(36).slice(2, 8)}.stderr`;
  const proc = Bun.spawn(cmd, {
    stdin: "pipe",
    stdout: "pipe",
    stderr: Bun.file(stderrPath),
    env: { ...process.env, ...env },
  });
  const what = cmd.slice(0, 2).join(" ");
  let address: string;
  try {
    address = await readReady(proc.stdout, what);
  } catch (err) {
    const stderr = await Bun.file(stderrPath).text().catch(() => "");
    rmSync(stderrPath, { force: true });
    throw new Error(`${err instanceof Error ? err.message : String(err)}; stderr: ${stderr.trim().slice(-2000)}`);
  }
  return {
    address,
    pid: proc.pid,
    stderrPath,
    async stop() {
      // Closing stdin asks for a clean exit (servers watch it); SIGKILL only if ignored.
      proc.stdin.end();
      const exited = await Promise.race([proc.exited.then(() => true), Bun.sleep(3000).then(() => false)]);
      if (!exited) {
        proc.kill("SIGKILL");
        await proc.exited;
      }
      rmSync(stderrPath, { force: true });
    },
  };
}

/** Runs a client to completion and parses its one-line JSON result. */
export async function runJson<T>(cmd: string[], env?: Record<string, string>): Promise<T> {
  const proc = Bun.spawn(cmd, { stdout: "pipe", stderr: "pipe", env: { ...process.env, ...env } });
  const [stdout, stderr, code] = await Promise.all([
    new Response(proc.stdout).text(),
    new Response(proc.stderr).text(),
    proc.exited,
  ]);
  if (code !== 0) throw new Error(`${cmd.slice(0, 2).join(" ")} exited ${code}: ${stderr.trim()}`);
  const lines = stdout.trim().split("\n");
  return JSON.parse(lines[lines.length - 1]!) as T;
}

/** Builds the Go host peer (cached by the Go build cache, so cheap when unchanged). */
export async function buildPeer(): Promise<void> {
  const proc = Bun.spawn(["go", "build", "-trimpath", "-o", PEER_BIN, "."], {
    cwd: `${REPO_ROOT}/bench/peer`,
    stdout: "inherit",
    stderr: "inherit",
  });
  if ((await proc.exited) !== 0) throw new Error("building bench/peer failed (needs Go, see the Makefile's GO)");
}

/**
 * A fresh directory for sockets, keys and logs; short, because sun_path is 108 bytes.
 * mkdtemp makes it, so it is new (never one someone else made first) and only this user
 * can enter it (mode 0700): the interception section keeps a CA key in it.
 */
export function tempDir(prefix: string): string {
  return mkdtempSync(`/tmp/${prefix}-${process.pid}-`);
}

export { freeTcpPort as freePort } from "../test/support/host-clients.ts";

/** CPU time (user + system) a live process has used so far, in seconds. */
export function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  // Fields after the command name (which may contain spaces) start after the last ")".
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  const CLOCK_TICKS_PER_SECOND = 100;
  return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS_PER_SECOND;
}
