/**
 * The log bridge: records the Go side (libgvproxy, logrus, the `log` package, gVisor)
 * queues are drained on the JS thread and handed to consola under the tag `gvproxy`.
 *
 * Draining happens on an unref'd timer (so it never keeps the process alive), after every
 * call into the library, and before `destroy()` returns. The one `JSCallback` runs only
 * inside `gvproxy_drain_logs`, synchronously on the calling (JS) thread; it copies every
 * string out of the batch because the batch memory is reused once the call returns.
 */
import { JSCallback, FFIType, toArrayBuffer, type Pointer } from "bun:ffi";
import { consola, type ConsolaInstance, type LogType } from "consola";
import { callEnvelope, gvproxyLibrary, type GvproxySymbols } from "./ffi.ts";
import { replyCount, replyRecord } from "./reply.ts";

/** The consola tag every gvproxy record is logged under. */
export const GVPROXY_LOG_TAG = "gvproxy";

/** Values `GVPROXY_LOG_LEVEL` accepts, from the most to the least verbose. */
export const GVPROXY_LOG_LEVELS = ["trace", "debug", "info", "warn", "error", "silent"] as const;

/** A level name of {@link GVPROXY_LOG_LEVELS}. */
export type GvproxyLogLevel = (typeof GVPROXY_LOG_LEVELS)[number];

/** Where a record came from, as the Go side tags it. */
export type GvproxyLogSource = "libgvproxy" | "logrus" | "log" | "gvisor";

/** One decoded log record. */
export interface GvproxyLogRecord {
  /** Severity; never `silent`. */
  readonly level: Exclude<GvproxyLogLevel, "silent">;
  /** The Go logger that produced it. */
  readonly source: GvproxyLogSource;
  /** The instance the record is about; 0 when it is not tied to one. */
  readonly instanceId: number;
  /** Wall-clock time it was produced, Unix milliseconds. */
  readonly timeMs: number;
  /** The message, structured fields appended as ` key=value`. */
  readonly message: string;
}

/** Counters of the Go-side log queue (`gvproxy_log_stats`). */
export interface GvproxyLogStats {
  /** Records the queue holds at most. */
  readonly capacity: number;
  /** Records waiting now. */
  readonly queued: number;
  /** Records dropped because the queue was full. */
  readonly dropped: number;
  /** Records handed to the JS side. */
  readonly delivered: number;
}

/** Byte layout of a packed record (docs/ABI.md "Log record layout"). */
const RECORD_HEADER_BYTES = 24;
const RECORD_LEVELS = ["trace", "debug", "info", "warn", "error"] as const;
const RECORD_SOURCES = ["libgvproxy", "logrus", "log", "gvisor"] as const;

/** How often queued records are drained when nothing else drains them. */
const DRAIN_INTERVAL_MS = 50;
/**
 * Records one timer tick delivers at most, so a log flood cannot stall the event loop for
 * long; what is left waits for the next tick (the Go queue is bounded and counts drops).
 */
const TIMER_DRAIN_MAX_RECORDS = 16384;

/** consola's numeric level for each name; the Go filter is derived from it. */
const CONSOLA_LEVEL: Record<GvproxyLogLevel, number> = {
  trace: 5,
  debug: 4,
  info: 3,
  warn: 1,
  error: 0,
  silent: Number.NEGATIVE_INFINITY,
};

/** consola method for each record level. */
const CONSOLA_TYPE: Record<GvproxyLogRecord["level"], LogType> = {
  trace: "trace",
  debug: "debug",
  info: "info",
  warn: "warn",
  error: "error",
};

const utf8 = new TextDecoder("utf-8");

let logger: ConsolaInstance = withEnvLevel(consola.withTag(GVPROXY_LOG_TAG));
let bridge: { symbols: GvproxySymbols; callback: JSCallback; appliedGoLevel: number } | undefined;
/** Records decoded by the callback, forwarded once `gvproxy_drain_logs` has returned. */
let pending: GvproxyLogRecord[] = [];
/** Other queues the pump drains after the logs (the event streams of networks with listeners). */
const pumpHooks = new Set<() => void>();

