/**
 * Networks and guests coming and going: two instances at once stay isolated, destroying
 * a network under a connected guest ends cleanly, a guest that reconnects (a VM reboot)
 * gets its lease again, and the vfkit datagram protocol works like the QEMU stream one.
 */
import { afterEach, describe, expect, test } from "bun:test";
import { existsSync } from "node:fs";
import type { ConnectionEvent } from "../../src/index.ts";
import { GuestCommandError, HOST_LOOPBACK_IP, outcome, startGuest, type Guest } from "../../guest/driver.ts";
import { eventually } from "../support/eventually.ts";
import { forwardedPort, tcpExchange } from "../support/host-clients.ts";
import { startTcpEcho, type HostServer } from "../support/host-servers.ts";
import { startNetwork, type TestNetwork } from "../support/network.ts";

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function network(config: Parameters<typeof startNetwork>[0] = {}, guestConfig: Parameters<typeof startNetwork>[1] = {}): Promise<TestNetwork> {
  const n = await startNetwork(config, guestConfig);
  cleanups.push(() => n.close());
  return n;
}

/** The failure code of a guest command that must fail; throws if it succeeded. */
async function failureCode(command: Promise<unknown>): Promise<string | undefined> {
  const result = await outcome(command);
  if (!(result instanceof GuestCommandError)) throw new Error(`expected the guest command to fail, got ${JSON.stringify(result)}`);
  return result.code;
}

function hostEcho(): HostServer {
  const s = startTcpEcho();
  cleanups.push(() => s.close());
  return s;
}

describe("two instances at once", () => {
  test("each guest gets its own subnet's lease and serves only its own forward", async () => {
    const a = await network({ portMappings: [[0, 80]] });
    const b = await network({
      subnet: "192.168.128.0/24",
      gatewayIp: "192.168.128.1",
      guestIp: "192.168.128.2",
      portMappings: [[0, 80]],
    });
    const [portA, portB] = [forwardedPort(a.backend, 80), forwardedPort(b.backend, 80)];
    expect((await a.guest.dhcp()).ip).toBe("192.168.127.2");
    expect((await b.guest.dhcp()).ip).toBe("192.168.128.2");
    await a.guest.serveTcp(80, { mode: "http", body: "guest A" });
    await b.guest.serveTcp(80, { mode: "http", body: "guest B" });
    expect(await (await fetch(`http://127.0.0.1:${portA}/`)).text()).toBe("guest A");
    expect(await (await fetch(`http://127.0.0.1:${portB}/`)).text()).toBe("guest B");
    expect(a.socketPath).not.toBe(b.socketPath);
  });

  test("guest A cannot reach guest B's server or B's DNS zone: A's own gateway refuses the traffic", async () => {
    const zoneB = { name: "b.internal.", records: [{ name: "secret", ip: "192.168.128.99" }] };
    // A refuses every egress flow, so its traffic to B's addresses ends at A's gateway and
    // nothing is dialled off this machine. Were the two networks one switch, the frames
    // would reach B's guest instead, and A would see no denial.
    const a = await network({ allowNet: "none" });
    const b = await network({ subnet: "192.168.128.0/24", gatewayIp: "192.168.128.1", guestIp: "192.168.128.2", dnsZones: [zoneB] });
    const denials: ConnectionEvent[] = [];
    a.backend.on("connection", (e) => void (e.phase === "denied" && denials.push(e)));
    await a.guest.dhcp();
    await b.guest.dhcp();
    await b.guest.serveTcp(80, { mode: "echo" });
    // B's guest answers on its own network, and B's DNS knows the secret name...
    expect((await b.guest.tcpRequest({ host: "192.168.128.2", port: 80, data: "self" })).response).toBe("self");
    expect((await b.guest.resolve("secret.b.internal")).addresses).toEqual(["192.168.128.99"]);
    const framesToB = b.backend.stats().link.framesSent;
    // ...but from network A, B's addresses are outside destinations A's policy refuses.
    expect(await failureCode(a.guest.tcpRequest({ host: "192.168.128.2", port: 80, data: "hello B", timeoutMs: 1500 }))).toBe("CONNECTION_REFUSED");
    expect(await failureCode(a.guest.resolve("secret.b.internal", { server: "192.168.128.1", timeoutMs: 1500 }))).toBe("CONNECTION_REFUSED");
    // A's own DNS does not know B's zone either.
    expect(await failureCode(a.guest.resolve("secret.b.internal"))).toBe("NXDOMAIN");
    await eventually("A's denial events", () => denials.some((e) => e.protocol === "udp"));
    const refused = new Set(denials.map((e) => `${e.via} ${e.protocol} ${JSON.stringify(e.destination)}`));
    expect([...refused].sort()).toEqual([
      `nat tcp ${JSON.stringify({ ip: "192.168.128.2", port: 80 })}`,
      `nat udp ${JSON.stringify({ ip: "192.168.128.1", port: 53 })}`,
    ]);
    // Not one frame went to B's guest meanwhile.
    expect(b.backend.stats().link.framesSent).toBe(framesToB);
  });

  test("same guest IP on two networks: traffic goes to the right guest", async () => {
    const a = await network({ portMappings: [[0, 9000]] });
    const b = await network({ portMappings: [[0, 9000]] });
    const [portA, portB] = [forwardedPort(a.backend, 9000), forwardedPort(b.backend, 9000)];
    await a.guest.dhcp();
    await b.guest.dhcp();
    await a.guest.serveTcp(9000, { mode: "http", body: "A" });
    await b.guest.serveTcp(9000, { mode: "http", body: "B" });
    expect(await (await fetch(`http://127.0.0.1:${portB}/`)).text()).toBe("B");
    expect(await (await fetch(`http://127.0.0.1:${portA}/`)).text()).toBe("A");
  });
});

