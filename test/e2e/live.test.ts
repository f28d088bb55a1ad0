/**
 * Live control of a running network, end to end with the userspace guest: forwards added
 * and removed at runtime (TCP, UDP, Unix listeners, hostPort 0), host sockets (also with
 * hostLoopback off), DNS zones replaced, guest() and the event stream (connection open,
 * close and denial with reasons; guest connects across a reconnect; a throwing listener).
 * Egress cuts by setAllowNet against namespace test hosts are in live-egress.test.ts.
 */
import { afterEach, describe, expect, test } from "bun:test";
import { createServer, type Server } from "node:net";
import { existsSync, writeFileSync } from "node:fs";
import consola from "consola";
import { GvproxyError, setGvproxyLogger, type ConnectionEvent, type DnsEvent, type GuestEvent } from "../../src/index.ts";
import { captureGvproxyLogs } from "../support/log-capture.ts";
import { GuestCommandError, HOST_LOOPBACK_IP, outcome, startGuest } from "../../guest/driver.ts";
import { tcpExchange, udpExchange } from "../support/host-clients.ts";
import { eventually } from "../support/eventually.ts";
import { startTcpEcho } from "../support/host-servers.ts";
import { startNetwork, type NetworkConfig, type TestNetwork } from "../support/network.ts";

let network: TestNetwork | undefined;
const cleanups: Array<() => void> = [];
afterEach(async () => {
  await network?.close();
  network = undefined;
  for (const cleanup of cleanups.splice(0)) cleanup();
});

async function leasedNetwork(config: NetworkConfig = {}): Promise<TestNetwork> {
  network = await startNetwork(config);
  await network.guest.dhcp();
  return network;
}
/** A TCP server bound on 127.0.0.1 by the test, to make a port taken. */
async function occupy(): Promise<{ port: number; server: Server }> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  cleanups.push(() => server.close());
  return { port: (server.address() as { port: number }).port, server };
}

/** Resolves whether 127.0.0.1:port can be bound right now. */
async function bindable(port: number): Promise<boolean> {
  const server = createServer();
  return new Promise((resolve) => {
    server.once("error", () => resolve(false));
    server.listen(port, "127.0.0.1", () => server.close(() => resolve(true)));
  });
}

