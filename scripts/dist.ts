/**
 * `make dist`: builds libgvproxy for every prebuilt platform (src/platforms.ts) and writes
 * the npm tarballs of the main package and of each platform package to dist/, with
 * dist/SHA256SUMS. The libraries are release builds: stripped, `-trimpath`, no VCS stamp
 * or build id, so the same sources give the same bytes wherever they are checked out.
 *
 *   bun scripts/dist.ts [--zig PATH] [--only linux-x64,linux-arm64] [--check-reproducible]
 *
 * `--check-reproducible` builds every library a second time from a copy of the sources at
 * another path with an empty Go build cache and fails unless the bytes are identical.
 */
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { MAIN_PACKAGE_NAME, PREBUILT_PLATFORMS, type PrebuiltPlatform } from "../src/platforms.ts";
import { compilerCommand, goTarget, type Tools } from "./toolchains.ts";

const REPO = resolve(import.meta.dir, "..");
const DIST = join(REPO, "dist");
const WORK = join(REPO, "build", "dist");
const LIBRARY_MODULE = "libgvproxy";

/**
 * The Go build tags of the shipped library. None: test-only exports are compiled only
 * with the test tag `make lib` uses, so a release build has none of them.
 */
const RELEASE_TAGS: readonly string[] = [];

interface RootManifest {
  name: string;
  version: string;
  files: string[];
  license: string;
  description: string;
  [field: string]: unknown;
}

/** One platform's built library. */
interface BuiltLibrary {
  readonly platform: PrebuiltPlatform;
  readonly path: string;
  readonly sha256: string;
}

/** One written tarball. */
interface PackedPackage {
  readonly name: string;
  readonly tarball: string;
  readonly packedBytes: number;
  readonly unpackedBytes: number;
}

function main(): void {
  const { values } = parseArgs({
    options: {
      zig: { type: "string", default: process.env.ZIG ?? join(REPO, "build", "toolchain", "zig", "ziglang", "zig") },
      only: { type: "string" },
      "check-reproducible": { type: "boolean", default: false },
    },
  });
  const platforms = selectPlatforms(values.only);
  const root = readRootManifest();
  mkdirSync(WORK, { recursive: true });
  const zig = values.zig.includes("/") ? resolve(values.zig) : (Bun.which(values.zig) ?? values.zig);
  const tools: Tools = { zig, workDir: WORK, goroot: run(["go", "env", "GOROOT"]).trim() };
  checkCompilers(platforms, tools);

  rmSync(DIST, { recursive: true, force: true });
  mkdirSync(DIST, { recursive: true });
  const libraries = platforms.map((platform) => buildLibrary(platform, tools, join(REPO, LIBRARY_MODULE), join(WORK, "lib")));
  const packed = [
    packMainPackage(root),
    ...libraries.map((library) => packPlatformPackage(library, root)),
  ];
  writeChecksums(libraries, packed);
  printTable(libraries, packed);
  if (values["check-reproducible"] && !checkReproducible(libraries, tools)) process.exit(1);
}

/** The platforms named by `--only` (e.g. `linux-x64,linux-arm64`), or all of them. */
function selectPlatforms(only: string | undefined): readonly PrebuiltPlatform[] {
  if (only === undefined) return PREBUILT_PLATFORMS;
  const wanted = only.split(",").map((name) => name.trim());
  const unknown = wanted.filter((name) => !PREBUILT_PLATFORMS.some((p) => `${p.os}-${p.cpu}` === name));
  if (unknown.length > 0) fail(`unknown platform ${unknown.join(", ")} in --only; known: ${PREBUILT_PLATFORMS.map((p) => `${p.os}-${p.cpu}`).join(", ")}`);
  return PREBUILT_PLATFORMS.filter((p) => wanted.includes(`${p.os}-${p.cpu}`));
}

function readRootManifest(): RootManifest {
  const manifest = JSON.parse(readFileSync(join(REPO, "package.json"), "utf8")) as RootManifest;
  if (manifest.name !== MAIN_PACKAGE_NAME) fail(`package.json is named ${manifest.name}, expected ${MAIN_PACKAGE_NAME}`);
  return manifest;
}