describe("destroy while the guest is connected", () => {
  test("the guest reports a clean disconnect, its commands fail, the socket is gone", async () => {
    const n = await network();
    await n.guest.dhcp();
    n.backend.close();
    const event = await n.guest.waitForEvent("disconnected");
    expect(event.reason).toBeTruthy();
    expect(existsSync(n.socketPath)).toBe(false);
    expect(n.backend.instance.destroyed).toBe(true);
    expect(await failureCode(n.guest.resolve("anything.internal"))).toBe("DISCONNECTED");
    expect(await n.guest.close()).toBe(0);
  });

  test("an in-flight transfer ends with DISCONNECTED instead of hanging", async () => {
    const n = await network({ portMappings: [[0, 7000]] });
    await n.guest.dhcp();
    await n.guest.serveTcp(7000, { mode: "sink" });
    // Wait for a sink result that will never come, then pull the network away.
    const pending = failureCode(n.guest.sinkResult(7000, { timeoutMs: 20_000 }));
    n.backend.close();
    expect(await pending).toBe("DISCONNECTED");
  });
});

describe("VM reboot", () => {
  test("a guest that disconnects and reconnects to the same instance gets its lease again", async () => {
    const echo = hostEcho();
    const n = await network();
    const first = await n.guest.dhcp();
    expect(await n.guest.close()).toBe(0);

    const second: Guest = await startGuest({ socketPath: n.socketPath });
    cleanups.push(async () => void (await second.close()));
    const lease = await second.dhcp();
    expect(lease.ip).toBe(first.ip);
    const reply = await second.tcpRequest({ host: HOST_LOOPBACK_IP, port: echo.port, data: "after reboot" });
    expect(reply.response).toBe("after reboot");
    const stats = n.backend.stats();
    expect(stats.guest.connections).toBe(2);
    expect(stats.guest.connected).toBe(true);
  });
});

describe.skipIf(process.platform === "win32")("vfkit protocol (SOCK_DGRAM)", () => {
  test("lease, NAT and a forward work over datagrams", async () => {
    const echo = hostEcho();
    const n = await network({ protocol: "vfkit", portMappings: [[0, 7000]] }, { protocol: "vfkit" });
    const port = forwardedPort(n.backend, 7000);
    expect(n.backend.endpoint().connectionType).toBe("unix-dgram");
    expect((await n.guest.dhcp()).ip).toBe("192.168.127.2");
    expect((await n.guest.tcpRequest({ host: HOST_LOOPBACK_IP, port: echo.port, data: "dgram" })).response).toBe("dgram");
    await n.guest.serveTcp(7000);
    expect(await tcpExchange(port, "to a vfkit guest")).toBe("to a vfkit guest");
  });

  test("destroy is noticed by a vfkit guest too", async () => {
    const n = await network({ protocol: "vfkit" }, { protocol: "vfkit" });
    await n.guest.dhcp();
    n.backend.close();
    expect((await n.guest.waitForEvent("disconnected")).reason).toBeTruthy();
    expect(existsSync(n.socketPath)).toBe(false);
    expect(await n.guest.close()).toBe(0);
  });
});
