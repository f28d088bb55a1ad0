/**
 * The one place libgvproxy is loaded: its symbol table (the C ABI of docs/ABI.md), the
 * library lookup, and the helper that turns a result envelope into a value or a
 * {@link GvproxyError}. The library is loaded lazily, once, and never closed: `dlclose`
 * of a Go c-shared library is unsupported (its runtime threads keep running).
 */
import { CString, dlopen, FFIType, suffix, type FFIFunction, type Library } from "bun:ffi";
import { existsSync } from "node:fs";
import { join, resolve } from "node:path";
import { GvproxyError, isGvproxyErrorCode } from "./errors.ts";

/** The ABI version this binding speaks; a library reporting another one is refused. */
export const GVPROXY_ABI_VERSION = 1;

/** The C ABI of libgvproxy; the TypeScript type of the loaded symbols is derived from it. */
const GVPROXY_SYMBOLS = {
  gvproxy_abi_version: { args: [], returns: FFIType.i32 },
  gvproxy_version: { args: [], returns: FFIType.ptr },
  gvproxy_create: { args: [FFIType.ptr], returns: FFIType.ptr },
  gvproxy_destroy: { args: [FFIType.i64], returns: FFIType.ptr },
  gvproxy_stats: { args: [FFIType.i64], returns: FFIType.ptr },
  gvproxy_free: { args: [FFIType.ptr], returns: FFIType.void },
  gvproxy_set_log_level: { args: [FFIType.i32], returns: FFIType.void },
  gvproxy_drain_logs: { args: [FFIType.function, FFIType.i32], returns: FFIType.i32 },
  gvproxy_log_stats: { args: [], returns: FFIType.ptr },
  gvproxy_signals_repair: { args: [], returns: FFIType.ptr },
  gvproxy_expose: { args: [FFIType.i64, FFIType.ptr], returns: FFIType.ptr },
  gvproxy_unexpose: { args: [FFIType.i64, FFIType.ptr], returns: FFIType.ptr },
  gvproxy_forwards: { args: [FFIType.i64], returns: FFIType.ptr },
  gvproxy_add_host_socket: { args: [FFIType.i64, FFIType.ptr], returns: FFIType.ptr },
  gvproxy_remove_host_socket: { args: [FFIType.i64, FFIType.i64], returns: FFIType.ptr },
  gvproxy_set_allow_net: { args: [FFIType.i64, FFIType.ptr], returns: FFIType.ptr },
  gvproxy_set_dns_zones: { args: [FFIType.i64, FFIType.ptr], returns: FFIType.ptr },
  gvproxy_guest: { args: [FFIType.i64], returns: FFIType.ptr },
  gvproxy_subscribe: { args: [FFIType.i64, FFIType.i64], returns: FFIType.ptr },
  gvproxy_drain_events: { args: [FFIType.i64, FFIType.i64], returns: FFIType.ptr },
} as const satisfies Record<string, FFIFunction>;

/** The loaded libgvproxy functions, typed from {@link GVPROXY_SYMBOLS}. */
export type GvproxySymbols = Library<typeof GVPROXY_SYMBOLS>["symbols"];

/** What an envelope-returning export gives back: a `char*`, NULL only when malloc failed. */
export type EnvelopePointer = ReturnType<GvproxySymbols["gvproxy_version"]>;

/** The repository root: `src/` sits directly below it. */
const REPO_ROOT = resolve(import.meta.dir, "..");

let loaded: GvproxySymbols | undefined;

/**
 * Where libgvproxy is looked for: `GVPROXY_LIBRARY_PATH` if set, otherwise
 * `<repo>/build/libgvproxy.so` (`.dylib` on macOS), as `make lib` writes it.
 */
export function gvproxyLibraryPath(): string {
  const fromEnv = process.env.GVPROXY_LIBRARY_PATH;
  if (fromEnv !== undefined && fromEnv !== "") return resolve(fromEnv);
  return join(REPO_ROOT, "build", `libgvproxy.${suffix}`);
}

