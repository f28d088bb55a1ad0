/**
 * Secrets the guest never sees, end to end: a userspace guest holds placeholders and
 * talks HTTPS (trusting only the backend's interception CA) to test hosts in a network
 * namespace (test/support/netns.ts with secret-host-server.ts: an HTTP/2 server and an
 * HTTP/1.1 + WebSocket server, certificate from a test CA given as upstreamCaPem). The
 * hosts receive the real values; the guest, the events, the logs and the pcap never do;
 * every way of sending a placeholder where it does not belong is refused with its event.
 * The last part runs curl in a kernel guest, which keeps one connection for many requests.
 * Without root and `ip` the suite is skipped with a message; in CI a setup failure fails it.
 */
import { afterAll, afterEach, describe, expect, test } from "bun:test";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import consola from "consola";
import { GvisorTapBackend, GvproxyError, setGvproxyLogger, type ConnectionEvent, type Secret } from "../../src/index.ts";
import { GuestCommandError, outcome, type Guest, type HttpsRequest, type HttpsResult } from "../../guest/driver.ts";
import { refusedNatConnect } from "../support/connection-events.ts";
import { eventually } from "../support/eventually.ts";
import { kernelGuestSkipReason, startKernelGuest, type KernelGuest } from "../support/kernel-guest.ts";
import { captureGvproxyLogs } from "../support/log-capture.ts";
import { startFileTestHosts, type TestHosts } from "../support/netns.ts";
import { startNetwork, type NetworkConfig, type TestNetwork } from "../support/network.ts";
import { makeTempDir, type TempDir } from "../support/paths.ts";

const ZONE = "secrets.test.";
/** The HTTP/2 server (hostA); secret A's host. */
const H2_HOST = "h2.secrets.test";
/** The HTTP/1.1 + WebSocket server (hostB); secret B's host. */
const H1_HOST = "h1.secrets.test";
/** Secret B's host too, on hostB, but the server's certificate does not name it. */
const NO_CERT_HOST = "nocert.secrets.test";
/** No secret's host (hostA): its TLS passes through untouched. */
const PLAIN_HOST = "plain.secrets.test";
/** Secret C's host: the test hosts' address where nothing listens. */
const CLOSED_HOST = "closed.secrets.test";

const SECRET_A: Secret = { placeholder: "GVP_KEY_A", value: "sk-live-A-5f0e1d2c3b4a", hosts: [H2_HOST] };
const SECRET_B: Secret = { placeholder: "GVP_KEY_B", value: "ghp-live-B-9a8b7c6d5e4f", hosts: [H1_HOST, NO_CERT_HOST] };
const SECRET_C: Secret = { placeholder: "GVP_KEY_C", value: "xk-live-C-0a1b2c3d4e5f", hosts: [CLOSED_HOST] };
const DOWNLOAD_BYTES = 100 * 1024 * 1024;

const fileHosts = await startFileTestHosts("secrets end-to-end tests", [H2_HOST, H1_HOST, PLAIN_HOST], join(import.meta.dir, "../support/secret-host-server.ts"));
const skipReason = fileHosts.skipReason;

afterAll(() => setGvproxyLogger(consola));

const testHosts = (): TestHosts => fileHosts.get();

let network: TestNetwork | undefined;
let events: ConnectionEvent[] = [];
afterEach(async () => {
  await network?.close();
  network = undefined;
});

/** Starts a network that knows the test zone and the secrets, attaches the guest and leases. */
async function startGuest(config: NetworkConfig = {}): Promise<Guest> {
  const { hostA, hostB, hostClosed, certificatePem } = testHosts();
  network = await startNetwork({
    dnsZones: [
      {
        name: ZONE,
        records: [
          { name: "h2", ip: hostA },
          { name: "h1", ip: hostB },
          { name: "nocert", ip: hostB },
          { name: "plain", ip: hostA },
          { name: "closed", ip: hostClosed },
        ],
      },
    ],
    secrets: [SECRET_A, SECRET_B, SECRET_C],
    tlsInterception: { upstreamCaPem: [certificatePem] },
    ...config,
  });
  events = [];
  network.backend.on("connection", (e) => void events.push(e));
  await network.guest.dhcp();
  return network.guest;
}

function backend(): TestNetwork["backend"] {
  if (network === undefined) throw new Error("no network");
  return network.backend;
}

