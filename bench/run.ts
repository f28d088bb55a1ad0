// The benchmark orchestrator behind `make bench` (`bun bench/run.ts [--quick] [--only=a,b]`):
// measures the ceilings, throughput, latency, control plane and log bridge in one run,
// then writes build/bench/<full|quick>.{json,md} and the throughput chart (SVG) — never a
// tracked file. `make bench-report FROM=build/bench/full.json` saves a run for BENCHMARKS.md.
//
// Sections: ceilings, throughput, latency, control-plane, log-bridge, events, kernel-guest
// and interception (both skipped with a message where namespaces and TAP devices cannot
// be made), and the opt-in kernel-scale (--scale or --only=kernel-scale: 64 kernel guests at once). A section that
// fails is reported under "Not measured" with its error; the others still run.
import { readFileSync, writeFileSync } from "node:fs";
import { cpus, release, totalmem } from "node:os";
import { renderThroughputChart } from "./chart.ts";
import { measureCeilings } from "./ceilings.ts";
import { measureControlPlane } from "./control-plane.ts";
import { checkGoals } from "./goals.ts";
import { measureLatency } from "./latency.ts";
import { measureEventStream } from "./events.ts";
import { interceptionUnavailable, measureInterception } from "./interception.ts";
import { measureKernelGuest } from "./kernel.ts";
import { measureKernelScale } from "./kernel-scale.ts";
import { kernelCellsUnavailable } from "./kernel-testbed.ts";
import { measureLogBridge } from "./log-bridge.ts";
import type { BenchResults, Meta } from "./model.ts";
import { planFor, type Plan } from "./plan.ts";
import { buildPeer, REPO_ROOT } from "./processes.ts";
import { missingArtifact, removeSnapshot, snapshotArtifacts, type Artifacts } from "./artifacts.ts";
import { renderReport, RUN_DIR, writeResults } from "./report.ts";
import { measureThroughput } from "./throughput.ts";

const SECTIONS = ["ceilings", "throughput", "latency", "control-plane", "log-bridge", "events", "kernel-guest", "interception", "kernel-scale"] as const;
type Section = (typeof SECTIONS)[number];
/** Sections that take long and run only when asked for (--scale, or by name in --only). */
const OPT_IN: readonly Section[] = ["kernel-scale"];

function parseArgs(argv: readonly string[]): { quick: boolean; only: Set<Section> } {
  const quick = argv.includes("--quick");
  const onlyArg = argv.find((a) => a.startsWith("--only="));
  const only = new Set<Section>(SECTIONS.filter((s) => !OPT_IN.includes(s) || argv.includes("--scale")));
  if (onlyArg) {
    only.clear();
    for (const s of onlyArg.slice("--only=".length).split(",")) {
      if (!(SECTIONS as readonly string[]).includes(s)) throw new Error(`unknown section ${s}; sections: ${SECTIONS.join(", ")}`);
      only.add(s as Section);
    }
  }
  return { quick, only };
}

async function goVersion(): Promise<string> {
  const proc = Bun.spawn(["go", "env", "GOVERSION"], { stdout: "pipe", stderr: "ignore" });
  return (await new Response(proc.stdout).text()).trim() || "go (unknown)";
}

async function meta(plan: Plan): Promise<Meta> {
  const gomod = readFileSync(`${REPO_ROOT}/libgvproxy/go.mod`, "utf8");
  return {
    date: new Date().toISOString(),
    command: plan.quick ? "make bench QUICK=1" : "make bench",
    quick: plan.quick,
    runs: plan.runs,
    secondsPerRun: plan.seconds,
    machine: { cpus: cpus().length, cpuModel: cpus()[0]?.model ?? "unknown", kernel: release(), memoryMiB: Math.round(totalmem() / 2 ** 20) },
    versions: {
      bun: Bun.version,
      gvisorTapVsock: /github\.com\/containers\/gvisor-tap-vsock (v\S+)/.exec(gomod)?.[1] ?? "unknown",
      go: await goVersion(),
    },
  };
}

