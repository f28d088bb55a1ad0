import { describe, expect, test } from "bun:test";
import { median, pairedRatio, percentile, summarize, summarizeLatency } from "./stats.ts";

describe("percentile", () => {
  test("interpolates between closest ranks", () => {
    expect(percentile([10, 20, 30, 40], 50)).toBe(25);
    expect(percentile([10, 20, 30, 40], 0)).toBe(10);
    expect(percentile([10, 20, 30, 40], 100)).toBe(40);
  });

  test("does not depend on input order and does not reorder the input", () => {
    const input = [5, 1, 4, 2, 3];
    expect(percentile(input, 50)).toBe(3);
    expect(input).toEqual([5, 1, 4, 2, 3]);
  });

  test("p99 of 1..100 lies between the two highest samples", () => {
    const values = Array.from({ length: 100 }, (_, i) => i + 1);
    expect(percentile(values, 99)).toBeCloseTo(99.01, 10);
  });

  test("rejects an empty set, a non-finite sample and an out-of-range p", () => {
    expect(() => percentile([], 50)).toThrow(RangeError);
    expect(() => percentile([1, Number.NaN], 50)).toThrow(/not a finite number/);
    expect(() => percentile([1], 101)).toThrow(/outside 0..100/);
  });
});

describe("summarize", () => {
  test("reports median, range and spread relative to the median", () => {
    expect(summarize([9, 10, 12])).toEqual({ n: 3, median: 10, min: 9, max: 12, spread: 0.3 });
  });

  test("median of an even count is the mean of the middle pair", () => {
    expect(median([1, 2, 3, 10])).toBe(2.5);
  });

  test("a zero median gives zero spread instead of dividing by zero", () => {
    expect(summarize([0, 0, 0]).spread).toBe(0);
  });
});

describe("summarizeLatency", () => {
  test("gives p50, p90, p99, max and mean of the distribution", () => {
    const s = summarizeLatency([1, 2, 3, 4, 5, 6, 7, 8, 9, 100]);
    expect(s.p50).toBe(5.5);
    expect(s.p90).toBeCloseTo(18.1, 10);
    expect(s.max).toBe(100);
    expect(s.mean).toBe(14.5);
    expect(s.n).toBe(10);
  });
});

describe("pairedRatio", () => {
  test("summarises the ratio of each pair, not the ratio of medians", () => {
    const r = pairedRatio([2, 4, 9], [1, 4, 3]);
    expect(r.median).toBe(2);
    expect(r.min).toBe(1);
    expect(r.max).toBe(3);
  });

  test("refuses runs that are not paired one to one", () => {
    expect(() => pairedRatio([1, 2], [1])).toThrow(/differ in count/);
  });
});
