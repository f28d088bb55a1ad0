/**
 * The public API exactly as DESIGN.md's "Public API (contract)" shows it: tests written
 * outside the project import src/index.ts and use these names.
 */
import { afterEach, beforeEach, expect, test } from "bun:test";
import { join } from "node:path";
import * as api from "../../src/index.ts";
import { GvisorTapBackend, GvproxyError, GvproxyInstance } from "../../src/index.ts";
import { forwardedPort } from "../support/host-clients.ts";
import { makeTempDir } from "./helpers.ts";

let temp: ReturnType<typeof makeTempDir>;

beforeEach(() => {
  temp = makeTempDir();
});

afterEach(() => {
  temp.remove();
});

/** A value's key structure: each leaf replaced by its typeof, each object by its own shape. */
type Shape = string | { readonly [key: string]: Shape };
function shapeOf(value: unknown): Shape {
  if (typeof value !== "object" || value === null) return typeof value;
  return Object.fromEntries(Object.entries(value).map(([key, v]) => [key, shapeOf(v)]));
}

/**
 * NetworkStats (src/stats.ts; DESIGN.md "NetworkStats" plus the policy, guest, link and
 * events sections): exactly these keys, no more, no fewer.
 */
const NETWORK_STATS_SHAPE: Shape = {
  bytesSent: "number",
  bytesReceived: "number",
  tcp: {
    currentEstablished: "number",
    failedConnectionAttempts: "number",
    retransmits: "number",
    timeouts: "number",
    forwardMaxInflightDrop: "number",
  },
  policy: { denied: "number" },
  guest: { connected: "boolean", connections: "number" },
  link: { framesReceived: "number", framesSent: "number", rxDropped: "number", txDropped: "number", protocolErrors: "number" },
  events: { queued: "number", delivered: "number", dropped: "number" },
};

test("shapeOf sees a missing, an extra and a mistyped key", () => {
  const stats = { a: 1, nested: { b: true } };
  expect(shapeOf(stats)).toStrictEqual({ a: "number", nested: { b: "boolean" } });
  expect(shapeOf({ a: 1, nested: {} })).not.toStrictEqual(shapeOf(stats));
  expect(shapeOf({ a: 1, nested: { b: true, c: 2 } })).not.toStrictEqual(shapeOf(stats));
  expect(shapeOf({ a: "1", nested: { b: true } })).not.toStrictEqual(shapeOf(stats));
});

test("index.ts exports the contract's classes and the logger hook", () => {
  expect(typeof api.GvisorTapBackend).toBe("function");
  expect(typeof api.GvproxyInstance).toBe("function");
  expect(typeof api.GvproxyError).toBe("function");
  expect(typeof api.setGvproxyLogger).toBe("function");
});

test("DESIGN.md's usage example runs as written (host ports 0: the OS picks, the bound ones are reported)", () => {
  const backend = new GvisorTapBackend({
    socketPath: join(temp.dir, "box-1.sock"),
    portMappings: [[0, 80], { hostPort: 0, guestPort: 443, hostIp: "0.0.0.0" }],
  });
  expect(backend.forwards()).toEqual([
    { hostIp: "127.0.0.1", hostPort: forwardedPort(backend, 80), guestPort: 80, protocol: "tcp" },
    { hostIp: "0.0.0.0", hostPort: forwardedPort(backend, 443), guestPort: 443, protocol: "tcp" },
  ]);
  expect(forwardedPort(backend, 80)).toBeGreaterThan(0);
  expect(forwardedPort(backend, 443)).toBeGreaterThan(0);
  expect(backend.name).toBe("gvisor-tap-vsock");
  expect(backend.endpoint()).toEqual({
    type: "unix-socket",
    path: join(temp.dir, "box-1.sock"),
    connectionType: process.platform === "darwin" ? "unix-dgram" : "unix-stream",
    macAddress: "5a:94:ef:e4:0c:ee",
  });
  expect(shapeOf(backend.stats())).toStrictEqual(NETWORK_STATS_SHAPE);
  expect(Object.keys(backend.metrics()).sort()).toEqual(["bytesReceived", "bytesSent", "tcpConnectionErrors", "tcpConnections"]);
  expect(backend.instance).toBeInstanceOf(GvproxyInstance);
  backend.close();
  backend.close();

  const inst = new GvproxyInstance(join(temp.dir, "box-2.sock"), [[0, 90]]);
  expect(inst.config.portMappings).toEqual([{ hostIp: "127.0.0.1", hostPort: forwardedPort(inst, 90), guestPort: 90, protocol: "tcp" }]);
  expect(typeof inst.id).toBe("number");
  expect(inst.socketPath).toBe(join(temp.dir, "box-2.sock"));
  expect(shapeOf(inst.stats())).toStrictEqual(NETWORK_STATS_SHAPE);
  inst.destroy();
  expect(inst.destroyed).toBe(true);
  expect(GvproxyInstance.version()).toMatch(/^v0\.8\.\d+/);
  expect(() => inst.stats()).toThrow(GvproxyError);
});

test("DESIGN.md's live-control example type-checks and runs as written", () => {
  const backend = new GvisorTapBackend({ socketPath: join(temp.dir, "box-3.sock"), hostSockets: [{ port: 5000, path: join(temp.dir, "agent.sock") }] });
  try {
    const f = backend.expose([0, 80]);
    expect(f.hostPort).toBeGreaterThan(0);
    const unix = backend.expose({ hostPath: join(temp.dir, "http.sock"), guestPort: 80 });
    expect(unix.hostPath).toBe(join(temp.dir, "http.sock"));
    expect(backend.forwards()).toEqual([f, unix]);
    expect(backend.unexpose({ hostPort: f.hostPort })).toBe(true);
    backend.addHostSocket({ port: 5001, path: join(temp.dir, "other.sock") });
    expect(backend.removeHostSocket(5001)).toBe(true);
    expect(backend.setAllowNet(["example.com:443"])).toBe(0);
    backend.setAllowNet("none");
    backend.setDnsZones([{ name: "box.internal.", records: [{ name: "db", ip: "192.168.127.50" }] }]);
    expect(backend.guest()).toMatchObject({ connected: false, macAddress: "5a:94:ef:e4:0c:ee", connections: 0 });
    const seen: string[] = [];
    const listener = (e: api.ConnectionEvent) => void seen.push(e.phase);
    const off = backend.on("connection", listener);
    backend.on("guest", (e) => void seen.push(e.phase));
    backend.on("dns", (e) => void seen.push(e.decision));
    backend.off("connection", listener);
    off();
    expect(backend.stats().events).toEqual({ queued: 0, delivered: 0, dropped: 0 });
  } finally {
    backend.close();
  }
});
