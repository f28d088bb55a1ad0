// Hosts one GvisorTapBackend in its own Bun process for the benchmarks, the way gvproxy
// runs as its own process, so both networks face the guest and the peers on equal terms.
//
//   GVB_OURS_HOST_ARGS='{"socketPath":"/tmp/x/net.sock","mtu":1500,"forwards":[{"hostPort":1,"guestPort":2}],"debug":false}' bun bench/ours-host.ts
//
// The arguments come in the environment, not the command line, which any user can read
// (they may hold a secret's value and a CA key).
// stdout carries only {"ready": socketPath}, once the backend is listening. Log output
// goes to stderr, which the orchestrator sends to a file (gvproxy's goes to /dev/null).
// End of stdin closes the backend and exits.
import { createConsola } from "consola";
import { GvisorTapBackend, setGvproxyLogger, type Secret, type TlsInterception } from "../src/index.ts";

interface HostArgs {
  socketPath: string;
  mtu: number;
  forwards: { hostPort: number; guestPort: number }[];
  debug: boolean;
  /** Subscribe a counting `connection` listener (the event stream's cost). */
  connectionListener?: boolean;
  /** Secrets and TLS interception (the interception benchmark). */
  secrets?: Secret[];
  tlsInterception?: TlsInterception;
}

const args = JSON.parse(process.env.GVB_OURS_HOST_ARGS ?? "{}") as HostArgs;
delete process.env.GVB_OURS_HOST_ARGS; // not inherited by anything this process starts
setGvproxyLogger(createConsola({ stdout: process.stderr, stderr: process.stderr }));

const backend = new GvisorTapBackend({
  socketPath: args.socketPath,
  mtu: args.mtu,
  debug: args.debug,
  portMappings: args.forwards.map((f) => [f.hostPort, f.guestPort] as const),
  ...(args.secrets ? { secrets: args.secrets } : {}),
  ...(args.tlsInterception ? { tlsInterception: args.tlsInterception } : {}),
});
let connectionEvents = 0;
if (args.connectionListener) backend.on("connection", () => void connectionEvents++);
console.log(JSON.stringify({ ready: args.socketPath }));

for await (const _ of Bun.stdin.stream()) {
  // Nothing to do: stdin only signals, by closing, that the orchestrator is done.
}
backend.close();
if (args.connectionListener) console.error(`connection events received: ${connectionEvents}`);
process.exit(0);