/** An HTTPS request from the guest that trusts only the backend's interception CA. */
function https(guest: Guest, request: Omit<HttpsRequest, "caPem"> & { caPem?: string; timeoutMs?: number }): Promise<HttpsResult> {
  return guest.httpsRequest({ caPem: backend().caCertificatePem(), timeoutMs: 20_000, ...request });
}

interface Echo {
  readonly protocol: string;
  readonly url: string;
  readonly headers: Record<string, string>;
  readonly authorizationSha256: string;
}

function sha256(text: string): string {
  return new Bun.CryptoHasher("sha256").update(text).digest("hex");
}

async function denial(reason: string): Promise<ConnectionEvent> {
  let found: ConnectionEvent | undefined;
  await eventually(`a ${reason} event`, () => (found = events.find((e) => e.phase === "denied" && e.reason === reason)) !== undefined);
  return found as ConnectionEvent;
}

/** What fn throws (undefined if it returns). */
function thrownBy(fn: () => unknown): unknown {
  try {
    fn();
  } catch (error) {
    return error;
  }
  return undefined;
}

/** Fails if a secret's value is in text (what the guest, a log or an event shows). */
function expectNoValue(text: string): void {
  for (const secret of [SECRET_A, SECRET_B, SECRET_C]) expect(text).not.toContain(secret.value);
}

