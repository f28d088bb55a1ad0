/**
 * Guest -> host through the NAT: 192.168.127.254 is the host's loopback for TCP, UDP and
 * HTTP; `hostLoopback: false` removes that path; and the gateway's own HTTP services
 * API (leases, forwarding control) is never reachable from the guest.
 */
import { afterEach, describe, expect, test } from "bun:test";
import type { ConnectionEvent } from "../../src/index.ts";
import { GATEWAY_IP, GuestCommandError, HOST_LOOPBACK_IP, outcome } from "../../guest/driver.ts";
import { refusedNatConnect } from "../support/connection-events.ts";
import { eventually } from "../support/eventually.ts";
import { hostServerList, startHttpServer, startTcpEcho, startUdpEcho } from "../support/host-servers.ts";
import { startNetwork, type TestNetwork } from "../support/network.ts";

let network: TestNetwork | undefined;
const servers = hostServerList();
afterEach(async () => {
  await network?.close();
  network = undefined;
  servers.closeAll();
});

describe("guest to host loopback", () => {
  test("TCP: the host echo server receives the guest's bytes and the guest gets them back", async () => {
    const echo = servers.keep(startTcpEcho());
    network = await startNetwork();
    await network.guest.dhcp();
    const payload = "hello from the guest ".repeat(500); // several segments
    const reply = await network.guest.tcpRequest({ host: HOST_LOOPBACK_IP, port: echo.port, data: payload });
    expect(reply.response).toBe(payload);
    expect(reply.localAddress.startsWith("192.168.127.2:")).toBe(true);
    expect(echo.hits).toBe(1);
  });

  test("UDP: a datagram reaches the host server and its answer comes back", async () => {
    const udp = servers.keep(await startUdpEcho("host says: "));
    network = await startNetwork();
    await network.guest.dhcp();
    const reply = await network.guest.udpRequest({ host: HOST_LOOPBACK_IP, port: udp.port, data: "ping" });
    expect(reply.response).toBe("host says: ping");
    expect(reply.from).toBe(`${HOST_LOOPBACK_IP}:${udp.port}`);
    expect(udp.hits).toBe(1);
  });

  test("HTTP: net/http in the guest fetches from a host Bun.serve", async () => {
    const http = servers.keep(startHttpServer("served by the host"));
    network = await startNetwork();
    await network.guest.dhcp();
    const response = await network.guest.httpGet(`http://${HOST_LOOPBACK_IP}:${http.port}/status`);
    expect(response.status).toBe(200);
    expect(response.body).toBe("served by the host");
    expect(http.hits).toBe(1);
  });

  test("a closed host port is refused, not hung: a connect-failed close, no open, counted as a failed attempt", async () => {
    const echo = startTcpEcho();
    const closedPort = echo.port;
    echo.close();
    network = await startNetwork();
    const events: ConnectionEvent[] = [];
    network.backend.on("connection", (e) => void events.push(e));
    await network.guest.dhcp();
    const failure = await outcome(network.guest.tcpRequest({ host: HOST_LOOPBACK_IP, port: closedPort, data: "x", timeoutMs: 5000 }));
    expect(failure).toBeInstanceOf(GuestCommandError);
    expect((failure as GuestCommandError).code).toBe("CONNECTION_REFUSED");
    await eventually("the failed connect's close event", () => events.length > 0);
    expect(events).toEqual([refusedNatConnect({ ip: HOST_LOOPBACK_IP, port: closedPort })]);
    expect(network.backend.stats().tcp.failedConnectionAttempts).toBe(1);
  });

  test("hostLoopback: false blocks 192.168.127.254", async () => {
    const echo = servers.keep(startTcpEcho());
    const udp = servers.keep(await startUdpEcho());
    network = await startNetwork({ hostLoopback: false });
    await network.guest.dhcp();
    const tcpFailure = await outcome(network.guest.tcpRequest({ host: HOST_LOOPBACK_IP, port: echo.port, data: "x", timeoutMs: 1500 }));
    expect(tcpFailure).toBeInstanceOf(GuestCommandError);
    const udpFailure = await outcome(network.guest.udpRequest({ host: HOST_LOOPBACK_IP, port: udp.port, data: "x", timeoutMs: 800 }));
    expect(udpFailure).toBeInstanceOf(GuestCommandError);
    expect(echo.hits).toBe(0);
    expect(udp.hits).toBe(0);
  });
});

describe("the gateway's HTTP services API", () => {
  test("TCP to gateway:80 is refused", async () => {
    network = await startNetwork();
    await network.guest.dhcp();
    const request = "GET /services/forwarder/all HTTP/1.0\r\n\r\n";
    const failure = await outcome(network.guest.tcpRequest({ host: GATEWAY_IP, port: 80, data: request, timeoutMs: 3000 }));
    expect(failure).toBeInstanceOf(GuestCommandError);
    expect(["CONNECTION_REFUSED", "TIMEOUT"]).toContain((failure as GuestCommandError).code ?? "");
  });

  test("nothing answers HTTP on the gateway's other common ports", async () => {
    network = await startNetwork();
    await network.guest.dhcp();
    for (const port of [8080, 443, 8000, 9090, 1024]) {
      const failure = await outcome(network.guest.httpGet(`http://${GATEWAY_IP}:${port}/services/dhcp/leases`, { timeoutMs: 2000 }));
      expect(failure, `gateway port ${port} answered`).toBeInstanceOf(GuestCommandError);
    }
  });

  test("the DNS port on the gateway does answer (the probe can tell open from closed)", async () => {
    network = await startNetwork({ dnsZones: [{ name: "example.internal.", records: [{ name: "db", ip: "192.168.127.50" }] }] });
    await network.guest.dhcp();
    expect((await network.guest.resolve("db.example.internal", { transport: "tcp", server: GATEWAY_IP })).addresses).toEqual(["192.168.127.50"]);
  });
});
