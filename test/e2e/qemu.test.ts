/**
 * A real VM on the in-process network: QEMU boots a Debian kernel with a busybox
 * initramfs (examples/qemu) whose virtio NIC is attached to a GvisorTapBackend. The
 * guest's own tools do the work (udhcpc, nslookup, wget, httpd) and report on the serial
 * console; the host checks each result against what it configured.
 *
 * Needs qemu-system-x86_64, a Debian kernel (linux-image-amd64) and busybox-static. When
 * they are missing the suite is skipped with the reason, except in CI (CI=true), where
 * it fails: CI installs them (.ci/run), so their absence is a broken setup.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync } from "node:fs";
import { qemuAvailable, startQemuGuest, type GuestReport, type QemuExit, type QemuGuest } from "../../examples/qemu/vm.ts";
import { GvisorTapBackend } from "../../src/index.ts";
import { HOST_LOOPBACK_IP } from "../../guest/driver.ts";
import { forwardedPort } from "../support/host-clients.ts";
import { startHttpServer, type HostServer } from "../support/host-servers.ts";
import { makeTempDir, type TempDir } from "../support/paths.ts";

const availability = qemuAvailable();
const mustRun = process.env.CI === "true";
const skip = !availability.available && !mustRun;
const skipNote = skip ? ` (skipped: ${availability.missing.join("; ")})` : "";
if (skip) console.warn(`qemu.test.ts skipped: ${availability.missing.join("; ")}`);

/** Not the default .2, so a lease can only match if the backend's config reached DHCP. */
const GUEST_IP = "192.168.127.9";
const GATEWAY_IP = "192.168.127.1";
const ZONE = "vm.internal.";
const RECORD = { name: "db", ip: "192.168.127.61" };
const GUEST_HTTP_PORT = 80;
/** Hang guard for boot to GUEST-READY; a TCG boot on a busy 2-core machine takes ~10-30 s. */
const BOOT_GUARD_MS = 240_000;

interface RunningVm {
  readonly tmp: TempDir;
  readonly backend: GvisorTapBackend;
  readonly hostServer: HostServer;
  readonly hostPage: string;
  readonly guestPage: string;
  readonly forwardPort: number;
  readonly guest: QemuGuest;
  readonly report: GuestReport;
}

let vm: RunningVm | undefined;
let exit: QemuExit | undefined;

function running(): RunningVm {
  if (vm === undefined) throw new Error("the VM did not start (see the beforeAll error)");
  return vm;
}

