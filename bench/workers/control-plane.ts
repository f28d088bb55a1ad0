// Control-plane measurements that need a process of their own (a fresh Go runtime, an
// RSS baseline nobody else disturbs). Run by bench/control-plane.ts; prints one JSON line.
//
//   bun bench/workers/control-plane.ts load
//   bun bench/workers/control-plane.ts create-destroy COUNT DIR PORT
//   bun bench/workers/control-plane.ts stats COUNT DIR
//   bun bench/workers/control-plane.ts rss INSTANCES DIR
import { readFileSync } from "node:fs";
import { GvisorTapBackend, GvproxyInstance } from "../../src/index.ts";

const BATCH = 100;

function rssMiB(): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync("/proc/self/status", "utf8"));
  if (!m) throw new Error("no VmRSS in /proc/self/status");
  return Number(m[1]) / 1024;
}

// The first call loads the library: dlopen, Go runtime start, signal repair, log bridge.
function load(): object {
  const t0 = performance.now();
  GvproxyInstance.version();
  return { loadMs: performance.now() - t0 };
}

// One port mapping, the same host port every time: destroy must release it at once.
function createDestroy(count: number, dir: string, port: number): object {
  GvproxyInstance.version();
  const samplesMs: number[] = [];
  for (let i = 0; i < count; i++) {
    const t0 = performance.now();
    const inst = new GvproxyInstance(`${dir}/cd.sock`, [[port, 80]]);
    inst.destroy();
    samplesMs.push(performance.now() - t0);
  }
  return { samplesMs };
}

// Timed in batches: one stats() call is close to the timer's resolution.
function stats(count: number, dir: string): object {
  using backend = new GvisorTapBackend({ socketPath: `${dir}/stats.sock` });
  const samplesUs: number[] = [];
  for (let i = 0; i < count / BATCH; i++) {
    const t0 = performance.now();
    for (let j = 0; j < BATCH; j++) backend.stats();
    samplesUs.push(((performance.now() - t0) * 1000) / BATCH);
  }
  return { samplesUs };
}

// RSS over the baseline of a process that has loaded the library and created and
// destroyed one instance (so one-time initialisation is not billed to the instances).
async function rss(instances: number, dir: string): Promise<object> {
  new GvproxyInstance(`${dir}/warm.sock`).destroy();
  Bun.gc(true);
  await Bun.sleep(300);
  const baselineMiB = rssMiB();
  const live = Array.from({ length: instances }, (_, i) => new GvproxyInstance(`${dir}/i${i}.sock`));
  Bun.gc(true);
  await Bun.sleep(500);
  const totalMiB = rssMiB() - baselineMiB;
  for (const inst of live) inst.destroy();
  return { instances, baselineMiB, totalMiB, perInstanceMiB: totalMiB / instances };
}

const [mode, a, b, c] = process.argv.slice(2);
const result =
  mode === "load"
    ? load()
    : mode === "create-destroy"
      ? createDestroy(Number(a), b!, Number(c))
      : mode === "stats"
        ? stats(Number(a), b!)
        : mode === "rss"
          ? await rss(Number(a), b!)
          : undefined;
if (result === undefined) {
  console.error("usage: control-plane.ts load | create-destroy COUNT DIR PORT | stats COUNT DIR | rss INSTANCES DIR");
  process.exit(2);
}
console.log(JSON.stringify(result));
process.exit(0);
