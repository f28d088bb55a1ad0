/**
 * Ping from the userspace guest (its `ping` command, an ICMP endpoint of its stack): the
 * gateway answers its own address; an echo request beyond it is judged by allowNet like
 * a new flow, sent from the host and answered with the host's reply, or refused with no
 * reply and a denied `connection` event of protocol `icmp`. The kernel guest's busybox
 * ping is test/e2e/kernel-guest-ping.test.ts.
 *
 * Answered pings beyond the gateway need the host to permit the test process ICMP echo
 * (test/support/host-ping.ts); where it does not, those tests are skipped with the
 * reason, and the refusals are still tested.
 */
import { afterAll, afterEach, describe, expect, test } from "bun:test";
import type { ConnectionEvent } from "../../src/index.ts";
import { GATEWAY_IP, HOST_LOOPBACK_IP } from "../../guest/driver.ts";
import { eventually } from "../support/eventually.ts";
import { hostPingUnavailable } from "../support/host-ping.ts";
import { startTestHosts, testHostsUnavailable, type TestHosts } from "../support/netns.ts";
import { startNetwork, type NetworkConfig, type TestNetwork } from "../support/network.ts";
import { makeTempDir } from "../support/paths.ts";

const noHostPing = hostPingUnavailable();
if (noHostPing !== undefined) console.warn(`answered-ping tests skipped: ${noHostPing}`);

// Outside addresses: the test hosts of a network namespace (test/support/netns.ts),
// which the namespace's kernel answers, never real outside addresses.
const PINGABLE_NAME = "ping.test.example";
const noTestHosts = noHostPing ?? testHostsUnavailable();
let hosts: TestHosts | undefined;
if (noTestHosts === undefined) {
  // CI runs as root with iproute2 installed: a failure there is a bug, not a skip.
  hosts = await startTestHosts([PINGABLE_NAME]);
} else {
  console.warn(`ping tests to outside addresses skipped: ${noTestHosts}`);
}
afterAll(async () => {
  await hosts?.close();
});

function testHosts(): TestHosts {
  if (hosts === undefined) throw new Error("test hosts are not running");
  return hosts;
}

/** TEST-NET-1: no entry below covers it. */
const UNLISTED_IP = "192.0.2.1";
/** Long enough for a stack's immediate reply, which is what a refusal must not get. */
const REFUSED_WAIT_MS = 1000;

let network: TestNetwork | undefined;
let events: ConnectionEvent[] = [];

afterEach(async () => {
  await network?.close();
  network = undefined;
  events = [];
});

async function start(config: NetworkConfig): Promise<TestNetwork> {
  network = await startNetwork(config);
  network.backend.on("connection", (e) => void events.push(e));
  await network.guest.dhcp();
  return network;
}

const icmpEvents = (phase: ConnectionEvent["phase"], ip: string) =>
  events.filter((e) => e.protocol === "icmp" && e.phase === phase && e.destination !== undefined && "ip" in e.destination && e.destination.ip === ip);

describe("ping: the gateway", () => {
  test("answers pings to its own address itself, with all egress refused and no event", async () => {
    const n = await start({ allowNet: "none" });
    const r = await n.guest.ping({ host: GATEWAY_IP, count: 2 });
    expect(r).toMatchObject({ sent: 2, received: 2 });
    expect(r.replies.every((reply) => reply.from === GATEWAY_IP && reply.intact)).toBe(true);
    expect(n.backend.stats().policy.denied).toBe(0);
    expect(events.filter((e) => e.protocol === "icmp")).toEqual([]);
  });
});

describe("ping: the host-socket address without host loopback", () => {
  test("is answered by the network itself while a host socket claims it, with no event; not once none does", async () => {
    const tmp = makeTempDir("gvping-");
    try {
      // The socket need not exist: nothing reaches the host, the address is the network's own.
      const n = await start({ hostLoopback: false, allowNet: "none", hostSockets: [{ port: 5000, path: tmp.path("agent.sock") }] });
      const r = await n.guest.ping({ host: HOST_LOOPBACK_IP, count: 2, waitMs: 3000 });
      expect(r).toMatchObject({ sent: 2, received: 2 });
      expect(r.replies.every((reply) => reply.from === HOST_LOOPBACK_IP && reply.intact)).toBe(true);
      expect(n.backend.stats().policy.denied).toBe(0);
      expect(events.filter((e) => e.protocol === "icmp")).toEqual([]);
      expect(n.backend.removeHostSocket(5000)).toBe(true);
      expect(await n.guest.ping({ host: HOST_LOOPBACK_IP, waitMs: REFUSED_WAIT_MS })).toMatchObject({ received: 0 });
    } finally {
      tmp.remove();
    }
  });
});

