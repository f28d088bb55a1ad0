// A network under test (ours or gvproxy, its own process) with the Linux kernel as its
// guest: a namespace whose TAP device the relay joins to the network's socket
// (test/support/kernel-guest.ts), holding the network's reserved lease. Every
// kernel-guest cell runs on one of these.
import { kernelGuestUnavailable, startKernelGuest, type KernelGuest } from "../test/support/kernel-guest.ts";
import { startNetwork, type NetworkKind, type NetworkOptions } from "./networks.ts";

export const HOST_LOOPBACK_IP = "192.168.127.254";
/** The guest's MAC: the network's reserved lease (192.168.127.2). */
export const GUEST_MAC = "5a:94:ef:e4:0c:ee";

/** Why the kernel-guest cells cannot run here, or undefined. */
export function kernelCellsUnavailable(): string | undefined {
  return kernelGuestUnavailable() ?? (Bun.which("iperf3") === null ? "iperf3 is not installed" : undefined);
}

/** A network of `kind` (at `network.mtu`) with a kernel guest holding its lease; both stopped after `use`. */
export async function withKernelGuest<T>(kind: NetworkKind, network: Pick<NetworkOptions, "mtu" | "forwards" | "env">, use: (guest: KernelGuest, networkPid: number) => Promise<T>): Promise<T> {
  const net = await startNetwork(kind, network);
  let guest: KernelGuest | undefined;
  try {
    guest = await startKernelGuest({ socketPath: net.socketPath, mac: GUEST_MAC, mtu: network.mtu });
    await guest.lease();
    return await use(guest, net.pid);
  } finally {
    await guest?.close();
    await net.stop();
  }
}

