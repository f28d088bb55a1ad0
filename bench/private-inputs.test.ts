/**
 * The benchmark's network processes and directories: what the interception section hands
 * them (a secret's value, the CA's private key) must not be readable by other users. A
 * process's command line is (`ps`, /proc/<pid>/cmdline); a directory is unless private.
 */
import { afterEach, describe, expect, test } from "bun:test";
import { readFileSync, rmSync, statSync } from "node:fs";
import type { Secret } from "../src/index.ts";
import { startNetwork, type RunningNetwork } from "./networks.ts";
import { tempDir } from "./processes.ts";

const SECRET: Secret = { placeholder: "GVP_BENCH_TEST_KEY", value: "sk-bench-test-9d2e7c", hosts: ["secret.bench.test"] };

let network: RunningNetwork | undefined;
afterEach(async () => {
  await network?.stop();
  network = undefined;
});

describe.skipIf(process.platform !== "linux")("ours-host", () => {
  test("gets the secrets and the CA outside its command line", async () => {
    network = await startNetwork("ours", { mtu: 1500, forwards: [], interception: { secrets: [SECRET], tlsInterception: {} } });
    const cmdline = readFileSync(`/proc/${network.pid}/cmdline`, "utf8");
    expect(cmdline).toContain("ours-host.ts");
    expect(cmdline).not.toContain(SECRET.value);
    expect(cmdline).not.toContain(SECRET.placeholder);
  });
});

describe("tempDir", () => {
  test("is a new directory only this user can enter, each time", () => {
    const a = tempDir("gvb-test");
    const b = tempDir("gvb-test");
    try {
      expect(a).not.toBe(b);
      for (const dir of [a, b]) {
        expect(statSync(dir).isDirectory()).toBe(true);
        expect(statSync(dir).mode & 0o777).toBe(0o700);
        expect(dir.length).toBeLessThan(40); // room left in sun_path for a socket name
      }
    } finally {
      for (const dir of [a, b]) rmSync(dir, { recursive: true, force: true });
    }
  });
});
