/**
 * Host -> guest through port forwards: a host port on 127.0.0.1 (or ::1) reaches a server
 * the guest runs on its own port, for TCP (echo and HTTP) and UDP.
 */
import { afterEach, describe, expect, test } from "bun:test";
import type { ConnectionEvent } from "../../src/index.ts";
import { eventually } from "../support/eventually.ts";
import { forwardedPort, tcpExchange, udpExchange } from "../support/host-clients.ts";
import { startNetwork, type TestNetwork } from "../support/network.ts";

let network: TestNetwork | undefined;
afterEach(async () => {
  await network?.close();
  network = undefined;
});

/**
 * Sends `data` to a forward whose guest port refuses: the network's listener accepts the
 * host connection, then ends it without an answer (a close or a reset, whichever the host
 * socket sees first). The forwarded connection never opened: no `open` event, one `close`
 * with reason `connect-failed` saying why and not a byte either way, and the attempt is
 * counted in `tcp.failedConnectionAttempts`.
 */
async function expectNothingDelivered(n: TestNetwork, hostPort: number, guestPort: number, data: string): Promise<void> {
  const toGuestPort = (e: ConnectionEvent) =>
    e.via === "forward" && e.destination !== undefined && "port" in e.destination && e.destination.port === guestPort;
  // Only what this attempt records: an earlier connection's close may still be on its way.
  const opens: ConnectionEvent[] = [];
  const failures: ConnectionEvent[] = [];
  const off = n.backend.on("connection", (e) => {
    if (!toGuestPort(e)) return;
    if (e.phase === "open") opens.push(e);
    else if (e.phase === "close" && e.reason === "connect-failed") failures.push(e);
  });
  const failedBefore = n.backend.stats().tcp.failedConnectionAttempts;
  try {
    const answer = await tcpExchange(hostPort, data).catch((e: unknown) => `error: ${e instanceof Error ? e.message : String(e)}`);
    expect(["", "error: read ECONNRESET"]).toContain(answer);
    await eventually("the forward's failed-connect event", () => failures.length > 0);
    expect(failures).toEqual([
      expect.objectContaining({
        detail: expect.stringContaining("refused"),
        destination: { ip: "192.168.127.2", port: guestPort },
        bytesToGuest: 0,
        bytesFromGuest: 0,
      }),
    ]);
    expect(opens).toEqual([]);
    expect(n.backend.stats().tcp.failedConnectionAttempts).toBe(failedBefore + 1);
  } finally {
    off();
  }
}

describe("port forwards", () => {
  test("TCP: bytes sent to the host port are echoed by the guest's server", async () => {
    network = await startNetwork({ portMappings: [[0, 7000]] });
    const hostPort = forwardedPort(network.backend, 7000);
    await network.guest.dhcp();
    await network.guest.serveTcp(7000, { mode: "echo" });
    const payload = "through the forward ".repeat(4000); // ~80 KB, many segments both ways
    expect(await tcpExchange(hostPort, payload)).toBe(payload);
  });

  test("HTTP: fetch on the host port gets the guest's fixed body", async () => {
    network = await startNetwork({ portMappings: [{ hostPort: 0, guestPort: 80 }] });
    const hostPort = forwardedPort(network.backend, 80);
    await network.guest.dhcp();
    await network.guest.serveTcp(80, { mode: "http", body: "hello from the guest" });
    const response = await fetch(`http://127.0.0.1:${hostPort}/`);
    expect(response.status).toBe(200);
    expect(await response.text()).toBe("hello from the guest");
  });

  test("IPv6: a mapping on hostIp ::1 takes a host client on [::1] to the guest's server", async () => {
    network = await startNetwork({ portMappings: [{ hostPort: 0, guestPort: 7003, hostIp: "::1" }] });
    const [mapping] = network.backend.instance.config.portMappings;
    if (mapping === undefined) throw new Error("the resolved config lists no port mapping");
    expect(mapping).toMatchObject({ hostIp: "::1", guestPort: 7003, protocol: "tcp" });
    await network.guest.dhcp();
    await network.guest.serveTcp(7003, { mode: "echo" });
    expect(await tcpExchange(mapping.hostPort, "over IPv6 loopback", 5000, "::1")).toBe("over IPv6 loopback");
  });

  test("UDP: a datagram to the host port is echoed by the guest", async () => {
    network = await startNetwork({ portMappings: [{ hostPort: 0, guestPort: 5353, protocol: "udp" }] });
    const hostPort = forwardedPort(network.backend, 5353, "udp");
    await network.guest.dhcp();
    await network.guest.serveUdp(5353);
    expect(await udpExchange(hostPort, "datagram to the guest")).toBe("datagram to the guest");
  });

  test("a forward whose guest port has no server ends the host connection, delivering nothing", async () => {
    network = await startNetwork({ portMappings: [[0, 7001]] });
    const hostPort = forwardedPort(network.backend, 7001);
    await network.guest.dhcp();
    await expectNothingDelivered(network, hostPort, 7001, "anyone there?");
  });

  test("a guest server stopped with stopServe no longer answers", async () => {
    network = await startNetwork({ portMappings: [[0, 7002]] });
    const hostPort = forwardedPort(network.backend, 7002);
    await network.guest.dhcp();
    await network.guest.serveTcp(7002);
    expect(await tcpExchange(hostPort, "one")).toBe("one");
    await network.guest.stopServe(7002);
    await expectNothingDelivered(network, hostPort, 7002, "two");
  });
});
