/**
 * The egress policy (`allowNet`) end to end: a userspace guest tries every known way
 * around an allow-list (IP literals, UDP, QUIC-style UDP 443, its own DNS server over
 * UDP and TCP, record types a filter might forget, a TLS SNI or HTTP Host that does not
 * match the address, the host's loopback and own addresses) and is refused, while the
 * destinations the list allows keep working.
 *
 * The destinations are test hosts in a network namespace this suite creates (see
 * test/support/netns.ts), never real outside addresses. Names resolve through the
 * gateway DNS's own zone, as an upstream resolver's answers would: hostA is the address
 * of an allowed name and of a name that is not allowed (virtual hosting), hostB the
 * address of no allowed name. Without root and `ip` the suite is skipped with a
 * message; in CI (CI=true) a setup failure with root and `ip` present fails it.
 */
import { afterAll, afterEach, describe, expect, test } from "bun:test";
import consola from "consola";
import { setGvproxyLogger } from "../../src/index.ts";
import {
  dnsQuery,
  GuestCommandError,
  HOST_LOOPBACK_IP,
  httpRequests,
  outcome,
  tlsHandshake,
  udpRequestHex,
  type Guest,
} from "../../guest/driver.ts";
import { hostServerList, startTcpEcho, startUdpEcho } from "../support/host-servers.ts";
import { tcpSynFrame } from "../support/crafted-packets.ts";
import { eventually } from "../support/eventually.ts";
import { captureGvproxyLogs, type CapturedLog } from "../support/log-capture.ts";
import { startFileTestHosts, type TestHosts } from "../support/netns.ts";
import { startNetwork, type NetworkConfig, type TestNetwork } from "../support/network.ts";
import { connectRawGuest, qemuFrame } from "../support/raw-guest.ts";

const ZONE = "test.example.";
/** Allowed by name; resolves to hostA. */
const ALLOWED = "api.test.example";
/** Not allowed; resolves to hostA too (a second site on a shared address). */
const NEIGHBOUR = "other.test.example";
/** Under the allowed wildcard `*.svc.test.example`; resolves to hostB by the zone's default. */
const WILDCARD_NAME = "deep.er.svc.test.example";
/** Allowed, but resolves to an address of the host itself. */
const REBINDING = "rebind.test.example";
/** Outside every zone and every entry. */
const BLOCKED = "blocked.example.net";
/** A QUIC Initial's first bytes: long header, version 1. */
const QUIC_INITIAL_HEX = "c3000000010800112233445566778800";
const GUEST_MAC = "5a:94:ef:e4:0c:ee";
const GATEWAY_MAC = "5a:94:ef:e4:0c:dd";
const GUEST_IP = "192.168.127.2";
/** Bound on a probe the policy should refuse; a refusal comes back long before it. */
const REFUSAL_TIMEOUT_MS = 5000;

// ---------------------------------------------------------------------------------------
// Test hosts: made once for the file, removed after its tests whatever they did.

const fileHosts = await startFileTestHosts("egress end-to-end tests", [ALLOWED, NEIGHBOUR]);
const skipReason = fileHosts.skipReason;

afterAll(() => setGvproxyLogger(consola));

const testHosts = (): TestHosts => fileHosts.get();

// ---------------------------------------------------------------------------------------
// Per-test network and host-side servers.

let network: TestNetwork | undefined;
const hostServers = hostServerList();
/** Every denial the network reported as an event (connection or DNS), in order. */
let denialEvents: Array<{ reason?: string }> = [];
afterEach(async () => {
  // Every refusal counted in policy.denied also reached the event stream, with a code.
  if (network !== undefined && !network.backend.instance.destroyed) expect((await reasons()).every((r) => r !== "")).toBe(true);
  await network?.close();
  network = undefined;
  hostServers.closeAll();
});

