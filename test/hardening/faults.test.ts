/**
 * Faults around a running network: a guest that dies mid-transfer and comes back, host
 * services that refuse or reset connections, a host client that opens and abandons
 * hundreds of forwarded connections, and destroy() while transfers run. In each case the
 * network keeps serving (or, for destroy, ends everything at once) and returns what it
 * held: connections, file descriptors, ports.
 */
import { afterEach, describe, expect, test } from "bun:test";
import { existsSync } from "node:fs";
import net from "node:net";
import { GuestCommandError, HOST_LOOPBACK_IP, outcome, startGuest, type Guest } from "../../guest/driver.ts";
import { forwardedPort, freeTcpPort, tcpExchange } from "../support/host-clients.ts";
import { startTcpEcho } from "../support/host-servers.ts";
import { startNetwork, type TestNetwork } from "../support/network.ts";
import { describeFds, processUsage } from "../support/process-usage.ts";
import { eventually } from "../support/eventually.ts";
import { bindError } from "../unit/helpers.ts";

/** How long the network gets to settle after a fault (a loaded machine is slow to close). */
const SETTLE = { timeoutMs: 20_000, intervalMs: 50 };

const MIB = 1024 * 1024;
const linux = process.platform === "linux";
const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function network(config: Parameters<typeof startNetwork>[0] = {}): Promise<TestNetwork> {
  const n = await startNetwork(config);
  cleanups.push(() => n.close());
  return n;
}
/** A host client reading from 127.0.0.1:port, counting bytes until the connection ends. */
interface HostReader {
  readonly received: number;
  /** Resolves with how the connection ended: "end" (FIN), "error" or "close". */
  readonly ended: Promise<string>;
  readonly socket: net.Socket;
}

function readFromHost(port: number): HostReader {
  let received = 0;
  const socket = net.createConnection({ host: "127.0.0.1", port });
  const ended = new Promise<string>((resolve) => {
    socket.on("end", () => resolve("end"));
    socket.on("error", (error: NodeJS.ErrnoException) => resolve(`error ${error.code ?? error.message}`));
    socket.on("close", () => resolve("close"));
  });
  socket.on("data", (chunk: Buffer) => (received += chunk.length));
  cleanups.push(() => socket.destroy());
  return {
    get received() {
      return received;
    },
    ended,
    socket,
  };
}

/** A host server counting every byte it receives on any connection; closes when the client does. */
function hostSink(): { port: number; readonly received: number; readonly open: number } {
  let received = 0;
  let open = 0;
  const listener = Bun.listen<undefined>({
    hostname: "127.0.0.1",
    port: 0,
    allowHalfOpen: true,
    socket: {
      open: () => void open++,
      close: () => void open--,
      data: (_s, d) => void (received += d.length),
      end: (s) => void s.end(),
    },
  });
  cleanups.push(() => listener.stop(true));
  return {
    port: listener.port,
    get received() {
      return received;
    },
    get open() {
      return open;
    },
  };
}

