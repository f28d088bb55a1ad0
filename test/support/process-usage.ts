/**
 * What a process holds right now, read from /proc (Linux): open file descriptors, threads
 * and resident memory. Leak tests compare these before and after a workload.
 */
import { readdirSync, readFileSync, readlinkSync } from "node:fs";

/** A snapshot of one process's resources. */
export interface ProcessUsage {
  /** Entries of /proc/<pid>/fd. */
  readonly fds: number;
  /** Entries of /proc/<pid>/task (OS threads, Go's among them). */
  readonly threads: number;
  /** Resident set size in KiB (VmRSS). */
  readonly rssKiB: number;
  /** Virtual address space in KiB (VmSize): grows when memory is reserved, even untouched. */
  readonly vmSizeKiB: number;
}

/** The resources of process `pid` (default: this process). Linux only. */
export function processUsage(pid: number | "self" = "self"): ProcessUsage {
  const base = `/proc/${pid}`;
  const status = readFileSync(`${base}/status`, "utf8");
  const field = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+) kB$`, "m").exec(status)?.[1] ?? 0);
  return {
    fds: readdirSync(`${base}/fd`).length,
    threads: readdirSync(`${base}/task`).length,
    rssKiB: field("VmRSS"),
    vmSizeKiB: field("VmSize"),
  };
}

/** Describes the file descriptors of this process (their link targets), for a failure message. */
export function describeFds(): string[] {
  return readdirSync("/proc/self/fd").map((fd) => {
    try {
      return `${fd} -> ${readlinkSync(`/proc/self/fd/${fd}`)}`;
    } catch {
      return `${fd} -> (closed while listing)`;
    }
  });
}

/** Formats a KiB figure as MiB with one decimal. */
export function mib(kib: number): string {
  return `${(kib / 1024).toFixed(1)} MiB`;
}
