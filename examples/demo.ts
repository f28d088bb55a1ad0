/**
 * `make demo`: brings up a gvisor-tap-vsock network inside this Bun process, attaches a
 * VM to it and shows what the VM sees: its DHCP lease, DNS answers, traffic both ways
 * (guest -> host HTTP through the NAT, host -> guest through a port forward), the live
 * stats and gvproxy's own log lines; then tears everything down and exits 0.
 *
 *   bun examples/demo.ts --vm=userspace   # the userspace guest (build/gvguest), default
 *   bun examples/demo.ts --vm=qemu        # a QEMU microVM, via examples/qemu/vm.ts
 */
import { consola } from "consola";
import { colors } from "consola/utils";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

// gvproxy's log lines are part of the show; respect a level the user chose.
process.env.GVPROXY_LOG_LEVEL ??= "debug";

const { GvisorTapBackend, GvproxyInstance, setGvproxyLogger } = await import("../src/index.ts");
type Backend = InstanceType<typeof GvisorTapBackend>;
const { GuestCommandError, HOST_LOOPBACK_IP, startGuest } = await import("../guest/driver.ts");
type Guest = Awaited<ReturnType<typeof startGuest>>;
type Lease = Awaited<ReturnType<Guest["dhcp"]>>;

/** The guest port the forward points at, and the DNS zone the gateway serves. */
const GUEST_HTTP_PORT = 80;
const DEMO_ZONE = {
  name: "demo.internal.",
  records: [
    { name: "db", ip: "192.168.127.50" },
    { name: "api", ip: "192.168.127.51" },
  ],
};

type VmKind = "userspace" | "qemu";

function parseVmKind(argv: readonly string[]): VmKind {
  const flag = argv.find((a) => a.startsWith("--vm="));
  const value = flag === undefined ? "userspace" : flag.slice("--vm=".length);
  if (value !== "userspace" && value !== "qemu") {
    consola.error(`unknown --vm=${value}; use --vm=userspace or --vm=qemu`);
    process.exit(2);
  }
  return value;
}

/**
 * gvproxy's log lines are queued on the Go side and delivered after each call into the
 * library; a cheap call right after a step prints that step's lines under its heading.
 */
function flushGvproxyLogs(backend: Backend): void {
  backend.stats();
}

function section(title: string): void {
  consola.log("");
  consola.log(colors.bold(colors.cyan(`── ${title} ${"─".repeat(Math.max(0, 60 - title.length))}`)));
}

function table(rows: ReadonlyArray<readonly [string, string]>): string {
  const width = Math.max(...rows.map(([k]) => k.length));
  return rows.map(([k, v]) => `${colors.dim(k.padEnd(width))}  ${v}`).join("\n");
}

/** Lets the network notice the VM is gone (as after a power-off) before destroying it. */
async function waitForGuestGone(backend: Backend): Promise<void> {
  for (let i = 0; i < 100 && backend.stats().guest.connected; i++) await Bun.sleep(20);
}

function showLease(lease: Lease): void {
  consola.box({
    title: "DHCP lease",
    message: table([
      ["address", `${lease.ip}/${lease.prefixLength}`],
      ["router", lease.router],
      ["DNS", lease.dnsServers.join(", ")],
      ["MTU", `${lease.mtu} (NIC set to ${lease.linkMtu})`],
      ["search", lease.searchDomains.join(", ") || "-"],
      ["lease time", `${lease.leaseTimeSeconds} s`],
    ]),
    style: { borderColor: "green" },
  });
}

function showStats(backend: Backend): void {
  const s = backend.stats();
  consola.box({
    title: "network stats",
    message: table([
      ["bytes sent", s.bytesSent.toLocaleString()],
      ["bytes received", s.bytesReceived.toLocaleString()],
      ["TCP established", String(s.tcp.currentEstablished)],
      ["TCP failed", String(s.tcp.failedConnectionAttempts)],
      ["retransmits", String(s.tcp.retransmits)],
      ["guest", s.guest ? `${s.guest.connected ? "connected" : "gone"}, ${s.guest.connections} connection(s)` : "-"],
    ]),
    style: { borderColor: "magenta" },
  });
}

async function showDns(guest: Guest): Promise<void> {
  const db = await guest.resolve("db.demo.internal");
  consola.success(`db.demo.internal   ${colors.dim("(zone, UDP)")}  -> ${db.addresses.join(", ")}`);
  const api = await guest.resolve("api.demo.internal", { transport: "tcp" });
  consola.success(`api.demo.internal  ${colors.dim("(zone, TCP)")}  -> ${api.addresses.join(", ")}`);
  try {
    await guest.resolve("nowhere.demo.internal");
    consola.warn("nowhere.demo.internal unexpectedly resolved");
  } catch (error) {
    if (!(error instanceof GuestCommandError) || error.code !== "NXDOMAIN") throw error;
    consola.success(`nowhere.demo.internal ${colors.dim("(zone)")}     -> NXDOMAIN`);
  }
}

