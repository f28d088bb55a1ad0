// The flood benchmarks of the event stream and the log bridge: a worker process floods
// a queue from Go and JS receives in one of two drain modes, "active" (JS drains in a
// loop: the capacity) or "timer" (JS sleeps and only the library's unref'd drain timer
// delivers: what an otherwise idle app gets). Each run is a fresh process.
import type { Plan } from "./plan.ts";

export const DRAIN_MODES = ["active", "timer"] as const;
export type DrainMode = (typeof DRAIN_MODES)[number];

/** What every flood worker reports besides its rate. */
export interface FloodCounts {
  received: number;
  dropped: number;
}

/**
 * At least three runs of each drain mode, the modes alternating, each logged as
 * `<what> flood run N (mode): <rate>, D of T dropped`.
 */
export async function floodRuns<R extends FloodCounts>(
  plan: Plan,
  what: string,
  flood: (mode: DrainMode) => Promise<R>,
  rate: (r: R) => string,
  log: (line: string) => void,
): Promise<Record<DrainMode, R[]>> {
  const runs: Record<DrainMode, R[]> = { active: [], timer: [] };
  for (let run = 0; run < Math.max(plan.runs, 3); run++) {
    for (const mode of DRAIN_MODES) {
      const r = await flood(mode);
      runs[mode].push(r);
      log(`${what} flood run ${run + 1} (${mode}): ${rate(r)}, ${r.dropped} of ${r.received + r.dropped} dropped`);
    }
  }
  return runs;
}
