/**
 * Property: whatever config a caller passes, the constructor either yields a working
 * network or throws a GvproxyError with a documented code, never another error type and
 * never a crash. Configs come from a seeded generator (printed; replay a failure with
 * HARDEN_SEED=<seed>), mixing valid and invalid fields, wrong types and weird strings.
 *
 * Two layers are exercised: the public constructor (TypeScript validation, then Go), and
 * the C ABI alone with random config JSON (Go never trusts its caller), the latter in a
 * child process because a Go crash would take the test runner with it.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, writeFileSync } from "node:fs";
import net from "node:net";
import { join } from "node:path";
import { GvisorTapBackend, GvproxyError, GVPROXY_ERROR_CODES, type GvproxyConfig, type GvproxyErrorCode } from "../../src/index.ts";
import { describeChild, runScript, succeeded } from "../support/child-script.ts";
import { makeTempDir, type TempDir } from "../support/paths.ts";
import { SeededRandom } from "../support/seeded-random.ts";
import { randomConfig, type ConfigSandbox } from "./config-generator.ts";

const CASES = 1500;
const seed = SeededRandom.seedFromEnv();
console.log(`config property: seed ${seed} (replay with HARDEN_SEED=${seed})`);

let tmp: TempDir;
let live: net.Server;
let sandbox: ConfigSandbox;

beforeAll(async () => {
  tmp = makeTempDir("gvp-prop-");
  const file = tmp.path("plain-file");
  writeFileSync(file, "not a directory");
  const liveSocket = tmp.path("live.sock");
  live = net.createServer();
  await new Promise<void>((resolve) => live.listen(liveSocket, resolve));
  sandbox = { dir: tmp.dir, file, liveSocket };
});

afterAll(async () => {
  await new Promise<void>((resolve) => live.close(() => resolve()));
  tmp.remove();
});

/** Renders a config for a failure message (bigints, symbols and functions included). */
function show(config: unknown): string {
  return JSON.stringify(config, (_key, value: unknown) =>
    typeof value === "bigint" || typeof value === "symbol" || typeof value === "function" ? String(value) : value,
  );
}

describe("config validation, property-based", () => {
  test(`${CASES} random configs: a working network or a GvproxyError with a known code`, () => {
    const random = new SeededRandom(seed);
    const outcomes = new Map<string, number>();
    const count = (key: string) => outcomes.set(key, (outcomes.get(key) ?? 0) + 1);
    for (let i = 0; i < CASES; i++) {
      const config = randomConfig(random, sandbox, i);
      let network: GvisorTapBackend | undefined;
      try {
        network = new GvisorTapBackend(config as unknown as GvproxyConfig);
      } catch (error) {
        if (!(error instanceof GvproxyError)) {
          throw new Error(`case ${i} (seed ${seed}) threw ${String(error)} instead of a GvproxyError; config ${show(config)}`);
        }
        if (!(GVPROXY_ERROR_CODES as readonly string[]).includes(error.code) || error.message.trim() === "") {
          throw new Error(`case ${i} (seed ${seed}): unknown code ${error.code} or empty message; config ${show(config)}`);
        }
        // INTERNAL is for failures of the library itself; a config must map to its own code.
        if (error.code === "INTERNAL") {
          throw new Error(`case ${i} (seed ${seed}): a config was reported as INTERNAL: ${error.message}; config ${show(config)}`);
        }
        count(error.code);
        continue;
      }
      try {
        // A constructed network works: its socket exists and answers, stats are readable.
        const endpoint = network.endpoint();
        expect(endpoint.path).toBe(config.socketPath as string);
        expect(existsSync(endpoint.path)).toBe(true);
        expect(network.stats().bytesSent).toBe(0);
        count("created");
      } finally {
        network.close();
      }
      expect(existsSync(config.socketPath as string)).toBe(false);
    }
    const summary = [...outcomes.entries()].sort((a, b) => b[1] - a[1]);
    console.log(`config property: ${CASES} configs -> ${summary.map(([k, v]) => `${k} ${v}`).join(", ")}`);
    // The generator must exercise both sides of the property, or the test proves little.
    expect(outcomes.get("created") ?? 0).toBeGreaterThan(CASES / 20);
    expect(outcomes.get("INVALID_CONFIG") ?? 0).toBeGreaterThan(CASES / 4);
  }, 120_000);

  test("the C ABI alone: random config JSON yields an instance or an error envelope with a known code", async () => {
    const run = await runScript(join(import.meta.dir, "fixtures", "config-json-fuzz.ts"), [String(seed), "3000", tmp.dir], {
      timeoutMs: 100_000,
      env: { GVPROXY_LOG_LEVEL: "silent" },
    });
    if (!succeeded(run)) throw new Error(`the config JSON fuzz child failed (seed ${seed}): ${describeChild(run)}`);
    const report = run.report as { cases: number; outcomes: Record<string, number>; violations: string[] };
    console.log(`config JSON through the C ABI: ${report.cases} documents -> ${JSON.stringify(report.outcomes)}`);
    expect(report.violations).toEqual([]);
    const codes = Object.keys(report.outcomes).filter((k) => k !== "created") as GvproxyErrorCode[];
    for (const code of codes) expect(GVPROXY_ERROR_CODES).toContain(code);
    expect(report.outcomes.created ?? 0).toBeGreaterThan(0);
  }, 120_000);
});