describe("forwards at runtime", () => {
  test("expose with hostPort 0 binds a free port, reports it, and forwards TCP and UDP to the guest", async () => {
    const { backend, guest } = await leasedNetwork();
    await guest.serveTcp(7000, { mode: "echo" });
    await guest.serveUdp(5353);
    const tcp = backend.expose([0, 7000]);
    expect(tcp).toMatchObject({ hostIp: "127.0.0.1", guestPort: 7000, protocol: "tcp" });
    const tcpPort = (tcp as { hostPort: number }).hostPort;
    expect(tcpPort).toBeGreaterThan(0);
    const udp = backend.expose({ hostPort: 0, guestPort: 5353, protocol: "udp" });
    const udpPort = (udp as { hostPort: number }).hostPort;
    expect(backend.forwards()).toEqual([tcp, udp]);
    expect(await tcpExchange(tcpPort, "through a runtime forward")).toBe("through a runtime forward");
    expect(await udpExchange(udpPort, "datagram")).toBe("datagram");
  });

  test("hostPort 0 in the config is bound at construction and reported by forwards()", async () => {
    const { backend, guest } = await leasedNetwork({ portMappings: [[0, 7000]] });
    await guest.serveTcp(7000, { mode: "echo" });
    const [forward] = backend.forwards();
    const port = (forward as { hostPort: number }).hostPort;
    expect(port).toBeGreaterThan(0);
    expect(await tcpExchange(port, "configured")).toBe("configured");
  });

  test("expose on a taken port is ADDRESS_IN_USE and changes nothing; bad arguments are INVALID_CONFIG", async () => {
    const { backend } = await leasedNetwork();
    const taken = await occupy();
    const before = backend.forwards();
    const error = (() => {
      try {
        backend.expose([taken.port, 80]);
      } catch (e) {
        return e;
      }
    })();
    expect(error).toBeInstanceOf(GvproxyError);
    expect((error as GvproxyError).code).toBe("ADDRESS_IN_USE");
    expect((error as GvproxyError).message).toContain(String(taken.port));
    expect(backend.forwards()).toEqual(before);
    for (const bad of [[70000, 80], { hostPort: 1, guestPort: 0 }, { hostPort: 1, guestPort: 80, protocol: "sctp" }, { guestPort: 80, extra: 1 }]) {
      expect(() => backend.expose(bad as never)).toThrow(GvproxyError);
    }
    expect(() => backend.unexpose({ hostPort: 0 } as never)).toThrow(/hostPort/);
    expect(backend.forwards()).toEqual(before);
  });

  test("unexpose during a transfer: the port is bindable when it returns and the transfer is cut", async () => {
    const { backend, guest } = await leasedNetwork();
    await guest.serveTcp(7000, { mode: "source", bytes: 1 << 30 });
    const forward = backend.expose([0, 7000]) as { hostPort: number };
    const closes: ConnectionEvent[] = [];
    backend.on("connection", (e) => {
      if (e.phase === "close") closes.push(e);
    });
    let received = 0;
    let ended: "end" | "error" | undefined;
    const socket = await Bun.connect({
      hostname: "127.0.0.1",
      port: forward.hostPort,
      socket: {
        data(_s, data) {
          received += data.length;
        },
        end() {
          ended ??= "end";
        },
        close() {
          ended ??= "end";
        },
        error() {
          ended ??= "error";
        },
      },
    });
    cleanups.push(() => socket.end());
    await eventually("the transfer to start", () => received > 1 << 20);
    expect(backend.unexpose({ hostPort: forward.hostPort })).toBe(true);
    expect(await bindable(forward.hostPort)).toBe(true);
    await eventually("the transfer to be cut", () => ended !== undefined);
    expect(received).toBeLessThan(1 << 30);
    expect(backend.forwards()).toEqual([]);
    expect(backend.unexpose({ hostPort: forward.hostPort })).toBe(false);
    await eventually("the close event", () => closes.length === 1);
    expect(closes[0]).toMatchObject({ via: "forward", protocol: "tcp", reason: "unexposed" });
    expect(closes[0]?.bytesToGuest).toBeGreaterThanOrEqual(0);
  });

  test("a Unix-listener forward is fetched with fetch(url, { unix }), replaces a stale socket and never a file", async () => {
    const { backend, guest, tmp } = await leasedNetwork();
    await guest.serveTcp(80, { mode: "http", body: "over a unix listener" });
    const path = tmp.path("http.sock");
    expect(backend.expose({ hostPath: path, guestPort: 80 })).toEqual({ hostPath: path, guestPort: 80, protocol: "tcp" });
    const response = await fetch("http://guest/", { unix: path });
    expect(await response.text()).toBe("over a unix listener");
    expect(backend.unexpose({ hostPath: path })).toBe(true);
    expect(existsSync(path)).toBe(false);

    const file = tmp.path("not-a-socket");
    writeFileSync(file, "user data");
    expect(() => backend.expose({ hostPath: file, guestPort: 80 })).toThrow(expect.objectContaining({ code: "NOT_A_SOCKET" }));
    expect(existsSync(file)).toBe(true);
    expect(backend.forwards()).toEqual([]);
  });
});