/** Fails before any build when a platform's C compiler is missing, saying what to install. */
function checkCompilers(platforms: readonly PrebuiltPlatform[], tools: Tools): void {
  for (const platform of platforms) {
    const command = compilerCommand(platform, tools);
    if (Bun.which(command) === null && !existsSync(command)) {
      const hint = platform.os === "darwin" ? "`make zig` (PyPI ziglang), or pass --zig" : "apt-get install gcc-aarch64-linux-gnu libc6-dev-arm64-cross";
      fail(`${platform.os}-${platform.cpu} needs ${command}, which is not installed: ${hint}`);
    }
  }
}

/** Builds the release library of `platform` from the Go module at `moduleDir` into `<outRoot>/<os>-<cpu>/`. */
function buildLibrary(platform: PrebuiltPlatform, tools: Tools, moduleDir: string, outRoot: string, env: Record<string, string> = {}): BuiltLibrary {
  const outDir = join(outRoot, `${platform.os}-${platform.cpu}`);
  rmSync(outDir, { recursive: true, force: true });
  mkdirSync(outDir, { recursive: true });
  const path = join(outDir, platform.libraryFile);
  const target = goTarget(platform, tools);
  const tags = RELEASE_TAGS.length > 0 ? [`-tags=${RELEASE_TAGS.join(",")}`] : [];
  // zig's output depends on what its cache already holds (a warm cache gives other bytes
  // than a cold one), so every build starts from an empty one of its own.
  const zigCache = mkdtempSync(join(tmpdir(), "gvp-zig-"));
  const started = performance.now();
  run(["go", "build", "-trimpath", "-buildvcs=false", "-buildmode=c-shared", "-ldflags=-s -w -buildid=", ...tags, "-o", path, "."], {
    cwd: moduleDir,
    env: { ...process.env, ...target, CGO_ENABLED: "1", GOFLAGS: "", ZIG_GLOBAL_CACHE_DIR: zigCache, ZIG_LOCAL_CACHE_DIR: zigCache, ...env },
  });
  rmSync(zigCache, { recursive: true, force: true });
  rmSync(join(outDir, "libgvproxy.h"), { force: true });
  const seconds = ((performance.now() - started) / 1000).toFixed(1);
  console.error(`built ${platform.os}-${platform.cpu} (${target.CC.includes("zig") ? "zig cc" : target.CC}) in ${seconds} s`);
  return { platform, path, sha256: sha256(path) };
}

/** Stages and packs the main package: the root manifest's `files`, optionalDependencies on every platform package. */
function packMainPackage(root: RootManifest): PackedPackage {
  const stage = join(WORK, "stage", MAIN_PACKAGE_NAME);
  rmSync(stage, { recursive: true, force: true });
  mkdirSync(stage, { recursive: true });
  for (const entry of root.files) cpSync(join(REPO, entry), join(stage, entry), { recursive: true });
  // The repository's manifest is the development one (scripts, devDependencies, and no
  // optionalDependencies: the platform packages would shadow build/ while developing).
  const { scripts: _scripts, devDependencies: _dev, ...published } = root;
  const optionalDependencies = Object.fromEntries(PREBUILT_PLATFORMS.map((p) => [p.packageName, root.version]));
  writeFileSync(join(stage, "package.json"), `${JSON.stringify({ ...published, optionalDependencies }, null, 2)}\n`);
  return npmPack(stage);
}

/** Stages and packs one platform package: its library and a package.json with `os`/`cpu`. */
function packPlatformPackage(library: BuiltLibrary, root: RootManifest): PackedPackage {
  const { platform } = library;
  const stage = join(WORK, "stage", platform.packageName);
  rmSync(stage, { recursive: true, force: true });
  mkdirSync(stage, { recursive: true });
  cpSync(library.path, join(stage, platform.libraryFile));
  const manifest = {
    name: platform.packageName,
    version: root.version,
    description: `The ${platform.os}-${platform.cpu} libgvproxy of ${MAIN_PACKAGE_NAME}`,
    license: root.license,
    os: [platform.os],
    cpu: [platform.cpu],
    files: [platform.libraryFile],
    preferUnplugged: true,
  };
  writeFileSync(join(stage, "package.json"), `${JSON.stringify(manifest, null, 2)}\n`);
  return npmPack(stage);
}

