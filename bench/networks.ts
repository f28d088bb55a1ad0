// The two networks under test, started the same way for every benchmark: the standalone
// gvproxy binary, and our library hosted by a Bun child process (bench/ours-host.ts).
// Both are separate processes so neither shares a CPU budget or event loop with the
// orchestrator or the host-side peers, and each is started fresh per run.
import { existsSync, rmSync } from "node:fs";
import { artifacts } from "./artifacts.ts";
import { BUN_BIN, REPO_ROOT, startServer, tempDir } from "./processes.ts";
import type { Secret, TlsInterception } from "../src/index.ts";

export type NetworkKind = "ours" | "gvproxy";

/** A host -> guest TCP port forward. */
export interface Forward {
  hostPort: number;
  guestPort: number;
}

export interface NetworkOptions {
  mtu: number;
  forwards: readonly Forward[];
  /** Ours only: log level debug (GVPROXY_LOG_LEVEL=debug) instead of info. */
  debugLogging?: boolean;
  /**
   * gvisor-tap-vsock's debug mode, which logs every frame (ours: config `debug: true`;
   * gvproxy: `-debug`, which also sets its log level to debug).
   */
  frameLogging?: boolean;
  /** Ours only: a `connection` event listener is subscribed (counting events). */
  connectionListener?: boolean;
  /** Ours only: secrets and TLS interception (bench/interception.ts). */
  interception?: { secrets: readonly Secret[]; tlsInterception: TlsInterception };
  /**
   * Ours only: more environment for the network process, such as the library to load
   * (GVPROXY_LIBRARY_PATH) or GOMAXPROCS, which the library's Go runtime reads when it
   * loads (bench/compare-libraries.ts).
   */
  env?: Readonly<Record<string, string>>;
}

/** A started network: where the guest connects, and how to stop it. */
export interface RunningNetwork {
  readonly kind: NetworkKind;
  readonly socketPath: string;
  /** The process running the network (ours-host or gvproxy), for CPU accounting. */
  readonly pid: number;
  stop(): Promise<void>;
}

const OURS_HOST = `${REPO_ROOT}/bench/ours-host.ts`;
/** The environment variable ours-host reads its arguments from. */
const OURS_HOST_ARGS = "GVB_OURS_HOST_ARGS";

export function startNetwork(kind: NetworkKind, opts: NetworkOptions): Promise<RunningNetwork> {
  return kind === "ours" ? startOurs(opts) : startGvproxy(opts);
}

/** How to stop a network process, and its pid. */
interface NetworkProcess {
  readonly pid: number;
  stop(): Promise<void>;
}

/**
 * Runs `start` with a fresh private directory and the socket path in it; the directory
 * is removed when `start` fails or, after the process, when the network stops.
 */
async function inNetworkDir(kind: NetworkKind, start: (dir: string, socketPath: string) => Promise<NetworkProcess>): Promise<RunningNetwork> {
  const dir = tempDir("gvb");
  const socketPath = `${dir}/net.sock`;
  const removeDir = () => rmSync(dir, { recursive: true, force: true });
  const network = await start(dir, socketPath).catch((err: unknown) => {
    removeDir();
    throw err;
  });
  return {
    kind,
    socketPath,
    pid: network.pid,
    async stop() {
      await network.stop();
      removeDir();
    },
  };
}

function startOurs(opts: NetworkOptions): Promise<RunningNetwork> {
  return inNetworkDir("ours", (_dir, socketPath) =>
    // The arguments go in the environment, which only this user can read: a command line
    // is world-readable, and the interception's carry a secret's value and a CA key.
    startServer([BUN_BIN, OURS_HOST], {
      GVPROXY_LOG_LEVEL: opts.debugLogging || opts.frameLogging ? "debug" : "info",
      ...opts.env, // may set the log level too, never the arguments
      [OURS_HOST_ARGS]: JSON.stringify({ socketPath, mtu: opts.mtu, forwards: opts.forwards, debug: !!opts.frameLogging, connectionListener: !!opts.connectionListener, ...opts.interception }),
    }),
  );
}

function startGvproxy(opts: NetworkOptions): Promise<RunningNetwork> {
  return inNetworkDir("gvproxy", async (dir, socketPath) => {
    const apiPath = `${dir}/api.sock`;
    const args = [artifacts().gvproxy, "-listen-qemu", `unix://${socketPath}`, "-listen", `unix://${apiPath}`, "-mtu", String(opts.mtu), "-ssh-port", "-1"];
    if (opts.frameLogging) args.push("-debug");
    // gvproxy's log goes to /dev/null: a pipe nobody reads would block it.
    const proc = Bun.spawn(args, { stdin: "ignore", stdout: "ignore", stderr: "ignore" });
    try {
      await waitForPaths([socketPath, apiPath], proc);
      for (const f of opts.forwards) await exposeGvproxyPort(apiPath, f);
    } catch (err) {
      proc.kill();
      await proc.exited;
      throw err;
    }
    return {
      pid: proc.pid,
      async stop() {
        proc.kill("SIGTERM");
        await proc.exited;
      },
    };
  });
}

async function waitForPaths(paths: readonly string[], proc: { exitCode: number | null }): Promise<void> {
  for (let i = 0; i < 500; i++) {
    if (paths.every((p) => existsSync(p))) return;
    if (proc.exitCode !== null) throw new Error(`gvproxy exited with ${proc.exitCode} before listening on ${paths.join(", ")}`);
    await Bun.sleep(10);
  }
  throw new Error(`gvproxy did not create ${paths.join(", ")} within 5 s`);
}

/** Adds a port forward through gvproxy's HTTP API (POST /services/forwarder/expose). */
export async function exposeGvproxyPort(apiPath: string, f: Forward): Promise<void> {
  const res = await fetch("http://gvproxy/services/forwarder/expose", {
    method: "POST",
    unix: apiPath,
    body: JSON.stringify({ local: `127.0.0.1:${f.hostPort}`, remote: `192.168.127.2:${f.guestPort}`, protocol: "tcp" }),
  });
  if (!res.ok) throw new Error(`gvproxy expose 127.0.0.1:${f.hostPort} -> :${f.guestPort} failed: ${res.status} ${await res.text()}`);
}
