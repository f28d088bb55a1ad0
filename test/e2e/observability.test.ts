/**
 * What a host can observe of the network: stats counters that follow the traffic, and
 * a pcap capture file a standard reader can parse, holding the DHCP exchange.
 */
import { afterEach, describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { HOST_LOOPBACK_IP } from "../../guest/driver.ts";
import { eventually } from "../support/eventually.ts";
import { startTcpEcho, type HostServer } from "../support/host-servers.ts";
import { startNetwork, type TestNetwork } from "../support/network.ts";
import { assertEthernetCapture, dhcpMessageType, LINKTYPE_ETHERNET, parsePcap } from "../support/pcap.ts";
import { makeTempDir, type TempDir } from "../support/paths.ts";

let network: TestNetwork | undefined;
let echo: HostServer | undefined;
let captureDir: TempDir | undefined;
afterEach(async () => {
  await network?.close();
  network = undefined;
  echo?.close();
  echo = undefined;
  captureDir?.remove();
  captureDir = undefined;
});

describe("stats", () => {
  test("start at zero with no guest, and report the guest once it connects", async () => {
    network = await startNetwork();
    const backend = network.backend;
    // The guest's connect() returns before the network has accepted it: wait for that.
    await eventually("the network reports the guest connected", () => backend.stats().guest.connected);
    const stats = backend.stats();
    // Counted at the socket: the guest has not sent a frame yet.
    expect(stats.bytesReceived).toBe(0);
    expect(stats.guest.connections).toBe(1);
  });

  test("byte counters rise with traffic in both directions", async () => {
    echo = startTcpEcho();
    network = await startNetwork();
    await network.guest.dhcp();
    const before = network.backend.stats();
    const payload = "x".repeat(200_000);
    await network.guest.tcpRequest({ host: HOST_LOOPBACK_IP, port: echo.port, data: payload });
    const after = network.backend.stats();
    // 200 KB went out of the guest and came back: each direction carried at least that.
    expect(after.bytesReceived - before.bytesReceived).toBeGreaterThanOrEqual(payload.length);
    expect(after.bytesSent - before.bytesSent).toBeGreaterThanOrEqual(payload.length);
    // metrics() reads the same counters; trailing ACKs may move them between two reads,
    // so it must sit between the stats read before it and the one after it.
    const metrics = network.backend.metrics();
    const later = network.backend.stats();
    expect(metrics.bytesSent).toBeGreaterThanOrEqual(after.bytesSent);
    expect(metrics.bytesSent).toBeLessThanOrEqual(later.bytesSent);
    expect(metrics.bytesReceived).toBeGreaterThanOrEqual(after.bytesReceived);
    expect(metrics.bytesReceived).toBeLessThanOrEqual(later.bytesReceived);
  });

  test("an established guest connection is counted while it is open", async () => {
    echo = startTcpEcho();
    network = await startNetwork();
    await network.guest.dhcp();
    expect(network.backend.stats().tcp.currentEstablished).toBe(0);
    // requestLoop holds one connection for its whole run; sample the stats meanwhile.
    const loop = network.guest.requestLoop({ host: HOST_LOOPBACK_IP, port: echo.port, count: 2000, size: 64 });
    let maxEstablished = 0;
    let done = false;
    void loop.finally(() => (done = true));
    while (!done) {
      maxEstablished = Math.max(maxEstablished, network.backend.stats().tcp.currentEstablished);
      await Bun.sleep(1);
    }
    const summary = await loop;
    expect(summary.count).toBe(2000);
    expect(maxEstablished).toBeGreaterThanOrEqual(1);
  });
});

describe("pcap capture", () => {
  // DESIGN asks for Ethernet frames: the guest's frames as they crossed its connection,
  // not gVisor's sniffer output (bare IP packets, LINKTYPE_RAW).
  test("the capture file is an Ethernet pcap holding the DHCP exchange in order", async () => {
    captureDir = makeTempDir("gvcap-");
    const captureFile = captureDir.path("net.pcap");
    network = await startNetwork({ captureFile });
    await network.guest.dhcp();
    await network.close(); // flushes and closes the capture
    const pcap = parsePcap(readFileSync(captureFile));
    // Throws naming the magic, version or link type that is wrong (test/support/pcap.test.ts).
    assertEthernetCapture(pcap);
    // Decoded as Ethernet frames: a file of IP packets labelled Ethernet would show no DHCP.
    const dhcp = pcap.records.map((r) => dhcpMessageType(r.data, LINKTYPE_ETHERNET)).filter((t) => t !== undefined);
    expect(dhcp).toEqual(["DISCOVER", "OFFER", "REQUEST", "ACK"]);
    for (const record of pcap.records) {
      expect(record.capturedLength).toBe(record.data.length);
      expect(record.originalLength).toBeGreaterThanOrEqual(record.capturedLength);
    }
  });

  test("the pcap reader rejects a file that is not a capture", () => {
    expect(() => parsePcap(new TextEncoder().encode("definitely not a pcap file"))).toThrow(/bad magic/);
  });
});
