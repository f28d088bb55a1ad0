/**
 * Host-side clients for reaching the guest through port forwards, the host port a forward
 * was bound on, and a probe for a free host TCP port.
 *
 * A forward is configured with hostPort 0 and its port read back with forwardedPort():
 * a port picked free first and bound later can be taken by another process in between.
 * The probe is for what cannot take 0: a port that must be named before anything binds
 * it (a duplicate in one config, a port nothing listens on) or a program outside the
 * library that needs a number.
 */
import net from "node:net";
import type { Forward, PortForward } from "../../src/index.ts";

/**
 * The host port `network` (a GvisorTapBackend or a GvproxyInstance) bound for its forward
 * to `guestPort` (configured with hostPort 0, the OS picked it). Throws unless exactly one
 * port forward goes to that guest port.
 */
export function forwardedPort(network: { forwards(): Forward[] }, guestPort: number, protocol: "tcp" | "udp" = "tcp"): number {
  const forwards = network.forwards();
  const matches = forwards.filter((f): f is PortForward => "hostPort" in f && f.guestPort === guestPort && f.protocol === protocol);
  const [forward] = matches;
  if (matches.length !== 1 || forward === undefined) {
    throw new Error(`expected one ${protocol} forward to guest port ${guestPort}, found ${JSON.stringify(forwards)}`);
  }
  return forward.hostPort;
}

/** A TCP port on 127.0.0.1 nothing listens on now (the kernel picks it). */
export async function freeTcpPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", resolve);
  });
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (address === null || typeof address === "string") throw new Error("no TCP address");
  return address.port;
}

/**
 * Connects to host:port (127.0.0.1 by default), sends `data`, half-closes and resolves
 * with everything received until the server closes. Rejects on a connection error or
 * after `timeoutMs`.
 */
export function tcpExchange(port: number, data: string, timeoutMs = 5000, host = "127.0.0.1"): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.createConnection({ host, port });
    const chunks: Buffer[] = [];
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no complete answer from ${host}:${port} within ${timeoutMs} ms (got ${Buffer.concat(chunks).length} bytes)`));
    }, timeoutMs);
    socket.on("connect", () => socket.end(data));
    socket.on("data", (chunk: Buffer) => chunks.push(chunk));
    socket.on("error", (error) => {
      clearTimeout(timer);
      reject(error);
    });
    socket.on("close", () => {
      clearTimeout(timer);
      resolve(Buffer.concat(chunks).toString());
    });
  });
}

/** Sends one datagram to 127.0.0.1:port and resolves with the first answer; rejects after `timeoutMs`. */
export async function udpExchange(port: number, data: string, timeoutMs = 5000): Promise<string> {
  let settle: (value: string) => void = () => {};
  const answered = new Promise<string>((resolve) => (settle = resolve));
  const socket = await Bun.udpSocket({
    hostname: "127.0.0.1",
    socket: {
      data(_sock, buf) {
        settle(Buffer.from(buf).toString());
      },
    },
  });
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timedOut = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no UDP answer from 127.0.0.1:${port} within ${timeoutMs} ms`)), timeoutMs);
  });
  try {
    socket.send(data, port, "127.0.0.1");
    return await Promise.race([answered, timedOut]);
  } finally {
    clearTimeout(timer);
    socket.close();
  }
}
