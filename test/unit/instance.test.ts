/**
 * GvproxyInstance lifecycle against the real libgvproxy: a constructed instance is a
 * working network (socket listening, ports bound), destroy releases everything, and every
 * failure of the constructor is a GvproxyError with the documented code.
 */
import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import net from "node:net";
import { join } from "node:path";
import { GvproxyInstance } from "../../src/index.ts";
import { forwardedPort } from "../support/host-clients.ts";
import { bindError, canConnect, expectGvproxyError, freePort, makeTempDir, occupyPort } from "./helpers.ts";

let temp: ReturnType<typeof makeTempDir>;
let socketPath: string;
let instance: GvproxyInstance | undefined;

beforeEach(() => {
  temp = makeTempDir();
  socketPath = join(temp.dir, "net.sock");
  instance = undefined;
});

afterEach(() => {
  instance?.destroy();
  temp.remove();
});

describe("construction", () => {
  test("yields a listening socket, bound host ports and a positive id", async () => {
    instance = new GvproxyInstance(socketPath, [[0, 80]]);
    expect(instance.id).toBeGreaterThan(0);
    expect(instance.socketPath).toBe(socketPath);
    expect(instance.destroyed).toBe(false);
    expect(await canConnect(socketPath)).toBe(true);
    expect(await bindError(forwardedPort(instance, 80))).toBe("EADDRINUSE");
  });

  test("stats are available at once and start at zero", () => {
    instance = new GvproxyInstance(socketPath);
    const stats = instance.stats();
    expect(stats.bytesSent).toBe(0);
    expect(stats.bytesReceived).toBe(0);
    expect(stats.tcp.currentEstablished).toBe(0);
    expect(stats.tcp.failedConnectionAttempts).toBe(0);
    expect(stats.link).toEqual({ framesReceived: 0, framesSent: 0, rxDropped: 0, txDropped: 0, protocolErrors: 0 });
  });

  test("two instances get distinct ids", () => {
    instance = new GvproxyInstance(socketPath);
    const second = new GvproxyInstance(join(temp.dir, "second.sock"));
    try {
      expect(second.id).not.toBe(instance.id);
    } finally {
      second.destroy();
    }
  });

  test("a stale socket left by a dead process is replaced", async () => {
    // A child binds the socket and is killed: the file stays, nothing listens.
    const child = Bun.spawn([process.execPath, "-e", `Bun.listen({ unix: ${JSON.stringify(socketPath)}, socket: { data() {} } }); console.log("up"); setInterval(() => {}, 1000);`], { stdout: "pipe" });
    const reader = child.stdout.getReader();
    await reader.read();
    child.kill("SIGKILL");
    await child.exited;
    expect(existsSync(socketPath)).toBe(true);
    expect(await canConnect(socketPath)).toBe(false);
    instance = new GvproxyInstance(socketPath);
    expect(await canConnect(socketPath)).toBe(true);
  });
});

describe("destroy", () => {
  test("removes the socket and releases the host ports at once", async () => {
    instance = new GvproxyInstance(socketPath, [[0, 80]]);
    const hostPort = forwardedPort(instance, 80);
    instance.destroy();
    expect(instance.destroyed).toBe(true);
    expect(existsSync(socketPath)).toBe(false);
    expect(await bindError(hostPort)).toBeNull();
  });

  test("is idempotent", () => {
    instance = new GvproxyInstance(socketPath);
    instance.destroy();
    expect(() => instance?.destroy()).not.toThrow();
    expect(instance.destroyed).toBe(true);
  });

  test("every method afterwards throws DESTROYED naming the instance", () => {
    instance = new GvproxyInstance(socketPath);
    instance.destroy();
    const error = expectGvproxyError(() => instance?.stats(), "DESTROYED");
    expect(error.message).toContain(socketPath);
  });

  test("`using` destroys the instance at the end of the block", async () => {
    let kept: GvproxyInstance;
    let hostPort: number;
    {
      using scoped = new GvproxyInstance(socketPath, [[0, 80]]);
      kept = scoped;
      hostPort = forwardedPort(scoped, 80);
      expect(await canConnect(socketPath)).toBe(true);
    }
    expect(kept.destroyed).toBe(true);
    expect(existsSync(socketPath)).toBe(false);
    expect(await bindError(hostPort)).toBeNull();
  });

  test.if(process.platform === "linux")("returns the process's file descriptors to their prior count", async () => {
    const openFds = () => readdirSync("/proc/self/fd").length;
    // Warm-up: the first instance may open process-wide descriptors (epoll, the Go netpoller).
    new GvproxyInstance(socketPath, [[0, 80]]).destroy();
    const before = openFds();
    for (let i = 0; i < 5; i++) {
      const probe = new GvproxyInstance(socketPath, [[0, 80]]);
      expect(await canConnect(socketPath)).toBe(true);
      probe.destroy();
    }
    await Bun.sleep(0); // let Bun close its side of the probe connections
    expect(openFds()).toBe(before);
  });

  test("the same socket path and port can be used again after destroy", async () => {
    const first = new GvproxyInstance(socketPath, [[0, 80]]);
    // The port the OS gave the first instance, bound again: the reuse is what is tested.
    const hostPort = forwardedPort(first, 80);
    first.destroy();
    instance = new GvproxyInstance(socketPath, [[hostPort, 80]]);
    expect(await canConnect(socketPath)).toBe(true);
    expect(forwardedPort(instance, 80)).toBe(hostPort);
  });
});

