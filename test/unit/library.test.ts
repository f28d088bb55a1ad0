/**
 * Loading libgvproxy (src/ffi.ts) and the GVPROXY_* environment. The library is loaded
 * once per process, so each case runs in a fresh child Bun process.
 */
import { suffix } from "bun:ffi";
import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { TEST_LIBRARY_ENV, TEST_LIBRARY_PATH } from "../support/test-hooks.ts";
import { makeTempDir } from "./helpers.ts";

const index = join(import.meta.dir, "../../src/index.ts");
let temp: ReturnType<typeof makeTempDir>;

beforeEach(() => {
  temp = makeTempDir();
});

afterEach(() => {
  temp.remove();
});

/** Runs `code` (an ES module importing the binding as `gv`) in a child Bun with `env` added. */
async function runChild(code: string, env: Record<string, string | undefined>) {
  const script = join(temp.dir, "child.ts");
  writeFileSync(script, `import * as gv from ${JSON.stringify(index)};\n${code}`);
  const child = Bun.spawn([process.execPath, script], {
    env: { ...process.env, ...env },
    stdout: "pipe",
    stderr: "pipe",
    timeout: 30_000,
  });
  const [stdout, stderr, exitCode] = await Promise.all([new Response(child.stdout).text(), new Response(child.stderr).text(), child.exited]);
  return { stdout, stderr, exitCode };
}

const reportError = `
try { gv.GvproxyInstance.version(); console.log("loaded"); }
catch (e) { console.log(JSON.stringify({ name: e.name, code: e.code, message: e.message })); }
`;

test("a missing library is LIBRARY_NOT_FOUND naming the path and how to fix it", async () => {
  const missing = join(temp.dir, "nope", "libgvproxy.so");
  const { stdout, exitCode } = await runChild(reportError, { GVPROXY_LIBRARY_PATH: missing });
  expect(exitCode).toBe(0);
  const error = JSON.parse(stdout);
  expect(error.name).toBe("GvproxyError");
  expect(error.code).toBe("LIBRARY_NOT_FOUND");
  expect(error.message).toContain(missing);
  expect(error.message).toContain("GVPROXY_LIBRARY_PATH");
});

test("a file that is not a loadable library is LIBRARY_NOT_FOUND too", async () => {
  const bogus = join(temp.dir, "libgvproxy.so");
  writeFileSync(bogus, "not an ELF file");
  const { stdout } = await runChild(reportError, { GVPROXY_LIBRARY_PATH: bogus });
  const error = JSON.parse(stdout);
  expect(error.code).toBe("LIBRARY_NOT_FOUND");
  expect(error.message).toContain(bogus);
});

/** Every symbol of src/ffi.ts's table, so only the ABI version differs from a real build. */
const STUB_LIBRARY_C = `
#include <stdint.h>
#include <stdlib.h>
int32_t gvproxy_abi_version(void) { return 2; }
char* gvproxy_version(void) { return NULL; }
char* gvproxy_create(const char* c) { (void)c; return NULL; }
char* gvproxy_destroy(int64_t id) { (void)id; return NULL; }
char* gvproxy_stats(int64_t id) { (void)id; return NULL; }
void gvproxy_free(char* p) { free(p); }
void gvproxy_set_log_level(int32_t l) { (void)l; }
int32_t gvproxy_drain_logs(void* fn, int32_t n) { (void)fn; (void)n; return 0; }
char* gvproxy_log_stats(void) { return NULL; }
char* gvproxy_signals_repair(void) { return NULL; }
char* gvproxy_expose(int64_t id, const char* a) { (void)id; (void)a; return NULL; }
char* gvproxy_unexpose(int64_t id, const char* a) { (void)id; (void)a; return NULL; }
char* gvproxy_forwards(int64_t id) { (void)id; return NULL; }
char* gvproxy_add_host_socket(int64_t id, const char* a) { (void)id; (void)a; return NULL; }
char* gvproxy_remove_host_socket(int64_t id, int64_t p) { (void)id; (void)p; return NULL; }
char* gvproxy_set_allow_net(int64_t id, const char* a) { (void)id; (void)a; return NULL; }
char* gvproxy_set_dns_zones(int64_t id, const char* a) { (void)id; (void)a; return NULL; }
char* gvproxy_guest(int64_t id) { (void)id; return NULL; }
char* gvproxy_subscribe(int64_t id, int64_t m) { (void)id; (void)m; return NULL; }
char* gvproxy_drain_events(int64_t id, int64_t n) { (void)id; (void)n; return NULL; }
char* gvproxy_set_secrets(int64_t id, const char* a) { (void)id; (void)a; return NULL; }
char* gvproxy_ca_certificate(int64_t id) { (void)id; return NULL; }
`;

test.skipIf(Bun.which("cc") === null)("a library speaking another ABI version is refused with LIBRARY_NOT_FOUND", async () => {
  const source = join(temp.dir, "stub.c");
  const library = join(temp.dir, "libgvproxy-abi2.so");
  writeFileSync(source, STUB_LIBRARY_C);
  const compiled = Bun.spawnSync(["cc", "-shared", "-fPIC", "-o", library, source]);
  expect(compiled.exitCode).toBe(0);
  const { stdout } = await runChild(reportError, { GVPROXY_LIBRARY_PATH: library });
  const error = JSON.parse(stdout);
  expect(error.code).toBe("LIBRARY_NOT_FOUND");
  expect(error.message).toContain("ABI version 2");
  expect(error.message).toContain(library);
});

