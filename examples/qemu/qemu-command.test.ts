/**
 * The example VM's QEMU command line: the guest's parameters travel as kernel command
 * line words, the NIC comes from the network backend, and the accelerator is chosen from
 * the caller, QEMU_ACCEL or /dev/kvm, in that order.
 */
import { describe, expect, test } from "bun:test";
import { chooseAccelerator, kernelCommandLine, qemuArgv, type QemuNetwork } from "./qemu-command.ts";

const image = { kernel: "/img/kernel", initramfs: "/img/initramfs.cpio.gz" };
const nicArgs = ["-netdev", "stream,id=net0,server=off,addr.type=unix,addr.path=/tmp/n.sock", "-device", "virtio-net-pci,netdev=net0,mac=5a:94:ef:e4:0c:ee"];
const network: QemuNetwork = { qemuArgs: () => [...nicArgs] };

/** The value following `flag` in argv. */
function valueOf(argv: readonly string[], flag: string): string | undefined {
  const at = argv.indexOf(flag);
  return at < 0 ? undefined : argv[at + 1];
}

describe("kernelCommandLine", () => {
  test("carries each given guest parameter as one key=value word", () => {
    const words = kernelCommandLine({ lookup: "db.vm.internal", fetchUrl: "http://192.168.127.254:8080/", page: "hi" }).split(" ");
    expect(words).toContain("guest_lookup=db.vm.internal");
    expect(words).toContain("guest_fetch=http://192.168.127.254:8080/");
    expect(words).toContain("guest_page=hi");
    expect(words).toContain("console=ttyS0");
  });

  test("omits absent parameters, so the guest skips their steps", () => {
    expect(kernelCommandLine({ page: "hi" })).not.toContain("guest_lookup=");
    expect(kernelCommandLine({ page: "hi" })).not.toContain("guest_fetch=");
  });

  test("rejects a value that would split into several words or be unquoted by the kernel", () => {
    expect(() => kernelCommandLine({ page: "two words" })).toThrow(/guest_page must be printable ASCII/);
    expect(() => kernelCommandLine({ lookup: 'a"b' })).toThrow(/guest_lookup/);
    expect(() => kernelCommandLine({ fetchUrl: "" })).toThrow(/guest_fetch/);
    expect(() => kernelCommandLine({ page: "ünïcode" })).toThrow(TypeError);
  });
});

describe("qemuArgv", () => {
  test("boots the image with the backend's NIC arguments and no default devices", () => {
    const argv = qemuArgv("/usr/bin/qemu-system-x86_64", "tcg", image, network, { page: "p" });
    expect(argv[0]).toBe("/usr/bin/qemu-system-x86_64");
    expect(valueOf(argv, "-kernel")).toBe(image.kernel);
    expect(valueOf(argv, "-initrd")).toBe(image.initramfs);
    expect(valueOf(argv, "-append")).toContain("guest_page=p");
    expect(argv.slice(-nicArgs.length)).toEqual(nicArgs);
    expect(argv).toContain("-nodefaults");
    expect(valueOf(argv, "-serial")).toBe("stdio");
  });

  test("uses the requested accelerator, the host CPU under KVM and 256 MiB unless told", () => {
    const kvm = qemuArgv("q", "kvm", image, network, {});
    expect(valueOf(kvm, "-accel")).toBe("kvm");
    expect(valueOf(kvm, "-cpu")).toBe("host");
    expect(valueOf(kvm, "-m")).toBe("256");
    const tcg = qemuArgv("q", "tcg", image, network, { memoryMiB: 512 });
    expect(valueOf(tcg, "-accel")).toBe("tcg");
    expect(valueOf(tcg, "-cpu")).toBe("max");
    expect(valueOf(tcg, "-m")).toBe("512");
  });
});

describe("chooseAccelerator", () => {
  const kvmWorks = () => true;
  const noKvm = () => false;

  test("auto picks KVM when /dev/kvm opens, keeping TCG as the fallback", () => {
    expect(chooseAccelerator("auto", {}, kvmWorks)).toEqual({ accel: "kvm", fallback: true });
    expect(chooseAccelerator(undefined, {}, kvmWorks)).toEqual({ accel: "kvm", fallback: true });
  });

  test("auto picks TCG when /dev/kvm does not open", () => {
    expect(chooseAccelerator(undefined, {}, noKvm)).toEqual({ accel: "tcg", fallback: false });
  });

  test("QEMU_ACCEL decides when the caller does not, and the caller's choice wins over it", () => {
    expect(chooseAccelerator(undefined, { QEMU_ACCEL: "tcg" }, kvmWorks)).toEqual({ accel: "tcg", fallback: false });
    expect(chooseAccelerator(undefined, { QEMU_ACCEL: "kvm" }, noKvm)).toEqual({ accel: "kvm", fallback: false });
    expect(chooseAccelerator("tcg", { QEMU_ACCEL: "kvm" }, kvmWorks)).toEqual({ accel: "tcg", fallback: false });
    expect(chooseAccelerator(undefined, { QEMU_ACCEL: "" }, noKvm)).toEqual({ accel: "tcg", fallback: false });
  });

  test("an unknown QEMU_ACCEL is an error naming the value", () => {
    expect(() => chooseAccelerator(undefined, { QEMU_ACCEL: "hvf" }, kvmWorks)).toThrow(/"hvf"/);
  });
});
