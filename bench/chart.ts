// Draws throughput by MTU — ours vs gvproxy vs the ceilings — as an SVG from a results
// JSON file. No dependencies: the chart is a handful of rectangles and lines. `make bench`
// draws its run's chart into build/bench/; `make bench-report` the saved run's into
// bench/results/throughput.svg.
import type { BenchResults, Direction } from "./model.ts";
import type { Summary } from "./stats.ts";

/** One bar series: a label, a colour and the value it takes at each MTU. */
interface Series {
  label: string;
  color: string;
  at(direction: Direction, mtu: number): Summary | undefined;
}

const WIDTH = 920;
const PANEL_HEIGHT = 300;
const MARGIN = { left: 60, right: 20, top: 40, bottom: 40 };
const DIRECTIONS: readonly Direction[] = ["host-to-guest", "guest-to-host"];
const TITLES: Record<Direction, string> = {
  "host-to-guest": "host → guest (port forward)",
  "guest-to-host": "guest → host (NAT)",
};

function escapeXml(s: string): string {
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
}

function seriesOf(r: BenchResults): Series[] {
  const cell = (net: "ours" | "gvproxy", streams: number) => (d: Direction, mtu: number) =>
    r.throughput.find((c) => c.direction === d && c.mtu === mtu && c.streams === streams)?.gbps[net];
  return [
    { label: "ours, 1 stream", color: "#1f77b4", at: cell("ours", 1) },
    { label: "gvproxy, 1 stream", color: "#ff7f0e", at: cell("gvproxy", 1) },
    { label: "ours, 4 streams", color: "#aec7e8", at: cell("ours", 4) },
    { label: "gvproxy, 4 streams", color: "#ffbb78", at: cell("gvproxy", 4) },
    {
      label: "framed Unix echo (ceiling)",
      color: "#7f7f7f",
      at: (_d, mtu) => r.ceilings?.framedUnix.find((f) => f.mtu === mtu)?.gbps,
    },
  ];
}

function mtusOf(r: BenchResults): number[] {
  const set = new Set<number>(r.throughput.map((c) => c.mtu));
  for (const f of r.ceilings?.framedUnix ?? []) set.add(f.mtu);
  return [...set].sort((a, b) => a - b);
}

/** A round axis maximum and tick step above the largest value. */
function axis(max: number): { top: number; step: number } {
  const raw = Math.max(max, 0.1) / 5;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= raw)!;
  return { top: Math.ceil(max / step) * step || step, step };
}

function panel(r: BenchResults, d: Direction, y0: number, top: number, step: number): string[] {
  const series = seriesOf(r);
  const mtus = mtusOf(r);
  const plotW = WIDTH - MARGIN.left - MARGIN.right;
  const plotH = PANEL_HEIGHT - MARGIN.top - MARGIN.bottom;
  const base = y0 + MARGIN.top + plotH;
  const y = (v: number) => base - (v / top) * plotH;
  const out: string[] = [`<text x="${MARGIN.left}" y="${y0 + 24}" font-weight="bold">${escapeXml(TITLES[d])}</text>`];
  for (let v = 0; v <= top + 1e-9; v += step) {
    out.push(`<line x1="${MARGIN.left}" x2="${WIDTH - MARGIN.right}" y1="${y(v)}" y2="${y(v)}" stroke="#ddd"/>`);
    out.push(`<text x="${MARGIN.left - 6}" y="${y(v) + 4}" text-anchor="end">${Number(v.toFixed(3))}</text>`);
  }
  out.push(`<text transform="translate(14 ${y0 + MARGIN.top + plotH / 2}) rotate(-90)" text-anchor="middle">Gbit/s</text>`);
  const groupW = plotW / Math.max(mtus.length, 1);
  const barW = (groupW * 0.8) / series.length;
  mtus.forEach((mtu, gi) => {
    const gx = MARGIN.left + gi * groupW + groupW * 0.1;
    out.push(`<text x="${gx + groupW * 0.4}" y="${base + 18}" text-anchor="middle">MTU ${mtu}</text>`);
    series.forEach((s, si) => {
      const v = s.at(d, mtu);
      if (!v) return;
      const x = gx + si * barW;
      out.push(`<rect x="${x.toFixed(1)}" y="${y(v.median).toFixed(1)}" width="${(barW - 2).toFixed(1)}" height="${(base - y(v.median)).toFixed(1)}" fill="${s.color}"><title>${escapeXml(`${s.label}, MTU ${mtu}: ${v.median.toFixed(2)} Gbit/s`)}</title></rect>`);
      const cx = (x + (barW - 2) / 2).toFixed(1);
      if (v.n > 1) out.push(`<line x1="${cx}" x2="${cx}" y1="${y(v.max).toFixed(1)}" y2="${y(v.min).toFixed(1)}" stroke="#000"/>`);
    });
  });
  const loop = r.ceilings?.loopbackTcp.find((t) => t.peer === "go" && t.streams === 1)?.gbps.median;
  if (loop !== undefined) {
    out.push(`<line x1="${MARGIN.left}" x2="${WIDTH - MARGIN.right}" y1="${y(loop)}" y2="${y(loop)}" stroke="#d62728" stroke-dasharray="6 4"/>`);
    out.push(`<text x="${MARGIN.left + 4}" y="${y(loop) - 4}" fill="#d62728">ceiling: loopback TCP between two processes, ${loop.toFixed(1)} Gbit/s</text>`);
  }
  return out;
}

function legend(r: BenchResults, y0: number): string[] {
  const out: string[] = [];
  seriesOf(r).forEach((s, i) => {
    const x = MARGIN.left + i * 165;
    out.push(`<rect x="${x}" y="${y0}" width="12" height="12" fill="${s.color}"/>`);
    out.push(`<text x="${x + 16}" y="${y0 + 10}">${escapeXml(s.label)}</text>`);
  });
  return out;
}

/** The chart for a run: one panel per direction, bars with min–max whiskers. */
export function renderThroughputChart(r: BenchResults): string {
  const values: number[] = [];
  for (const c of r.throughput) for (const s of Object.values(c.gbps)) if (s) values.push(s.max);
  for (const f of r.ceilings?.framedUnix ?? []) values.push(f.gbps.max);
  for (const t of r.ceilings?.loopbackTcp ?? []) if (t.peer === "go" && t.streams === 1) values.push(t.gbps.median);
  const { top, step } = axis(Math.max(0, ...values));
  const height = PANEL_HEIGHT * DIRECTIONS.length + 60;
  const body = [
    `<text x="${MARGIN.left}" y="20" font-size="15" font-weight="bold">${escapeXml(`Bulk TCP throughput by MTU (${r.meta.date.slice(0, 10)}, ${r.meta.runs} run(s), whiskers: min–max)`)}</text>`,
    ...DIRECTIONS.flatMap((d, i) => panel(r, d, 20 + i * PANEL_HEIGHT, top, step)),
    ...legend(r, height - 28),
  ];
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${height}" viewBox="0 0 ${WIDTH} ${height}" font-family="sans-serif" font-size="12">`,
    `<rect width="100%" height="100%" fill="#fff"/>`,
    ...body,
    "</svg>",
    "",
  ].join("\n");
}
