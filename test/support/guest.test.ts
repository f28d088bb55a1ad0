/**
 * The guest driver on its own, against a bare Unix socket standing in for the network:
 * startup failures carry the guest's error, replies are matched by id, a command that
 * gets no reply times out with a clear error, and a vanished network is reported. Last,
 * bulkSend's time-bound mode, which the benchmarks drive, on a real network.
 */
import { afterEach, describe, expect, test } from "bun:test";
import net from "node:net";
import { GuestCommandError, HOST_LOOPBACK_IP, outcome, startGuest, type Guest } from "../../guest/driver.ts";
import { startTcpSink, type HostServer } from "./host-servers.ts";
import { startNetwork, type TestNetwork } from "./network.ts";
import { makeTempDir, type TempDir } from "./paths.ts";

let tmp: TempDir | undefined;
let server: net.Server | undefined;
let guest: Guest | undefined;
let network: TestNetwork | undefined;
let hostServer: HostServer | undefined;
const peers: net.Socket[] = [];
afterEach(async () => {
  await guest?.close();
  guest = undefined;
  await network?.close();
  network = undefined;
  hostServer?.close();
  hostServer = undefined;
  for (const p of peers.splice(0)) p.destroy();
  await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
  server = undefined;
  tmp?.remove();
  tmp = undefined;
});

/** A stream socket that accepts the guest and never sends a frame. */
async function silentNetwork(): Promise<string> {
  tmp = makeTempDir();
  const path = tmp.path("fake.sock");
  server = net.createServer((socket) => peers.push(socket));
  await new Promise<void>((resolve) => server!.listen(path, resolve));
  return path;
}

describe("startGuest", () => {
  test("rejects with the guest's own error when the socket does not exist", async () => {
    tmp = makeTempDir();
    const missing = tmp.path("missing.sock");
    await expect(startGuest({ socketPath: missing })).rejects.toThrow(missing);
  });

  test("resolves once connected; status reports the MAC and the link MTU flag", async () => {
    guest = await startGuest({ socketPath: await silentNetwork(), mac: "02:11:22:33:44:55", mtu: 9000 });
    const status = await guest.status();
    expect(status.connected).toBe(true);
    expect(status.mac).toBe("02:11:22:33:44:55");
    expect(status.linkMtu).toBe(9000);
    expect(status.lease).toBeUndefined();
  });
});

describe("commands", () => {
  test("concurrent commands each get their own reply", async () => {
    guest = await startGuest({ socketPath: await silentNetwork() });
    const [a, b, c] = await Promise.all([guest.serveTcp(1001), guest.serveTcp(1002, { mode: "http", body: "x" }), guest.serveUdp(1003)]);
    expect([a.port, b.port, c.port]).toEqual([1001, 1002, 1003]);
    expect(b.mode).toBe("http");
  });

  test("a failing command rejects with GuestCommandError and its code", async () => {
    guest = await startGuest({ socketPath: await silentNetwork() });
    await guest.serveTcp(1001);
    const failure = await outcome(guest.serveTcp(1001));
    expect(failure).toBeInstanceOf(GuestCommandError);
    expect((failure as GuestCommandError).code).toBe("BAD_REQUEST");
    expect((failure as GuestCommandError).message).toContain("already serving tcp:1001");
  });

  test("a command with no reply times out with an error naming it", async () => {
    guest = await startGuest({ socketPath: await silentNetwork(), commandTimeoutMs: 300 });
    await guest.serveTcp(7000, { mode: "sink" });
    // No connection ever reaches the sink, and the guest's own bound is 10 s.
    await expect(guest.sinkResult(7000)).rejects.toThrow(/sinkResult \(id \d+\) got no reply within 300 ms/);
  });

  test("DHCP with nobody answering fails with TIMEOUT at the guest's bound", async () => {
    guest = await startGuest({ socketPath: await silentNetwork() });
    const failure = await outcome(guest.dhcp({ timeoutMs: 300 }));
    expect((failure as GuestCommandError).code).toBe("TIMEOUT");
  });
});

describe("network loss", () => {
  test("the guest reports the disconnect and later commands fail with DISCONNECTED", async () => {
    guest = await startGuest({ socketPath: await silentNetwork() });
    for (const p of peers) p.destroy();
    const event = await guest.waitForEvent("disconnected");
    expect(event.reason).toContain("closed");
    expect((await outcome(guest.dhcp())) as GuestCommandError).toMatchObject({ code: "DISCONNECTED" });
    expect(await guest.close()).toBe(0);
  });
});

describe("bulkSend for a time", () => {
  test("sends until the time has passed, and the host received exactly the bytes it reports", async () => {
    const sink = startTcpSink();
    hostServer = sink;
    network = await startNetwork();
    await network.guest.dhcp();
    const result = await network.guest.bulkSend({ host: HOST_LOOPBACK_IP, port: sink.port, seconds: 0.3 });
    expect(result.bytes).toBeGreaterThan(0);
    expect(sink.received).toBe(result.bytes);
    expect(result.seconds).toBeGreaterThanOrEqual(0.3);
    expect(result.mbitsPerSecond).toBeCloseTo((result.bytes * 8) / result.seconds / 1e6, 6);
  });

  test("refuses a byte count and a time together, before touching the network", async () => {
    guest = await startGuest({ socketPath: await silentNetwork() });
    const failure = await outcome(guest.command("bulkSend", { host: HOST_LOOPBACK_IP, port: 9, bytes: 10, seconds: 1 }));
    expect(failure).toMatchObject({ code: "BAD_REQUEST", message: expect.stringContaining("bytes or seconds, not both") });
  });

  test("refuses a time its own timeout does not exceed, naming both", async () => {
    guest = await startGuest({ socketPath: await silentNetwork() });
    const failure = await outcome(guest.bulkSend({ host: HOST_LOOPBACK_IP, port: 9, seconds: 5, timeoutMs: 5000 }));
    expect(failure).toMatchObject({ code: "BAD_REQUEST", message: expect.stringContaining("timeoutMs (5000) must exceed seconds (5)") });
    const byDefault = await outcome(guest.bulkSend({ host: HOST_LOOPBACK_IP, port: 9, seconds: 10 }));
    expect(byDefault).toMatchObject({ code: "BAD_REQUEST", message: expect.stringContaining("timeoutMs (10000)") });
  });
});
