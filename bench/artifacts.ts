// The binaries under test — libgvproxy, the guest, gvproxy — copied aside at the start of
// a run. Other people rebuild build/ while a long run is going; without the copy, later
// runs of a cell would load a different library than earlier ones and the pairs would
// compare versions, not networks. The copies' digests go into the results.
import { suffix } from "bun:ffi";
import { copyFileSync, existsSync, rmSync } from "node:fs";
import { BUILD_DIR, tempDir } from "./processes.ts";

export interface Artifacts {
  guest: string;
  gvproxy: string;
  library: string;
}

const BUILT: Artifacts = {
  guest: `${BUILD_DIR}/gvguest`,
  gvproxy: `${BUILD_DIR}/gvproxy`,
  library: `${BUILD_DIR}/libgvproxy.${suffix}`,
};

let current: Artifacts = { ...BUILT };
let snapshotDir: string | undefined;

/** Where each binary under test is now: the snapshot once taken, build/ before. */
export function artifacts(): Artifacts {
  return current;
}

/** The first of `names` missing from build/, if any. */
export function missingArtifact(names: readonly (keyof Artifacts)[]): string | undefined {
  return names.map((n) => BUILT[n]).find((p) => !existsSync(p));
}

function digest(path: string): string {
  const hasher = new Bun.CryptoHasher("sha256");
  hasher.update(Bun.mmap(path));
  return hasher.digest("hex").slice(0, 16);
}

/**
 * Copies every built artifact aside, points the run (and, through GVPROXY_LIBRARY_PATH,
 * every child process) at the copies, and returns their sha256 prefixes by file name.
 */
export function snapshotArtifacts(): Record<string, string> {
  snapshotDir = tempDir("gvb-artifacts");
  const digests: Record<string, string> = {};
  const next: Artifacts = { ...BUILT };
  for (const name of Object.keys(BUILT) as (keyof Artifacts)[]) {
    const from = BUILT[name];
    if (!existsSync(from)) continue;
    const to = `${snapshotDir}/${from.slice(from.lastIndexOf("/") + 1)}`;
    copyFileSync(from, to);
    next[name] = to;
    digests[from.slice(BUILD_DIR.length + 1)] = digest(to);
  }
  current = next;
  process.env.GVPROXY_LIBRARY_PATH = current.library;
  return digests;
}

export function removeSnapshot(): void {
  if (snapshotDir) rmSync(snapshotDir, { recursive: true, force: true });
  snapshotDir = undefined;
  current = { ...BUILT };
}
