/**
 * The npm packages `make dist` wrote to dist/, as a user gets them: a fresh project
 * outside the repository, Go removed from PATH, `bun add bun-gvproxy` against a local
 * registry holding only the packed tarballs (and consola, the one dependency), and a
 * program importing `bun-gvproxy` by name. On linux-x64 natively, on linux-arm64 with the
 * arm64 Bun under qemu-user, each bringing a guest onto a network (DHCP lease, NAT round
 * trip). The darwin libraries cannot run here: their format, links and signature are
 * checked from their bytes.
 *
 * Run by `make test-install` (after `make dist`), not by `make test`: see
 * test/install/bunfig.toml.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, realpathSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { delimiter, join } from "node:path";
import { PREBUILT_PLATFORMS, type PrebuiltPlatform } from "../../src/platforms.ts";
import { libraryFacts, type MachOFacts } from "./binary-format.ts";
import { startLocalRegistry, tarballManifest, type LocalRegistry } from "./registry.ts";

const REPO = join(import.meta.dir, "..", "..");
const DIST = join(REPO, "dist");
const ROOT_MANIFEST = JSON.parse(readFileSync(join(REPO, "package.json"), "utf8"));
const VERSION: string = ROOT_MANIFEST.version;
const MAIN_TARBALL = join(DIST, `bun-gvproxy-${VERSION}.tgz`);
const tarballOf = (platform: PrebuiltPlatform) => join(DIST, `${platform.packageName}-${VERSION}.tgz`);
const platformNamed = (name: string) => PREBUILT_PLATFORMS.find((p) => `${p.os}-${p.cpu}` === name)!;

/** Test support code the consumer program uses to drive a guest; it never loads libgvproxy. */
const GUEST_DRIVER = join(REPO, "guest", "driver.ts");
const HOST_SERVERS = join(REPO, "test", "support", "host-servers.ts");
/** The arm64 Bun from npm (`@oven/bun-linux-aarch64`), fetched by `make test-install`. */
const BUN_ARM64 = process.env.BUN_ARM64;
const ARM64_SYSROOT = "/usr/aarch64-linux-gnu";
/** Go's own bound on the macOS version (go.mod: go 1.25), written into the darwin libraries. */
const MACOS_MINIMUM = "12.0";
const PACKED_SIZE_GOAL = 10 * 1024 * 1024;

let temp: string;
let registry: LocalRegistry;

beforeAll(() => {
  const wanted = [MAIN_TARBALL, ...PREBUILT_PLATFORMS.map(tarballOf)];
  const missing = wanted.filter((path) => !existsSync(path));
  if (missing.length > 0) throw new Error(`missing ${missing.join(", ")}: run \`make dist\` first (make test-install does)`);
  temp = realpathSync(mkdtempSync(join(tmpdir(), "gvp-install-")));
  expect(temp.startsWith(`${realpathSync(REPO)}/`)).toBe(false);
  const consola = packFromNpm("consola", ROOT_MANIFEST.dependencies.consola, join(temp, "npm"));
  registry = startLocalRegistry([...wanted, consola]);
});

afterAll(() => {
  registry?.stop();
  if (temp !== undefined) rmSync(temp, { recursive: true, force: true });
});

/** `npm pack name@version` into `dir` (from npm's cache when it has it); returns the tarball. */
function packFromNpm(name: string, version: string, dir: string): string {
  mkdirSync(dir, { recursive: true });
  const packed = Bun.spawnSync(["npm", "pack", `${name}@${version}`, "--prefer-offline", "--silent", "--pack-destination", dir], { stdout: "pipe", stderr: "pipe" });
  if (packed.exitCode !== 0) throw new Error(`npm pack ${name}@${version} failed: ${packed.stderr.toString()}`);
  return join(dir, packed.stdout.toString().trim());
}

