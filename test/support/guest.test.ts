/**
 * The guest driver on its own, against a bare Unix socket standing in for the network:
 * startup failures carry the guest's error, replies are matched by id, a command that
 * gets no reply times out with a clear error, and a vanished network is reported.
 */
import { afterEach, describe, expect, test } from "bun:test";
import net from "node:net";
import { GuestCommandError, outcome, startGuest, type Guest } from "./guest.ts";
import { makeTempDir, type TempDir } from "./paths.ts";

let tmp: TempDir | undefined;
let server: net.Server | undefined;
let guest: Guest | undefined;
const peers: net.Socket[] = [];
afterEach(async () => {
  await guest?.close();
  guest = undefined;
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
