/**
 * `bun examples/demo.ts --vm=qemu`: the demo with a real VM. A gvisor-tap-vsock network
 * runs in this process; a QEMU guest (Debian kernel + busybox) attaches to it, takes a
 * DHCP lease, resolves a name of a DNS zone, fetches a page from a host server through
 * the NAT and serves a page the host fetches through a port forward. Then everything is
 * torn down.
 */
import { consola } from "consola";
import { colors } from "consola/utils";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { GvisorTapBackend } from "../../src/index.ts";
import { qemuAvailable } from "./requirements.ts";
import { startQemuGuest, type QemuGuest, type TimedGuestEvent } from "./qemu-guest.ts";

/** The host's loopback as the guest sees it (hostLoopback, DESIGN.md). */
const HOST_LOOPBACK_IP = "192.168.127.254";
const ZONE = { name: "demo.internal.", records: [{ name: "db", ip: "192.168.127.50" }] };
const GUEST_HTTP_PORT = 80;


function describeEvent(event: TimedGuestEvent): string {
  const at = colors.dim(`+${(event.atMs / 1000).toFixed(1)}s`);
  switch (event.kind) {
    case "boot":
      return `${at} guest kernel ${event.kernel} is up`;
    case "lease":
      return `${at} DHCP lease ${event.ip} mask ${event.mask}, router ${event.router}, DNS ${event.dns}`;
    case "dns":
      return `${at} DNS ${event.name} -> ${event.ip}`;
    case "fetch":
      return `${at} guest GET ${event.url} -> ${JSON.stringify(event.body)}`;
    case "ready":
      return `${at} guest httpd serving on port ${event.port}`;
    case "error":
      return `${at} guest step ${event.step} FAILED: ${event.message}`;
    case "shutdown":
      return `${at} guest powering off`;
  }
}

/** Runs the QEMU demo; exits the process with 1 and the reason when QEMU cannot run here. */
export async function runQemuDemo(): Promise<void> {
  const availability = qemuAvailable();
  if (!availability.available) {
    consola.error(`the QEMU demo cannot run here:\n  - ${availability.missing.join("\n  - ")}`);
    process.exit(1);
  }
  const started = performance.now();
  const workdir = mkdtempSync(join(tmpdir(), "gvqemu-"));
  const socketPath = join(workdir, "net.sock");
  const hostHttp = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: () => new Response("hello-from-the-host\n") });
  let backend: GvisorTapBackend | undefined;
  let guest: QemuGuest | undefined;
  try {
    backend = new GvisorTapBackend({ socketPath, portMappings: [[0, GUEST_HTTP_PORT]], dnsZones: [ZONE] });
    // hostPort 0: the OS picks a free port; the resolved config says which one it bound.
    const forwardPort = backend.instance.config.portMappings.find((m) => m.guestPort === GUEST_HTTP_PORT)?.hostPort;
    if (forwardPort === undefined) throw new Error("the network lists no forward to the guest's HTTP port");
    consola.info(`network on ${socketPath}; forward 127.0.0.1:${forwardPort} -> guest:${GUEST_HTTP_PORT}`);
    guest = await startQemuGuest(backend, {
      lookup: `db.${ZONE.name.slice(0, -1)}`,
      fetchUrl: `http://${HOST_LOOPBACK_IP}:${hostHttp.port}/`,
      page: "hello-from-the-qemu-guest",
      onEvent: (event) => (event.kind === "error" ? consola.error : consola.success)(describeEvent(event)),
      onAcceleratorFallback: (reason) => consola.warn(reason),
    });
    consola.info(`QEMU pid ${guest.pid} booting (${guest.accel})`);
    await guest.ready();
    const response = await fetch(`http://127.0.0.1:${forwardPort}/`);
    consola.success(`host GET http://127.0.0.1:${forwardPort}/ -> ${response.status} ${JSON.stringify((await response.text()).trim())}`);
    const stats = backend.stats();
    consola.info(`network stats: ${stats.bytesSent} bytes sent, ${stats.bytesReceived} received, ${stats.tcp.currentEstablished} TCP established`);
    const exit = await guest.stop();
    guest = undefined;
    consola.info(`QEMU exited with code ${exit.exitCode}${exit.clean ? " (clean poweroff)" : ""}`);
    backend.close();
    backend = undefined;
    consola.success(`network destroyed; socket ${existsSync(socketPath) ? "still present (unexpected)" : "removed"}`);
    consola.box({ title: "done", message: `QEMU demo finished in ${((performance.now() - started) / 1000).toFixed(1)} s`, style: { borderColor: "green" } });
  } finally {
    await guest?.stop();
    backend?.close();
    void hostHttp.stop(true);
    rmSync(workdir, { recursive: true, force: true });
  }
}