function npmPack(stage: string): PackedPackage {
  const report = JSON.parse(run(["npm", "pack", "--json", "--pack-destination", DIST, "--loglevel=error"], { cwd: stage })) as {
    name: string;
    filename: string;
    size: number;
    unpackedSize: number;
  }[];
  const [entry] = report;
  if (entry === undefined) fail(`npm pack wrote nothing for ${stage}`);
  return { name: entry.name, tarball: join(DIST, entry.filename), packedBytes: entry.size, unpackedBytes: entry.unpackedSize };
}

function writeChecksums(libraries: readonly BuiltLibrary[], packed: readonly PackedPackage[]): void {
  const lines = [
    ...libraries.map((l) => `${l.sha256}  ${l.platform.packageName}/${l.platform.libraryFile}`),
    ...packed.map((p) => `${sha256(p.tarball)}  ${basename(p.tarball)}`),
  ];
  writeFileSync(join(DIST, "SHA256SUMS"), `${lines.join("\n")}\n`);
}

function printTable(libraries: readonly BuiltLibrary[], packed: readonly PackedPackage[]): void {
  const mb = (bytes: number) => `${(bytes / 1e6).toFixed(2)} MB`;
  console.log("package".padEnd(28), "packed".padStart(10), "unpacked".padStart(10), " library sha256");
  for (const p of packed) {
    const library = libraries.find((l) => l.platform.packageName === p.name);
    console.log(p.name.padEnd(28), mb(p.packedBytes).padStart(10), mb(p.unpackedBytes).padStart(10), ` ${library?.sha256 ?? "-"}`);
  }
  console.log(`tarballs in ${DIST}`);
}

/**
 * Rebuilds every library from a copy of the Go sources under another directory, with an
 * empty build cache, and reports whether each comes out byte for byte the same.
 */
function checkReproducible(libraries: readonly BuiltLibrary[], tools: Tools): boolean {
  const elsewhere = mkdtempSync(join(tmpdir(), "gvp-repro-"));
  try {
    const moduleDir = copyGoSources(elsewhere);
    // An empty Go build cache, as on a fresh machine (zig's is always empty).
    const caches = { GOCACHE: join(elsewhere, "gocache") };
    let same = true;
    for (const first of libraries) {
      const second = buildLibrary(first.platform, tools, moduleDir, join(elsewhere, "lib"), caches);
      const verdict = second.sha256 === first.sha256 ? "reproducible" : `DIFFERS: ${first.sha256} vs ${second.sha256}`;
      console.log(`${first.platform.packageName}: ${verdict}`);
      same &&= second.sha256 === first.sha256;
    }
    return same;
  } finally {
    rmSync(elsewhere, { recursive: true, force: true });
  }
}

/** Copies the library's module and the local modules its go.mod replaces into `dir`; returns the module's copy. */
function copyGoSources(dir: string): string {
  const goMod = readFileSync(join(REPO, LIBRARY_MODULE, "go.mod"), "utf8");
  const local = [...goMod.matchAll(/=>\s*\.\.\/([\w.-]+)\s*$/gm)].map((m) => m[1] as string);
  for (const module of [LIBRARY_MODULE, ...local]) {
    cpSync(join(REPO, module), join(dir, "src", module), { recursive: true });
  }
  return join(dir, "src", LIBRARY_MODULE);
}

function sha256(path: string): string {
  return new Bun.CryptoHasher("sha256").update(readFileSync(path)).digest("hex");
}

/** Runs `argv`, returning its stdout; exits with its output when it fails. */
function run(argv: string[], options: { cwd?: string; env?: Record<string, string | undefined> } = {}): string {
  const result = Bun.spawnSync(argv, { cwd: options.cwd ?? REPO, env: options.env ?? process.env, stdout: "pipe", stderr: "pipe" });
  if (result.exitCode !== 0) {
    fail(`${argv.join(" ")} failed (exit ${result.exitCode}) in ${options.cwd ?? REPO}:\n${result.stdout.toString()}${result.stderr.toString()}`);
  }
  return result.stdout.toString();
}

function fail(message: string): never {
  console.error(`dist: ${message}`);
  process.exit(1);
}

if (import.meta.main) main();