/**
 * Adds `drain` to the pump: it runs on the JS thread after every log drain (timer, after
 * calls into the library, before destroy). Returns the function that removes it.
 */
export function addPumpHook(drain: () => void): () => void {
  pumpHooks.add(drain);
  return () => pumpHooks.delete(drain);
}

/**
 * Routes gvproxy's log records to `instance` (tagged `gvproxy`) instead of the default
 * consola. `GVPROXY_LOG_LEVEL`, when set, overrides the level of the tagged logger; the
 * Go side discards records below that level at the source.
 */
export function setGvproxyLogger(instance: ConsolaInstance): void {
  logger = withEnvLevel(instance.withTag(GVPROXY_LOG_TAG));
  if (bridge !== undefined) drainGvproxyLogs();
}

/** The consola instance gvproxy records go to now. */
export function gvproxyLogger(): ConsolaInstance {
  return logger;
}

/**
 * Loads the library if needed and starts the bridge once: the JSCallback, the Go-side
 * level filter and the unref'd drain timer. Returns the library's functions.
 */
export function startLogBridge(): GvproxySymbols {
  if (bridge !== undefined) return bridge.symbols;
  const symbols = gvproxyLibrary();
  const callback = new JSCallback(receiveBatch, {
    args: [FFIType.ptr, FFIType.i32, FFIType.i32],
    returns: FFIType.void,
  });
  bridge = { symbols, callback, appliedGoLevel: -1 };
  // The timer only picks up records nothing else drained; it must never keep the process
  // alive, and the callback is never closed because the library is never unloaded.
  setInterval(() => drainGvproxyLogs(TIMER_DRAIN_MAX_RECORDS), DRAIN_INTERVAL_MS).unref();
  repairSignals(symbols);
  drainGvproxyLogs();
  return symbols;
}

/**
 * Loading the Go runtime replaces Bun's ignored SIGPIPE with a Go handler. The library's
 * ELF constructors already put SIG_IGN back and keep asynchronous signals off Go's
 * threads; this idempotent call re-applies the SIGPIPE part in case a toolchain ever
 * orders the constructors differently (libgvproxy/signals.go says which and why). Its
 * failure does not make the library unusable, so it is logged, not thrown.
 */
export function repairSignals(symbols: GvproxySymbols): void {
  try {
    callEnvelope(symbols, symbols.gvproxy_signals_repair());
  } catch (error) {
    logger.warn(`restoring Bun's signal dispositions after loading libgvproxy failed: ${String(error)}`);
  }
}

/**
 * Delivers the records queued on the Go side to the logger, synchronously: all of them, or
 * at most `maxRecords` when it is positive. Called after each call into the library; a
 * no-op before the bridge has started.
 */
export function drainGvproxyLogs(maxRecords = 0): void {
  if (bridge === undefined) return;
  syncGoLevel(bridge);
  const { symbols, callback } = bridge;
  try {
    // The callback pushes onto `pending`; a negative result is an error the Go side has
    // queued as a record of its own, so the next drain reports it.
    symbols.gvproxy_drain_logs(callback, maxRecords);
  } finally {
    const records = pending;
    pending = [];
    forwardAll(records);
    runPumpHooks();
  }
}

let pumping = false;

/** Runs every pump hook once (never re-entered); one that throws is logged and does not stop the others. */
function runPumpHooks(): void {
  if (pumping) return;
  pumping = true;
  try {
    for (const hook of pumpHooks) {
      try {
        hook();
      } catch (error) {
        logger.error("gvproxy: draining events failed:", error);
      }
    }
  } finally {
    pumping = false;
  }
}

/**
 * Hands every record to the logger. A throwing reporter is the caller's bug; it must not
 * turn a successful create or destroy into a failure (the network would leak), nor cost
 * the records after it, so its error is written to stderr (once per drain) and delivery
 * goes on.
 */
function forwardAll(records: readonly GvproxyLogRecord[]): void {
  let reported = false;
  for (const record of records) {
    try {
      forward(record);
    } catch (error) {
      if (!reported) console.error(`gvproxy: the log reporter threw on "${record.message}":`, error);
      reported = true;
    }
  }
}

