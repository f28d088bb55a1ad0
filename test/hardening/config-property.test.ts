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

/** What is wrong with a constructor's error, or undefined when it is a proper refusal. */
function refusalViolation(error: unknown): string | undefined {
  if (!(error instanceof GvproxyError)) return `threw ${String(error)} instead of a GvproxyError`;
  if (!(GVPROXY_ERROR_CODES as readonly string[]).includes(error.code)) return `unknown code ${error.code}`;
  if (error.message.trim() === "") return `${error.code} with an empty message`;
  // INTERNAL is for failures of the library itself; a bad config has a code of its own.
  if (error.code === "INTERNAL") return `reported as INTERNAL: ${error.message.slice(0, 300)}`;
  return undefined;
}

describe("config validation, property-based", () => {
  test(`${CASES} random configs: a working network or a GvproxyError with a known code`, () => {
    const random = new SeededRandom(seed);
    const outcomes = new Map<string, number>();
    const count = (key: string) => outcomes.set(key, (outcomes.get(key) ?? 0) + 1);
    const violations: string[] = [];
    for (let i = 0; i < CASES; i++) {
      const config = randomConfig(random, sandbox, i);
      let network: GvisorTapBackend | undefined;
      try {
        network = new GvisorTapBackend(config as unknown as GvproxyConfig);
      } catch (error) {
        const violation = refusalViolation(error);
        count(violation === undefined ? (error as GvproxyError).code : "violation");
        if (violation !== undefined && violations.length < 10) violations.push(`case ${i}: ${violation}; config ${show(config)}`);
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
    console.log(`config property (seed ${seed}): ${CASES} configs -> ${summary.map(([k, v]) => `${k} ${v}`).join(", ")}`);
    expect(violations).toEqual([]);
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
