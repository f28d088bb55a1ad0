/**
 * The QEMU command line of the example VM: which accelerator, which machine options, and
 * the kernel command line that carries the guest's parameters to its /init.
 */
import type { GvisorTapBackend } from "../../src/index.ts";
import type { GuestImage } from "./guest-image.ts";
import { kvmAccessible } from "./requirements.ts";

export type Accelerator = "kvm" | "tcg";

/** What the VM needs from the network: the QEMU arguments that attach its NIC. */
export type QemuNetwork = Pick<GvisorTapBackend, "qemuArgs">;

/** What the guest does (each step is skipped when its option is absent) and its size. */
export interface GuestCommandOptions {
  /** Name the guest resolves with the DNS server of its lease (e.g. a zone record). */
  readonly lookup?: string;
  /** URL the guest fetches, e.g. `http://192.168.127.254:<port>/` for a host server via the NAT. */
  readonly fetchUrl?: string;
  /** Content of the page the guest's httpd serves on port 80 (printable ASCII, no spaces). */
  readonly page?: string;
  /** Guest memory. Default 256 MiB. */
  readonly memoryMiB?: number;
}

const DEFAULT_MEMORY_MIB = 256;

/**
 * Kernel options of the throwaway guest: serial console, quiet boot (every console byte is
 * slow under TCG), and two cuts that save ~20% of the CPU time of a TCG boot: no crypto
 * self-tests, no speculative-execution mitigations (the guest runs only this example).
 */
const KERNEL_OPTIONS = ["console=ttyS0", "quiet", "panic=-1", "8250.nr_uarts=1", "cryptomgr.notests=1", "mitigations=off"];

/** Kernel parameters are space-separated words; quotes would change how they split. */
const KERNEL_PARAM_VALUE = /^[\x21\x23-\x7e]+$/;

/**
 * Kernel command line: {@link KERNEL_OPTIONS} and the guest's parameters, which /init
 * reads back from /proc/cmdline.
 * @throws {TypeError} for a parameter that cannot be one word of the command line
 */
export function kernelCommandLine(options: GuestCommandOptions): string {
  const words = [...KERNEL_OPTIONS];
  const params: Array<[string, string | undefined]> = [
    ["guest_lookup", options.lookup],
    ["guest_fetch", options.fetchUrl],
    ["guest_page", options.page],
  ];
  for (const [key, value] of params) {
    if (value === undefined) continue;
    if (!KERNEL_PARAM_VALUE.test(value)) {
      throw new TypeError(`${key} must be printable ASCII without spaces or quotes to pass on the kernel command line, got ${JSON.stringify(value)}`);
    }
    words.push(`${key}=${value}`);
  }
  return words.join(" ");
}

/** The full argv that boots `image` under `accel` with its NIC on `network`. */
export function qemuArgv(binary: string, accel: Accelerator, image: GuestImage, network: QemuNetwork, options: GuestCommandOptions): string[] {
  return [
    binary,
    "-accel",
    accel,
    // KVM passes the host CPU through; TCG emulates every feature it knows.
    "-cpu",
    accel === "kvm" ? "host" : "max",
    "-m",
    String(options.memoryMiB ?? DEFAULT_MEMORY_MIB),
    "-smp",
    "1",
    // No default NIC, VGA or monitor: the only devices are the serial console and our NIC.
    "-nodefaults",
    "-no-user-config",
    "-display",
    "none",
    "-serial",
    "stdio",
    // A guest panic (panic=-1 reboots at once) ends QEMU instead of looping.
    "-no-reboot",
    "-kernel",
    image.kernel,
    "-initrd",
    image.initramfs,
    "-append",
    kernelCommandLine(options),
    ...network.qemuArgs(),
  ];
}

/**
 * The accelerator to start with, and whether to fall back to TCG if it does not work:
 * an explicit choice, else QEMU_ACCEL, else (`auto`) KVM when /dev/kvm opens.
 * @throws {TypeError} for a value other than auto, kvm or tcg
 */
export function chooseAccelerator(
  requested: Accelerator | "auto" | undefined,
  env: Record<string, string | undefined> = process.env,
  kvm: () => boolean = kvmAccessible,
): { accel: Accelerator; fallback: boolean } {
  const fromEnv = env.QEMU_ACCEL === "" ? undefined : env.QEMU_ACCEL;
  const choice: string = requested ?? fromEnv ?? "auto";
  if (choice === "kvm" || choice === "tcg") return { accel: choice, fallback: false };
  if (choice !== "auto") throw new TypeError(`accelerator must be auto, kvm or tcg, got ${JSON.stringify(choice)} (QEMU_ACCEL=${String(env.QEMU_ACCEL)})`);
  return kvm() ? { accel: "kvm", fallback: true } : { accel: "tcg", fallback: false };
}
