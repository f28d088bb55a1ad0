/**
 * The public API exactly as DESIGN.md's "Public API (contract)" shows it: tests written
 * outside the project import src/index.ts and use these names.
 */
import { afterEach, beforeEach, expect, test } from "bun:test";
import { join } from "node:path";
import * as api from "../../src/index.ts";
import { GvisorTapBackend, GvproxyError, GvproxyInstance } from "../../src/index.ts";
import { freePort, makeTempDir } from "./helpers.ts";

let temp: ReturnType<typeof makeTempDir>;

beforeEach(() => {
  temp = makeTempDir();
});

afterEach(() => {
  temp.remove();
});

test("index.ts exports the contract's classes and the logger hook", () => {
  expect(typeof api.GvisorTapBackend).toBe("function");
  expect(typeof api.GvproxyInstance).toBe("function");
  expect(typeof api.GvproxyError).toBe("function");
  expect(typeof api.setGvproxyLogger).toBe("function");
});

test("DESIGN.md's usage example runs as written", async () => {
  const [httpPort, httpsPort, instPort] = [await freePort(), await freePort(), await freePort()];
  const backend = new GvisorTapBackend({
    socketPath: join(temp.dir, "box-1.sock"),
    portMappings: [[httpPort, 80], { hostPort: httpsPort, guestPort: 443, hostIp: "0.0.0.0" }],
  });
  expect(backend.name).toBe("gvisor-tap-vsock");
  expect(backend.endpoint()).toEqual({
    type: "unix-socket",
    path: join(temp.dir, "box-1.sock"),
    connectionType: process.platform === "darwin" ? "unix-dgram" : "unix-stream",
    macAddress: "5a:94:ef:e4:0c:ee",
  });
  expect(Object.keys(backend.stats()).sort()).toEqual(expect.arrayContaining(["bytesReceived", "bytesSent", "tcp"]));
  expect(Object.keys(backend.metrics()).sort()).toEqual(["bytesReceived", "bytesSent", "tcpConnectionErrors", "tcpConnections"]);
  expect(backend.instance).toBeInstanceOf(GvproxyInstance);
  backend.close();
  backend.close();

  const inst = new GvproxyInstance(join(temp.dir, "box-2.sock"), [[instPort, 90]]);
  expect(typeof inst.id).toBe("number");
  expect(inst.socketPath).toBe(join(temp.dir, "box-2.sock"));
  inst.stats();
  inst.destroy();
  expect(inst.destroyed).toBe(true);
  expect(GvproxyInstance.version()).toMatch(/^v0\.8\.\d+/);
  expect(() => inst.stats()).toThrow(GvproxyError);
});