describe("ping: refused destinations get no reply and a denied event", () => {
  const cases: { name: string; config: NetworkConfig; host: string; reason: ConnectionEvent["reason"] }[] = [
    { name: "an address no entry covers", config: { allowNet: [HOST_LOOPBACK_IP] }, host: UNLISTED_IP, reason: "ip-not-allowed" },
    { name: "an address an entry opens on one port only", config: { allowNet: ["198.51.100.0/24:443"] }, host: "198.51.100.9", reason: "port-not-allowed" },
    { name: "the host loopback address under a CIDR", config: { allowNet: ["192.168.0.0/16"] }, host: HOST_LOOPBACK_IP, reason: "host-loopback" },
    { name: "anything under allowNet none", config: { allowNet: "none" }, host: HOST_LOOPBACK_IP, reason: "egress-none" },
    { name: "a link-local address (cloud metadata)", config: {}, host: "169.254.169.254", reason: "link-local" },
  ];
  for (const c of cases) {
    test(c.name, async () => {
      const n = await start(c.config);
      const r = await n.guest.ping({ host: c.host, waitMs: REFUSED_WAIT_MS });
      expect(r).toMatchObject({ sent: 1, received: 0, replies: [] });
      await eventually("the denied event", () => icmpEvents("denied", c.host).length === 1);
      expect(icmpEvents("denied", c.host)[0]).toMatchObject({ via: "nat", reason: c.reason, source: { ip: "192.168.127.2", port: 0 }, destination: { ip: c.host, port: 0 } });
      expect(n.backend.stats().policy.denied).toBe(1);
      expect(n.backend.guest().connections).toBe(0);
    });
  }

  // In fragments the request is the same request: judged once it is whole, never handed
  // to the stack, whose ICMP would answer any address itself.
  test("a ping larger than the MTU to an address no entry covers, fragmented by the guest", async () => {
    const n = await start({ allowNet: [HOST_LOOPBACK_IP] });
    const r = await n.guest.ping({ host: UNLISTED_IP, payloadBytes: 4000, waitMs: REFUSED_WAIT_MS });
    expect(r).toMatchObject({ sent: 1, received: 0, replies: [] });
    await eventually("the denied event", () => icmpEvents("denied", UNLISTED_IP).length === 1);
    expect(icmpEvents("denied", UNLISTED_IP)[0]).toMatchObject({ reason: "ip-not-allowed" });
    expect(n.backend.stats().policy.denied).toBe(1);
  });
});

describe.skipIf(noHostPing !== undefined)("ping: allowed destinations are answered by the host", () => {
  test("the host loopback address, listed exactly: replies with the data sent, an open and a close each", async () => {
    const n = await start({ allowNet: [HOST_LOOPBACK_IP] });
    const r = await n.guest.ping({ host: HOST_LOOPBACK_IP, count: 3, payloadBytes: 1200, waitMs: 5000 });
    expect(r).toMatchObject({ sent: 3, received: 3 });
    expect(r.replies.map((reply) => [reply.seq, reply.from, reply.bytes, reply.intact])).toEqual([1, 2, 3].map((seq) => [seq, HOST_LOOPBACK_IP, 1200, true]));
    await eventually("three close events", () => icmpEvents("close", HOST_LOOPBACK_IP).length === 3);
    expect(icmpEvents("open", HOST_LOOPBACK_IP)).toHaveLength(3);
    for (const close of icmpEvents("close", HOST_LOOPBACK_IP)) expect(close).toMatchObject({ via: "nat", bytesFromGuest: 1200, bytesToGuest: 1200 });
    expect(n.backend.stats().policy.denied).toBe(0);
    // Each echo request that opened is a flow the guest opened, as its `open` event says.
    expect(n.backend.guest().connections).toBe(3);
  });

  test("a ping larger than the MTU, fragmented by the guest, is answered whole and judged once", async () => {
    const n = await start({ allowNet: [HOST_LOOPBACK_IP] });
    const r = await n.guest.ping({ host: HOST_LOOPBACK_IP, count: 2, payloadBytes: 4000, waitMs: 5000 });
    expect(r).toMatchObject({ sent: 2, received: 2 });
    expect(r.replies.map((reply) => [reply.seq, reply.bytes, reply.intact])).toEqual([[1, 4000, true], [2, 4000, true]]);
    await eventually("two close events", () => icmpEvents("close", HOST_LOOPBACK_IP).length === 2);
    expect(icmpEvents("open", HOST_LOOPBACK_IP)).toHaveLength(2);
    for (const close of icmpEvents("close", HOST_LOOPBACK_IP)) expect(close).toMatchObject({ bytesFromGuest: 4000, bytesToGuest: 4000 });
  });

  test("without allowNet the host loopback address answers", async () => {
    const n = await start({});
    expect(await n.guest.ping({ host: HOST_LOOPBACK_IP, waitMs: 5000 })).toMatchObject({ sent: 1, received: 1 });
  });

  test("setAllowNet opens and closes ping for the next request", async () => {
    const n = await start({ allowNet: ["198.51.100.1"] });
    expect(await n.guest.ping({ host: HOST_LOOPBACK_IP, waitMs: REFUSED_WAIT_MS })).toMatchObject({ received: 0 });
    n.backend.setAllowNet([HOST_LOOPBACK_IP]);
    expect(await n.guest.ping({ host: HOST_LOOPBACK_IP, waitMs: 5000 })).toMatchObject({ received: 1 });
    n.backend.setAllowNet([`${HOST_LOOPBACK_IP}:22`]);
    expect(await n.guest.ping({ host: HOST_LOOPBACK_IP, waitMs: REFUSED_WAIT_MS })).toMatchObject({ received: 0 });
    await eventually("two denials", () => icmpEvents("denied", HOST_LOOPBACK_IP).length === 2);
    expect(icmpEvents("denied", HOST_LOOPBACK_IP).map((e) => e.reason)).toEqual(["ip-not-allowed", "port-not-allowed"]);
  });
});