async function runUserspaceDemo(): Promise<void> {
  const started = performance.now();
  const workdir = mkdtempSync(join(tmpdir(), "gvdemo-"));
  const socketPath = join(workdir, "net.sock");
  const hostHttp = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    fetch: (req) => new Response(`hello from the host, you asked for ${new URL(req.url).pathname}\n`),
  });
  let backend: Backend | undefined;
  let guest: Guest | undefined;
  try {
    section("network");
    backend = new GvisorTapBackend({
      socketPath,
      portMappings: [[0, GUEST_HTTP_PORT]],
      dnsZones: [DEMO_ZONE],
      dnsSearchDomains: ["demo.internal"],
    });
    // hostPort 0: the OS picks a free port; the resolved config says which one it bound.
    const forwardPort = backend.instance.config.portMappings.find((m) => m.guestPort === GUEST_HTTP_PORT)?.hostPort;
    if (forwardPort === undefined) throw new Error("the network lists no forward to the guest's HTTP port");
    const endpoint = backend.endpoint();
    consola.info(
      `gvisor-tap-vsock ${GvproxyInstance.version()} listening on ${endpoint.path} (${endpoint.connectionType}), ` +
        `forward 127.0.0.1:${forwardPort} -> guest:${GUEST_HTTP_PORT}`,
    );

    section("guest boots");
    guest = await startGuest({ socketPath, protocol: endpoint.connectionType === "unix-dgram" ? "vfkit" : "qemu", mac: endpoint.macAddress });
    consola.info(`userspace guest (gVisor netstack) pid ${guest.pid} connected as ${endpoint.macAddress}`);
    const lease = await guest.dhcp();
    flushGvproxyLogs(backend);
    showLease(lease);

    section("DNS through the gateway");
    await showDns(guest);
    flushGvproxyLogs(backend);

    section("guest -> host (NAT via 192.168.127.254)");
    const url = `http://${HOST_LOOPBACK_IP}:${hostHttp.port}/from-the-guest`;
    const fromHost = await guest.httpGet(url);
    flushGvproxyLogs(backend);
    consola.success(`guest GET ${url} -> ${fromHost.status} ${JSON.stringify(fromHost.body.trim())}`);

    section("host -> guest (port forward)");
    await guest.serveTcp(GUEST_HTTP_PORT, { mode: "http", body: "hello from inside the guest\n" });
    const response = await fetch(`http://127.0.0.1:${forwardPort}/`);
    flushGvproxyLogs(backend);
    consola.success(`host GET http://127.0.0.1:${forwardPort}/ -> ${response.status} ${JSON.stringify((await response.text()).trim())}`);

    section("live stats");
    showStats(backend);

    section("teardown");
    consola.info(`guest exited with code ${await guest.close()}`);
    guest = undefined;
    await waitForGuestGone(backend);
    backend.close();
    consola.success(`network destroyed; socket ${existsSync(socketPath) ? "still present (unexpected)" : "removed"}`);
    backend = undefined;
    consola.box({
      title: "done",
      message: `userspace demo finished in ${((performance.now() - started) / 1000).toFixed(2)} s`,
      style: { borderColor: "green" },
    });
  } finally {
    await guest?.close();
    backend?.close();
    void hostHttp.stop(true);
    rmSync(workdir, { recursive: true, force: true });
  }
}

/** The QEMU engineer's module; its default export (or `runQemuDemo`) runs the VM demo. */
interface QemuDemoModule {
  readonly default?: () => Promise<void>;
  readonly runQemuDemo?: () => Promise<void>;
}

async function runQemuDemo(): Promise<void> {
  const modulePath = join(import.meta.dir, "qemu", "vm.ts");
  if (!existsSync(modulePath)) {
    consola.error(`--vm=qemu needs ${modulePath}, which is not there (the QEMU example is not in this checkout). Use --vm=userspace.`);
    process.exit(1);
  }
  const mod = (await import(modulePath)) as QemuDemoModule;
  const run = mod.runQemuDemo ?? mod.default;
  if (run === undefined) {
    consola.error(`${modulePath} exports neither runQemuDemo() nor a default function`);
    process.exit(1);
  }
  await run();
}

setGvproxyLogger(consola);
consola.box({
  title: "bun-gvproxy",
  message: "gvisor-tap-vsock in-process: DHCP, DNS, NAT and port forwarding for a VM",
  style: { borderColor: "cyan" },
});
const kind = parseVmKind(process.argv.slice(2));
try {
  if (kind === "qemu") await runQemuDemo();
  else await runUserspaceDemo();
} catch (error) {
  consola.error(error);
  process.exit(1);
}
