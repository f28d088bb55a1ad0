/**
 * Where libgvproxy is looked for (src/ffi.ts): GVPROXY_LIBRARY_PATH, then the installed
 * platform package, then the package's build/ directory; and what LIBRARY_NOT_FOUND says
 * when every place fails. Each case lays out a project as `bun add` would (the binding in
 * node_modules/bun-gvproxy, the platform package beside it) and loads it in a child Bun.
 */
import { afterEach, beforeEach, expect, test } from "bun:test";
import { cpSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { suffix } from "bun:ffi";
import { prebuiltPlatform, PREBUILT_PLATFORMS } from "../../src/platforms.ts";
import { makeTempDir } from "./helpers.ts";

const REPO = join(import.meta.dir, "..", "..");
const BUILT_LIBRARY = join(REPO, "build", `libgvproxy.${suffix}`);
const VERSION: string = JSON.parse(readFileSync(join(REPO, "package.json"), "utf8")).version;
const PLATFORM = prebuiltPlatform();

let temp: ReturnType<typeof makeTempDir>;
beforeEach(() => {
  temp = makeTempDir();
});
afterEach(() => {
  temp.remove();
});

interface Layout {
  /** The platform package: its version (default: the main package's) and whether it holds the library. */
  readonly platformPackage?: { readonly version?: string; readonly withLibrary: boolean };
  /** Whether the installed main package has a build/ directory with the library. */
  readonly build?: boolean;
}

/** Lays out `<temp>/<project>/node_modules` as an install would; returns the installed main package's root. */
function install(layout: Layout, project = "project"): string {
  const modules = join(temp.dir, project, "node_modules");
  const main = join(modules, "bun-gvproxy");
  mkdirSync(main, { recursive: true });
  cpSync(join(REPO, "src"), join(main, "src"), { recursive: true });
  writeFileSync(join(main, "package.json"), JSON.stringify({ name: "bun-gvproxy", version: VERSION, type: "module" }));
  symlinkSync(join(REPO, "node_modules", "consola"), join(modules, "consola"));
  if (layout.platformPackage !== undefined && PLATFORM !== undefined) {
    const dir = join(modules, PLATFORM.packageName);
    mkdirSync(dir);
    const version = layout.platformPackage.version ?? VERSION;
    writeFileSync(join(dir, "package.json"), JSON.stringify({ name: PLATFORM.packageName, version, os: [PLATFORM.os], cpu: [PLATFORM.cpu] }));
    if (layout.platformPackage.withLibrary) symlinkSync(BUILT_LIBRARY, join(dir, PLATFORM.libraryFile));
  }
  if (layout.build === true) {
    mkdirSync(join(main, "build"));
    symlinkSync(BUILT_LIBRARY, join(main, "build", `libgvproxy.${suffix}`));
  }
  return main;
}

/** What the installed binding reports in a child Bun: the library it picked and the version, or the error. */
async function probe(main: string, env: Record<string, string | undefined> = {}, prelude = "") {
  const project = join(main, "..", "..");
  const script = join(project, "probe.ts");
  writeFileSync(
    script,
    `${prelude}
const gv = await import(${JSON.stringify(join(main, "src", "index.ts"))});
const ffi = await import(${JSON.stringify(join(main, "src", "ffi.ts"))});
try {
  const version = gv.GvproxyInstance.version();
  console.log(JSON.stringify({ path: ffi.gvproxyLibraryPath(), version }));
} catch (e) {
  console.log(JSON.stringify({ code: e.code, message: e.message }));
}`,
  );
  const child = Bun.spawn([process.execPath, script], {
    cwd: project,
    env: { ...process.env, GVPROXY_LIBRARY_PATH: undefined, ...env },
    stdout: "pipe",
    stderr: "pipe",
    timeout: 30_000,
  });
  const [stdout, stderr, exitCode] = await Promise.all([new Response(child.stdout).text(), new Response(child.stderr).text(), child.exited]);
  expect({ exitCode, stderr }).toEqual({ exitCode: 0, stderr: "" });
  return JSON.parse(stdout.trim().split("\n").at(-1) ?? "") as { path?: string; version?: unknown; code?: string; message?: string };
}

const onPrebuiltPlatform = test.skipIf(PLATFORM === undefined);

onPrebuiltPlatform("the installed platform package is used when no build/ exists", async () => {
  const main = install({ platformPackage: { withLibrary: true } });
  const result = await probe(main);
  expect(result.path).toBe(join(main, "..", PLATFORM!.packageName, PLATFORM!.libraryFile));
  expect(result.version).toBeDefined();
});

onPrebuiltPlatform("the platform package comes before build/", async () => {
  const main = install({ platformPackage: { withLibrary: true }, build: true });
  expect((await probe(main)).path).toBe(join(main, "..", PLATFORM!.packageName, PLATFORM!.libraryFile));
});

onPrebuiltPlatform("GVPROXY_LIBRARY_PATH comes before the platform package", async () => {
  const main = install({ platformPackage: { withLibrary: true } });
  expect((await probe(main, { GVPROXY_LIBRARY_PATH: BUILT_LIBRARY })).path).toBe(BUILT_LIBRARY);
});

onPrebuiltPlatform("a wrong GVPROXY_LIBRARY_PATH is reported, never replaced by the platform package", async () => {
  const main = install({ platformPackage: { withLibrary: true } });
  const missing = join(temp.dir, "elsewhere", "libgvproxy.so");
  const result = await probe(main, { GVPROXY_LIBRARY_PATH: missing });
  expect(result.code).toBe("LIBRARY_NOT_FOUND");
  expect(result.message).toContain(`GVPROXY_LIBRARY_PATH=${missing} (no such file)`);
  expect(result.message).toContain("unset it");
});

test("build/ is used when no platform package is installed", async () => {
  const main = install({ build: true });
  expect((await probe(main)).path).toBe(join(main, "build", `libgvproxy.${suffix}`));
});

onPrebuiltPlatform("with nothing installed, LIBRARY_NOT_FOUND lists every place tried and the package to install", async () => {
  const main = install({});
  const result = await probe(main);
  expect(result.code).toBe("LIBRARY_NOT_FOUND");
  expect(result.message).toContain(`the package ${PLATFORM!.packageName} (not installed)`);
  expect(result.message).toContain(`${join(main, "build", `libgvproxy.${suffix}`)} (not built)`);
  expect(result.message).toContain(`bun add ${PLATFORM!.packageName}`);
  expect(result.message).toContain("make lib");
  expect(result.message).toContain("GVPROXY_LIBRARY_PATH");
});

onPrebuiltPlatform("a platform package without its library is skipped and named", async () => {
  const main = install({ platformPackage: { withLibrary: false }, build: true });
  expect((await probe(main)).path).toBe(join(main, "build", `libgvproxy.${suffix}`));
  const bare = install({ platformPackage: { withLibrary: false } }, "bare");
  const result = await probe(bare);
  expect(result.code).toBe("LIBRARY_NOT_FOUND");
  expect(result.message).toContain(`(missing from the installed ${PLATFORM!.packageName})`);
});

onPrebuiltPlatform("a platform package of another version is not loaded", async () => {
  const main = install({ platformPackage: { version: "0.0.1-other", withLibrary: true } });
  const result = await probe(main);
  expect(result.code).toBe("LIBRARY_NOT_FOUND");
  expect(result.message).toContain(`${PLATFORM!.packageName}@0.0.1-other is installed, bun-gvproxy needs ${VERSION}`);
});

test("on a platform without a prebuilt package, the error says so and how to build", async () => {
  const main = install({});
  const result = await probe(main, {}, `Object.defineProperty(process, "arch", { value: "riscv64" });`);
  expect(result.code).toBe("LIBRARY_NOT_FOUND");
  expect(result.message).toContain(`a prebuilt package for ${process.platform}-riscv64 (none exists`);
  expect(result.message).toContain(`no prebuilt library exists for ${process.platform}-riscv64`);
  expect(result.message).toContain("make lib");
  expect(result.message).not.toContain("bun add");
});

test("every platform package is named <main>-<os>-<cpu> and holds the library of its os", () => {
  expect(PREBUILT_PLATFORMS.map((p) => p.packageName)).toEqual([
    "bun-gvproxy-linux-x64",
    "bun-gvproxy-linux-arm64",
    "bun-gvproxy-darwin-arm64",
    "bun-gvproxy-darwin-x64",
  ]);
  for (const p of PREBUILT_PLATFORMS) expect(p.libraryFile).toBe(p.os === "darwin" ? "libgvproxy.dylib" : "libgvproxy.so");
  expect(prebuiltPlatform("linux", "x64")?.packageName).toBe("bun-gvproxy-linux-x64");
  expect(prebuiltPlatform("win32", "x64")).toBeUndefined();
});
