import { describe, expect, test } from "bun:test";
import { renderThroughputChart } from "./chart.ts";
import type { BenchResults, ThroughputCell } from "./model.ts";
import { fixtureResults, fixtureThroughputCell } from "./results-fixture.ts";

const results = (throughput: ThroughputCell[]): BenchResults => fixtureResults({ throughput }, true);

function bars(svg: string): { title: string; height: number }[] {
  return [...svg.matchAll(/<rect [^>]*height="([\d.]+)"[^>]*><title>([^<]*)<\/title>/g)].map((m) => ({ height: Number(m[1]), title: m[2]! }));
}

describe("renderThroughputChart", () => {
  test("draws one bar per network and MTU, with heights proportional to the median", () => {
    const svg = renderThroughputChart(results([fixtureThroughputCell("host-to-guest", 1500, [1, 2, 3], [4, 4, 4]), fixtureThroughputCell("host-to-guest", 65520, [8, 8, 8], [2, 2, 2])]));
    const drawn = bars(svg);
    expect(drawn.map((b) => b.title)).toEqual([
      "ours, 1 stream, MTU 1500: 2.00 Gbit/s",
      "gvproxy, 1 stream, MTU 1500: 4.00 Gbit/s",
      "ours, 1 stream, MTU 65520: 8.00 Gbit/s",
      "gvproxy, 1 stream, MTU 65520: 2.00 Gbit/s",
    ]);
    expect(drawn[2]!.height / drawn[0]!.height).toBeCloseTo(4, 1);
  });

  test("draws min–max whiskers only where there was more than one distinct run", () => {
    const svg = renderThroughputChart(results([fixtureThroughputCell("guest-to-host", 1500, [1, 2, 3], [4])]));
    expect(svg.match(/stroke="#000"/g)?.length).toBe(1);
  });

  test("is a well-formed SVG even with no results at all", () => {
    const svg = renderThroughputChart(results([]));
    expect(svg.startsWith("<svg")).toBe(true);
    expect(svg.trim().endsWith("</svg>")).toBe(true);
    expect(bars(svg)).toEqual([]);
  });
});