/**
 * The libgvproxy functions, loading the library on first use. Throws
 * `LIBRARY_NOT_FOUND` when the library is missing, cannot be loaded, lacks a symbol or
 * speaks another ABI version. A failed load is not remembered, so building the library
 * and calling again works.
 */
export function gvproxyLibrary(): GvproxySymbols {
  if (loaded !== undefined) return loaded;
  const path = gvproxyLibraryPath();
  const howToFix = process.env.GVPROXY_LIBRARY_PATH
    ? "check GVPROXY_LIBRARY_PATH, or unset it and run `make lib`"
    : `run \`make lib\` in ${REPO_ROOT} (or set GVPROXY_LIBRARY_PATH)`;
  if (!existsSync(path)) {
    throw new GvproxyError("LIBRARY_NOT_FOUND", `libgvproxy not found at ${path}: ${howToFix}`);
  }
  let symbols: GvproxySymbols;
  try {
    symbols = dlopen(path, GVPROXY_SYMBOLS).symbols;
  } catch (cause) {
    const reason = cause instanceof Error ? cause.message : String(cause);
    throw new GvproxyError("LIBRARY_NOT_FOUND", `cannot load libgvproxy from ${path}: ${reason}; ${howToFix}`, { cause });
  }
  const abi = symbols.gvproxy_abi_version();
  if (abi !== GVPROXY_ABI_VERSION) {
    throw new GvproxyError(
      "LIBRARY_NOT_FOUND",
      `libgvproxy at ${path} speaks ABI version ${abi}, this binding needs ${GVPROXY_ABI_VERSION}: ${howToFix}`,
    );
  }
  loaded = symbols;
  return symbols;
}

/** A NUL-terminated UTF-8 copy of `text`, to pass as a `const char*`. */
export function cString(text: string): Buffer {
  return Buffer.from(`${text}\0`, "utf8");
}

/**
 * Unwraps the result envelope `envelope` returned by an export: reads the C string, frees
 * it with `gvproxy_free` (exactly once, even when it is malformed) and returns the `value`,
 * or throws the envelope's error as a {@link GvproxyError}.
 */
export function callEnvelope(symbols: GvproxySymbols, envelope: EnvelopePointer): unknown {
  if (envelope === null) {
    throw new GvproxyError("INTERNAL", "libgvproxy returned a NULL envelope (out of memory?)");
  }
  let text: string;
  try {
    text = new CString(envelope).toString();
  } finally {
    symbols.gvproxy_free(envelope);
  }
  return unwrapEnvelope(text);
}

/** Parses envelope JSON text; exported separately so the envelope rules can be tested alone. */
export function unwrapEnvelope(text: string): unknown {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (cause) {
    throw new GvproxyError("INTERNAL", `libgvproxy returned an envelope that is not JSON: ${text.slice(0, 200)}`, { cause });
  }
  if (typeof parsed !== "object" || parsed === null) {
    throw new GvproxyError("INTERNAL", `libgvproxy returned a malformed envelope: ${text.slice(0, 200)}`);
  }
  const envelope = parsed as { ok?: unknown; value?: unknown; error?: unknown };
  if (envelope.ok === true) return envelope.value;
  const error = (envelope.error ?? {}) as { code?: unknown; message?: unknown; field?: unknown };
  if (envelope.ok !== false || typeof error.message !== "string") {
    throw new GvproxyError("INTERNAL", `libgvproxy returned a malformed envelope: ${text.slice(0, 200)}`);
  }
  const code = isGvproxyErrorCode(error.code) ? error.code : "INTERNAL";
  const message = code === error.code ? error.message : `${String(error.code)}: ${error.message}`;
  throw new GvproxyError(code, message, { field: typeof error.field === "string" ? error.field : undefined });
}