/** The environment of a user without Go: PATH minus every directory holding `go`, no library override. */
function userEnv(project: string, extra: Record<string, string> = {}): Record<string, string | undefined> {
  const path = (process.env.PATH ?? "")
    .split(delimiter)
    .filter((dir) => dir !== "" && !existsSync(join(dir, "go")))
    .join(delimiter);
  return {
    ...process.env,
    PATH: path,
    GOROOT: undefined,
    GOPATH: undefined,
    GOFLAGS: undefined,
    GVPROXY_LIBRARY_PATH: undefined,
    BUN_CONFIG_REGISTRY: registry.url,
    NPM_CONFIG_REGISTRY: registry.url,
    // A cache of its own: Bun's global cache may hold another build of the same version.
    BUN_INSTALL_CACHE_DIR: join(project, ".bun-cache"),
    ...extra,
  };
}

/** A new empty project directory outside the repository. */
function newProject(name: string): string {
  const dir = join(temp, name);
  mkdirSync(dir);
  writeFileSync(join(dir, "package.json"), JSON.stringify({ name, private: true }));
  return dir;
}

/** Runs `argv` in `cwd`; resolves with its output, failing the test with both streams on a non-zero exit. */
async function run(argv: string[], cwd: string, env: Record<string, string | undefined>, timeout: number): Promise<string> {
  const child = Bun.spawn(argv, { cwd, env, stdout: "pipe", stderr: "pipe", timeout });
  const [stdout, stderr, exitCode] = await Promise.all([new Response(child.stdout).text(), new Response(child.stderr).text(), child.exited]);
  if (exitCode !== 0) throw new Error(`${argv.join(" ")} exited ${exitCode} in ${cwd}:\n${stdout}\n${stderr}`);
  return stdout;
}

/** The packages `bun add` put into `project`'s node_modules. */
function installedPackages(project: string): string[] {
  return readdirSync(join(project, "node_modules"))
    .filter((name) => !name.startsWith("."))
    .sort();
}

interface ConsumerReport {
  arch: string;
  version: string;
  libraries: string[];
  endpoint: { type: string; path: string; connectionType: string; macAddress: string };
  socketListening: boolean;
  lease?: { ip: string; router: string };
  roundTrip?: { response: string };
  echoConnections?: number;
  stats?: { bytesSent: number; bytesReceived: number };
  socketRemovedOnClose: boolean;
}

/**
 * Installs bun-gvproxy into a new project with `bun` (argv prefix), runs the consumer
 * program there in `mode`, and returns the project, what it installed and downloaded, and
 * the program's report.
 */
async function installAndUse(name: string, bun: string[], mode: "full" | "basic", timeout: number) {
  const project = newProject(name);
  const env = userEnv(project);
  expect(Bun.which("go", { PATH: env.PATH })).toBeNull();
  const downloadsBefore = registry.downloads.length;
  await run([...bun, "add", "bun-gvproxy"], project, env, timeout);
  const downloaded = registry.downloads.slice(downloadsBefore).sort();
  copyFileSync(join(import.meta.dir, "fixtures", "consumer.ts"), join(project, "consumer.ts"));
  const sockets = mkdtempSync(join(tmpdir(), "gvp-s-"));
  try {
    const stdout = await run([...bun, "consumer.ts", mode, sockets], project, { ...env, GVP_GUEST_DRIVER: GUEST_DRIVER, GVP_HOST_SERVERS: HOST_SERVERS }, timeout);
    const report = JSON.parse(stdout.trim().split("\n").at(-1) ?? "") as ConsumerReport;
    if (process.env.GVP_INSTALL_VERBOSE === "1") console.log(name, JSON.stringify(report));
    return { project, installed: installedPackages(project), downloaded, report, socketPath: join(sockets, "net.sock") };
  } finally {
    rmSync(sockets, { recursive: true, force: true });
  }
}