describe("a guest that dies abruptly mid-transfer", () => {
  test("the same instance serves the guest that reconnects, through the same forward and NAT", async () => {
    const sink = hostSink();
    const n = await network({ portMappings: [[0, 7000]] });
    const port = forwardedPort(n.backend, 7000);
    await n.guest.dhcp();
    await n.guest.serveTcp(7000, { mode: "source", bytes: 1024 * MIB });
    const download = readFromHost(port);
    // The guest dies with this command in flight: it can only fail (the driver says "exited").
    const upload = n.guest.bulkSend({ host: HOST_LOOPBACK_IP, port: sink.port, bytes: 1024 * MIB, timeoutMs: 60_000 }).catch((e: Error) => e);
    await eventually("both transfers move data", () => download.received > MIB && sink.received > MIB, SETTLE);

    process.kill(n.guest.pid, "SIGKILL");
    await n.guest.exited;
    expect(String(await upload)).toContain("exited");
    await eventually("the network notices the guest is gone", () => n.backend.stats().guest.connected === false, SETTLE);
    console.log(`faults: guest killed after ${(download.received / MIB).toFixed(1)} MiB down, ${(sink.received / MIB).toFixed(1)} MiB up`);

    const rebooted: Guest = await startGuest({ socketPath: n.socketPath });
    cleanups.push(() => rebooted.close());
    expect((await rebooted.dhcp()).ip).toBe("192.168.127.2");
    await rebooted.serveTcp(7000, { mode: "source", bytes: 4 * MIB });
    // The forward serves the new guest: a fresh download completes with every byte.
    const second = readFromHost(port);
    expect(await second.ended).toBe("end");
    expect(second.received).toBe(4 * MIB);
    // And the NAT: the new guest reaches the host.
    const echo = startTcpEcho();
    cleanups.push(() => echo.close());
    expect((await rebooted.tcpRequest({ host: HOST_LOOPBACK_IP, port: echo.port, data: "after the crash" })).response).toBe("after the crash");
    expect(n.backend.stats().guest).toEqual({ connected: true, connections: 2 });

    // The download the dead guest left behind is not leaked: destroy ends it (awaiting
    // the end is the assertion; a leaked connection would hold this test to its timeout).
    n.backend.close();
    const howEnded = await download.ended;
    expect(download.received).toBeLessThan(1024 * MIB);
    console.log(`faults: the dead guest's download ended by "${howEnded}" on destroy`);
    await eventually("the host sink sees the dead guest's upload closed", () => sink.open === 0, SETTLE);
  });
});

describe("host services that misbehave", () => {
  test("a refused port: the guest gets CONNECTION_REFUSED every time and the network keeps serving", async () => {
    // A probe, not a bind: the guest is to dial a host port nothing listens on.
    const closedPort = await freeTcpPort();
    const echo = startTcpEcho();
    cleanups.push(() => echo.close());
    const n = await network();
    await n.guest.dhcp();
    const before = n.backend.stats().tcp.failedConnectionAttempts;
    for (let i = 0; i < 20; i++) {
      const failure = await outcome(n.guest.tcpRequest({ host: HOST_LOOPBACK_IP, port: closedPort, data: "x", timeoutMs: 5000 }));
      expect(failure).toBeInstanceOf(GuestCommandError);
      expect((failure as GuestCommandError).code).toBe("CONNECTION_REFUSED");
    }
    expect((await n.guest.tcpRequest({ host: HOST_LOOPBACK_IP, port: echo.port, data: "still here" })).response).toBe("still here");
    // Each refused connect is a failed attempt; the echo that worked is not.
    expect(n.backend.stats().tcp.failedConnectionAttempts - before).toBe(20);
  });

  test("a service that resets every connection: each request fails or comes back empty, the network keeps serving", async () => {
    const resets = net.createServer((socket) => socket.resetAndDestroy());
    await new Promise<void>((resolve) => resets.listen(0, "127.0.0.1", resolve));
    cleanups.push(() => new Promise<void>((resolve) => resets.close(() => resolve())));
    const resetPort = (resets.address() as net.AddressInfo).port;
    const echo = startTcpEcho();
    cleanups.push(() => echo.close());
    const n = await network();
    await n.guest.dhcp();
    for (let i = 0; i < 20; i++) {
      const result = await outcome(n.guest.tcpRequest({ host: HOST_LOOPBACK_IP, port: resetPort, data: "hello?", timeoutMs: 5000 }));
      // A reset before or after the handshake: either way no data comes back and nothing hangs.
      if (!(result instanceof GuestCommandError)) expect(result.response).toBe("");
    }
    expect((await n.guest.tcpRequest({ host: HOST_LOOPBACK_IP, port: echo.port, data: "still here" })).response).toBe("still here");
    await eventually("no connection is left established", () => n.backend.stats().tcp.currentEstablished === 0, SETTLE);
  });
});