describe.skipIf(skipReason !== undefined)("secrets", () => {
  for (const { name, host, http2, upstream } of [
    { name: "HTTP/2 guest, HTTP/2 server", host: H2_HOST, http2: true, upstream: "HTTP/2.0" },
    { name: "HTTP/1.1 guest, HTTP/2 server", host: H2_HOST, http2: false, upstream: "HTTP/2.0" },
    { name: "HTTP/2 guest, HTTP/1.1 server", host: H1_HOST, http2: true, upstream: "HTTP/1.1" },
  ]) {
    test(`${name}: the server receives the real value, the guest sees the placeholder`, async () => {
      const guest = await startGuest();
      const secret = host === H2_HOST ? SECRET_A : SECRET_B;
      for (const gzip of [false, true]) {
        const result = await https(guest, {
          url: `https://${host}/echo?key=${secret.placeholder}${gzip ? "&gzip=1" : ""}`,
          http2,
          headers: { authorization: `Bearer ${secret.placeholder}` },
        });
        expect(result.status).toBe(200);
        expect(result.protocol).toBe(http2 ? "HTTP/2.0" : "HTTP/1.1");
        expect(result.headers["Content-Encoding"]).toBeUndefined();
        const echo = JSON.parse(result.body) as Echo;
        expect(echo.protocol).toBe(upstream);
        expect(echo.authorizationSha256).toBe(sha256(`Bearer ${secret.value}`));
        // What the server received, echoed back: the value turned into the placeholder again.
        expect(echo.headers.authorization).toBe(`Bearer ${secret.placeholder}`);
        expect(echo.url).toContain(`key=${secret.placeholder}`);
        expect(result.headers["X-Echo-Authorization"]).toBe(`Bearer ${secret.placeholder}`);
        expectNoValue(JSON.stringify(result));
      }
      const open = events.find((e) => e.phase === "open" && e.name === host);
      expect(open?.destination).toEqual({ ip: host === H2_HOST ? testHosts().hostA : testHosts().hostB, port: 443 });
    });
  }

  test("a placeholder sent to a host that is not its secret's is refused with secret-misuse", async () => {
    const guest = await startGuest();
    const result = await https(guest, { url: `https://${H2_HOST}/echo`, headers: { authorization: `Bearer ${SECRET_B.placeholder}` } });
    expect(result.status).toBe(403);
    expect((await denial("secret-misuse")).name).toBe(H2_HOST);
    expectNoValue(JSON.stringify(result) + JSON.stringify(events));
  });

  test("a Host other than the SNI is refused (domain fronting), with or without a placeholder", async () => {
    const guest = await startGuest();
    for (const http2 of [false, true]) {
      const fronted = await https(guest, { url: `https://${H2_HOST}/echo`, host: PLAIN_HOST, http2 });
      expect(fronted.status).toBe(403);
      const withSecret = await https(guest, {
        url: `https://${H1_HOST}/echo`,
        host: H2_HOST,
        http2,
        headers: { authorization: `Bearer ${SECRET_A.placeholder}` },
      });
      expect(withSecret.status).toBe(403);
    }
    await denial("host-mismatch");
    await denial("secret-misuse");
    expectNoValue(JSON.stringify(events));
  });

  test("a placeholder in plain HTTP is refused with 403 and secret-misuse; plain HTTP without one works", async () => {
    const guest = await startGuest();
    const clean = await guest.httpGet(`http://${H1_HOST}/echo?q=1`, { timeoutMs: 10_000 });
    expect(clean.status).toBe(200);
    const refused = await guest.httpGet(`http://${H1_HOST}/echo?key=${SECRET_B.placeholder}`, { timeoutMs: 10_000 });
    expect(refused.status).toBe(403);
    await denial("secret-misuse");
  });

  test("a wrong upstream certificate is a 502 and an upstream-certificate event", async () => {
    // The certificate does not name the host.
    let guest = await startGuest();
    const wrongName = await https(guest, { url: `https://${NO_CERT_HOST}/echo`, headers: { authorization: SECRET_B.placeholder } });
    expect(wrongName.status).toBe(502);
    expect((await denial("upstream-certificate")).name).toBe(NO_CERT_HOST);
    await network?.close();
    // The certificate's CA is not trusted (no upstreamCaPem).
    guest = await startGuest({ tlsInterception: {} });
    const untrusted = await https(guest, { url: `https://${H2_HOST}/echo`, headers: { authorization: SECRET_A.placeholder } });
    expect(untrusted.status).toBe(502);
    await denial("upstream-certificate");
  });

  // allowNet by name makes the policy read the ClientHello before anything is dialed; without
  // it the host is dialed first. Either way a refused upstream never opened: the guest's
  // connection is reset before its TLS is accepted, as a refused plain NAT connect is.
  for (const allowNet of [[], [CLOSED_HOST]]) {
    test(`a secret's host that refuses the connection is a lone connect-failed close, counted (allowNet ${JSON.stringify(allowNet)})`, async () => {
      const { hostClosed } = testHosts();
      const guest = await startGuest({ allowNet });
      const failure = await outcome(https(guest, { url: `https://${CLOSED_HOST}/echo`, headers: { authorization: SECRET_C.placeholder } }));
      expect(failure).toBeInstanceOf(GuestCommandError);
      const toClosedHost = () => events.filter((e) => e.destination !== undefined && "ip" in e.destination && e.destination.ip === hostClosed);
      await eventually("the failed connect's close event", () => toClosedHost().length > 0);
      expect(toClosedHost()).toEqual([refusedNatConnect({ ip: hostClosed, port: 443 })]);
      expect(backend().stats().tcp.failedConnectionAttempts).toBe(1);
    });
  }

  test("interception comes after allowNet: an allowed secret's host is intercepted, another is refused", async () => {
    const guest = await startGuest({ allowNet: [H2_HOST] });
    const allowed = await https(guest, { url: `https://${H2_HOST}/echo`, http2: true, headers: { authorization: `Bearer ${SECRET_A.placeholder}` } });
    expect((JSON.parse(allowed.body) as Echo).authorizationSha256).toBe(sha256(`Bearer ${SECRET_A.value}`));
    expect(await outcome(https(guest, { url: `https://${H1_HOST}/echo`, headers: { authorization: `Bearer ${SECRET_B.placeholder}` } }))).toBeInstanceOf(
      GuestCommandError,
    );
    expect((await denial("ip-not-allowed")).destination).toEqual({ ip: testHosts().hostB, port: 443 });
  });

  test("a WebSocket upgrade that carried a secret passes through and echoes", async () => {
    const guest = await startGuest();
    const result = await https(guest, {
      url: `https://${H1_HOST}/ws`,
      headers: { authorization: `Bearer ${SECRET_B.placeholder}` },
      webSocket: ["hello", "second"],
    });
    expect(result.status).toBe(101);
    const auth = sha256(`Bearer ${SECRET_B.value}`);
    expect(result.replies).toEqual([`hello auth-sha256=${auth}`, `second auth-sha256=${auth}`]);
  });

  test("setSecrets rotation is seen by the next request", async () => {
    const guest = await startGuest();
    const rotated = { ...SECRET_A, value: "sk-live-A-rotated-77" };
    expect(backend().setSecrets([rotated, SECRET_B])).toBe(2);
    const result = await https(guest, { url: `https://${H2_HOST}/echo`, headers: { authorization: `Bearer ${SECRET_A.placeholder}` } });
    expect((JSON.parse(result.body) as Echo).authorizationSha256).toBe(sha256(`Bearer ${rotated.value}`));
    expect(result.body).not.toContain(rotated.value);
  });

  test("other TLS passes through untouched, and without secrets nothing is intercepted", async () => {
    let guest = await startGuest();
    const { certificatePem } = testHosts();
    // Not a secret's host: the guest sees the real server's certificate, not the CA's.
    const passed = await https(guest, { url: `https://${PLAIN_HOST}/echo`, caPem: certificatePem });
    expect(passed.status).toBe(200);
    expect(await outcome(https(guest, { url: `https://${PLAIN_HOST}/echo` }))).toBeInstanceOf(GuestCommandError);
    await network?.close();
    guest = await startGuest({ secrets: [] });
    const direct = await https(guest, { url: `https://${H2_HOST}/echo`, caPem: certificatePem, headers: { authorization: SECRET_A.placeholder } });
    expect((JSON.parse(direct.body) as Echo).headers.authorization).toBe(SECRET_A.placeholder);
  });

  test("a 100 MB download through interception arrives intact", async () => {
    const guest = await startGuest();
    const expected = new Bun.CryptoHasher("sha256");
    const chunk = new Uint8Array((1 << 20) + 251).map((_, i) => i % 251);
    for (let sent = 0; sent < DOWNLOAD_BYTES; sent += 1 << 20) expected.update(chunk.subarray(sent % 251, (sent % 251) + (1 << 20)));
    const digest = expected.digest("hex");
    for (const [host, http2] of [
      [H1_HOST, false],
      [H2_HOST, true],
    ] as const) {
      const result = await https(guest, { url: `https://${host}/bytes?n=${DOWNLOAD_BYTES}`, http2, digestOnly: true, timeoutMs: 120_000 });
      expect(result.status).toBe(200);
      expect(result.bodyBytes).toBe(DOWNLOAD_BYTES);
      expect(result.bodySha256).toBe(digest);
    }
  }, 240_000);

  test("the value never appears in logs, events, error messages or the pcap", async () => {
    const logs = captureGvproxyLogs("debug");
    const tmp = makeTempDir("gvsecrets-");
    try {
      const captureFile = tmp.path("capture.pcap");
      const guest = await startGuest({ debug: true, captureFile });
      // Every path a value takes or is refused on: substitution (gzip), misuse, a 502, plain HTTP.
      const seen: unknown[] = [
        await https(guest, { url: `https://${H2_HOST}/echo?gzip=1`, headers: { authorization: `Bearer ${SECRET_A.placeholder}` } }),
        await https(guest, { url: `https://${H2_HOST}/echo`, headers: { authorization: SECRET_B.placeholder } }),
        await https(guest, { url: `https://${NO_CERT_HOST}/echo`, headers: { authorization: SECRET_B.placeholder } }),
        await guest.httpGet(`http://${H1_HOST}/echo?key=${SECRET_B.placeholder}`, { timeoutMs: 10_000 }),
      ];
      await denial("upstream-certificate");
      // A rotation the library refuses: its error names the field, never the value.
      const rotation = [{ ...SECRET_A, value: `${SECRET_A.value}\r\nX-Injected: 1` }];
      const refused = thrownBy(() => backend().setSecrets(rotation));
      expect(refused).toBeInstanceOf(GvproxyError);
      seen.push(String(refused), (refused as GvproxyError).stack);
      await network?.close();
      const pcap = readFileSync(captureFile).toString("latin1");
      expect(pcap.length).toBeGreaterThan(10_000);
      expectNoValue(pcap);
      // The plain-text request went by in the clear: the capture is searched where the placeholder shows.
      expect(pcap).toContain(`key=${SECRET_B.placeholder}`);
      expect(logs.length).toBeGreaterThan(0);
      expectNoValue(JSON.stringify(logs) + JSON.stringify(events) + JSON.stringify(seen));
    } finally {
      tmp.remove();
    }
  });
});