test("without GVPROXY_LIBRARY_PATH the library is looked up in <repo>/build", async () => {
  const { stdout } = await runChild(
    `import { gvproxyLibraryPath } from ${JSON.stringify(join(import.meta.dir, "../../src/ffi.ts"))};
     console.log(JSON.stringify(gvproxyLibraryPath()));`,
    { GVPROXY_LIBRARY_PATH: undefined },
  );
  expect(JSON.parse(stdout)).toBe(join(import.meta.dir, "../../build", `libgvproxy.${process.platform === "darwin" ? "dylib" : "so"}`));
});

test("config shape errors are reported without loading the library (the rules are Go's)", async () => {
  const { stdout } = await runChild(
    `try { new gv.GvproxyInstance("/tmp/x.sock", [[8080]]); } catch (e) { console.log(e.code, e.field); }`,
    { GVPROXY_LIBRARY_PATH: join(temp.dir, "missing.so") },
  );
  expect(stdout.trim()).toBe("INVALID_CONFIG portMappings[0]");
});

const noisyInstance = (socketPath: string) => `
const inst = new gv.GvproxyInstance(${JSON.stringify(socketPath)});
inst.destroy();
`;

test("GVPROXY_LOG_LEVEL=silent silences the gvproxy tag; info shows its records", async () => {
  const shown = await runChild(noisyInstance(join(temp.dir, "a.sock")), { GVPROXY_LOG_LEVEL: "info" });
  expect(shown.exitCode).toBe(0);
  expect(shown.stdout + shown.stderr).toContain("[gvproxy]");
  const silent = await runChild(noisyInstance(join(temp.dir, "b.sock")), { GVPROXY_LOG_LEVEL: "silent" });
  expect(silent.exitCode).toBe(0);
  expect(silent.stdout + silent.stderr).not.toContain("gvproxy");
});

test("GVPROXY_LOG_LEVEL sets the level of the tagged logger and the Go-side filter", async () => {
  const code = `
import { gvproxyLogger } from ${JSON.stringify(join(import.meta.dir, "../../src/logging.ts"))};
const before = gv.gvproxyLogStats().delivered;
new gv.GvproxyInstance(${JSON.stringify(join(temp.dir, "c.sock"))}).destroy();
console.log(JSON.stringify({ level: gvproxyLogger().level, delivered: gv.gvproxyLogStats().delivered - before }));
`;
  const debug = JSON.parse((await runChild(code, { GVPROXY_LOG_LEVEL: "debug" })).stdout.trim().split("\n").at(-1) ?? "");
  const error = JSON.parse((await runChild(code, { GVPROXY_LOG_LEVEL: "error" })).stdout.trim().split("\n").at(-1) ?? "");
  expect(debug.level).toBe(4);
  expect(error.level).toBe(0);
  expect(debug.delivered).toBeGreaterThan(0);
  expect(error.delivered).toBe(0);
});

test("an unknown GVPROXY_LOG_LEVEL is reported and ignored", async () => {
  const { stdout, stderr } = await runChild(`gv.GvproxyInstance.version();`, { GVPROXY_LOG_LEVEL: "loud" });
  expect(stdout + stderr).toContain("GVPROXY_LOG_LEVEL=loud");
});

describe("test-only exports (gvproxy_test_*)", () => {
  const hooksModule = JSON.stringify(join(import.meta.dir, "../support/test-hooks.ts"));
  const hookNames = ["gvproxy_test_log_flood", "gvproxy_test_log_flood_wait", "gvproxy_test_event_flood", "gvproxy_test_event_flood_wait", "gvproxy_test_goroutines"];
  // Each child loads the binding first, so the probe's dlopen only adds a reference.
  const probe = `
import { dlopen, FFIType } from "bun:ffi";
gv.GvproxyInstance.version();
const path = process.env.PROBE_LIBRARY;
const present = ${JSON.stringify(hookNames)}.filter((name) => {
  try { dlopen(path, { [name]: { args: [], returns: FFIType.i32 } }); return true; } catch { return false; }
});
console.log(JSON.stringify(present));
`;

  test("the release library has none of them", async () => {
    const release = join(import.meta.dir, "../../build", `libgvproxy.${suffix}`);
    const { stdout, stderr, exitCode } = await runChild(probe, { GVPROXY_LIBRARY_PATH: release, PROBE_LIBRARY: release });
    expect(exitCode, stderr).toBe(0);
    expect(JSON.parse(stdout)).toEqual([]);
  });

  test("the test build has every hook of the table, and loadTestHooks() gives them", async () => {
    const code = `import { loadTestHooks } from ${hooksModule};\n${probe}\nconsole.log(JSON.stringify(Object.keys(loadTestHooks()).sort()));`;
    const { stdout, stderr, exitCode } = await runChild(code, { ...TEST_LIBRARY_ENV, PROBE_LIBRARY: TEST_LIBRARY_PATH });
    expect(exitCode, stderr).toBe(0);
    const [present, loaded] = stdout.trim().split("\n").map((line) => JSON.parse(line) as string[]);
    expect(present).toEqual(hookNames);
    expect(loaded).toEqual([...hookNames].sort());
  });

  test("loadTestHooks() on the release build says how to run with the test build", async () => {
    const code = `import { loadTestHooks } from ${hooksModule};
gv.GvproxyInstance.version();
try { loadTestHooks(); console.log("loaded"); } catch (e) { console.log(JSON.stringify(e.message)); }`;
    const { stdout, exitCode } = await runChild(code, { GVPROXY_LIBRARY_PATH: undefined });
    expect(exitCode).toBe(0);
    const message = JSON.parse(stdout) as string;
    expect(message).toContain(`GVPROXY_LIBRARY_PATH=${TEST_LIBRARY_PATH}`);
    expect(message).toContain("make test-lib");
  });
});
