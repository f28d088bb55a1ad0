/**
 * Resources held by another process: a TCP/UDP port or a listening Unix socket owned by a
 * child Bun process, as a second program on the host would hold them. The child prints
 * one line when it is ready and runs until it is stopped (or killed, leaving a stale
 * socket file behind).
 */
import type { Subprocess } from "bun";
import { completeLines } from "./lines.ts";

/** A child process holding a resource. */
export interface HeldResource {
  /** The port held (TCP/UDP), or 0 for a Unix socket. */
  readonly port: number;
  readonly pid: number;
  /** Connections the child accepted so far (Unix/TCP listeners). */
  accepted(): Promise<number>;
  /** Stops the child gracefully (its socket file is removed). */
  stop(): Promise<void>;
  /** Kills the child with SIGKILL: a Unix socket file is left behind, with nobody listening. */
  kill(): Promise<void>;
}

const SCRIPTS = {
  tcp: `const l = Bun.listen({ hostname: "127.0.0.1", port: Number(process.env.HOLD_TARGET), socket: { open() { accepted++; }, data() {} } });`,
  udp: `const l = await Bun.udpSocket({ hostname: "127.0.0.1", port: Number(process.env.HOLD_TARGET) });`,
  unix: `const l = Bun.listen({ unix: process.env.HOLD_TARGET!, socket: { open() { accepted++; }, data() {} } });`,
} as const;

/**
 * Starts a child holding `kind`: a TCP or UDP port on 127.0.0.1 (`target` a port, 0 for
 * any) or a stream Unix socket at `target` (a path).
 */
export async function holdInOtherProcess(kind: keyof typeof SCRIPTS, target: string | number): Promise<HeldResource> {
  // The child answers "count" on stdin with the number of accepted connections.
  const script = `let accepted = 0;
${SCRIPTS[kind]}
console.log(JSON.stringify({ port: l.port ?? 0 }));
for await (const line of console) { if (line === "count") console.log(String(accepted)); }`;
  const child: Subprocess<"pipe", "pipe", "inherit"> = Bun.spawn([process.execPath, "-e", script], {
    env: { ...process.env, HOLD_TARGET: String(target) },
    stdin: "pipe",
    stdout: "pipe",
    stderr: "inherit",
  });
  const lines = completeLines(child.stdout);
  const first = await lines.next();
  if (first.done) throw new Error(`the ${kind} holder for ${target} exited before it was ready (exit ${await child.exited})`);
  const { port } = JSON.parse(first.value) as { port: number };
  return {
    port,
    pid: child.pid,
    async accepted() {
      child.stdin.write("count\n");
      child.stdin.flush();
      const line = await lines.next();
      return line.done ? Number.NaN : Number(line.value);
    },
    async stop() {
      child.kill("SIGTERM");
      await child.exited;
    },
    async kill() {
      child.kill("SIGKILL");
      await child.exited;
    },
  };
}
