/**
 * Captures gvproxy's log records (tag `gvproxy`) in memory instead of printing them, so a
 * test can assert that the library reported a problem.
 */
import { createConsola, type LogObject } from "consola";
import { setGvproxyLogger } from "../../src/index.ts";

/** One captured record. */
export interface CapturedLog {
  /** consola type: trace, debug, info, warn, error, ... */
  readonly type: string;
  readonly message: string;
}

/** Records gvproxy logs from now on; the returned list fills as records are drained. */
export function captureGvproxyLogs(level: "debug" | "info" | "warn" = "info"): CapturedLog[] {
  const captured: CapturedLog[] = [];
  const consolaLevel = { debug: 4, info: 3, warn: 1 }[level];
  setGvproxyLogger(
    createConsola({
      level: consolaLevel,
      reporters: [{ log: (record: LogObject) => captured.push({ type: record.type, message: messageOf(record) }) }],
    }),
  );
  return captured;
}

function messageOf(record: LogObject): string {
  if (typeof record.message === "string") return record.message;
  return record.args.map((arg) => (typeof arg === "string" ? arg : JSON.stringify(arg))).join(" ");
}