// curl in a kernel guest sends many requests on one connection (the userspace guest's
// command opens one per request): every one of them is checked, not only the first.
const kernelSkipReason = skipReason ?? kernelGuestSkipReason() ?? (Bun.which("curl") === null ? "curl is not installed" : undefined);
if (skipReason === undefined && kernelSkipReason !== undefined) console.warn(`secrets kernel-guest tests skipped: ${kernelSkipReason}`);

describe.skipIf(kernelSkipReason !== undefined)("secrets, kernel guest: one kept connection", () => {
  let kernel: { backend: GvisorTapBackend; guest: KernelGuest; tmp: TempDir } | undefined;
  afterEach(async () => {
    await kernel?.guest.close();
    kernel?.backend.close();
    kernel?.tmp.remove();
    kernel = undefined;
  });

  async function startKernel(): Promise<{ guest: KernelGuest; tmp: TempDir; caFile: string }> {
    const tmp = makeTempDir("gvsecrets-k-");
    const socketPath = tmp.path("net.sock");
    const backend = new GvisorTapBackend({ socketPath, secrets: [SECRET_A, SECRET_B], tlsInterception: { upstreamCaPem: [testHosts().certificatePem] } });
    events = [];
    backend.on("connection", (e) => void events.push(e));
    const endpoint = backend.endpoint();
    const guest = await startKernelGuest({ socketPath, protocol: endpoint.connectionType === "unix-dgram" ? "vfkit" : "qemu", mac: endpoint.macAddress });
    kernel = { backend, guest, tmp };
    await guest.lease();
    const caFile = tmp.path("ca.pem");
    writeFileSync(caFile, backend.caCertificatePem());
    return { guest, tmp, caFile };
  }

  for (const { protocol, host, secret, other, ip } of [
    { protocol: "--http1.1", host: H1_HOST, secret: SECRET_B, other: SECRET_A, ip: () => testHosts().hostB },
    { protocol: "--http2", host: H2_HOST, secret: SECRET_A, other: SECRET_B, ip: () => testHosts().hostA },
  ]) {
    test(`${protocol}: a later request that fronts another host or misuses a placeholder is refused; the connection goes on`, async () => {
      const { guest, tmp, caFile } = await startKernel();
      const steps = [
        { headers: [`authorization: Bearer ${secret.placeholder}`], status: 200 },
        { headers: [`Host: ${PLAIN_HOST}`], status: 403 },
        { headers: [`authorization: Bearer ${other.placeholder}`], status: 403 },
        { headers: [`Host: ${PLAIN_HOST}`, `authorization: Bearer ${secret.placeholder}`], status: 403 },
        { headers: [`authorization: Bearer ${secret.placeholder}`], status: 200 },
      ];
      // One curl, one section per request (--next): curl keeps the connection between them.
      const argv = ["curl", "-sS", "--max-time", "20"];
      for (const [i, step] of steps.entries()) {
        if (i > 0) argv.push("--next");
        argv.push(protocol, "--cacert", caFile, "--resolve", `${host}:443:${ip()}`, "-o", tmp.path(`body-${i}`), "-w", "%{http_code} %{num_connects}\\n");
        for (const h of step.headers) argv.push("-H", h);
        argv.push(`https://${host}/echo`);
      }
      const result = await guest.exec(argv, { timeoutMs: 30_000 });
      expect(result.stderr).toBe("");
      const lines = result.stdout.trim().split("\n").map((l) => l.split(" ").map(Number));
      expect(lines.map(([status]) => status)).toEqual(steps.map((s) => s.status));
      // One connection: the first request connected, none of the others did.
      expect(lines.map(([, connects]) => connects)).toEqual([1, 0, 0, 0, 0]);
      for (const i of [0, 4]) {
        const echo = JSON.parse(readFileSync(tmp.path(`body-${i}`), "utf8")) as Echo;
        expect(echo.authorizationSha256).toBe(sha256(`Bearer ${secret.value}`));
      }
      expect((await denial("host-mismatch")).name).toBe(host);
      await eventually("two secret-misuse events", () => events.filter((e) => e.phase === "denied" && e.reason === "secret-misuse").length === 2);
      expectNoValue(steps.map((_, i) => readFileSync(tmp.path(`body-${i}`), "utf8")).join("") + JSON.stringify(events));
    });
  }
});
