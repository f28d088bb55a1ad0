/**
 * Shape checks for the values of result envelopes. A value in another shape than
 * docs/ABI.md says is a build mismatch (or a bug), never the caller's fault: it is an
 * `INTERNAL` error naming the path of the field (`stats.tcp.retransmits`), not a
 * TypeError somewhere later.
 */
import { GvproxyError } from "./errors.ts";

/** `value` as a plain object, or `INTERNAL` naming `path`. */
export function replyRecord(value: unknown, path: string): Record<string, unknown> {
  if (typeof value !== "object" || value === null || Array.isArray(value)) malformedReply(path, value);
  return value as Record<string, unknown>;
}

/** `value` as a non-negative integer counter, or `INTERNAL` naming `path`. */
export function replyCount(value: unknown, path: string): number {
  if (typeof value !== "number" || !Number.isInteger(value) || value < 0) malformedReply(path, value);
  return value;
}

/** `value` as a finite number (a time, say), or `INTERNAL` naming `path`. */
export function replyNumber(value: unknown, path: string): number {
  if (typeof value !== "number" || !Number.isFinite(value)) malformedReply(path, value);
  return value;
}

/** `value` as a boolean, or `INTERNAL` naming `path`. */
export function replyFlag(value: unknown, path: string): boolean {
  if (typeof value !== "boolean") malformedReply(path, value);
  return value;
}

/** `value` as a string, or `INTERNAL` naming `path`. */
export function replyText(value: unknown, path: string): string {
  if (typeof value !== "string") malformedReply(path, value);
  return value;
}

/** `value` as one of `choices`, or `INTERNAL` naming `path`. */
export function replyChoice<T extends string>(value: unknown, choices: readonly T[], path: string): T {
  if (!(choices as readonly unknown[]).includes(value)) malformedReply(path, value);
  return value as T;
}

/** `value` as an array whose entries `entry` checks, each with its index in the path (`forwards[2]`), or `INTERNAL` naming `path`. */
export function replyList<T>(value: unknown, path: string, entry: (item: unknown, itemPath: string) => T): T[] {
  if (!Array.isArray(value)) malformedReply(path, value);
  return value.map((item: unknown, i) => entry(item, `${path}[${i}]`));
}

/** Throws the `INTERNAL` error of a malformed reply field; the reply is named by the path's first part. */
export function malformedReply(path: string, value: unknown): never {
  throw new GvproxyError(
    "INTERNAL",
    `libgvproxy returned a malformed ${path.split(/[.[]/)[0]}: ${path} is ${showReply(value)}; is build/libgvproxy out of date? run \`make lib\``,
  );
}

/** A reply value for an error message; never throws (a value JSON cannot render is shown as text). */
function showReply(value: unknown): string {
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}
