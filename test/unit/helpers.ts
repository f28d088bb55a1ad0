/**
 * Helpers shared by the unit suites: private temporary directories for socket paths,
 * free TCP ports, and probes that tell whether a Unix socket is listening and whether a
 * host port can be bound.
 */
import net from "node:net";
import { GvproxyError, type GvproxyErrorCode } from "../../src/index.ts";
export { freeTcpPort as freePort } from "../support/host-clients.ts";
export { makeTempDir } from "../support/paths.ts";


/** Resolves with the error code of binding `host:port`, or null when the bind succeeded (then releases it). */
export async function bindError(port: number, host = "127.0.0.1"): Promise<string | null> {
  const server = net.createServer();
  return new Promise((resolve) => {
    server.once("error", (error: NodeJS.ErrnoException) => resolve(error.code ?? String(error)));
    server.listen(port, host, () => server.close(() => resolve(null)));
  });
}

/** Holds a TCP port on `host` the OS picks until `release` is called. */
export async function occupyPort(host = "127.0.0.1"): Promise<{ port: number; release: () => Promise<void> }> {
  const server = net.createServer();
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, host, resolve);
  });
  const address = server.address();
  if (address === null || typeof address === "string") throw new Error("no TCP address");
  return { port: address.port, release: () => new Promise<void>((resolve) => server.close(() => resolve())) };
}

/** Resolves true when a stream connection to the Unix socket `path` is accepted. */
export async function canConnect(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.createConnection({ path });
    socket.once("connect", () => {
      socket.destroy();
      resolve(true);
    });
    socket.once("error", () => resolve(false));
  });
}

/** Runs `fn`, expecting a GvproxyError with `code`; returns it for further checks. */
export function expectGvproxyError(fn: () => unknown, code: GvproxyErrorCode): GvproxyError {
  try {
    fn();
  } catch (error) {
    if (!(error instanceof GvproxyError)) throw new Error(`expected GvproxyError ${code}, got ${String(error)}`);
    if (error.code !== code) throw new Error(`expected ${code}, got ${error.code}: ${error.message}`);
    return error;
  }
  throw new Error(`expected GvproxyError ${code}, but nothing was thrown`);
}
