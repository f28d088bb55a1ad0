/**
 * Whether this host lets the test process send ICMP echo requests, as the network does
 * for a guest's ping: through a ping socket (any process on macOS; on Linux a process
 * with a group in net.ipv4.ping_group_range) or a raw socket (CAP_NET_RAW). Read from
 * /proc instead of trying, so the answer needs no socket of its own.
 */
import { readFileSync } from "node:fs";

const CAP_NET_RAW = 13n;

/** Why this host refuses the process ICMP echo, or undefined when it permits it. */
export function hostPingUnavailable(): string | undefined {
  if (process.platform === "darwin") return undefined;
  if (process.platform !== "linux") return `ICMP echo from the host is not supported on ${process.platform}`;
  const status = readFileSync("/proc/self/status", "utf8");
  const capEff = /^CapEff:\s*([0-9a-f]+)$/m.exec(status)?.[1];
  if (capEff !== undefined && (BigInt(`0x${capEff}`) >> CAP_NET_RAW) & 1n) return undefined;
  const [low, high] = readFileSync("/proc/sys/net/ipv4/ping_group_range", "utf8").trim().split(/\s+/).map(Number);
  const groups = (/^Groups:\s*(.*)$/m.exec(status)?.[1] ?? "").split(/\s+/).filter(Boolean).map(Number);
  const gid = process.getgid?.();
  if (gid !== undefined) groups.push(gid);
  if (low !== undefined && high !== undefined && groups.some((g) => g >= low && g <= high)) return undefined;
  return `neither CAP_NET_RAW nor a group in net.ipv4.ping_group_range (${low} ${high})`;
}
