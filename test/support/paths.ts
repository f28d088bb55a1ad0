/** Private temporary directories for socket and capture paths (short: sun_path is ~104 bytes). */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export interface TempDir {
  readonly dir: string;
  /** A path inside the directory. */
  path(name: string): string;
  remove(): void;
}

export function makeTempDir(prefix = "gve-"): TempDir {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return {
    dir,
    path: (name) => join(dir, name),
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}