describe("constructor failures", () => {
  test("SOCKET_IN_USE when something listens on the path; the listener is untouched", async () => {
    const server = net.createServer();
    await new Promise<void>((resolve) => server.listen(socketPath, resolve));
    try {
      const error = expectGvproxyError(() => new GvproxyInstance(socketPath), "SOCKET_IN_USE");
      expect(error.message).toContain(socketPath);
      expect(await canConnect(socketPath)).toBe(true);
    } finally {
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });

  test("NOT_A_SOCKET when a regular file is at the path; the file is left as it was", () => {
    writeFileSync(socketPath, "precious data");
    const error = expectGvproxyError(() => new GvproxyInstance(socketPath), "NOT_A_SOCKET");
    expect(error.message).toContain(socketPath);
    expect(readFileSync(socketPath, "utf8")).toBe("precious data");
  });

  test("SOCKET_PATH_TOO_LONG names the path", () => {
    const long = join(temp.dir, "x".repeat(120));
    const error = expectGvproxyError(() => new GvproxyInstance(long), "SOCKET_PATH_TOO_LONG");
    expect(error.message).toContain(long);
  });

  test("ADDRESS_IN_USE when a host port is taken; nothing is left behind", async () => {
    const { port: hostPort, release } = await occupyPort();
    // Picked, then bound: a create that fails reports no ports, so this one must be known up front.
    const otherPort = await freePort();
    try {
      const error = expectGvproxyError(() => new GvproxyInstance(socketPath, [[otherPort, 81], [hostPort, 80]]), "ADDRESS_IN_USE");
      expect(error.message).toContain(String(hostPort));
      expect(error.field).toBe("portMappings[1].hostPort");
      expect(existsSync(socketPath)).toBe(false);
      expect(await bindError(otherPort)).toBeNull();
    } finally {
      await release();
    }
  });

  test("INVALID_CONFIG names the field before anything is created", () => {
    const error = expectGvproxyError(() => new GvproxyInstance(socketPath, [[0, 8.5]]), "INVALID_CONFIG");
    expect(error.field).toBe("portMappings[0].guestPort");
    expect(error.message).toBe("portMappings[0].guestPort: 8.5 is not an integer (expected 1..65535)");
    expect(existsSync(socketPath)).toBe(false);
  });

  test("INVALID_CONFIG for an option", () => {
    const error = expectGvproxyError(() => new GvproxyInstance(socketPath, [], { mtu: 100 }), "INVALID_CONFIG");
    expect(error.field).toBe("mtu");
  });
});

test("version() is the gvisor-tap-vsock version libgvproxy/go.mod pins", () => {
  const goMod = readFileSync(join(import.meta.dir, "../../libgvproxy/go.mod"), "utf8");
  const pinned = /github\.com\/containers\/gvisor-tap-vsock (v\d+\.\d+\.\d+\S*)/.exec(goMod)?.[1];
  expect(pinned).toBeDefined();
  expect(GvproxyInstance.version()).toMatch(/^v\d+\.\d+\.\d+/);
  expect(GvproxyInstance.version()).toBe(pinned as string);
  expect(GvproxyInstance.versions().go).toMatch(/^go1\./);
});