/** What every full run must show: the platform package's library, a lease, a NAT round trip, a clean close. */
function expectWorkingNetwork(result: Awaited<ReturnType<typeof installAndUse>>, platform: PrebuiltPlatform): void {
  const { report, project } = result;
  expect(report.arch).toBe(platform.cpu);
  expect(report.libraries).toEqual([join(project, "node_modules", platform.packageName, platform.libraryFile)]);
  expect(report.version).toMatch(/^v\d+\.\d+\.\d+/);
  expect(report.endpoint).toEqual({ type: "unix-socket", path: result.socketPath, connectionType: "unix-stream", macAddress: "5a:94:ef:e4:0c:ee" });
  expect(report.socketListening).toBe(true);
  expect(report.lease?.ip).toBe("192.168.127.2");
  expect(report.lease?.router).toBe("192.168.127.1");
  expect(report.roundTrip?.response).toBe("ping through the NAT");
  expect(report.echoConnections).toBe(1);
  expect(report.stats?.bytesSent).toBeGreaterThan(0);
  expect(report.stats?.bytesReceived).toBeGreaterThan(0);
  expect(report.socketRemovedOnClose).toBe(true);
}

describe("bun add bun-gvproxy, used by name in a project without Go", () => {
  test("linux-x64: only the linux-x64 package is installed, and a guest gets a lease and a NAT round trip", async () => {
    const platform = platformNamed("linux-x64");
    const result = await installAndUse("app-x64", [process.execPath], "full", 120_000);
    expect(result.installed).toEqual(["bun-gvproxy", platform.packageName, "consola"].sort());
    expect(result.downloaded).toEqual(["bun-gvproxy", platform.packageName, "consola"].sort());
    expectWorkingNetwork(result, platform);
    expect(registry.misses).toEqual([]);
  }, 180_000);

  test("linux-arm64 under qemu-user with the arm64 Bun: only the linux-arm64 package, and the same network", async () => {
    if (BUN_ARM64 === undefined) throw new Error("BUN_ARM64 is not set: run this suite with `make test-install`, which fetches the arm64 Bun");
    const platform = platformNamed("linux-arm64");
    // The x64 guest binary serves as the VM: it only talks to the arm64 process's socket.
    const qemu = ["qemu-aarch64-static", "-L", ARM64_SYSROOT, BUN_ARM64];
    const result = await installAndUse("app-arm64", qemu, "full", 300_000);
    expect(result.installed).toEqual(["bun-gvproxy", platform.packageName, "consola"].sort());
    expect(result.downloaded).toEqual(["bun-gvproxy", platform.packageName, "consola"].sort());
    expectWorkingNetwork(result, platform);
    expect(registry.misses).toEqual([]);
  }, 600_000);
});

