// How much of everything a run measures: the full run quotes medians of several runs;
// the quick one (`make bench QUICK=1`) is a smoke run that finishes in under two minutes.
export interface Plan {
  quick: boolean;
  /** Repetitions of each throughput cell and latency measurement, ours and gvproxy interleaved. */
  runs: number;
  /** Duration of one bulk transfer. */
  seconds: number;
  mtus: readonly number[];
  streams: readonly number[];
  /** Round trips per request/response run and per connect+request+close run. */
  rrCount: number;
  crrCount: number;
  /** Create+destroy cycles and stats() calls for the control plane. */
  createDestroyCount: number;
  statsCount: number;
  /** Fresh processes timed for the library load. */
  loadRuns: number;
  rssInstanceCounts: readonly number[];
}

/** The cells both modes measure: quick mode differs only in how long and how often. */
const CELLS = { mtus: [1500, 9000, 65520], streams: [1, 4], rssInstanceCounts: [1, 10, 100] } as const;

export function planFor(quick: boolean): Plan {
  return quick
    ? { ...CELLS, quick, runs: 1, seconds: 1, rrCount: 1000, crrCount: 200, createDestroyCount: 50, statsCount: 2000, loadRuns: 3 }
    : { ...CELLS, quick, runs: 5, seconds: 3, rrCount: 5000, crrCount: 1000, createDestroyCount: 300, statsCount: 20000, loadRuns: 7 };
}

/** Ours first on even runs, gvproxy first on odd ones, so drift does not favour either. */
export function interleaved<T>(run: number, ours: T, gvproxy: T): [T, T] {
  return run % 2 === 0 ? [ours, gvproxy] : [gvproxy, ours];
}