/** Starts a network with the test zone and `config`, attaches the guest and leases. */
async function startGuest(config: NetworkConfig): Promise<Guest> {
  const { hostA, hostB } = testHosts();
  network = await startNetwork({
    dnsZones: [
      {
        name: ZONE,
        records: [
          { name: "api", ip: hostA },
          { name: "other", ip: hostA },
          { name: "rebind", ip: testHosts().hostSideIp },
        ],
        defaultIp: hostB,
      },
    ],
    ...config,
  });
  denialEvents = [];
  network.backend.on("connection", (e) => {
    if (e.phase === "denied") denialEvents.push(e);
  });
  network.backend.on("dns", (e) => {
    if (e.decision === "denied") denialEvents.push(e);
  });
  await network.guest.dhcp();
  return network.guest;
}

/** The reason codes of the denials so far, once the event stream has caught up with policy.denied. */
async function reasons(): Promise<string[]> {
  const count = denied();
  await eventually(`${count} denial events`, () => denialEvents.length >= count);
  return denialEvents.map((e) => e.reason ?? "");
}

function denied(): number {
  if (network === undefined) throw new Error("no network");
  return network.backend.stats().policy.denied;
}

/** Resolves with the failure code of a probe that must fail; rejects if it succeeded. */
async function failureCode(probe: Promise<unknown>): Promise<string> {
  const result = await outcome(probe);
  if (!(result instanceof GuestCommandError)) throw new Error(`expected a refusal, got ${JSON.stringify(result)}`);
  return result.code ?? result.message;
}

async function resolvesTo(guest: Guest, name: string): Promise<string[]> {
  return (await guest.resolve(name)).addresses;
}

// ---------------------------------------------------------------------------------------

describe.skipIf(skipReason !== undefined)("allowed destinations", () => {
  test("a name entry opens what the gateway DNS resolved it to: TCP, UDP, HTTP and HTTPS with that name", async () => {
    const { hostA } = testHosts();
    const guest = await startGuest({ allowNet: [ALLOWED] });
    expect(await resolvesTo(guest, ALLOWED)).toEqual([hostA]);

    const echo = await guest.tcpRequest({ host: hostA, port: 7, data: "tcp through the policy" });
    expect(echo.response).toBe("tcp through the policy");
    const datagram = await guest.udpRequest({ host: hostA, port: 7, data: "udp" });
    expect(datagram.response).toBe(`udp ${hostA}:7 udp`);

    const http = await httpRequests(guest, { host: hostA, port: 80, requests: [{ hostHeader: ALLOWED }, { hostHeader: ALLOWED }] });
    expect(http.responses).toEqual([
      { status: 200, body: `http ${hostA} host=${ALLOWED}` },
      { status: 200, body: `http ${hostA} host=${ALLOWED}` },
    ]);
    const tls = await tlsHandshake(guest, {
      host: hostA,
      port: 443,
      serverName: ALLOWED,
      data: `GET / HTTP/1.1\r\nHost: ${ALLOWED}\r\nConnection: close\r\n\r\n`,
    });
    expect(tls.handshakeComplete).toBe(true);
    expect(tls.certificateNames).toContain(ALLOWED);
    expect(tls.response).toContain(`https ${hostA} host=${ALLOWED}`);

    // Nothing above was refused: the DHCP server's broadcast replies are local chatter,
    // not denied egress.
    expect(denied()).toBe(0);
  });

  test("an address entry opens that address on every port and protocol, UDP 443 included, without inspection", async () => {
    const { hostB } = testHosts();
    const guest = await startGuest({ allowNet: [hostB] });
    expect((await guest.tcpRequest({ host: hostB, port: 7, data: "x" })).response).toBe("x");
    expect((await udpRequestHex(guest, { host: hostB, port: 443, dataHex: QUIC_INITIAL_HEX })).response.startsWith(`udp ${hostB}:443 `)).toBe(true);
    const http = await httpRequests(guest, { host: hostB, port: 80, requests: [{ hostHeader: "any.name.at.all" }] });
    expect(http.responses).toEqual([{ status: 200, body: `http ${hostB} host=any.name.at.all` }]);
    expect(denied()).toBe(0);
  });

  test("a port on an entry limits it to that port", async () => {
    const { hostB } = testHosts();
    const guest = await startGuest({ allowNet: [`${hostB}:7`] });
    expect((await guest.tcpRequest({ host: hostB, port: 7, data: "x" })).response).toBe("x");
    expect(await failureCode(guest.tcpRequest({ host: hostB, port: 80, data: "x", timeoutMs: REFUSAL_TIMEOUT_MS }))).toBe("CONNECTION_REFUSED");
    expect(denied()).toBe(1);
    expect(await reasons()).toEqual(["port-not-allowed"]);
  });

  test("a wildcard covers names at any depth below its domain, but not the domain itself", async () => {
    const { hostB } = testHosts();
    const guest = await startGuest({ allowNet: ["*.svc.test.example"] });
    // The domain itself resolves (it is in a configured zone) but opens nothing.
    expect(await resolvesTo(guest, "svc.test.example")).toEqual([hostB]);
    expect(await failureCode(guest.tcpRequest({ host: hostB, port: 7, data: "x", timeoutMs: REFUSAL_TIMEOUT_MS }))).toBe("CONNECTION_REFUSED");
    expect(await resolvesTo(guest, WILDCARD_NAME)).toEqual([hostB]);
    expect((await guest.tcpRequest({ host: hostB, port: 7, data: "x" })).response).toBe("x");
  });
});

