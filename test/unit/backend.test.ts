/**
 * GvisorTapBackend against the real libgvproxy: its endpoint, stats and metrics shape,
 * the QEMU argv for its endpoint, and close()/`using`.
 */
import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { GvisorTapBackend } from "../../src/index.ts";
import { forwardedPort } from "../support/host-clients.ts";
import { bindError, canConnect, expectGvproxyError, freePort, makeTempDir } from "./helpers.ts";

let temp: ReturnType<typeof makeTempDir>;
let socketPath: string;
let backend: GvisorTapBackend | undefined;

beforeEach(() => {
  temp = makeTempDir();
  socketPath = join(temp.dir, "net.sock");
  backend = undefined;
});

afterEach(() => {
  backend?.close();
  temp.remove();
});

describe("a constructed backend", () => {
  test("is a working network named gvisor-tap-vsock that owns its instance", async () => {
    backend = new GvisorTapBackend({ socketPath, portMappings: [[0, 80]] });
    expect(backend.name).toBe("gvisor-tap-vsock");
    expect(backend.instance.socketPath).toBe(socketPath);
    expect(await canConnect(socketPath)).toBe(true);
    expect(await bindError(forwardedPort(backend, 80))).toBe("EADDRINUSE");
  });

  test("endpoint() describes the socket, its type and the guest MAC", () => {
    backend = new GvisorTapBackend({ socketPath, guestMac: "5a:94:ef:e4:0c:42", protocol: "qemu" });
    expect(backend.endpoint()).toEqual({
      type: "unix-socket",
      path: socketPath,
      connectionType: "unix-stream",
      macAddress: "5a:94:ef:e4:0c:42",
    });
  });

  test("the vfkit protocol is a datagram endpoint", () => {
    backend = new GvisorTapBackend({ socketPath, protocol: "vfkit" });
    expect(backend.endpoint().connectionType).toBe("unix-dgram");
  });

  test("the default endpoint uses the guest MAC default and the platform's protocol", () => {
    backend = new GvisorTapBackend({ socketPath });
    expect(backend.endpoint().macAddress).toBe("5a:94:ef:e4:0c:ee");
    expect(backend.endpoint().connectionType).toBe(process.platform === "darwin" ? "unix-dgram" : "unix-stream");
  });

  test("metrics() are derived from stats()", () => {
    backend = new GvisorTapBackend({ socketPath });
    const stats = backend.stats();
    expect(backend.metrics()).toEqual({
      bytesSent: stats.bytesSent,
      bytesReceived: stats.bytesReceived,
      tcpConnections: stats.tcp.currentEstablished,
      tcpConnectionErrors: stats.tcp.failedConnectionAttempts,
    });
  });
});

describe("qemuArgs", () => {
  // The argv QEMU needs for each endpoint kind; paths are functions because the socket
  // path is each test's own.
  test.each([
    {
      what: "a stream endpoint attaches a virtio-net-pci NIC with the guest MAC",
      protocol: "qemu",
      options: () => ({}),
      netdev: () => `stream,id=net0,server=off,addr.type=unix,addr.path=${socketPath}`,
      device: "virtio-net-pci,netdev=net0,mac=5a:94:ef:e4:0c:ee",
    },
    {
      what: "id and device can be overridden",
      protocol: "qemu",
      options: () => ({ id: "lan", device: "virtio-net-device" }),
      netdev: () => `stream,id=lan,server=off,addr.type=unix,addr.path=${socketPath}`,
      device: "virtio-net-device,netdev=lan,mac=5a:94:ef:e4:0c:ee",
    },
    {
      what: "a datagram endpoint uses -netdev dgram with QEMU's own local socket",
      protocol: "vfkit",
      options: () => ({ localPath: join(temp.dir, "qemu.sock") }),
      netdev: () => `dgram,id=net0,local.type=unix,local.path=${join(temp.dir, "qemu.sock")},remote.type=unix,remote.path=${socketPath}`,
      device: "virtio-net-pci,netdev=net0,mac=5a:94:ef:e4:0c:ee",
    },
  ] as const)("$what", ({ protocol, options, netdev, device }) => {
    backend = new GvisorTapBackend({ socketPath, protocol });
    expect(backend.qemuArgs(options())).toEqual(["-netdev", netdev(), "-device", device]);
  });

  test("a comma in the path is doubled, as QEMU's option syntax requires", () => {
    const odd = join(temp.dir, "a,b.sock");
    backend = new GvisorTapBackend({ socketPath: odd, protocol: "qemu" });
    expect(backend.qemuArgs()[1]).toEndWith("addr.path=" + odd.replace(",", ",,"));
  });
});

describe("close", () => {
  test("releases the network; it is idempotent and later calls throw DESTROYED", async () => {
    backend = new GvisorTapBackend({ socketPath, portMappings: [[0, 80]] });
    const hostPort = forwardedPort(backend, 80);
    backend.close();
    backend.close();
    expect(backend.instance.destroyed).toBe(true);
    expect(existsSync(socketPath)).toBe(false);
    expect(await bindError(hostPort)).toBeNull();
    for (const call of [() => backend?.stats(), () => backend?.metrics(), () => backend?.endpoint(), () => backend?.qemuArgs()]) {
      expectGvproxyError(call, "DESTROYED");
    }
  });

  test("`using` closes the backend at the end of the block", () => {
    let kept: GvisorTapBackend;
    {
      using scoped = new GvisorTapBackend({ socketPath });
      kept = scoped;
    }
    expect(kept.instance.destroyed).toBe(true);
    expect(existsSync(socketPath)).toBe(false);
  });

  test("a failed construction is a GvproxyError and leaves nothing behind", async () => {
    // A duplicate needs a number (hostPort 0 never clashes); the config is refused before anything binds.
    const hostPort = await freePort();
    const error = expectGvproxyError(() => new GvisorTapBackend({ socketPath, portMappings: [[hostPort, 80], [hostPort, 81]] }), "INVALID_CONFIG");
    expect(error.field).toBe("portMappings[1].hostPort");
    expect(existsSync(socketPath)).toBe(false);
  });
});
