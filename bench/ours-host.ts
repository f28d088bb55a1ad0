// Hosts one GvisorTapBackend in its own Bun process for the benchmarks, the way gvproxy
// runs as its own process, so both networks face the guest and the peers on equal terms.
//
//   bun bench/ours-host.ts '{"socketPath":"/tmp/x/net.sock","mtu":1500,"forwards":[{"hostPort":1,"guestPort":2}],"countLogs":false,"debug":false}'
//
// stdout carries only the protocol: {"ready": socketPath} once the backend is listening,
// then one JSON line per "stats" command on stdin ({"records","seconds","dropped"}: log
// records delivered to the counting reporter since start, when countLogs is set). Log
// output goes to stderr, which the orchestrator sends to a file, as gvproxy's goes to
// /dev/null. End of stdin closes the backend and exits.
import { createConsola, type ConsolaReporter } from "consola";
import { GvisorTapBackend, gvproxyLogStats, setGvproxyLogger } from "../src/index.ts";

interface HostArgs {
  socketPath: string;
  mtu: number;
  forwards: { hostPort: number; guestPort: number }[];
  countLogs: boolean;
  debug: boolean;
}

const args = JSON.parse(process.argv[2] ?? "{}") as HostArgs;
let records = 0;
// Counting only: the cost measured is the bridge's, not a terminal's.
const counter: ConsolaReporter = {
  log() {
    records++;
  },
};
setGvproxyLogger(
  args.countLogs ? createConsola({ reporters: [counter] }) : createConsola({ stdout: process.stderr, stderr: process.stderr }),
);

const started = performance.now();
const backend = new GvisorTapBackend({
  socketPath: args.socketPath,
  mtu: args.mtu,
  debug: args.debug,
  portMappings: args.forwards.map((f) => [f.hostPort, f.guestPort] as const),
});
console.log(JSON.stringify({ ready: args.socketPath }));

function answerStats(): void {
  const { dropped } = gvproxyLogStats();
  console.log(JSON.stringify({ records, seconds: (performance.now() - started) / 1000, dropped }));
}

let pending = "";
const decoder = new TextDecoder();
for await (const chunk of Bun.stdin.stream()) {
  pending += decoder.decode(chunk, { stream: true });
  let nl: number;
  while ((nl = pending.indexOf("\n")) >= 0) {
    const cmd = pending.slice(0, nl).trim();
    pending = pending.slice(nl + 1);
    if (cmd === "stats") answerStats();
  }
}
backend.close();
process.exit(0);