describe.skipIf(skipReason !== undefined)("bypasses are refused", () => {
  test("IP literals: an address no allowed name resolved to is refused at connect, before the host dials", async () => {
    const { hostA, hostB } = testHosts();
    const guest = await startGuest({ allowNet: [ALLOWED] });
    // hostA is the allowed name's address, but the guest has not resolved it yet.
    expect(await failureCode(guest.tcpRequest({ host: hostA, port: 7, data: "x", timeoutMs: REFUSAL_TIMEOUT_MS }))).toBe("CONNECTION_REFUSED");
    expect(await failureCode(guest.tcpRequest({ host: hostB, port: 7, data: "x", timeoutMs: REFUSAL_TIMEOUT_MS }))).toBe("CONNECTION_REFUSED");
    expect(denied()).toBe(2);
    await resolvesTo(guest, ALLOWED);
    expect((await guest.tcpRequest({ host: hostA, port: 7, data: "now allowed" })).response).toBe("now allowed");
    expect(await failureCode(guest.tcpRequest({ host: hostB, port: 7, data: "x", timeoutMs: REFUSAL_TIMEOUT_MS }))).toBe("CONNECTION_REFUSED");
    expect(denied()).toBe(3);
    expect(await reasons()).toEqual(["ip-not-allowed", "ip-not-allowed", "ip-not-allowed"]);
  });

  test("UDP to an address no allowed name resolved to is refused (ICMP unreachable)", async () => {
    const { hostA, hostB } = testHosts();
    const guest = await startGuest({ allowNet: [ALLOWED] });
    await resolvesTo(guest, ALLOWED);
    expect(await failureCode(guest.udpRequest({ host: hostB, port: 7, data: "x", timeoutMs: REFUSAL_TIMEOUT_MS }))).toBe("CONNECTION_REFUSED");
    expect(denied()).toBe(1);
    expect(denialEvents[0]).toMatchObject({ protocol: "udp", reason: "ip-not-allowed", destination: { ip: hostB, port: 7 } });
    expect((await guest.udpRequest({ host: hostA, port: 7, data: "y" })).response).toBe(`udp ${hostA}:7 y`);
  });

  test("QUIC-style UDP 443 to an address opened only by a name is refused; TCP 443 to it works", async () => {
    const { hostA } = testHosts();
    const guest = await startGuest({ allowNet: [ALLOWED] });
    await resolvesTo(guest, ALLOWED);
    expect(await failureCode(udpRequestHex(guest, { host: hostA, port: 443, dataHex: QUIC_INITIAL_HEX, timeoutMs: REFUSAL_TIMEOUT_MS }))).toBe(
      "CONNECTION_REFUSED",
    );
    expect(denied()).toBe(1);
    expect(await reasons()).toEqual(["quic-refused"]);
    expect((await tlsHandshake(guest, { host: hostA, port: 443, serverName: ALLOWED })).handshakeComplete).toBe(true);
  });

  test("a DNS server of the guest's choosing is unreachable over UDP and TCP unless listed", async () => {
    const { hostB } = testHosts();
    let guest = await startGuest({ allowNet: [ALLOWED] });
    for (const transport of ["udp", "tcp"] as const) {
      const query = dnsQuery(guest, { name: BLOCKED, type: "TXT", server: hostB, transport, timeoutMs: REFUSAL_TIMEOUT_MS });
      expect(await failureCode(query)).toBe("CONNECTION_REFUSED");
    }
    expect(denied()).toBe(2);
    expect(await reasons()).toEqual(["ip-not-allowed", "ip-not-allowed"]);
    await network?.close();

    // The same server, listed, answers: the refusal above was the policy's.
    guest = await startGuest({ allowNet: [ALLOWED, `${hostB}:53`] });
    for (const transport of ["udp", "tcp"] as const) {
      const answer = await dnsQuery(guest, { name: BLOCKED, type: "TXT", server: hostB, transport });
      expect(answer.answers.map((r) => r.data)).toEqual([`foreign-dns ${hostB}`]);
    }
  });

  test("the gateway DNS answers NXDOMAIN for a name not allowed, whatever the record type, and counts each", async () => {
    const guest = await startGuest({ allowNet: [ALLOWED] });
    const logs = captureGvproxyLogs("debug");
    const types = ["A", "AAAA", "TXT", "MX", "CNAME", "SRV", "HTTPS", "ANY"];
    for (const type of types) {
      for (const transport of ["udp", "tcp"] as const) {
        const answer = await dnsQuery(guest, { name: `tunnel-data.${BLOCKED}`, type, transport });
        expect({ type, transport, ...answer }).toEqual({ type, transport, rcode: "NXDOMAIN", answers: [] });
      }
    }
    expect(denied()).toBe(types.length * 2);
    expect(await reasons()).toEqual(Array(types.length * 2).fill("dns-refused"));
    expect(denialEvents.map((e) => (e as { queryType?: string }).queryType)).toContain("TXT");
    const lines = denialLines(logs).filter((l) => l.includes(`tunnel-data.${BLOCKED}`));
    expect(lines.length).toBe(types.length * 2);
    expect(lines.some((l) => l.includes("TXT query"))).toBe(true);
  });

  test("a name the host itself could answer is hidden too: localhost gets NXDOMAIN", async () => {
    const guest = await startGuest({ allowNet: [ALLOWED] });
    expect((await dnsQuery(guest, { name: "localhost", type: "A" })).rcode).toBe("NXDOMAIN");
    expect(denied()).toBe(1);
    expect(await reasons()).toEqual(["dns-refused"]);
  });

  test("names of the configured zones are answered (A) or NODATA (other types), and open nothing", async () => {
    const { hostA } = testHosts();
    const guest = await startGuest({ allowNet: [ALLOWED] });
    expect((await dnsQuery(guest, { name: NEIGHBOUR, type: "A" })).answers.map((r) => r.data)).toEqual([hostA]);
    expect(await dnsQuery(guest, { name: NEIGHBOUR, type: "TXT" })).toEqual({ rcode: "NOERROR", answers: [] });
    expect(denied()).toBe(0);
    // hostA is NEIGHBOUR's address, but NEIGHBOUR is not allowed: still closed.
    expect(await failureCode(guest.tcpRequest({ host: hostA, port: 7, data: "x", timeoutMs: REFUSAL_TIMEOUT_MS }))).toBe("CONNECTION_REFUSED");
  });

  test("a TLS ClientHello naming an allowed host does not open an address that host did not resolve to", async () => {
    const { hostB } = testHosts();
    const guest = await startGuest({ allowNet: [ALLOWED] });
    await resolvesTo(guest, ALLOWED);
    const probe = tlsHandshake(guest, { host: hostB, port: 443, serverName: ALLOWED, timeoutMs: REFUSAL_TIMEOUT_MS });
    expect(await failureCode(probe)).toBe("CONNECTION_REFUSED");
    expect(denied()).toBe(1);
    expect(await reasons()).toEqual(["ip-not-allowed"]);
  });

  test("on an allowed name's address, TLS naming another site (or none) is reset before the server sees it", async () => {
    const { hostA } = testHosts();
    const guest = await startGuest({ allowNet: [ALLOWED] });
    const logs = captureGvproxyLogs("debug");
    await resolvesTo(guest, ALLOWED);
    for (const serverName of [NEIGHBOUR, ""]) {
      const tls = await tlsHandshake(guest, { host: hostA, port: 443, serverName, timeoutMs: REFUSAL_TIMEOUT_MS });
      expect({ serverName, ...tls }).toMatchObject({ serverName, handshakeComplete: false, serverAnswered: false, reset: true });
    }
    expect(denied()).toBe(2);
    expect(await reasons()).toEqual(["sni-mismatch", "sni-mismatch"]);
    expect(denialEvents[0]).toMatchObject({ name: NEIGHBOUR, destination: { ip: hostA, port: 443 } });
    expect(denialLines(logs).some((l) => l.includes(`${hostA}:443`) && l.includes(NEIGHBOUR) && l.includes("tls inspection"))).toBe(true);
    // The address and port are fine with the allowed name.
    expect((await tlsHandshake(guest, { host: hostA, port: 443, serverName: ALLOWED })).handshakeComplete).toBe(true);
  });

  test("on an allowed name's address, HTTP for another Host is reset, in the first request or a later one", async () => {
    const { hostA } = testHosts();
    const guest = await startGuest({ allowNet: [ALLOWED] });
    await resolvesTo(guest, ALLOWED);
    const first = await httpRequests(guest, { host: hostA, port: 80, requests: [{ hostHeader: NEIGHBOUR }], timeoutMs: REFUSAL_TIMEOUT_MS });
    expect(first).toMatchObject({ responses: [], reset: true });
    const later = await httpRequests(guest, {
      host: hostA,
      port: 80,
      requests: [{ hostHeader: ALLOWED }, { hostHeader: NEIGHBOUR }],
      timeoutMs: REFUSAL_TIMEOUT_MS,
    });
    expect(later.responses).toEqual([{ status: 200, body: `http ${hostA} host=${ALLOWED}` }]);
    expect(later.reset).toBe(true);
    expect(denied()).toBe(2);
    expect(await reasons()).toEqual(["host-mismatch", "host-mismatch"]);
  });

  test("the host loopback address is refused unless an entry names it exactly, even under 0.0.0.0/0", async () => {
    const { hostA, hostSideIp } = testHosts();
    const echo = hostServers.keep(startTcpEcho("0.0.0.0"));
    const udp = hostServers.keep(await startUdpEcho("", "0.0.0.0"));
    let guest = await startGuest({ allowNet: [ALLOWED] });
    expect(await failureCode(guest.tcpRequest({ host: HOST_LOOPBACK_IP, port: echo.port, data: "x", timeoutMs: REFUSAL_TIMEOUT_MS }))).toBe(
      "CONNECTION_REFUSED",
    );
    expect(await failureCode(guest.udpRequest({ host: HOST_LOOPBACK_IP, port: udp.port, data: "x", timeoutMs: REFUSAL_TIMEOUT_MS }))).toBe(
      "CONNECTION_REFUSED",
    );
    await network?.close();

    guest = await startGuest({ allowNet: ["0.0.0.0/0"] });
    expect((await guest.tcpRequest({ host: hostA, port: 7, data: "outside" })).response).toBe("outside");
    for (const host of [HOST_LOOPBACK_IP, hostSideIp]) {
      expect(await failureCode(guest.tcpRequest({ host, port: echo.port, data: "x", timeoutMs: REFUSAL_TIMEOUT_MS }))).toBe("CONNECTION_REFUSED");
    }
    expect(echo.hits).toBe(0);
    expect(udp.hits).toBe(0);
    await network?.close();

    guest = await startGuest({ allowNet: [HOST_LOOPBACK_IP] });
    expect((await guest.tcpRequest({ host: HOST_LOOPBACK_IP, port: echo.port, data: "listed" })).response).toBe("listed");
    expect(echo.hits).toBe(1);
  });

  test("an allowed name resolving to the host itself (DNS rebinding) does not open the host", async () => {
    const { hostSideIp } = testHosts();
    const echo = hostServers.keep(startTcpEcho("0.0.0.0"));
    const guest = await startGuest({ allowNet: [REBINDING] });
    expect(await resolvesTo(guest, REBINDING)).toEqual([hostSideIp]);
    expect(await failureCode(guest.tcpRequest({ host: hostSideIp, port: echo.port, data: "x", timeoutMs: REFUSAL_TIMEOUT_MS }))).toBe(
      "CONNECTION_REFUSED",
    );
    expect(echo.hits).toBe(0);
    expect(await reasons()).toEqual(["host-loopback"]);
  });

  test("hostLoopback: false leaves no route to the host's own addresses, filtering or not", async () => {
    const { hostA, hostSideIp } = testHosts();
    const echo = hostServers.keep(startTcpEcho("0.0.0.0"));
    for (const allowNet of [[], ["0.0.0.0/0"], [hostSideIp]]) {
      const guest = await startGuest({ hostLoopback: false, allowNet });
      // The host's own interface address is refused by the NAT, whatever allowNet says.
      const probe = guest.tcpRequest({ host: hostSideIp, port: echo.port, data: "x", timeoutMs: REFUSAL_TIMEOUT_MS });
      expect({ allowNet, code: await failureCode(probe) }).toEqual({ allowNet, code: "CONNECTION_REFUSED" });
      if (allowNet.length === 0) {
        // The host loopback address is gone altogether: nothing answers ARP for it.
        const loopback = guest.tcpRequest({ host: HOST_LOOPBACK_IP, port: echo.port, data: "x", timeoutMs: REFUSAL_TIMEOUT_MS });
        expect(await failureCode(loopback)).toBe("HOST_UNREACHABLE");
        // The outside is still reachable, so the refusals are about the host.
        expect((await guest.tcpRequest({ host: hostA, port: 7, data: "out" })).response).toBe("out");
      }
      await network?.close();
    }
    expect(echo.hits).toBe(0);
  });

  test("crafted SYNs to 127.0.0.0/8, 0.0.0.0 or the host's own address never reach the host", async () => {
    const { hostSideIp } = testHosts();
    const echo = hostServers.keep(startTcpEcho("0.0.0.0"));
    // Control: a crafted SYN is forwarded like any other when it goes where it may.
    await startGuest({});
    await retransmitUntil("the control SYN reaches the host", () => sendCraftedSyns([HOST_LOOPBACK_IP], echo.port), () => echo.hits >= 1);
    const controlHits = echo.hits;
    await network?.close();

    await startGuest({ hostLoopback: false });
    // Sent in order; the last two are refused by the NAT and counted, which marks the
    // point by which the gateway has taken all of them in.
    const refused = ["127.0.0.1", "127.3.2.1", "0.0.0.0", hostSideIp, HOST_LOOPBACK_IP];
    await retransmitUntil("the gateway refuses the host's addresses", () => sendCraftedSyns(refused, echo.port), () => denied() >= 2);
    expect(echo.hits).toBe(controlHits); // still only the control's connection(s)
    expect((await reasons()).every((r) => r === "host-loopback" || r === "virtual-subnet")).toBe(true);
  });
});

