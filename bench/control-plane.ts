// The control plane: library load time in fresh processes, create+destroy latency,
// stats() call cost, and the RSS an idle instance costs (1, 10, 100 instances), with an
// idle standalone gvproxy process for scale.
import { readFileSync, rmSync } from "node:fs";
import type { ControlPlane } from "./model.ts";
import { artifacts } from "./artifacts.ts";
import { BUN_BIN, freePort, REPO_ROOT, runJson, tempDir } from "./processes.ts";
import type { Plan } from "./plan.ts";
import { summarize, summarizeLatency } from "./stats.ts";

const WORKER = `${REPO_ROOT}/bench/workers/control-plane.ts`;

async function gvproxyIdleRssMiB(): Promise<number> {
  const dir = tempDir("gvb-rss");
  const proc = Bun.spawn([artifacts().gvproxy, "-listen-qemu", `unix://${dir}/net.sock`, "-ssh-port", "-1"], { stdio: ["ignore", "ignore", "ignore"] });
  try {
    await Bun.sleep(800);
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${proc.pid}/status`, "utf8"));
    if (!m) throw new Error(`no VmRSS for gvproxy pid ${proc.pid}`);
    return Number(m[1]) / 1024;
  } finally {
    proc.kill();
    await proc.exited;
    rmSync(dir, { recursive: true, force: true });
  }
}

export async function measureControlPlane(plan: Plan, log: (line: string) => void): Promise<ControlPlane> {
  const dir = tempDir("gvb-cp");
  try {
    const loads: number[] = [];
    for (let i = 0; i < plan.loadRuns; i++) loads.push((await runJson<{ loadMs: number }>([BUN_BIN, WORKER, "load"])).loadMs);
    log(`library load: ${loads.map((v) => v.toFixed(1)).join(", ")} ms`);
    const cd = await runJson<{ samplesMs: number[] }>([BUN_BIN, WORKER, "create-destroy", String(plan.createDestroyCount), dir, String(await freePort())]);
    const st = await runJson<{ samplesUs: number[] }>([BUN_BIN, WORKER, "stats", String(plan.statsCount), dir]);
    const rss: ControlPlane["rssPerInstanceMiB"] = [];
    for (const n of plan.rssInstanceCounts) rss.push(await runJson<ControlPlane["rssPerInstanceMiB"][number]>([BUN_BIN, WORKER, "rss", String(n), dir]));
    const result: ControlPlane = {
      loadMs: summarize(loads),
      createDestroyMs: summarizeLatency(cd.samplesMs),
      statsCallUs: summarizeLatency(st.samplesUs),
      rssPerInstanceMiB: rss,
      gvproxyProcessRssMiB: await gvproxyIdleRssMiB(),
    };
    log(`create+destroy p50 ${result.createDestroyMs.p50.toFixed(2)} ms; stats() p50 ${result.statsCallUs.p50.toFixed(1)} µs; RSS/instance ${rss.map((r) => `${r.instances}: ${r.perInstanceMiB.toFixed(2)}`).join(", ")} MiB`);
    return result;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
