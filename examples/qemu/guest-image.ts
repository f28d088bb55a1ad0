/**
 * The example guest's boot files: a kernel and an initramfs, assembled by
 * build-initramfs.sh into examples/qemu/out/ (gitignored). Building is idempotent and
 * takes a fraction of a second when nothing changed, so callers simply build before booting.
 */
import { join } from "node:path";
import { BUILD_SCRIPT } from "./requirements.ts";

export interface GuestImage {
  /** Kernel image QEMU loads with -kernel (an ELF vmlinux or a bzImage). */
  readonly kernel: string;
  /** gzip-compressed cpio (newc) archive QEMU loads with -initrd. */
  readonly initramfs: string;
}

export const DEFAULT_IMAGE_DIR = join(import.meta.dir, "out");

/** The build script failed; its output says why (a missing package, usually). */
export class GuestImageBuildError extends Error {
  constructor(
    readonly exitCode: number,
    readonly output: string,
  ) {
    super(`${BUILD_SCRIPT} failed with exit code ${exitCode}:\n${output.trim()}`);
    this.name = "GuestImageBuildError";
  }
}

/**
 * Builds the guest image into `outDir` unless it is up to date, and returns its files.
 * @throws {GuestImageBuildError} when a prerequisite is missing or the build fails
 */
export function buildGuestImage(outDir: string = DEFAULT_IMAGE_DIR): GuestImage {
  const result = Bun.spawnSync(["bash", BUILD_SCRIPT], {
    env: { ...process.env, QEMU_GUEST_OUT: outDir },
    stdout: "pipe",
    stderr: "pipe",
  });
  if (result.exitCode !== 0) {
    throw new GuestImageBuildError(result.exitCode, `${result.stdout.toString()}${result.stderr.toString()}`);
  }
  return { kernel: join(outDir, "kernel"), initramfs: join(outDir, "initramfs.cpio.gz") };
}