/** What a section needs that `make bench` should have built; the first missing one. */
function missingFor(section: Section): string | undefined {
  const needs: Record<Section, (keyof Artifacts)[]> = {
    ceilings: [],
    throughput: ["guest", "gvproxy", "library"],
    latency: ["guest", "gvproxy", "library"],
    "control-plane": ["gvproxy", "library"],
    "log-bridge": ["guest", "gvproxy", "library"],
    events: ["guest", "library"],
    "kernel-guest": ["gvproxy", "library"],
    interception: ["library"],
    "kernel-scale": ["library"],
  };
  return missingArtifact(needs[section]);
}

/** Runs one section; a missing binary or a failure is recorded, and the run goes on. */
async function runSection(section: Section, measure: () => Promise<void>, results: BenchResults): Promise<void> {
  const unavailable = section === "kernel-guest" || section === "kernel-scale" ? kernelCellsUnavailable() : section === "interception" ? interceptionUnavailable() : undefined;
  if (unavailable !== undefined) {
    log(`${section} skipped: ${unavailable}`);
    results.skipped.push(`${section}: skipped: ${unavailable}`);
    return;
  }
  const missing = missingFor(section);
  if (missing) {
    results.skipped.push(`${section}: ${missing} is missing (run \`make build gvproxy\`)`);
    return;
  }
  log(`${section}...`);
  try {
    await measure();
  } catch (err) {
    const msg = err instanceof Error ? err.message : String(err);
    log(`${section} failed: ${msg}`);
    results.skipped.push(`${section}: failed: ${msg.split("\n")[0]}`);
  }
}

function log(line: string): void {
  console.error(`[bench ${new Date().toISOString().slice(11, 19)}] ${line}`);
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  const { quick, only } = parseArgs(argv);
  const plan = planFor(quick);
  const started = performance.now();
  await buildPeer();
  const results: BenchResults = { meta: await meta(plan), throughput: [], latency: [], goals: [], skipped: [] };
  results.meta.artifacts = snapshotArtifacts();
  if (!SECTIONS.every((s) => OPT_IN.includes(s) || only.has(s))) results.meta.partial = true;
  const sections: Record<Section, () => Promise<void>> = {
    ceilings: async () => void (results.ceilings = await measureCeilings({ runs: Math.max(plan.runs, 3), seconds: plan.seconds, latencyCount: plan.rrCount })),
    throughput: async () => void (results.throughput = await measureThroughput(plan, log)),
    latency: async () => void (results.latency = await measureLatency(plan, log)),
    "control-plane": async () => void (results.controlPlane = await measureControlPlane(plan, log)),
    "log-bridge": async () => void (results.logBridge = await measureLogBridge(plan, log)),
    events: async () => void (results.eventStream = await measureEventStream(plan, log)),
    "kernel-guest": async () => void (results.kernelGuest = await measureKernelGuest(plan, log)),
    interception: async () => void (results.interception = await measureInterception(plan, log)),
    "kernel-scale": async () => void (results.kernelScale = await measureKernelScale(plan.quick ? { lanes: 8, seconds: 3 } : { lanes: 64, seconds: 10 }, log)),
  };
  try {
    for (const section of SECTIONS) {
      if (only.has(section)) await runSection(section, sections[section], results);
    }
  } finally {
    removeSnapshot();
  }
  results.goals = checkGoals(results);
  // A run of some sections only must not overwrite the results of a complete one.
  const name = `${quick ? "quick" : "full"}${results.meta.partial ? "-partial" : ""}`;
  const written = writeResults(results, name);
  const svg = `${RUN_DIR}throughput${name === "full" ? "" : `-${name}`}.svg`;
  writeFileSync(svg, renderThroughputChart(results));
  console.log(renderReport(results));
  log(`wrote ${written.json}, ${written.markdown}, ${svg} in ${((performance.now() - started) / 1000).toFixed(0)} s`);
}

await main();
process.exit(0);