/** The Go-side log queue counters. */
export function gvproxyLogStats(): GvproxyLogStats {
  const symbols = startLogBridge();
  const value = replyRecord(callEnvelope(symbols, symbols.gvproxy_log_stats()), "logStats");
  return {
    capacity: replyCount(value.capacity, "logStats.capacity"),
    queued: replyCount(value.queued, "logStats.queued"),
    dropped: replyCount(value.dropped, "logStats.dropped"),
    delivered: replyCount(value.delivered, "logStats.delivered"),
  };
}

/**
 * Decodes one packed batch (docs/ABI.md). Exported for tests of the layout; the bridge
 * uses it on memory that is only valid during the callback, so every string is copied.
 */
export function decodeLogBatch(batch: ArrayBuffer, count: number): GvproxyLogRecord[] {
  const view = new DataView(batch);
  const bytes = new Uint8Array(batch);
  const records: GvproxyLogRecord[] = [];
  let offset = 0;
  for (let i = 0; i < count && offset + RECORD_HEADER_BYTES <= view.byteLength; i++) {
    const length = view.getUint32(offset, true);
    const start = offset + RECORD_HEADER_BYTES;
    records.push({
      level: RECORD_LEVELS[view.getUint8(offset + 4)] ?? "error",
      source: RECORD_SOURCES[view.getUint8(offset + 5)] ?? "libgvproxy",
      instanceId: view.getUint32(offset + 8, true),
      timeMs: view.getFloat64(offset + 16, true),
      // TextDecoder.decode copies, so the record outlives the batch memory.
      message: utf8.decode(bytes.subarray(start, Math.min(start + length, bytes.length))),
    });
    offset = start + length;
  }
  return records;
}

/** The JSCallback body: runs on the JS thread inside `gvproxy_drain_logs`. */
function receiveBatch(records: Pointer | null, byteLength: number, count: number): void {
  if (records === null || byteLength <= 0 || count <= 0) return;
  for (const record of decodeLogBatch(toArrayBuffer(records, 0, byteLength), count)) pending.push(record);
}

function forward(record: GvproxyLogRecord): void {
  logger[CONSOLA_TYPE[record.level]]({
    message: record.message,
    date: new Date(record.timeMs),
    source: record.source,
    instanceId: record.instanceId,
  });
}

/** Keeps the Go filter at the logger's level, so records nobody shows are never queued. */
function syncGoLevel(state: { symbols: GvproxySymbols; appliedGoLevel: number }): void {
  const goLevel = goLevelFor(logger.level);
  if (goLevel === state.appliedGoLevel) return;
  state.symbols.gvproxy_set_log_level(goLevel);
  state.appliedGoLevel = goLevel;
}

/** Go-side level (0 trace .. 4 error, 5 silent) for a consola numeric level. */
export function goLevelFor(consolaLevel: number): number {
  if (consolaLevel >= CONSOLA_LEVEL.trace) return 0;
  if (consolaLevel >= CONSOLA_LEVEL.debug) return 1;
  if (consolaLevel >= CONSOLA_LEVEL.info) return 2;
  if (consolaLevel >= CONSOLA_LEVEL.warn) return 3;
  if (consolaLevel >= CONSOLA_LEVEL.error) return 4;
  return 5;
}

/** Applies `GVPROXY_LOG_LEVEL` to `instance` when it is set; an unknown value is reported once. */
function withEnvLevel(instance: ConsolaInstance): ConsolaInstance {
  const name = process.env.GVPROXY_LOG_LEVEL?.trim().toLowerCase();
  if (name === undefined || name === "") return instance;
  if (isLogLevel(name)) {
    instance.level = CONSOLA_LEVEL[name];
  } else {
    instance.warn(`GVPROXY_LOG_LEVEL=${name} is not one of ${GVPROXY_LOG_LEVELS.join("|")}; ignored`);
  }
  return instance;
}

function isLogLevel(name: string): name is GvproxyLogLevel {
  return (GVPROXY_LOG_LEVELS as readonly string[]).includes(name);
}
