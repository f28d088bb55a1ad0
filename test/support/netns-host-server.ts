/**
 * The services of the test hosts, run inside their network namespace by netns.ts
 * (`ip netns exec <ns> bun netns-host-server.ts '<json>'`). On each address it serves:
 *
 * - TCP 80: HTTP, answering `http <ip> host=<Host header>` (keep-alive works);
 * - TCP 443: HTTPS with the given certificate, answering `https <ip> host=<Host header>`;
 * - TCP 7: echo;
 * - TCP 19: a download that never ends (chargen-like: zeros, as fast as the client reads);
 * - UDP 7 and UDP 443: echo, prefixed `udp <ip>:<port> `;
 * - UDP and TCP 53: a DNS server answering A with its own address and TXT with
 *   `foreign-dns <ip>`, for any name: the "other resolver" a guest might try.
 *
 * The bodies name the address that answered, so a test can tell which host it reached.
 * It prints `ready` once everything listens, and exits when its stdin closes, so it does
 * not outlive a test process that died.
 */
import { readFileSync } from "node:fs";
import type { Socket } from "bun";
import { buildAnswer, parseQuery, TYPE_A, TYPE_TXT, type AnswerRecord } from "./dns-wire.ts";

export interface HostServerConfig {
  readonly ips: readonly string[];
  readonly certFile: string;
  readonly keyFile: string;
}

const config = JSON.parse(process.argv[2] ?? "{}") as HostServerConfig;
const cert = readFileSync(config.certFile, "utf8");
const key = readFileSync(config.keyFile, "utf8");

for (const ip of config.ips) {
  Bun.serve({
    hostname: ip,
    port: 80,
    fetch: (req) => new Response(`http ${ip} host=${req.headers.get("host") ?? ""}`),
  });
  Bun.serve({
    hostname: ip,
    port: 443,
    tls: { cert, key },
    fetch: (req) => new Response(`https ${ip} host=${req.headers.get("host") ?? ""}`),
  });
  Bun.listen<undefined>({
    hostname: ip,
    port: 7,
    allowHalfOpen: true,
    socket: {
      data: (socket, data) => void socket.write(data),
      end: (socket) => void socket.end(),
    },
  });
  const chunk = Buffer.alloc(64 << 10);
  const pump = (socket: Socket<undefined>) => {
    while (socket.write(chunk) === chunk.length) {
      // keep writing until the socket's buffer is full; drain() resumes
    }
  };
  Bun.listen<undefined>({
    hostname: ip,
    port: 19,
    socket: { open: pump, drain: pump, data: () => {} },
  });
  for (const port of [7, 443]) {
    await Bun.udpSocket({
      hostname: ip,
      port,
      socket: {
        data(sock, data, fromPort, fromAddress) {
          sock.send(Buffer.concat([Buffer.from(`udp ${ip}:${port} `), data]), fromPort, fromAddress);
        },
      },
    });
  }
  await serveDns(ip);
}
console.log("ready");
void (async () => {
  for await (const _ of Bun.stdin.stream()) {
    // Nothing is sent; the loop ends when the parent goes away.
  }
  process.exit(0);
})();

function dnsAnswer(ip: string, query: Uint8Array): Uint8Array | undefined {
  const question = parseQuery(query);
  if (question === undefined) return undefined;
  const records: AnswerRecord[] = [];
  if (question.type === TYPE_A) records.push({ type: TYPE_A, value: ip });
  if (question.type === TYPE_TXT) records.push({ type: TYPE_TXT, value: `foreign-dns ${ip}` });
  return buildAnswer(question, records);
}

async function serveDns(ip: string): Promise<void> {
  await Bun.udpSocket({
    hostname: ip,
    port: 53,
    socket: {
      data(sock, data, port, address) {
        const answer = dnsAnswer(ip, data);
        if (answer) sock.send(answer, port, address);
      },
    },
  });
  // DNS over TCP: messages framed by a 2-byte length (RFC 1035 4.2.2).
  const buffers = new WeakMap<Socket<undefined>, Buffer>();
  Bun.listen<undefined>({
    hostname: ip,
    port: 53,
    socket: {
      data(socket, data) {
        let pending = Buffer.concat([buffers.get(socket) ?? Buffer.alloc(0), data]);
        while (pending.length >= 2 && pending.length >= 2 + pending.readUInt16BE(0)) {
          const length = pending.readUInt16BE(0);
          const answer = dnsAnswer(ip, pending.subarray(2, 2 + length));
          pending = pending.subarray(2 + length);
          if (answer) {
            const framed = Buffer.alloc(2 + answer.length);
            framed.writeUInt16BE(answer.length, 0);
            framed.set(answer, 2);
            socket.write(framed);
          }
        }
        buffers.set(socket, pending);
      },
    },
  });
}
