// Two network namespaces joined with no virtual network between them, the ceilings of
// the kernel-guest cells: a veth pair (the kernel alone) or two TAP relays joined by one
// Unix socket (the relay alone: frames cross it twice, as on the way to a network and
// back, with no stack in between). Namespace a is 10.99.0.1, b is 10.99.0.2.
import { makeNamespace, removeNamespace, startRelay } from "../test/support/kernel-guest.ts";
import { run } from "../test/support/netns.ts";
import type { Spawner } from "./iperf.ts";
import { tempDir } from "./processes.ts";

export type PairKind = "veth" | "relay-pair";

export const PAIR_ADDRESSES = { a: "10.99.0.1", b: "10.99.0.2" } as const;

/** The two ends, ready to run programs in. */
export interface NamespacePair {
  inA: Spawner;
  inB: Spawner;
  /** CPU seconds both relays have used so far (0 for a veth). */
  relayCpuSeconds(): number;
}

/** Builds the pair, runs `use` on it, and removes everything after. */
export async function withNamespacePair<T>(kind: PairKind, mtu: number, use: (pair: NamespacePair) => Promise<T>): Promise<T> {
  const a = makeNamespace();
  const b = makeNamespace();
  const stops: Array<() => Promise<void>> = [];
  const dir = tempDir("gvkc");
  try {
    let devA: string;
    let devB: string;
    let relayCpuSeconds = () => 0;
    if (kind === "veth") {
      devA = `gkva${process.pid}`.slice(0, 15);
      devB = `gkvb${process.pid}`.slice(0, 15);
      run(["ip", "link", "add", devA, "netns", a, "type", "veth", "peer", "name", devB, "netns", b]);
      for (const [ns, dev] of [[a, devA], [b, devB]] as const) run(["ip", "-n", ns, "link", "set", dev, "mtu", String(mtu), "up"]);
    } else {
      devA = devB = `gkt${process.pid}`;
      const listener = await startRelay({ namespace: a, device: devA, listen: `${dir}/pair.sock`, mtu });
      stops.push(listener.stop);
      const dialer = await startRelay({ namespace: b, device: devB, connect: `${dir}/pair.sock`, mtu });
      stops.push(dialer.stop);
      await listener.ready;
      relayCpuSeconds = () => listener.cpuSeconds() + dialer.cpuSeconds();
    }
    run(["ip", "-n", a, "addr", "add", `${PAIR_ADDRESSES.a}/24`, "dev", devA]);
    run(["ip", "-n", b, "addr", "add", `${PAIR_ADDRESSES.b}/24`, "dev", devB]);
    const inNs =
      (ns: string): Spawner =>
      (argv) => {
        const proc = Bun.spawn(["ip", "netns", "exec", ns, ...argv], { stdin: "pipe", stdout: "pipe", stderr: "pipe" });
        stops.push(async () => {
          proc.kill("SIGKILL");
          await proc.exited;
        });
        return proc;
      };
    return await use({ inA: inNs(a), inB: inNs(b), relayCpuSeconds });
  } finally {
    for (const stop of stops.reverse()) await stop();
    removeNamespace(a);
    removeNamespace(b);
    run(["rm", "-rf", dir]);
  }
}