describe.skipIf(skip)(`a QEMU microVM on a GvisorTapBackend${skipNote}`, () => {
  beforeAll(async () => {
    // In CI a missing prerequisite fails here, naming every missing package.
    expect(availability.missing).toEqual([]);
    const tmp = makeTempDir("gvq-");
    const token = crypto.randomUUID().slice(0, 8);
    const hostPage = `host-page-${token}`;
    const guestPage = `guest-page-${token}`;
    const hostServer = startHttpServer(`${hostPage}\n`);
    let backend: GvisorTapBackend | undefined;
    let guest: QemuGuest | undefined;
    try {
      backend = new GvisorTapBackend({
        socketPath: tmp.path("net.sock"),
        guestIp: GUEST_IP,
        portMappings: [[0, GUEST_HTTP_PORT]],
        dnsZones: [{ name: ZONE, records: [RECORD] }],
      });
      const forwardPort = forwardedPort(backend, GUEST_HTTP_PORT);
      guest = await startQemuGuest(backend, {
        lookup: `${RECORD.name}.${ZONE.slice(0, -1)}`,
        fetchUrl: `http://${HOST_LOOPBACK_IP}:${hostServer.port}/`,
        page: guestPage,
        onAcceleratorFallback: (reason) => console.warn(reason.split("\n")[0]),
      });
      vm = { tmp, backend, hostServer, hostPage, guestPage, forwardPort, guest, report: await guest.ready(BOOT_GUARD_MS) };
      // A figure for the log, not an assertion (speed is measured in bench/).
      console.info(`qemu.test.ts: ${guest.accel} boot to GUEST-READY in ${vm.report.ready.atMs} ms`);
    } catch (error) {
      await guest?.stop();
      backend?.close();
      hostServer.close();
      tmp.remove();
      throw error;
    }
  }, BOOT_GUARD_MS + 30_000);

  afterAll(async () => {
    if (vm === undefined) return;
    await vm.guest.stop();
    vm.backend.close();
    vm.hostServer.close();
    vm.tmp.remove();
  });

  test("the guest's DHCP lease is the configured guest IP, with the gateway as router and DNS", () => {
    const { lease } = running().report;
    expect(lease.ip).toBe(GUEST_IP);
    expect(lease.mask).toBe("255.255.255.0");
    expect(lease.router).toBe(GATEWAY_IP);
    expect(lease.dns).toBe(GATEWAY_IP);
  });

  test("the guest resolves a record of the configured DNS zone", () => {
    expect(running().report.dns).toMatchObject({ name: `${RECORD.name}.${ZONE.slice(0, -1)}`, ip: RECORD.ip });
  });

  test("the guest fetches the host server's page through the NAT (192.168.127.254 -> 127.0.0.1)", () => {
    const { report, hostServer, hostPage } = running();
    expect(report.fetch?.body).toBe(hostPage);
    expect(hostServer.hits).toBeGreaterThanOrEqual(1);
  });

  test("the host fetches the page the guest serves, through the port forward", async () => {
    const { forwardPort, guestPage } = running();
    const response = await fetch(`http://127.0.0.1:${forwardPort}/`);
    expect(response.status).toBe(200);
    expect((await response.text()).trim()).toBe(guestPage);
  });

  test("the backend counts the VM as its connected guest and saw its traffic", () => {
    const stats = running().backend.stats();
    expect(stats.guest).toMatchObject({ connected: true });
    expect(stats.guest.connections).toBeGreaterThanOrEqual(1);
    expect(stats.bytesSent).toBeGreaterThan(0);
    expect(stats.bytesReceived).toBeGreaterThan(0);
  });

  test("asked to power off, the guest shuts down cleanly and QEMU exits 0", async () => {
    const { guest } = running();
    exit = await guest.stop();
    expect(exit).toEqual({ exitCode: 0, signalCode: null, clean: true });
    expect(guest.events.at(-1)?.kind).toBe("shutdown");
  });

  test("after the VM is gone, closing the backend removes its socket", () => {
    const { backend, tmp } = running();
    expect(exit?.clean).toBe(true);
    backend.close();
    expect(existsSync(tmp.path("net.sock"))).toBe(false);
  });
});

describe.skipIf(skip)(`a QEMU microVM whose guest step fails${skipNote}`, () => {
  test(
    "a name outside the zone fails the guest's DNS step: ready() rejects with the answer, and the VM still powers off cleanly",
    async () => {
      expect(availability.missing).toEqual([]);
      const tmp = makeTempDir("gvq-");
      const backend = new GvisorTapBackend({ socketPath: tmp.path("net.sock"), dnsZones: [{ name: ZONE, records: [RECORD] }] });
      let guest: QemuGuest | undefined;
      try {
        guest = await startQemuGuest(backend, { lookup: `nowhere.${ZONE.slice(0, -1)}`, page: "unused" });
        await expect(guest.ready(BOOT_GUARD_MS)).rejects.toThrow(/guest step dns failed: .*NXDOMAIN/);
        expect(guest.events.map((e) => e.kind)).not.toContain("ready");
        expect(await guest.stop()).toEqual({ exitCode: 0, signalCode: null, clean: true });
      } finally {
        await guest?.stop();
        backend.close();
        tmp.remove();
      }
    },
    BOOT_GUARD_MS + 30_000,
  );
});
