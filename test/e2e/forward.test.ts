/**
 * Host -> guest through port forwards: a host port on 127.0.0.1 (or ::1) reaches a server
 * the guest runs on its own port, for TCP (echo and HTTP) and UDP.
 */
import { afterEach, describe, expect, test } from "bun:test";
import { forwardedPort, tcpExchange, udpExchange } from "../support/host-clients.ts";
import { startNetwork, type TestNetwork } from "../support/network.ts";

let network: TestNetwork | undefined;
afterEach(async () => {
  await network?.close();
  network = undefined;
});

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

  test("a forward whose guest port has no server does not deliver data", async () => {
    network = await startNetwork({ portMappings: [[0, 7001]] });
    const hostPort = forwardedPort(network.backend, 7001);
    await network.guest.dhcp();
    // The host side accepts (it is gvisor-tap-vsock's listener) but the guest refuses,
    // so the connection ends without an echo.
    const answer = await tcpExchange(hostPort, "anyone there?").catch((e: unknown) => `error: ${String(e)}`);
    expect(answer).not.toBe("anyone there?");
  });

  test("a guest server stopped with stopServe no longer answers", async () => {
    network = await startNetwork({ portMappings: [[0, 7002]] });
    const hostPort = forwardedPort(network.backend, 7002);
    await network.guest.dhcp();
    await network.guest.serveTcp(7002);
    expect(await tcpExchange(hostPort, "one")).toBe("one");
    await network.guest.stopServe(7002);
    const answer = await tcpExchange(hostPort, "two").catch((e: unknown) => `error: ${String(e)}`);
    expect(answer).not.toBe("two");
  });
});