/** The entries of an npm tarball, without the `package/` prefix. */
function tarballEntries(tarball: string): string[] {
  const listed = Bun.spawnSync(["tar", "-tzf", tarball], { stdout: "pipe" });
  return listed.stdout
    .toString()
    .trim()
    .split("\n")
    .map((entry) => entry.replace(/^package\//, ""))
    .sort();
}

/** One file of an npm tarball. */
function tarballFile(tarball: string, entry: string): Buffer {
  const read = Bun.spawnSync(["tar", "-xzOf", tarball, `package/${entry}`], { stdout: "pipe", maxBuffer: 64 * 1024 * 1024 });
  if (read.exitCode !== 0) throw new Error(`no ${entry} in ${tarball}`);
  return read.stdout;
}

describe("the packed packages", () => {
  test("the main package: sources, types, README, LICENSE; every platform package optional at the same version", () => {
    const manifest = tarballManifest(MAIN_TARBALL);
    expect(manifest.name).toBe("bun-gvproxy");
    expect(manifest.version).toBe(VERSION);
    expect(manifest.private).toBeUndefined();
    expect(manifest.files).toEqual(["src", "README.md", "LICENSE"]);
    expect(manifest.engines).toEqual({ bun: expect.stringMatching(/^>=\d/) });
    expect(manifest.types).toBe("src/index.ts");
    expect(manifest.dependencies).toEqual(ROOT_MANIFEST.dependencies);
    expect(manifest.devDependencies).toBeUndefined();
    expect(manifest.scripts).toBeUndefined();
    expect(manifest.optionalDependencies).toEqual(Object.fromEntries(PREBUILT_PLATFORMS.map((p) => [p.packageName, VERSION])));
    const sources = readdirSync(join(REPO, "src")).map((file) => `src/${file}`);
    expect(tarballEntries(MAIN_TARBALL)).toEqual(["LICENSE", "README.md", "package.json", ...sources].sort());
  });

  for (const platform of PREBUILT_PLATFORMS) {
    test(`${platform.packageName}: only its library and a package.json with os/cpu, packed <= 10 MB`, () => {
      const tarball = tarballOf(platform);
      expect(tarballEntries(tarball)).toEqual([platform.libraryFile, "package.json"].sort());
      const manifest = tarballManifest(tarball);
      expect(manifest).toMatchObject({ name: platform.packageName, version: VERSION, os: [platform.os], cpu: [platform.cpu] });
      const packed = statSync(tarball).size;
      console.log(`${platform.packageName}: ${(packed / 1e6).toFixed(2)} MB packed`);
      expect(packed).toBeLessThanOrEqual(PACKED_SIZE_GOAL);
    });
  }

  test("each library is a shared library for its own os and cpu", () => {
    const expected: Record<string, { format: string; machine: number }> = {
      "linux-x64": { format: "elf", machine: 62 },
      "linux-arm64": { format: "elf", machine: 183 },
      "darwin-x64": { format: "mach-o", machine: 0x01000007 },
      "darwin-arm64": { format: "mach-o", machine: 0x0100000c },
    };
    for (const platform of PREBUILT_PLATFORMS) {
      const facts = libraryFacts(tarballFile(tarballOf(platform), platform.libraryFile));
      const want = expected[`${platform.os}-${platform.cpu}`]!;
      const seen = facts.format === "elf" ? { format: "elf", machine: facts.machine, shared: facts.type === 3 } : { format: "mach-o", machine: facts.cpu, shared: facts.fileType === 6 };
      expect({ platform: platform.packageName, ...seen }).toEqual({ platform: platform.packageName, ...want, shared: true });
    }
  });

  // Test-only exports exist only under the gvproxytest build tag. Go keeps every function's
  // name in its pclntab even in a stripped library, so their absence from the bytes means
  // the code is not there; the test build of this machine's library is the control.
  test("no shipped library holds a test-only export (gvproxy_test_*)", () => {
    const marker = Buffer.from("gvproxy_test_");
    const testLibrary = join(REPO, "build", "test", `libgvproxy.${process.platform === "darwin" ? "dylib" : "so"}`);
    expect(readFileSync(testLibrary).includes(marker)).toBe(true);
    for (const platform of PREBUILT_PLATFORMS) {
      const library = tarballFile(tarballOf(platform), platform.libraryFile);
      expect({ platform: platform.packageName, hasTestExports: library.includes(marker) }).toEqual({ platform: platform.packageName, hasTestExports: false });
    }
  });

  test("the darwin libraries link only macOS system libraries, once each, require macOS 12, and arm64 is signed", () => {
    for (const platform of PREBUILT_PLATFORMS.filter((p) => p.os === "darwin")) {
      const facts = libraryFacts(tarballFile(tarballOf(platform), platform.libraryFile)) as MachOFacts;
      expect([...facts.loadDylibs].sort()).toEqual([
        "/System/Library/Frameworks/CoreFoundation.framework/Versions/A/CoreFoundation",
        "/System/Library/Frameworks/Security.framework/Versions/A/Security",
        "/usr/lib/libSystem.B.dylib",
        "/usr/lib/libresolv.9.dylib",
      ]);
      expect(facts.minimumOs).toBe(MACOS_MINIMUM);
      // Apple silicon refuses to map unsigned code; x86_64 has no such rule.
      if (platform.cpu === "arm64") expect(facts.codeSigned).toBe(true);
    }
  });
});
