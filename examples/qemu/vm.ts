/**
 * The QEMU example's entry point: a real VM on the in-process network. It boots the
 * example guest (a Debian kernel and a busybox initramfs, see build-initramfs.sh) with
 * its NIC attached to a GvisorTapBackend.
 *
 *   if (!qemuAvailable().available) ...              // what is missing, by package
 *   const guest = await startQemuGuest(backend, { lookup: "db.example.internal", ... });
 *   const report = await guest.ready();              // lease, DNS answer, fetched body
 *   await guest.stop();                              // clean poweroff
 *
 * `runQemuDemo` is what `examples/demo.ts --vm=qemu` runs.
 */
export { runQemuDemo } from "./demo.ts";
export { buildGuestImage, GuestImageBuildError, type GuestImage } from "./guest-image.ts";
export { MalformedMarkerError, parseMarker, type GuestEvent, type GuestEventKind } from "./markers.ts";
export { kernelCommandLine, qemuArgv, type Accelerator, type GuestCommandOptions, type QemuNetwork } from "./qemu-command.ts";
export {
  QemuGuest,
  QemuGuestError,
  startQemuGuest,
  type GuestReport,
  type QemuExit,
  type QemuGuestOptions,
  type TimedGuestEvent,
} from "./qemu-guest.ts";
export { qemuAvailable, type QemuAvailability } from "./requirements.ts";
