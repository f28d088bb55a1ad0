// The receiving side of a flood worker (event-flood.ts, log-flood.ts): how JS takes
// what Go queued in each drain mode (bench/floods.ts).
import { drainGvproxyLogs } from "../../src/logging.ts";

/**
 * Receives until `done()`: in "timer" mode JS only sleeps, leaving delivery to the
 * library's drain timer; otherwise it runs the pump in a loop.
 */
export async function receiveUntil(mode: string | undefined, done: () => boolean): Promise<void> {
  while (!done()) {
    if (mode === "timer") await Bun.sleep(1);
    else drainGvproxyLogs();
  }
}
