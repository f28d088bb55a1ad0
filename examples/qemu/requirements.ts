/**
 * What this host needs to run the example microVM, checked without starting anything:
 * QEMU for x86-64, and what build-initramfs.sh assembles the guest from (a Debian kernel,
 * busybox-static, cpio). Every missing piece is reported with the package that provides it.
 */
import { accessSync, constants } from "node:fs";
import { join } from "node:path";

export const QEMU_BINARY = "qemu-system-x86_64";
export const BUILD_SCRIPT = join(import.meta.dir, "build-initramfs.sh");

export interface QemuAvailability {
  /** True when the VM can be built and booted here. */
  readonly available: boolean;
  /** One sentence per missing piece, naming the Debian package to install. Empty when available. */
  readonly missing: readonly string[];
  /** Absolute path of qemu-system-x86_64, when found. */
  readonly qemuBinary: string | undefined;
  /** /dev/kvm can be opened for reading and writing (whether KVM really works shows at boot). */
  readonly kvm: boolean;
}

/** /dev/kvm exists and this process may open it read-write. */
export function kvmAccessible(): boolean {
  try {
    accessSync("/dev/kvm", constants.R_OK | constants.W_OK);
    return true;
  } catch {
    return false;
  }
}

/** Runs build-initramfs.sh --check; its stderr lists what the guest image cannot be built without. */
function guestImagePrerequisites(): string[] {
  const result = Bun.spawnSync(["bash", BUILD_SCRIPT, "--check"], { stdout: "ignore", stderr: "pipe" });
  if (result.exitCode === 0) return [];
  const lines = result.stderr
    .toString()
    .split("\n")
    .map((line) => line.replace(/^build-initramfs: error: /, "").trim())
    .filter((line) => line !== "");
  return lines.length > 0 ? lines : [`${BUILD_SCRIPT} --check failed with exit code ${result.exitCode}`];
}

/** Says whether the example VM can run on this host, and if not, everything that is missing. */
export function qemuAvailable(): QemuAvailability {
  const missing: string[] = [];
  if (process.platform !== "linux" || process.arch !== "x64") {
    // The guest is the host's own Debian amd64 kernel; other hosts have none to offer.
    missing.push(`the QEMU example needs an x86-64 Linux host (this is ${process.platform}/${process.arch})`);
  }
  const qemuBinary = Bun.which(QEMU_BINARY) ?? undefined;
  if (qemuBinary === undefined) {
    missing.push(`${QEMU_BINARY} is not on PATH; install the Debian package qemu-system-x86`);
  }
  if (missing.length === 0) missing.push(...guestImagePrerequisites());
  return { available: missing.length === 0, missing, qemuBinary, kvm: kvmAccessible() };
}