/** Replaces the guest with a raw client and sends it a TCP SYN to each destination:port. */
async function sendCraftedSyns(destinations: readonly string[], port: number): Promise<void> {
  if (network === undefined) throw new Error("no network");
  await network.guest.close();
  const raw = await connectRawGuest(network.socketPath);
  try {
    for (const [i, destinationIp] of destinations.entries()) {
      const syn = tcpSynFrame({
        sourceMac: GUEST_MAC,
        destinationMac: GATEWAY_MAC,
        sourceIp: GUEST_IP,
        destinationIp,
        sourcePort: 40_000 + i,
        destinationPort: port,
      });
      await raw.write(qemuFrame(syn));
    }
  } finally {
    raw.destroy();
  }
}

/**
 * Sends, then waits for `condition`, sending again (as a TCP client retransmits its SYN)
 * when a round goes unanswered: a crafted SYN is a single unacknowledged frame, and one
 * that a busy machine loses must not fail the test. Three rounds at most.
 */
async function retransmitUntil(what: string, send: () => Promise<void>, condition: () => boolean): Promise<void> {
  const rounds = 3;
  for (let round = 1; round <= rounds; round++) {
    await send();
    try {
      return await eventually(what, condition, { timeoutMs: 3000 });
    } catch (error) {
      if (round === rounds) throw error;
    }
  }
}

