// How numbers read in the tables: medians with their run-to-run range.
import type { Summary } from "./stats.ts";

/** A number with a precision that suits its magnitude (3 significant digits, no exponent). */
export function num(v: number): string {
  const abs = Math.abs(v);
  if (abs >= 1000) return Math.round(v).toLocaleString("en-US");
  if (abs >= 100) return v.toFixed(0);
  if (abs >= 10) return v.toFixed(1);
  if (abs >= 1) return v.toFixed(2);
  return v.toPrecision(2);
}

/** "median (min–max)", or just the median when there was one run. */
export function withRange(s: Summary | undefined): string {
  if (s === undefined) return "–";
  if (s.n === 1) return num(s.median);
  return `${num(s.median)} (${num(s.min)}–${num(s.max)})`;
}

/** A ratio as "1.23x (1.10–1.31)". */
export function ratio(s: Summary | undefined): string {
  if (s === undefined) return "–";
  if (s.n === 1) return `${s.median.toFixed(2)}x`;
  return `${s.median.toFixed(2)}x (${s.min.toFixed(2)}–${s.max.toFixed(2)})`;
}

/** A markdown table. */
export function table(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const lines = [`| ${header.join(" | ")} |`, `| ${header.map(() => "---").join(" | ")} |`];
  for (const r of rows) lines.push(`| ${r.join(" | ")} |`);
  return lines.join("\n");
}
