/**
 * Host-side clients for reaching the guest through port forwards, and probes for free
 * host ports to put forwards on.
 */
import net from "node:net";

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

/** A UDP port on 127.0.0.1 nothing is bound to now. */
export async function freeUdpPort(): Promise<number> {
  const socket = await Bun.udpSocket({ hostname: "127.0.0.1" });
  const port = socket.port;
  socket.close();
  return port;
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
