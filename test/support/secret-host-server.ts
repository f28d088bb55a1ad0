/**
 * The HTTPS servers of the secrets end-to-end suite, run inside the test hosts' network
 * namespace by netns.ts in place of netns-host-server.ts. On TCP 443 of the first address
 * an HTTP/2 server (HTTP/1.1 too, by ALPN), on the second an HTTP/1.1-only server that
 * also accepts WebSocket upgrades. Both answer:
 *
 * - `/echo`: JSON `{ protocol, method, url, headers }` of the request as received (the
 *   value a secret put in shows there); `?gzip=1` sends it gzip-encoded;
 * - `/bytes?n=N`: N bytes of a fixed pattern (byte i is `i % 251`), streamed;
 * - `/ws` (second address): a WebSocket echo whose replies are `<message> auth-sha256=<hex>`,
 *   the SHA-256 of the upgrade request's Authorization header (so the value itself never
 *   comes back over the passed-through stream).
 *
 * TCP 80 of the second address answers `/echo` in plain HTTP. It prints `ready` once all listen and exits when its stdin closes.
 */
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import http2 from "node:http2";
import type { HostServerConfig } from "./netns-host-server.ts";

const config = JSON.parse(process.argv[2] ?? "{}") as HostServerConfig;
const cert = readFileSync(config.certFile, "utf8");
const key = readFileSync(config.keyFile, "utf8");
const [h2Ip, h1Ip] = config.ips;
const PATTERN_CHUNK = patternChunk(1 << 20);

/** 1 MiB of the pattern; a chunk starting at offset o is this array from o % 251. */
function patternChunk(size: number): Uint8Array {
  const out = new Uint8Array(size + 251);
  for (let i = 0; i < out.length; i++) out[i] = i % 251;
  return out;
}

function* pattern(n: number): Generator<Uint8Array> {
  for (let sent = 0; sent < n; ) {
    const size = Math.min(n - sent, 1 << 20);
    const start = sent % 251;
    yield PATTERN_CHUNK.subarray(start, start + size);
    sent += size;
  }
}

/** The echo: the request as received, and the SHA-256 of its Authorization header (proof of the value without sending it back). */
function echoBody(protocol: string, method: string, url: string, headers: Record<string, string>): string {
  return JSON.stringify({ protocol, method, url, headers, authorizationSha256: sha256(headers.authorization ?? "") });
}

function sha256(text: string): string {
  return createHash("sha256").update(text).digest("hex");
}

// HTTP/2 (and HTTP/1.1) on the first address.
const h2 = http2.createSecureServer({ cert, key, allowHTTP1: true }, (req, res) => {
  const url = new URL(req.url, "https://x");
  if (url.pathname === "/bytes") {
    const n = Number(url.searchParams.get("n") ?? "0");
    res.writeHead(200, { "content-type": "application/octet-stream", "content-length": String(n) });
    const chunks = pattern(n);
    const pump = () => {
      for (let next = chunks.next(); !next.done; next = chunks.next()) {
        if (!res.write(next.value)) return void res.once("drain", pump);
      }
      res.end();
    };
    return pump();
  }
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(req.headers)) if (!k.startsWith(":")) headers[k] = String(v);
  const body = echoBody(`HTTP/${req.httpVersion}`, req.method, req.url, headers);
  res.setHeader("x-echo-authorization", headers.authorization ?? "");
  if (url.searchParams.get("gzip") === "1") {
    res.writeHead(200, { "content-type": "application/json", "content-encoding": "gzip" });
    return void res.end(Bun.gzipSync(body));
  }
  res.writeHead(200, { "content-type": "application/json" });
  res.end(body);
});
await new Promise<void>((resolve) => h2.listen(443, h2Ip, resolve));

// HTTP/1.1 only, with WebSocket, on the second address.
Bun.serve<{ auth: string }>({
  hostname: h1Ip,
  port: 443,
  tls: { cert, key },
  fetch(req, server) {
    const url = new URL(req.url);
    const auth = req.headers.get("authorization") ?? "";
    if (url.pathname === "/ws") {
      return server.upgrade(req, { data: { auth } }) ? undefined : new Response("upgrade failed", { status: 400 });
    }
    if (url.pathname === "/bytes") {
      const chunks = pattern(Number(url.searchParams.get("n") ?? "0"));
      return new Response(
        new ReadableStream({
          pull(controller) {
            const next = chunks.next();
            if (next.done) controller.close();
            else controller.enqueue(next.value);
          },
        }),
      );
    }
    const headers: Record<string, string> = {};
    req.headers.forEach((v, k) => void (headers[k] = v));
    const body = echoBody("HTTP/1.1", req.method, url.pathname + url.search, headers);
    const common = { "x-echo-authorization": auth, "content-type": "application/json" };
    if (url.searchParams.get("gzip") === "1") {
      return new Response(Bun.gzipSync(body), { headers: { ...common, "content-encoding": "gzip" } });
    }
    return new Response(body, { headers: common });
  },
  websocket: {
    message(ws, message) {
      ws.send(`${String(message)} auth-sha256=${sha256(ws.data.auth)}`);
    },
  },
});

// Plain HTTP on the second address: the echo.
Bun.serve({
  hostname: h1Ip,
  port: 80,
  fetch(req) {
    const url = new URL(req.url);
    const headers: Record<string, string> = {};
    req.headers.forEach((v, k) => void (headers[k] = v));
    return new Response(echoBody("HTTP/1.1", req.method, url.pathname + url.search, headers));
  },
});

console.log("ready");
void (async () => {
  for await (const _ of Bun.stdin.stream()) {
    // Nothing is sent; the loop ends when the parent goes away.
  }
  process.exit(0);
})();
