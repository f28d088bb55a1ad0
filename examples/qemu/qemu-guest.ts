/**
 * A running example VM: starts QEMU with the guest's NIC on a GvisorTapBackend, turns
 * what the guest reports on its serial console into events (lease, DNS answer, fetched
 * page, ready), and stops it cleanly.
 */
import type { Subprocess } from "bun";
import { buildGuestImage, type GuestImage } from "./guest-image.ts";
import { MalformedMarkerError, parseMarker, type GuestEvent, type GuestEventKind } from "./markers.ts";
import { chooseAccelerator, qemuArgv, type Accelerator, type GuestCommandOptions, type QemuNetwork } from "./qemu-command.ts";
import { QEMU_BINARY } from "./requirements.ts";

export interface QemuGuestOptions extends GuestCommandOptions {
  /** `auto` (default; env QEMU_ACCEL overrides): KVM when /dev/kvm works, else TCG. */
  readonly accel?: Accelerator | "auto";
  /** Boot files. Default: built (or found up to date) by build-initramfs.sh. */
  readonly image?: GuestImage;
  /** QEMU binary. Default: qemu-system-x86_64 from PATH. */
  readonly qemuBinary?: string;
  /** Every console line, as it arrives (kernel messages and markers). */
  readonly onConsoleLine?: (line: string) => void;
  /** Every marker, as it arrives. */
  readonly onEvent?: (event: TimedGuestEvent) => void;
  /** Told why, when `auto` found KVM unusable and restarted the VM under TCG. */
  readonly onAcceleratorFallback?: (reason: string) => void;
}

/** A marker with the time it arrived, in ms since QEMU was started. */
export type TimedGuestEvent = GuestEvent & { readonly atMs: number };
type EventOf<K extends GuestEventKind> = Extract<TimedGuestEvent, { kind: K }>;

/** What the guest found out before it reported ready. */
export interface GuestReport {
  readonly lease: EventOf<"lease">;
  readonly dns: EventOf<"dns"> | undefined;
  readonly fetch: EventOf<"fetch"> | undefined;
  readonly ready: EventOf<"ready">;
  /** Which accelerator ran the VM. */
  readonly accel: Accelerator;
}

export interface QemuExit {
  readonly exitCode: number | null;
  readonly signalCode: string | null;
  /** True when the guest powered itself off after being asked to. */
  readonly clean: boolean;
}

/** The guest reported a failed step, or QEMU ended, before the awaited marker. */
export class QemuGuestError extends Error {
  constructor(message: string, consoleTail: readonly string[], stderr: string) {
    const details = [
      stderr.trim() === "" ? "" : `\nqemu stderr:\n${stderr.trim()}`,
      consoleTail.length === 0 ? "" : `\nlast console lines:\n${consoleTail.join("\n")}`,
    ].join("");
    super(`${message}${details}`);
    this.name = "QemuGuestError";
  }
}

/** Hang guards, not expectations: a TCG boot on a busy 2-core machine takes ~10-30 s. */
const DEFAULT_WAIT_MS = 180_000;
const POWEROFF_WAIT_MS = 20_000;
const TERM_WAIT_MS = 5_000;
/** Under KVM the guest prints GUEST-BOOT within a second or two; silence means KVM is unusable. */
const KVM_BOOT_GRACE_MS = 15_000;
const CONSOLE_TAIL_LINES = 30;