describe("host sockets", () => {
  /** A Unix echo server at `path`. */
  function unixEcho(path: string): void {
    const server = Bun.listen({ unix: path, socket: { data: (s, d) => void s.write(d) } });
    cleanups.push(() => server.stop(true));
  }

  test("with hostLoopback off the guest reaches a host socket on 192.168.127.254, and nothing else of the host", async () => {
    const tmp = (await import("../support/paths.ts")).makeTempDir();
    cleanups.push(() => tmp.remove());
    const path = tmp.path("agent.sock");
    unixEcho(path);
    const echo = startTcpEcho();
    cleanups.push(() => echo.close());
    const { backend, guest } = await leasedNetwork({ hostLoopback: false, allowNet: "none", hostSockets: [{ port: 5000, path }] });
    const events: ConnectionEvent[] = [];
    backend.on("connection", (e) => events.push(e));
    expect((await guest.tcpRequest({ host: HOST_LOOPBACK_IP, port: 5000, data: "to the agent" })).response).toBe("to the agent");
    // The host's own ports stay out of reach.
    const refused = await outcome(guest.tcpRequest({ host: HOST_LOOPBACK_IP, port: echo.port, data: "x", timeoutMs: 3000 }));
    expect(refused).toBeInstanceOf(GuestCommandError);
    expect(echo.hits).toBe(0);

    backend.addHostSocket({ port: 5001, path });
    expect((await guest.tcpRequest({ host: HOST_LOOPBACK_IP, port: 5001, data: "second" })).response).toBe("second");
    expect(() => backend.addHostSocket({ port: 5001, path })).toThrow(expect.objectContaining({ code: "INVALID_CONFIG" }));
    expect(() => backend.addHostSocket({ port: 5002, path: "relative.sock" })).toThrow(expect.objectContaining({ field: "hostSocket.path" }));
    expect(backend.removeHostSocket(5001)).toBe(true);
    expect(backend.removeHostSocket(5001)).toBe(false);
    const gone = await outcome(guest.tcpRequest({ host: HOST_LOOPBACK_IP, port: 5001, data: "x", timeoutMs: 3000 }));
    expect(gone).toBeInstanceOf(GuestCommandError);

    await eventually("open and close events of the host-socket connections", () => events.filter((e) => e.via === "host-socket").length >= 4);
    const close = events.find((e) => e.via === "host-socket" && e.phase === "close");
    expect(close).toMatchObject({ protocol: "tcp", destination: { path }, bytesFromGuest: "to the agent".length, bytesToGuest: "to the agent".length });
  });
});

describe("DNS zones at runtime", () => {
  test("setDnsZones replaces the zones at once; invalid zones change nothing", async () => {
    const { backend, guest } = await leasedNetwork({ dnsZones: [{ name: "old.internal.", records: [{ name: "db", ip: "192.168.127.50" }] }] });
    expect((await guest.resolve("db.old.internal")).addresses).toEqual(["192.168.127.50"]);
    expect(() => backend.setDnsZones([{ name: "a.internal." }, { name: "A.internal" }])).toThrow(expect.objectContaining({ field: "dnsZones[1].name" }));
    expect((await guest.resolve("db.old.internal")).addresses).toEqual(["192.168.127.50"]);
    backend.setDnsZones([{ name: "box.internal.", records: [{ name: "db", ip: "192.168.127.60" }] }]);
    expect((await guest.resolve("db.box.internal")).addresses).toEqual(["192.168.127.60"]);
    const old = await outcome(guest.resolve("db.old.internal", { timeoutMs: 5000 }));
    expect(old).toBeInstanceOf(GuestCommandError);
  });
});