describe.skipIf(skipReason !== undefined)("reporting", () => {
  test("each refusal is logged at debug with its destination and reason", async () => {
    const { hostB } = testHosts();
    const guest = await startGuest({ allowNet: [ALLOWED] });
    const logs = captureGvproxyLogs("debug");
    await failureCode(guest.tcpRequest({ host: hostB, port: 7, data: "x", timeoutMs: REFUSAL_TIMEOUT_MS }));
    await failureCode(guest.udpRequest({ host: hostB, port: 9, data: "x", timeoutMs: REFUSAL_TIMEOUT_MS }));
    expect(denied()).toBe(2);
    const lines = denialLines(logs);
    expect(lines.find((l) => l.includes(`tcp ${hostB}:7`))).toContain("no allowNet entry covers");
    expect(lines.find((l) => l.includes(`udp ${hostB}:9`))).toContain("no allowNet entry covers");
  });
});

/** The debug lines reporting refused egress. */
function denialLines(logs: readonly CapturedLog[]): string[] {
  // stats() calls into the library, which drains the log queue first.
  denied();
  return logs.filter((l) => l.type === "debug" && l.message.includes("egress denied")).map((l) => l.message);
}

describe.skipIf(skipReason !== undefined)("setAllowNet on a running network", () => {
  test("a download the new list no longer allows is reset; the time from the call to the reset is reported", async () => {
    const { hostA, hostB } = testHosts();
    const guest = await startGuest({ allowNet: [hostA, hostB] });
    const closes: Array<{ reason?: string; bytesToGuest?: number }> = [];
    network?.backend.on("connection", (e) => {
      if (e.phase === "close") closes.push(e);
    });
    let opened = false;
    network?.backend.on("connection", (e) => {
      if (e.phase === "open" && "ip" in (e.destination ?? {}) && (e.destination as { port: number }).port === 19) opened = true;
    });
    const download = outcome(guest.bulkReceive({ host: hostA, port: 19, timeoutMs: 60_000 }));
    await eventually("the download to start", () => opened, { timeoutMs: 10_000 });
    await Bun.sleep(100); // let bytes flow
    const calledAt = performance.now();
    expect(network?.backend.setAllowNet([hostB])).toBe(1);
    const result = await download;
    const resetAfterMs = performance.now() - calledAt;
    console.log(`setAllowNet -> guest saw the reset after ${resetAfterMs.toFixed(1)} ms`);
    expect(result).toBeInstanceOf(GuestCommandError);
    expect((result as GuestCommandError).code).toBe("CONNECTION_RESET");
    await eventually("the close event", () => closes.length === 1);
    expect(closes[0]?.reason).toBe("policy-changed");
    expect(closes[0]?.bytesToGuest).toBeGreaterThan(0);
    // New flows follow the new list at once; what it still allows keeps working.
    expect(await failureCode(guest.tcpRequest({ host: hostA, port: 7, data: "x", timeoutMs: REFUSAL_TIMEOUT_MS }))).toBe("CONNECTION_REFUSED");
    expect((await guest.tcpRequest({ host: hostB, port: 7, data: "still" })).response).toBe("still");
  });

  test("a live UDP flow the new list no longer allows is closed, with a close event", async () => {
    const { hostA, hostB } = testHosts();
    const guest = await startGuest({ allowNet: [hostA, hostB] });
    const closes: Array<{ protocol?: string; reason?: string; destination?: unknown }> = [];
    network?.backend.on("connection", (e) => {
      if (e.phase === "close") closes.push(e);
    });
    expect((await guest.udpRequest({ host: hostA, port: 7, data: "u" })).response).toBe(`udp ${hostA}:7 u`);
    // The flow stays open (idle timeout 90 s) until the policy cuts it.
    expect(network?.backend.setAllowNet([hostB])).toBe(1);
    await eventually("the flow's close event", () => closes.length === 1);
    expect(closes[0]).toMatchObject({ protocol: "udp", reason: "policy-changed", destination: { ip: hostA, port: 7 } });
    expect(await failureCode(guest.udpRequest({ host: hostA, port: 7, data: "x", timeoutMs: REFUSAL_TIMEOUT_MS }))).toBe("CONNECTION_REFUSED");
  });

  test("a name removed from the list loses its learned addresses; an invalid list changes nothing", async () => {
    const { hostA } = testHosts();
    const guest = await startGuest({ allowNet: [ALLOWED, NEIGHBOUR] });
    await resolvesTo(guest, ALLOWED);
    expect((await guest.tcpRequest({ host: hostA, port: 7, data: "a" })).response).toBe("a");
    expect(() => network?.backend.setAllowNet([ALLOWED, "bad name!"])).toThrow(expect.objectContaining({ code: "INVALID_CONFIG", field: "allowNet[1]" }));
    expect((await guest.tcpRequest({ host: hostA, port: 7, data: "b" })).response).toBe("b");
    network?.backend.setAllowNet([NEIGHBOUR]);
    expect(await failureCode(guest.tcpRequest({ host: hostA, port: 7, data: "x", timeoutMs: REFUSAL_TIMEOUT_MS }))).toBe("CONNECTION_REFUSED");
    // The names still allowed open their address again once resolved.
    await resolvesTo(guest, NEIGHBOUR);
    expect((await guest.tcpRequest({ host: hostA, port: 7, data: "c" })).response).toBe("c");
  });

  test('"none" refuses every egress flow (egress-none) while zones and forwards keep working', async () => {
    const { hostA } = testHosts();
    const guest = await startGuest({});
    expect((await guest.tcpRequest({ host: hostA, port: 7, data: "open" })).response).toBe("open");
    network?.backend.setAllowNet("none");
    expect(await failureCode(guest.tcpRequest({ host: hostA, port: 7, data: "x", timeoutMs: REFUSAL_TIMEOUT_MS }))).toBe("CONNECTION_REFUSED");
    expect(await failureCode(guest.udpRequest({ host: hostA, port: 7, data: "x", timeoutMs: REFUSAL_TIMEOUT_MS }))).toBe("CONNECTION_REFUSED");
    expect(await reasons()).toEqual(["egress-none", "egress-none"]);
    expect(await resolvesTo(guest, ALLOWED)).toEqual([hostA]); // the zone still answers
    await guest.serveTcp(7000, { mode: "echo" });
    const forward = network?.backend.expose([0, 7000]) as { hostPort: number };
    const { tcpExchange } = await import("../support/host-clients.ts");
    expect(await tcpExchange(forward.hostPort, "in through a forward")).toBe("in through a forward");
    network?.backend.setAllowNet([]);
    expect((await guest.tcpRequest({ host: hostA, port: 7, data: "again" })).response).toBe("again");
  });
});
