/**
 * The end-to-end suite's main cases with the Linux kernel as the guest: a network
 * namespace whose TAP device test/support/kernel-guest.ts relays to the backend's socket.
 * Real programs are the guest programs (busybox udhcpc, nslookup, httpd; curl), so the
 * link meets a real stack's behaviour: ARP, TCP options, window scaling, retransmits.
 *
 * Skipped with a message without root, iproute2, busybox or the relay; under CI a missing
 * prerequisite fails the suite instead (kernelGuestSkipReason).
 */
import { afterAll, afterEach, describe, expect, test } from "bun:test";
import { GvisorTapBackend, type GvproxyConfig } from "../../src/index.ts";
import { forwardedPort } from "../support/host-clients.ts";
import { kernelGuestSkipReason, startKernelGuest, type KernelGuest } from "../support/kernel-guest.ts";
import { startTestHosts, testHostsUnavailable, type TestHosts } from "../support/netns.ts";
import { makeTempDir, type TempDir } from "../support/paths.ts";
import { poll } from "../support/eventually.ts";

const skipReason = kernelGuestSkipReason() ?? (Bun.which("curl") === null ? "curl is not installed" : undefined);
if (skipReason !== undefined) console.warn(`kernel-guest end-to-end tests skipped: ${skipReason}`);

const HOST_LOOPBACK_IP = "192.168.127.254";
const ALLOWED = "api.test.example";

let backend: GvisorTapBackend | undefined;
let guest: KernelGuest | undefined;
let tmp: TempDir | undefined;
let hosts: TestHosts | undefined;

afterEach(async () => {
  await guest?.close();
  backend?.close();
  tmp?.remove();
  guest = backend = tmp = undefined;
});
afterAll(async () => {
  await hosts?.close();
});

/** A backend with `config`, a kernel guest on it, and (unless `lease` is false) its lease. */
async function start(config: Omit<GvproxyConfig, "socketPath"> = {}, lease = true): Promise<KernelGuest> {
  tmp = makeTempDir("gvk-");
  const socketPath = tmp.path("net.sock");
  backend = new GvisorTapBackend({ ...config, socketPath });
  const endpoint = backend.endpoint();
  guest = await startKernelGuest({
    socketPath,
    protocol: endpoint.connectionType === "unix-dgram" ? "vfkit" : "qemu",
    mac: endpoint.macAddress,
  });
  if (lease) await guest.lease();
  return guest;
}

/** Runs curl in the guest; returns its body, or the curl exit code when it failed. */
async function curl(g: KernelGuest, ...args: string[]): Promise<{ code: number; body: string }> {
  const r = await g.exec(["curl", "-sS", "--max-time", "5", ...args]);
  return { code: r.exitCode, body: r.stdout };
}

