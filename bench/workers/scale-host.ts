// Hosts many GvisorTapBackends in one Bun process for the scale cell (bench/kernel-scale.ts):
//
//   GVPROXY_LIBRARY_PATH=build/test/libgvproxy.so bun bench/workers/scale-host.ts '{"dir":"/tmp/x","lanes":64,"mtu":1500}'
//
// With the library loaded it counts its file descriptors and the Go runtime's goroutines
// (the test build's gvproxy_test_goroutines), makes one backend per lane on
// <dir>/lane-<i>.sock and prints {"ready": dir}. A line "close" on stdin closes them all,
// waits until the goroutines are back to the count before (at most 10 s: a leak shows
// as a higher count, not as a hang) and prints {"fds":{before,after},"goroutines":{...}}.
import { readdirSync } from "node:fs";
import { GvisorTapBackend, GvproxyInstance } from "../../src/index.ts";
import { loadTestHooks } from "../../test/support/test-hooks.ts";

interface Args {
  dir: string;
  lanes: number;
  mtu: number;
}

const args = JSON.parse(process.argv[2] ?? "{}") as Args;
// The library loaded and stdin's reader open first: their descriptors and goroutines
// are part of the baseline.
GvproxyInstance.version();
const hooks = loadTestHooks();
const stdin = Bun.stdin.stream().getReader();
const fds = () => readdirSync("/proc/self/fd").length;
const before = { fds: fds(), goroutines: hooks.gvproxy_test_goroutines() };
const backends = Array.from({ length: args.lanes }, (_, i) => new GvisorTapBackend({ socketPath: `${args.dir}/lane-${i}.sock`, mtu: args.mtu }));
console.log(JSON.stringify({ ready: args.dir }));

const decoder = new TextDecoder();
let input = "";
while (!input.includes("close\n")) {
  const { value, done } = await stdin.read();
  if (done) break;
  input += decoder.decode(value);
}
for (const b of backends) b.close();
const deadline = Date.now() + 10_000;
while (hooks.gvproxy_test_goroutines() > before.goroutines && Date.now() < deadline) await Bun.sleep(20);
console.log(JSON.stringify({ fds: { before: before.fds, after: fds() }, goroutines: { before: before.goroutines, after: hooks.gvproxy_test_goroutines() } }));
process.exit(0);