/** `promise`'s value, or "timeout" after `ms`; the timer never outlives the race. */
async function within<T>(promise: Promise<T>, ms: number): Promise<T | "timeout"> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<"timeout">((resolve) => {
    timer = setTimeout(() => resolve("timeout"), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

type Listener = (event: TimedGuestEvent | { kind: "exit" }) => void;

/**
 * QEMUs still running. QEMU outlives its parent (its serial console just sees EOF), so
 * whatever a crashed or interrupted caller left running is killed when this process exits.
 */
const running = new Set<Subprocess>();
process.on("exit", () => {
  for (const child of running) child.kill("SIGKILL");
});

/** A running QEMU VM and what its guest has reported so far. */
export class QemuGuest implements AsyncDisposable {
  readonly accel: Accelerator;
  /** Markers received so far, in order. */
  readonly events: TimedGuestEvent[] = [];
  /** Last console lines (kernel and markers), for diagnostics. */
  readonly consoleTail: string[] = [];
  /** Resolves when QEMU has exited and its console output has been read to the end. */
  readonly exited: Promise<QemuExit>;

  readonly #process: Subprocess<"pipe", "pipe", "pipe">;
  readonly #startedAt = performance.now();
  readonly #options: QemuGuestOptions;
  readonly #listeners = new Set<Listener>();
  #stderr = "";
  #exit: QemuExit | undefined;
  #poweroffRequested = false;

  /** Use {@link startQemuGuest}. */
  constructor(argv: string[], accel: Accelerator, options: QemuGuestOptions) {
    this.accel = accel;
    this.#options = options;
    this.#process = Bun.spawn(argv, { stdin: "pipe", stdout: "pipe", stderr: "pipe" });
    running.add(this.#process);
    void this.#process.exited.then(() => running.delete(this.#process));
    const consoleDone = this.#readConsole(this.#process.stdout);
    const stderrDone = new Response(this.#process.stderr).text().then((text) => {
      this.#stderr = text;
    });
    this.exited = Promise.all([this.#process.exited, consoleDone, stderrDone]).then(() => {
      const sawShutdown = this.events.some((e) => e.kind === "shutdown");
      const { exitCode, signalCode } = this.#process;
      const exit: QemuExit = {
        exitCode,
        signalCode: signalCode === null ? null : String(signalCode),
        clean: this.#poweroffRequested && sawShutdown && exitCode === 0,
      };
      this.#exit = exit;
      this.#emit({ kind: "exit" });
      return exit;
    });
  }

  /** QEMU's process id. */
  get pid(): number {
    return this.#process.pid;
  }

  /** QEMU's stderr, complete once {@link exited} has resolved. */
  get stderr(): string {
    return this.#stderr;
  }

  /**
   * The first marker of `kind` (possibly one already received).
   * @throws {QemuGuestError} if the guest reports an error, QEMU exits or `timeoutMs` passes first
   */
  waitFor<K extends GuestEventKind>(kind: K, timeoutMs: number = DEFAULT_WAIT_MS): Promise<EventOf<K>> {
    return new Promise((resolve, reject) => {
      const settle = (event: TimedGuestEvent | { kind: "exit" }): boolean => {
        if (event.kind === kind) {
          resolve(event as EventOf<K>);
          return true;
        }
        if (event.kind === "error") {
          reject(this.#failure(`guest step ${event.step} failed: ${event.message}`));
          return true;
        }
        if (event.kind === "exit") {
          const code = this.#exit?.exitCode ?? this.#exit?.signalCode;
          reject(this.#failure(`QEMU exited (${String(code)}) before the guest printed GUEST-${kind.toUpperCase()}`));
          return true;
        }
        return false;
      };
      for (const event of this.events) if (settle(event)) return;
      if (this.#exit !== undefined && settle({ kind: "exit" })) return;
      const timer = setTimeout(() => {
        this.#listeners.delete(listener);
        reject(this.#failure(`no GUEST-${kind.toUpperCase()} within ${timeoutMs} ms`));
      }, timeoutMs);
      const listener: Listener = (event) => {
        if (!settle(event)) return;
        clearTimeout(timer);
        this.#listeners.delete(listener);
      };
      this.#listeners.add(listener);
    });
  }

  /**
   * Waits until the guest serves its page, then returns what it found on the way.
   * @throws {QemuGuestError} if a step failed or QEMU ended first
   */
  async ready(timeoutMs: number = DEFAULT_WAIT_MS): Promise<GuestReport> {
    const ready = await this.waitFor("ready", timeoutMs);
    return {
      lease: await this.waitFor("lease", 0),
      dns: this.#find("dns"),
      fetch: this.#find("fetch"),
      ready,
      accel: this.accel,
    };
  }

  /**
   * Stops the VM: asks the guest to power off (once it is waiting for that), then falls
   * back to SIGTERM and finally SIGKILL. Safe to call more than once.
   */
  async stop(): Promise<QemuExit> {
    if (this.#exit !== undefined) return this.#exit;
    const guestListening = this.events.some((e) => e.kind === "ready" || e.kind === "error");
    if (guestListening && !this.#poweroffRequested) {
      this.#poweroffRequested = true;
      this.#process.stdin.write("poweroff\n");
      this.#process.stdin.flush();
      if ((await within(this.exited, POWEROFF_WAIT_MS)) !== "timeout") return this.exited;
    }
    this.#process.kill("SIGTERM");
    if ((await within(this.exited, TERM_WAIT_MS)) !== "timeout") return this.exited;
    this.#process.kill("SIGKILL");
    return this.exited;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop();
  }

  #find<K extends GuestEventKind>(kind: K): EventOf<K> | undefined {
    return this.events.find((e): e is EventOf<K> => e.kind === kind);
  }

  #failure(message: string): QemuGuestError {
    return new QemuGuestError(`${message} (${this.accel})`, this.consoleTail, this.#stderr);
  }

  #emit(event: TimedGuestEvent | { kind: "exit" }): void {
    for (const listener of [...this.#listeners]) listener(event);
  }

  async #readConsole(stream: ReadableStream<Uint8Array>): Promise<void> {
    const decoder = new TextDecoder();
    let pending = "";
    for await (const chunk of stream) {
      pending += decoder.decode(chunk, { stream: true });
      let newline: number;
      while ((newline = pending.indexOf("\n")) >= 0) {
        this.#onLine(pending.slice(0, newline));
        pending = pending.slice(newline + 1);
      }
    }
    pending += decoder.decode();
    if (pending !== "") this.#onLine(pending);
  }

  #onLine(rawLine: string): void {
    const line = rawLine.replace(/\r+$/, "");
    this.consoleTail.push(line);
    if (this.consoleTail.length > CONSOLE_TAIL_LINES) this.consoleTail.shift();
    this.#options.onConsoleLine?.(line);
    let event: GuestEvent | undefined;
    try {
      event = parseMarker(line);
    } catch (error) {
      if (!(error instanceof MalformedMarkerError)) throw error;
      event = { kind: "error", step: "protocol", message: error.message };
    }
    if (event === undefined) return;
    const timed: TimedGuestEvent = { ...event, atMs: Math.round(performance.now() - this.#startedAt) };
    this.events.push(timed);
    this.#options.onEvent?.(timed);
    this.#emit(timed);
  }
}

/**
 * Boots the example guest with its NIC on `network`. Returns once QEMU runs; await
 * {@link QemuGuest.ready} for the guest's results.
 *
 * With `accel: "auto"`, KVM is tried when /dev/kvm is accessible; a KVM that is present but
 * does not work (QEMU fails or the guest stays silent, as in some nested VMs) is replaced
 * by TCG, so this call then returns only after the guest booted.
 */
export async function startQemuGuest(network: QemuNetwork, options: QemuGuestOptions = {}): Promise<QemuGuest> {
  const binary = options.qemuBinary ?? Bun.which(QEMU_BINARY);
  if (binary === null) throw new Error(`${QEMU_BINARY} is not on PATH; install the Debian package qemu-system-x86`);
  const image = options.image ?? buildGuestImage();
  const { accel, fallback } = chooseAccelerator(options.accel);
  const guest = new QemuGuest(qemuArgv(binary, accel, image, network, options), accel, options);
  if (!fallback) return guest;
  const failure = await guest.waitFor("boot", KVM_BOOT_GRACE_MS).then(
    () => undefined,
    (error: unknown) => (error instanceof Error ? error.message : String(error)),
  );
  if (failure === undefined) return guest;
  await guest.stop();
  options.onAcceleratorFallback?.(`KVM did not boot the guest, using TCG: ${failure}`);
  return new QemuGuest(qemuArgv(binary, "tcg", image, network, options), "tcg", options);
}
