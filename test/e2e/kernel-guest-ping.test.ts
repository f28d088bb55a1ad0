/**
 * Ping from the Linux kernel as the guest (busybox ping in the kernel guest's namespace):
 * the gateway answers its own address; beyond it, an echo request is judged by allowNet
 * like a new flow, sent from the host and answered with the host's reply, or refused
 * with no reply and a denied `connection` event of protocol `icmp`.
 *
 * Skipped like the other kernel-guest suites without root, iproute2, busybox or the
 * relay (root also gives the network the raw ICMP socket it falls back to when ping
 * sockets are not permitted).
 */
import { afterEach, describe, expect, test } from "bun:test";
import { GvisorTapBackend, type ConnectionEvent, type GvproxyConfig } from "../../src/index.ts";
import { kernelGuestSkipReason, startKernelGuest, type KernelGuest } from "../support/kernel-guest.ts";
import { makeTempDir, type TempDir } from "../support/paths.ts";
import { eventually } from "../support/eventually.ts";

const skipReason = kernelGuestSkipReason();
if (skipReason !== undefined) console.warn(`kernel-guest ping tests skipped: ${skipReason}`);

const GATEWAY_IP = "192.168.127.1";
const HOST_LOOPBACK_IP = "192.168.127.254";
/** TEST-NET-1: no allowNet entry below covers it, and nothing there would answer anyway. */
const UNLISTED_IP = "192.0.2.1";

let backend: GvisorTapBackend | undefined;
let guest: KernelGuest | undefined;
let tmp: TempDir | undefined;
let events: ConnectionEvent[] = [];

afterEach(async () => {
  await guest?.close();
  backend?.close();
  tmp?.remove();
  guest = backend = tmp = undefined;
  events = [];
});

async function start(config: Omit<GvproxyConfig, "socketPath">): Promise<KernelGuest> {
  tmp = makeTempDir("gvk-");
  const socketPath = tmp.path("net.sock");
  backend = new GvisorTapBackend({ ...config, socketPath });
  backend.on("connection", (e) => void events.push(e));
  const endpoint = backend.endpoint();
  guest = await startKernelGuest({
    socketPath,
    protocol: endpoint.connectionType === "unix-dgram" ? "vfkit" : "qemu",
    mac: endpoint.macAddress,
  });
  await guest.lease();
  return guest;
}

/** busybox ping: `count` echo requests, each waited for at most `waitS` seconds (ping's own bound). */
async function ping(g: KernelGuest, ip: string, count: number, waitS: number): Promise<string> {
  const r = await g.exec(["busybox", "ping", "-c", String(count), "-W", String(waitS), ip]);
  return r.stdout;
}

const icmpTo = (ip: string, phase: ConnectionEvent["phase"]) => (e: ConnectionEvent) =>
  e.protocol === "icmp" && e.phase === phase && e.destination !== undefined && "ip" in e.destination && e.destination.ip === ip;

describe.skipIf(skipReason !== undefined)("kernel guest: ping", () => {
  test("the gateway answers pings to its own address, even with all egress refused", async () => {
    const g = await start({ allowNet: "none" });
    expect(await ping(g, GATEWAY_IP, 2, 3)).toContain("2 packets received");
    expect(backend?.stats().policy.denied).toBe(0);
  });

  test("a ping to the host loopback address is answered by the host, with open and close events", async () => {
    const g = await start({ allowNet: [HOST_LOOPBACK_IP] });
    expect(await ping(g, HOST_LOOPBACK_IP, 3, 3)).toContain("3 packets received");
    await eventually("three icmp close events", () => events.filter(icmpTo(HOST_LOOPBACK_IP, "close")).length === 3);
    expect(events.filter(icmpTo(HOST_LOOPBACK_IP, "open"))).toHaveLength(3);
    for (const close of events.filter(icmpTo(HOST_LOOPBACK_IP, "close"))) {
      expect(close).toMatchObject({ via: "nat", bytesFromGuest: 56, bytesToGuest: 56 }); // busybox's 56-byte payload
    }
  });

  test("a ping larger than the MTU, which the kernel sends in fragments, is answered whole", async () => {
    const g = await start({ allowNet: [HOST_LOOPBACK_IP] });
    const r = await g.exec(["busybox", "ping", "-c", "2", "-W", "3", "-s", "4000", HOST_LOOPBACK_IP]);
    expect(r.stdout).toContain("2 packets received");
    await eventually("two icmp close events", () => events.filter(icmpTo(HOST_LOOPBACK_IP, "close")).length === 2);
    for (const close of events.filter(icmpTo(HOST_LOOPBACK_IP, "close"))) expect(close).toMatchObject({ bytesFromGuest: 4000, bytesToGuest: 4000 });
  });

  test("a ping to an address allowNet does not open gets no reply and a denied event", async () => {
    const g = await start({ allowNet: [HOST_LOOPBACK_IP, "198.51.100.0/24:443"] });
    expect(await ping(g, UNLISTED_IP, 1, 1)).toContain("0 packets received");
    expect(await ping(g, "198.51.100.9", 1, 1)).toContain("0 packets received");
    await eventually("two icmp denials", () => events.filter((e) => e.protocol === "icmp" && e.phase === "denied").length === 2);
    expect(events.find(icmpTo(UNLISTED_IP, "denied"))).toMatchObject({ via: "nat", reason: "ip-not-allowed" });
    expect(events.find(icmpTo("198.51.100.9", "denied"))).toMatchObject({ via: "nat", reason: "port-not-allowed" });
    expect(backend?.stats().policy.denied).toBe(2);
    expect(events.some((e) => e.protocol === "icmp" && e.phase === "open")).toBe(false);
  });

  test("without allowNet a ping to the host loopback address is answered", async () => {
    const g = await start({});
    expect(await ping(g, HOST_LOOPBACK_IP, 1, 3)).toContain("1 packets received");
  });
});