describe("events", () => {
  test("connection events: open and close with bytes and duration, a denial with its reason; dns events", async () => {
    const echo = startTcpEcho();
    cleanups.push(() => echo.close());
    const { backend, guest } = await leasedNetwork({ allowNet: [`${HOST_LOOPBACK_IP}:${echo.port}`], dnsZones: [{ name: "box.internal.", records: [{ name: "db", ip: "192.168.127.50" }] }] });
    const connections: ConnectionEvent[] = [];
    const dns: DnsEvent[] = [];
    const off = backend.on("connection", (e) => connections.push(e));
    backend.on("dns", (e) => dns.push(e));
    await guest.tcpRequest({ host: HOST_LOOPBACK_IP, port: echo.port, data: "hello events" });
    await outcome(guest.tcpRequest({ host: HOST_LOOPBACK_IP, port: echo.port + 1, data: "x", timeoutMs: 3000 }));
    await guest.resolve("db.box.internal");
    await eventually("open, close and denied", () => connections.length >= 3 && dns.length >= 1);
    const [open, close] = connections.filter((e) => e.phase !== "denied");
    expect(open).toMatchObject({ phase: "open", protocol: "tcp", via: "nat", destination: { ip: HOST_LOOPBACK_IP, port: echo.port } });
    expect(close).toMatchObject({ phase: "close", id: open?.id, bytesFromGuest: 12, bytesToGuest: 12 });
    expect(close?.durationMs).toBeGreaterThanOrEqual(0);
    expect(connections.find((e) => e.phase === "denied")).toMatchObject({
      protocol: "tcp",
      reason: "port-not-allowed",
      destination: { ip: HOST_LOOPBACK_IP, port: echo.port + 1 },
    });
    expect(dns[0]).toMatchObject({ name: "db.box.internal.", queryType: "A", decision: "allowed", answer: ["192.168.127.50"] });
    expect(JSON.parse(JSON.stringify(connections))).toEqual(connections);

    off();
    const seen = connections.length;
    await guest.tcpRequest({ host: HOST_LOOPBACK_IP, port: echo.port, data: "unheard" });
    await Bun.sleep(200); // a pump pass or more: nothing may arrive for a type without listeners
    expect(connections.length).toBe(seen);
    expect(backend.stats().events.dropped).toBe(0);
  });

  test("guest events across a reconnect; a throwing listener is logged and the others still run", async () => {
    const { backend, socketPath } = await leasedNetwork();
    const logs = captureGvproxyLogs("info");
    cleanups.push(() => setGvproxyLogger(consola));
    const events: GuestEvent[] = [];
    backend.on("guest", () => {
      throw new Error("listener bug");
    });
    backend.on("guest", (e) => events.push(e));
    expect(backend.guest()).toMatchObject({ connected: true, macAddress: "5a:94:ef:e4:0c:ee", connections: 0 });
    await network?.guest.close();
    await eventually("the disconnect", () => events.some((e) => e.phase === "disconnected"));
    expect(backend.guest().connected).toBe(false);
    const second = await startGuest({ socketPath });
    cleanups.push(() => void second.close());
    await second.dhcp();
    await eventually("the reconnect", () => events.filter((e) => e.phase === "connected").length === 1);
    expect(events.map((e) => e.phase)).toEqual(["disconnected", "connected"]);
    expect(logs.filter((l) => l.type === "error" && l.message.includes('"guest" event listener threw')).length).toBe(2);
    expect(events[1]?.connections).toBe(2);
    const info = backend.guest();
    expect(info.connected).toBe(true);
    expect(info.connectedAt).toBeGreaterThan(Date.now() - 60_000);
  });

  test("close() delivers the events of the shutdown itself before it returns", async () => {
    const { backend, guest } = await leasedNetwork();
    await guest.serveTcp(7000, { mode: "echo" });
    const forward = backend.expose([0, 7000]) as { hostPort: number };
    const events: ConnectionEvent[] = [];
    backend.on("connection", (e) => events.push(e));
    const socket = await Bun.connect({ hostname: "127.0.0.1", port: forward.hostPort, socket: { data() {} } });
    cleanups.push(() => socket.end());
    await eventually("the forwarded connection to open", () => events.some((e) => e.phase === "open"));
    backend.close();
    expect(events.map((e) => e.phase)).toEqual(["open", "close"]);
    expect(events[1]).toMatchObject({ via: "forward", id: events[0]?.id });
  });

  test("on() validates the type and the listener", async () => {
    const { backend } = await leasedNetwork();
    expect(() => backend.on("packets" as never, () => {})).toThrow(expect.objectContaining({ code: "INVALID_CONFIG" }));
    expect(() => backend.on("connection", 42 as never)).toThrow(expect.objectContaining({ code: "INVALID_CONFIG" }));
    backend.close();
    expect(() => backend.on("connection", () => {})).toThrow(expect.objectContaining({ code: "DESTROYED" }));
    expect(() => backend.expose([0, 80])).toThrow(expect.objectContaining({ code: "DESTROYED" }));
  });
});
