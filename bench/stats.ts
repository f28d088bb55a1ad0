// Summary statistics for benchmark samples: medians of repeated runs with their spread,
// and percentiles of latency distributions. Pure functions, no I/O.

/** A set of repeated measurements reduced to what the report quotes. */
export interface Summary {
  n: number;
  median: number;
  min: number;
  max: number;
  /** (max - min) / median, as a fraction: how noisy the repeated runs were. */
  spread: number;
}

/** A latency distribution reduced to the percentiles the goals are stated in. */
export interface LatencySummary {
  n: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
  mean: number;
}

function sorted(values: readonly number[]): number[] {
  if (values.length === 0) throw new RangeError("no samples to summarise");
  for (const v of values) {
    if (!Number.isFinite(v)) throw new RangeError(`sample ${v} is not a finite number`);
  }
  return [...values].sort((a, b) => a - b);
}

/**
 * The p-th percentile (0..100) by linear interpolation between closest ranks, so small
 * sample sets give a value between two observations instead of jumping.
 */
export function percentile(values: readonly number[], p: number): number {
  if (p < 0 || p > 100) throw new RangeError(`percentile ${p} is outside 0..100`);
  return percentileOfSorted(sorted(values), p);
}

function percentileOfSorted(s: readonly number[], p: number): number {
  const rank = (p / 100) * (s.length - 1);
  const lo = Math.floor(rank);
  const hi = Math.ceil(rank);
  const a = s[lo]!;
  const b = s[hi]!;
  return a + (b - a) * (rank - lo);
}

export function median(values: readonly number[]): number {
  return percentile(values, 50);
}

/** Median, range and relative spread of repeated runs of one measurement. */
export function summarize(values: readonly number[]): Summary {
  const s = sorted(values);
  const med = percentileOfSorted(s, 50);
  const min = s[0]!;
  const max = s[s.length - 1]!;
  return { n: s.length, median: med, min, max, spread: med === 0 ? 0 : (max - min) / Math.abs(med) };
}

/** Percentiles of one latency distribution. */
export function summarizeLatency(values: readonly number[]): LatencySummary {
  const s = sorted(values);
  const sum = s.reduce((acc, v) => acc + v, 0);
  return {
    n: s.length,
    p50: percentileOfSorted(s, 50),
    p90: percentileOfSorted(s, 90),
    p99: percentileOfSorted(s, 99),
    max: s[s.length - 1]!,
    mean: sum / s.length,
  };
}

/**
 * Ratios of paired runs (ours[i] / theirs[i], measured back to back) summarised: pairing
 * cancels the drift of a shared, noisy machine better than a ratio of two medians.
 */
export function pairedRatio(ours: readonly number[], theirs: readonly number[]): Summary {
  if (ours.length !== theirs.length) {
    throw new RangeError(`paired runs differ in count: ${ours.length} vs ${theirs.length}`);
  }
  return summarize(ours.map((v, i) => v / theirs[i]!));
}