describe("a port-forward client that abandons connections", () => {
  test.if(linux)("300 connections opened and left idle, then reset: the forward keeps serving and everything is released", async () => {
    const n = await network({ portMappings: [[0, 7000]] });
    const port = forwardedPort(n.backend, 7000);
    await n.guest.dhcp();
    await n.guest.serveTcp(7000);
    expect(await tcpExchange(port, "warm-up")).toBe("warm-up");
    await eventually("the warm-up connection is gone", () => n.backend.stats().tcp.currentEstablished === 0, SETTLE);
    const baseline = processUsage();

    const abandoned: net.Socket[] = [];
    await Promise.all(
      Array.from({ length: 300 }, (_, i) => {
        const socket = net.createConnection({ host: "127.0.0.1", port });
        socket.on("error", () => {});
        abandoned.push(socket);
        // Half of them send a first byte and never read the echo.
        return new Promise<void>((resolve) => socket.once("connect", () => (i % 2 === 0 ? socket.write("x", () => resolve()) : resolve())));
      }),
    );
    await eventually("the guest side of the abandoned connections is established", () => n.backend.stats().tcp.currentEstablished >= 300, SETTLE);
    const loaded = { ...processUsage(), established: n.backend.stats().tcp.currentEstablished };
    // A well-behaved client is still served while they hang around.
    expect(await tcpExchange(port, "served despite 300 idle connections", 10_000)).toBe("served despite 300 idle connections");

    for (const socket of abandoned) socket.resetAndDestroy();
    await eventually("every forwarded connection is released", () => n.backend.stats().tcp.currentEstablished === 0, SETTLE);
    await eventually("file descriptors return to the baseline", () => processUsage().fds <= baseline.fds, SETTLE);
    const after = processUsage();
    console.log(
      `faults: 300 abandoned forward connections: established ${loaded.established}, fds ${baseline.fds} -> ${loaded.fds} -> ${after.fds}, ` +
        `threads ${baseline.threads} -> ${loaded.threads} -> ${after.threads}`,
    );
    expect(await tcpExchange(port, "and after")).toBe("and after");
  });
});

describe("destroy during active transfers", () => {
  test.if(linux)("ends every transfer at once, frees ports, socket and descriptors", async () => {
    const sink = hostSink();
    const baseline = processUsage();
    const baselineFds = describeFds();
    const n = await network({ portMappings: [[0, 7000], [0, 7001]] });
    const [portA, portB] = [forwardedPort(n.backend, 7000), forwardedPort(n.backend, 7001)];
    await n.guest.dhcp();
    await n.guest.serveTcp(7000, { mode: "source", bytes: 1024 * MIB });
    await n.guest.serveTcp(7001, { mode: "source", bytes: 1024 * MIB });
    const downloads = [readFromHost(portA), readFromHost(portA), readFromHost(portB), readFromHost(portB)];
    const uploads = [1, 2].map(() => outcome(n.guest.bulkSend({ host: HOST_LOOPBACK_IP, port: sink.port, bytes: 1024 * MIB, timeoutMs: 60_000 })));
    await eventually("every transfer moves data", () => downloads.every((d) => d.received > 256 * 1024) && sink.received > MIB, SETTLE);

    const started = performance.now();
    n.backend.close();
    const destroyMs = performance.now() - started;

    const endings = await Promise.all(downloads.map((d) => d.ended));
    const guestOutcomes = await Promise.all(uploads);
    for (const result of guestOutcomes) expect((result as GuestCommandError).code).toBe("DISCONNECTED");
    expect(existsSync(n.socketPath)).toBe(false);
    expect(await bindError(portA)).toBeNull();
    expect(await bindError(portB)).toBeNull();
    await eventually("the host sink sees the uploads closed", () => sink.open === 0, SETTLE);
    await n.close();
    for (const d of downloads) d.socket.destroy();
    await eventually("file descriptors return to the baseline", () => processUsage().fds <= baseline.fds, SETTLE).catch((error: Error) => {
      const extra = describeFds().filter((fd) => !baselineFds.includes(fd));
      throw new Error(`${error.message}; descriptors not in the baseline: ${extra.join(", ")}`);
    });
    console.log(
      `faults: destroy during 6 transfers took ${destroyMs.toFixed(1)} ms; downloads ended by ${endings.join(", ")}; ` +
        `moved ${(downloads.reduce((s, d) => s + d.received, 0) / MIB).toFixed(1)} MiB down, ${(sink.received / MIB).toFixed(1)} MiB up; fds ${baseline.fds} -> ${processUsage().fds}`,
    );
  });
});