// Where the host permits no ICMP echo, an allowed ping is a failed connect, never silence
// (libgvproxy/internal/network/icmp_test.go simulates such a host everywhere).
describe.skipIf(noHostPing === undefined)("ping: a host that permits no ICMP echo", () => {
  test("an allowed ping gets no reply and a connect-failed close saying why", async () => {
    const n = await start({ allowNet: [HOST_LOOPBACK_IP] });
    expect(await n.guest.ping({ host: HOST_LOOPBACK_IP, waitMs: REFUSED_WAIT_MS })).toMatchObject({ received: 0 });
    await eventually("the failed ping's close", () => icmpEvents("close", HOST_LOOPBACK_IP).length === 1);
    expect(icmpEvents("close", HOST_LOOPBACK_IP)[0]).toMatchObject({ reason: "connect-failed", detail: expect.stringContaining("CAP_NET_RAW"), bytesToGuest: 0 });
    expect(icmpEvents("open", HOST_LOOPBACK_IP)).toEqual([]);
  });
});

describe.skipIf(noTestHosts !== undefined)("ping: outside addresses", () => {
  test("an address a CIDR entry opens answers from itself; an address it does not cover is refused", async () => {
    const { hostA, hostB } = testHosts();
    const n = await start({ allowNet: [`${hostA}/32`] });
    const r = await n.guest.ping({ host: hostA, count: 2, waitMs: 5000 });
    expect(r.replies.map((reply) => [reply.from, reply.intact])).toEqual([[hostA, true], [hostA, true]]);
    expect(await n.guest.ping({ host: hostB, waitMs: REFUSED_WAIT_MS })).toMatchObject({ received: 0 });
    await eventually("the denial of hostB", () => icmpEvents("denied", hostB).length === 1);
    expect(icmpEvents("denied", hostB)[0]?.reason).toBe("ip-not-allowed");
    expect(icmpEvents("close", hostA)).toHaveLength(2);
  });

  test("an allowed name without a port opens ping to the address it resolved to; with a port it does not", async () => {
    const { hostA } = testHosts();
    const zone = { dnsZones: [{ name: "test.example.", records: [{ name: "ping", ip: hostA }] }] };
    let n = await start({ ...zone, allowNet: [PINGABLE_NAME] });
    expect(await n.guest.ping({ host: hostA, waitMs: REFUSED_WAIT_MS })).toMatchObject({ received: 0 });
    expect((await n.guest.resolve(PINGABLE_NAME)).addresses).toEqual([hostA]);
    expect(await n.guest.ping({ host: hostA, waitMs: 5000 })).toMatchObject({ received: 1 });
    await eventually("the close event", () => icmpEvents("close", hostA).length === 1);
    expect(icmpEvents("close", hostA)[0]?.name).toBe(PINGABLE_NAME);
    await n.close();
    events = [];

    n = await start({ ...zone, allowNet: [`${PINGABLE_NAME}:443`] });
    expect((await n.guest.resolve(PINGABLE_NAME)).addresses).toEqual([hostA]);
    expect(await n.guest.ping({ host: hostA, waitMs: REFUSED_WAIT_MS })).toMatchObject({ received: 0 });
    await eventually("the denial", () => icmpEvents("denied", hostA).length === 1);
    expect(icmpEvents("denied", hostA)[0]?.reason).toBe("port-not-allowed");
  });
});