describe.skipIf(skipReason !== undefined)("kernel guest: lease and DNS", () => {
  test("udhcpc gets the default lease: address, router, DNS, MTU", async () => {
    const g = await start({}, false);
    const lease = await g.lease();
    expect(lease).toMatchObject({ ip: "192.168.127.2", prefixLength: 24, router: "192.168.127.1", dnsServers: ["192.168.127.1"], mtu: 1500 });
    expect(lease.leaseTimeSeconds).toBeGreaterThan(0);
    expect((await g.exec(["ip", "-4", "addr", "show", g.device])).stdout).toContain("192.168.127.2/24");
  });

  test("the lease's MTU option sets the kernel's interface MTU", async () => {
    const g = await start({ mtu: 9000, subnet: "10.77.0.0/24", gatewayIp: "10.77.0.1", guestIp: "10.77.0.9" });
    expect((await g.exec(["ip", "link", "show", g.device])).stdout).toContain("mtu 9000");
    expect((await g.exec(["ip", "-4", "addr", "show", g.device])).stdout).toContain("10.77.0.9/24");
    // A jumbo ping crosses the link whole (ICMP echo of 8,000 bytes to the gateway).
    const ping = await g.exec(["busybox", "ping", "-c", "1", "-W", "3", "-s", "8000", "10.77.0.1"]);
    expect(ping.stdout).toContain("1 packets received");
  });

  test("vfkit datagrams carry the same lease", async () => {
    const g = await start({ protocol: "vfkit" }, false);
    expect((await g.lease()).ip).toBe("192.168.127.2");
  });

  test("the gateway DNS answers zone records and NXDOMAIN to the kernel's resolver", async () => {
    const g = await start({ dnsZones: [{ name: "box.internal.", records: [{ name: "db", ip: "192.168.127.50" }] }] });
    const found = await g.exec(["busybox", "nslookup", "db.box.internal", "192.168.127.1"]);
    expect(found.stdout).toContain("192.168.127.50");
    const missing = await g.exec(["busybox", "nslookup", "nope.box.internal", "192.168.127.1"]);
    expect(missing.stdout + missing.stderr).toMatch(/NXDOMAIN|can't find/);
  });
});

describe.skipIf(skipReason !== undefined)("kernel guest: NAT and forwards", () => {
  test("curl reaches a host server through the NAT to the host's loopback", async () => {
    using server = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: (req) => new Response(`hello ${req.method}`) });
    const g = await start();
    expect(await curl(g, `http://${HOST_LOOPBACK_IP}:${server.port}/`)).toEqual({ code: 0, body: "hello GET" });
  });

  test("a 32 MiB upload through the NAT arrives whole (windows, offloads, retransmits of a real stack)", async () => {
    let received = 0;
    using server = Bun.serve({
      hostname: "127.0.0.1",
      port: 0,
      async fetch(req) {
        for await (const chunk of req.body ?? []) received += chunk.byteLength;
        return new Response(String(received));
      },
    });
    const g = await start();
    const r = await g.exec(["sh", "-c", `head -c 33554432 /dev/zero | curl -sS --max-time 30 -T - http://${HOST_LOOPBACK_IP}:${server.port}/up`]);
    expect(r.exitCode).toBe(0);
    expect(Number(r.stdout)).toBe(32 * 1024 * 1024);
  });

  test("a port forward reaches a server run by the guest kernel", async () => {
    const g = await start({ portMappings: [[0, 8080]] });
    const hostPort = forwardedPort(backend!, 8080);
    const root = tmp!.path("www");
    await Bun.write(`${root}/index.html`, "served by the kernel guest");
    const httpd = g.spawn(["busybox", "httpd", "-f", "-p", "8080", "-h", root]);
    // Wait on the condition (the guest server listening), never on a fixed delay.
    let body = "";
    const fetchBody = () => fetch(`http://127.0.0.1:${hostPort}/index.html`).then((r) => (r.ok ? r.text() : ""), () => "");
    await poll(async () => (body = await fetchBody()) !== "", { timeoutMs: 5000, intervalMs: 100 });
    expect(body).toBe("served by the kernel guest");
    httpd.kill();
  });
});

const hostsSkip = skipReason ?? testHostsUnavailable();
describe.skipIf(hostsSkip !== undefined)("kernel guest: egress bypasses", () => {
  async function startFiltered(): Promise<{ g: KernelGuest; h: TestHosts }> {
    hosts ??= await startTestHosts([ALLOWED]);
    const h = hosts;
    const g = await start({
      dnsZones: [{ name: "test.example.", records: [{ name: "api", ip: h.hostA }], defaultIp: h.hostB }],
      allowNet: [ALLOWED],
    });
    return { g, h };
  }

  test("an allowed name works by name from the kernel's resolver", async () => {
    const { g, h } = await startFiltered();
    expect(await curl(g, `http://${ALLOWED}/`)).toEqual({ code: 0, body: `http ${h.hostA} host=${ALLOWED}` });
  });

  test("an IP literal no allowed name resolved to is refused", async () => {
    const { g, h } = await startFiltered();
    const r = await curl(g, `http://${h.hostB}/`);
    expect(r.code).not.toBe(0);
    expect(r.body).toBe("");
  });

  test("the allowed address with another Host header is cut before the server answers", async () => {
    const { g, h } = await startFiltered();
    const r = await curl(g, "-H", "Host: other.test.example", `http://${h.hostA}/`);
    expect(r.body).not.toContain("http ");
  });

  test("a DNS server of the guest's choosing is unreachable", async () => {
    const { g, h } = await startFiltered();
    // That resolver answers TXT with "foreign-dns <ip>" for any name (netns-host-server.ts).
    const r = await g.exec(["busybox", "timeout", "3", "busybox", "nslookup", "-type=txt", "anything.example", h.hostB]);
    expect(r.exitCode).not.toBe(0);
    expect(r.stdout + r.stderr).not.toContain("foreign-dns");
  }, 15_000);

  test("the host's loopback is refused under a filter that does not name it", async () => {
    using server = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: () => new Response("host secret") });
    const { g } = await startFiltered();
    const r = await curl(g, `http://${HOST_LOOPBACK_IP}:${server.port}/`);
    expect(r.code).not.toBe(0);
    expect(r.body).not.toContain("host secret");
  });
});
