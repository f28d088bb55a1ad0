// The TCP sink and source of bench/peer written with Bun's sockets, same protocol (read
// to EOF, answer with an 8-byte big-endian count). It exists to measure whether Bun's
// sockets would bottleneck a host-side peer: the ceilings run both and report both.
//
//   bun bench/bun-peer.ts sink
//   bun bench/bun-peer.ts source HOST:PORT STREAMS SECONDS
import type { Socket } from "bun";

const CHUNK = new Uint8Array(256 * 1024);

function splitHostPort(addr: string): { hostname: string; port: number } {
  const i = addr.lastIndexOf(":");
  return { hostname: addr.slice(0, i), port: Number(addr.slice(i + 1)) };
}

function runSink(): void {
  const server = Bun.listen<{ count: number }>({
    hostname: "127.0.0.1",
    port: 0,
    socket: {
      open(s) {
        s.data = { count: 0 };
      },
      data(s, chunk) {
        s.data.count += chunk.byteLength;
      },
      end(s) {
        const ack = new Uint8Array(8);
        new DataView(ack.buffer).setBigUint64(0, BigInt(s.data.count));
        s.end(ack);
      },
    },
  });
  console.log(JSON.stringify({ ready: `127.0.0.1:${server.port}` }));
  // Exit with the parent: stdin closes when the orchestrator goes away.
  void (async () => {
    for await (const _ of Bun.stdin.stream()) {
      /* discard */
    }
    process.exit(0);
  })();
}

interface StreamState {
  deadline: number;
  ack: Uint8Array;
  acked: number;
  done: (n: number) => void;
  fail: (e: Error) => void;
}

// pump writes until the kernel buffer is full or the deadline passes; drain resumes it.
function pump(s: Socket<StreamState>): void {
  while (performance.now() < s.data.deadline) {
    if (s.write(CHUNK) < CHUNK.byteLength) return;
  }
  s.shutdown();
}

async function sendStream(addr: string, deadline: number): Promise<number> {
  const { hostname, port } = splitHostPort(addr);
  return new Promise<number>((resolve, reject) => {
    void Bun.connect<StreamState>({
      hostname,
      port,
      data: { deadline, ack: new Uint8Array(8), acked: 0, done: resolve, fail: reject },
      socket: {
        open: pump,
        drain: pump,
        data(s, chunk) {
          s.data.ack.set(chunk.subarray(0, 8 - s.data.acked), s.data.acked);
          s.data.acked += Math.min(chunk.byteLength, 8 - s.data.acked);
          if (s.data.acked === 8) s.data.done(Number(new DataView(s.data.ack.buffer).getBigUint64(0)));
        },
        close(s) {
          if (s.data.acked < 8) s.data.fail(new Error(`connection to ${addr} closed before the ack`));
        },
        error(s, err) {
          s.data.fail(err);
        },
      },
    }).catch(reject);
  });
}

async function runSource(addr: string, streams: number, seconds: number): Promise<void> {
  const start = performance.now();
  const deadline = start + seconds * 1000;
  const counts = await Promise.all(Array.from({ length: streams }, () => sendStream(addr, deadline)));
  const elapsed = (performance.now() - start) / 1000;
  const bytes = counts.reduce((a, b) => a + b, 0);
  console.log(JSON.stringify({ bytes, seconds: elapsed, gbps: (bytes * 8) / elapsed / 1e9, streams }));
  process.exit(0);
}

const [mode, addr, streams, seconds] = process.argv.slice(2);
if (mode === "sink") runSink();
else if (mode === "source" && addr) await runSource(addr, Number(streams ?? 1), Number(seconds ?? 3));
else {
  console.error("usage: bun bench/bun-peer.ts sink | source HOST:PORT STREAMS SECONDS");
  process.exit(2);
}
