/**
 * The guest's benchmark modes move exactly the bytes they claim, in both directions,
 * with the TCP options benchmarks turn. (Speed is measured in bench/, not asserted here.)
 */
import { afterEach, describe, expect, test } from "bun:test";
import net from "node:net";
import { HOST_LOOPBACK_IP } from "../../guest/driver.ts";
import { forwardedPort } from "../support/host-clients.ts";
import { startTcpEcho, startTcpSink } from "../support/host-servers.ts";
import { startNetwork, type TestNetwork } from "../support/network.ts";

const MIB = 1024 * 1024;
const cleanups: Array<() => unknown> = [];
let network: TestNetwork | undefined;
afterEach(async () => {
  await network?.close();
  network = undefined;
  for (const c of cleanups.splice(0)) await c();
});

/** A host byte-counting sink ({@link startTcpSink}) closed after the test. */
function hostSink(): ReturnType<typeof startTcpSink> {
  const sink = startTcpSink();
  cleanups.push(sink.close);
  return sink;
}

/** A host server that writes `bytes` bytes to each client, then closes. */
async function hostSource(bytes: number): Promise<number> {
  const chunk = Buffer.alloc(64 * 1024);
  const server = net.createServer((socket) => {
    let left = bytes;
    const pump = (): void => {
      while (left > 0) {
        const piece = left >= chunk.length ? chunk : chunk.subarray(0, left);
        left -= piece.length;
        if (!socket.write(piece)) return void socket.once("drain", pump);
      }
      socket.end();
    };
    pump();
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  cleanups.push(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return (server.address() as net.AddressInfo).port;
}

/** Reads from 127.0.0.1:port until the server closes; resolves with the byte count. */
function countFromHost(port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    let count = 0;
    const socket = net.createConnection({ host: "127.0.0.1", port });
    socket.on("data", (d: Buffer) => (count += d.length));
    socket.on("end", () => resolve(count));
    socket.on("error", reject);
  });
}

/** Writes `bytes` bytes to 127.0.0.1:port and closes. */
function sendToHost(port: number, bytes: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const socket = net.createConnection({ host: "127.0.0.1", port }, () => socket.end(Buffer.alloc(bytes)));
    socket.on("close", () => resolve());
    socket.on("error", reject);
    socket.resume();
  });
}

describe("bulk transfer", () => {
  test("bulkSend delivers every byte to a host sink", async () => {
    const sink = hostSink();
    network = await startNetwork();
    await network.guest.dhcp();
    const result = await network.guest.bulkSend({ host: HOST_LOOPBACK_IP, port: sink.port, bytes: 8 * MIB });
    expect(result.bytes).toBe(8 * MIB);
    expect(sink.received).toBe(8 * MIB);
    expect(result.mbitsPerSecond).toBeGreaterThan(0);
  });

  test("bulkReceive counts every byte a host source sends", async () => {
    const port = await hostSource(8 * MIB + 123);
    network = await startNetwork();
    await network.guest.dhcp();
    expect((await network.guest.bulkReceive({ host: HOST_LOOPBACK_IP, port })).bytes).toBe(8 * MIB + 123);
  });

  test("a guest sink behind a forward counts what the host sends", async () => {
    network = await startNetwork({ portMappings: [[0, 5001]] });
    const hostPort = forwardedPort(network.backend, 5001);
    await network.guest.dhcp();
    await network.guest.serveTcp(5001, { mode: "sink" });
    await sendToHost(hostPort, 4 * MIB);
    expect((await network.guest.sinkResult(5001)).bytes).toBe(4 * MIB);
  });

  test("a guest source behind a forward sends exactly its byte count", async () => {
    network = await startNetwork({ portMappings: [[0, 5002]] });
    const hostPort = forwardedPort(network.backend, 5002);
    await network.guest.dhcp();
    await network.guest.serveTcp(5002, { mode: "source", bytes: 3 * MIB + 7 });
    expect(await countFromHost(hostPort)).toBe(3 * MIB + 7);
  });

  test("TCP options change and transfers still complete with SACK and moderation off", async () => {
    const sink = hostSink();
    network = await startNetwork();
    await network.guest.dhcp();
    const applied = await network.guest.tcpOptions({ sack: false, moderateReceiveBuffer: false, sendBufferSize: 256 * 1024, receiveBufferSize: 256 * 1024 });
    expect(applied).toEqual({ sack: false, moderateReceiveBuffer: false, sendBufferSize: 256 * 1024, receiveBufferSize: 256 * 1024 });
    expect((await network.guest.bulkSend({ host: HOST_LOOPBACK_IP, port: sink.port, bytes: 2 * MIB })).bytes).toBe(2 * MIB);
  });
});

describe("latency loops", () => {
  // Each loop's round trips all complete; the echo server's accept count tells how many
  // connections they took.
  test.each([
    { loop: "connectLoop", what: "opens one connection per iteration", count: 25, size: 32, connections: 25 },
    { loop: "requestLoop", what: "reuses one connection", count: 200, size: 512, connections: 1 },
  ] as const)("$loop $what", async ({ loop, count, size, connections }) => {
    const echo = startTcpEcho();
    cleanups.push(() => echo.close());
    network = await startNetwork();
    await network.guest.dhcp();
    const summary = await network.guest[loop]({ host: HOST_LOOPBACK_IP, port: echo.port, count, size });
    expect(summary.count).toBe(count);
    expect(echo.hits).toBe(connections);
    expect(summary.minUs).toBeLessThanOrEqual(summary.p50Us);
    expect(summary.p50Us).toBeLessThanOrEqual(summary.maxUs);
  });

  test("a loop with a non-positive count is refused", async () => {
    network = await startNetwork();
    await expect(network.guest.requestLoop({ host: HOST_LOOPBACK_IP, port: 1, count: 0 })).rejects.toThrow(/count must be positive/);
  });
});
