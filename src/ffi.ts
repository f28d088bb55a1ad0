/**
 * The one place libgvproxy is loaded: its symbol table (the C ABI of docs/ABI.md), the
 * library lookup, and the helper that turns a result envelope into a value or a
 * {@link GvproxyError}. The library is loaded lazily, once, and never closed: `dlclose`
 * of a Go c-shared library is unsupported (its runtime threads keep running).
 */
import { CString, dlopen, FFIType, suffix, type FFIFunction, type Library } from "bun:ffi";
import { existsSync, readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { GvproxyError, isGvproxyErrorCode } from "./errors.ts";
import { MAIN_PACKAGE_NAME, PREBUILT_PLATFORMS, prebuiltPlatform, type PrebuiltPlatform } from "./platforms.ts";

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
  gvproxy_set_secrets: { args: [FFIType.i64, FFIType.ptr], returns: FFIType.ptr },
  gvproxy_ca_certificate: { args: [FFIType.i64], returns: FFIType.ptr },
  gvproxy_guest: { args: [FFIType.i64], returns: FFIType.ptr },
  gvproxy_subscribe: { args: [FFIType.i64, FFIType.i64], returns: FFIType.ptr },
  gvproxy_drain_events: { args: [FFIType.i64, FFIType.i64], returns: FFIType.ptr },
} as const satisfies Record<string, FFIFunction>;

/** The loaded libgvproxy functions, typed from {@link GVPROXY_SYMBOLS}. */
export type GvproxySymbols = Library<typeof GVPROXY_SYMBOLS>["symbols"];

/** What an envelope-returning export gives back: a `char*`, NULL only when malloc failed. */
export type EnvelopePointer = ReturnType<GvproxySymbols["gvproxy_version"]>;

/** The package root (a clone of the repository, or the installed `bun-gvproxy`): `src/` sits directly below it. */
const PACKAGE_ROOT = resolve(import.meta.dir, "..");

let loaded: GvproxySymbols | undefined;

/** Where the lookup found libgvproxy, or every place it tried and what to do instead. */
export type LibraryLocation =
  | { readonly found: true; readonly path: string; readonly tried: readonly string[]; readonly howToFix: string }
  | { readonly found: false; readonly tried: readonly string[]; readonly howToFix: string };

/**
 * Looks for libgvproxy, in this order:
 * 1. `GVPROXY_LIBRARY_PATH`, when set: then only there, so a wrong path is reported, not
 *    silently replaced by another library;
 * 2. the installed platform package (`bun-gvproxy-<os>-<cpu>`, an optional dependency of
 *    the main package, at the main package's version);
 * 3. `<package root>/build/`, where `make lib` writes it in a clone of the repository.
 * Each place tried is described in `tried`, in a form fit for an error message.
 */
export function locateGvproxyLibrary(): LibraryLocation {
  const fromEnv = process.env.GVPROXY_LIBRARY_PATH;
  if (fromEnv !== undefined && fromEnv !== "") {
    const path = resolve(fromEnv);
    const howToFix = "fix GVPROXY_LIBRARY_PATH, or unset it to use the installed platform package or the build/ directory";
    if (existsSync(path)) return { found: true, path, tried: [`GVPROXY_LIBRARY_PATH=${path}`], howToFix };
    return { found: false, tried: [`GVPROXY_LIBRARY_PATH=${path} (no such file)`], howToFix };
  }
  const tried: string[] = [];
  const platform = prebuiltPlatform();
  const howToFix = libraryHowToFix(platform);
  if (platform === undefined) {
    tried.push(`a prebuilt package for ${process.platform}-${process.arch} (none exists; prebuilt: ${PREBUILT_PLATFORMS.map((p) => `${p.os}-${p.cpu}`).join(", ")})`);
  } else {
    const fromPackage = platformPackageLibrary(platform);
    if ("path" in fromPackage) return { found: true, path: fromPackage.path, tried, howToFix };
    tried.push(fromPackage.tried);
  }
  const built = join(PACKAGE_ROOT, "build", `libgvproxy.${suffix}`);
  if (existsSync(built)) return { found: true, path: built, tried, howToFix };
  tried.push(`${built} (not built)`);
  return { found: false, tried, howToFix };
}

/** The library of the installed platform package `platform`, or why it cannot be used. */
function platformPackageLibrary(platform: PrebuiltPlatform): { path: string } | { tried: string } {
  let manifestPath: string;
  try {
    manifestPath = Bun.resolveSync(`${platform.packageName}/package.json`, import.meta.dir);
  } catch {
    return { tried: `the package ${platform.packageName} (not installed)` };
  }
  const wanted = packageVersion(join(PACKAGE_ROOT, "package.json"));
  const installed = packageVersion(manifestPath);
  const path = join(dirname(manifestPath), platform.libraryFile);
  if (wanted !== undefined && installed !== wanted) {
    return { tried: `${path} (${platform.packageName}@${installed ?? "?"} is installed, ${MAIN_PACKAGE_NAME} needs ${wanted})` };
  }
  if (!existsSync(path)) return { tried: `${path} (missing from the installed ${platform.packageName})` };
  return { path };
}

/** The `version` of the package.json at `path`, or undefined when it cannot be read. */
function packageVersion(path: string): string | undefined {
  try {
    const manifest: unknown = JSON.parse(readFileSync(path, "utf8"));
    const version = (manifest as { version?: unknown }).version;
    return typeof version === "string" ? version : undefined;
  } catch {
    return undefined;
  }
}

/** What a user on this platform does when no library was found. */
function libraryHowToFix(platform: PrebuiltPlatform | undefined): string {
  const fromSource =
    "build it from source (a clone of the repository, Go and a C compiler: `make lib`) and set GVPROXY_LIBRARY_PATH to its build/libgvproxy." +
    suffix;
  if (platform === undefined) return `no prebuilt library exists for ${process.platform}-${process.arch}: ${fromSource}`;
  return (
    `install the prebuilt library: \`bun add ${platform.packageName}\` (an optional dependency of ${MAIN_PACKAGE_NAME}, ` +
    `skipped when optional dependencies are omitted), or ${fromSource}`
  );
}

/**
 * The path of the libgvproxy that {@link gvproxyLibrary} loads (see
 * {@link locateGvproxyLibrary} for the order). Throws `LIBRARY_NOT_FOUND`, listing every
 * place tried and what to do on this platform, when there is none.
 */
export function gvproxyLibraryPath(): string {
  return foundLibrary(locateGvproxyLibrary()).path;
}

/** `location` when a library was found; otherwise the `LIBRARY_NOT_FOUND` error saying where it looked. */
function foundLibrary(location: LibraryLocation): Extract<LibraryLocation, { found: true }> {
  if (location.found) return location;
  throw new GvproxyError("LIBRARY_NOT_FOUND", `libgvproxy not found; tried: ${location.tried.join("; ")}. To fix: ${location.howToFix}`);
}

/**
 * The libgvproxy functions, loading the library on first use. Throws
 * `LIBRARY_NOT_FOUND` when the library is missing, cannot be loaded, lacks a symbol or
 * speaks another ABI version. A failed load is not remembered, so building the library
 * and calling again works.
 */
export function gvproxyLibrary(): GvproxySymbols {
  if (loaded !== undefined) return loaded;
  const { path, howToFix } = foundLibrary(locateGvproxyLibrary());
  let symbols: GvproxySymbols;
  try {
    symbols = dlopen(path, GVPROXY_SYMBOLS).symbols;
  } catch (cause) {
    const reason = cause instanceof Error ? cause.message : String(cause);
    throw new GvproxyError("LIBRARY_NOT_FOUND", `cannot load libgvproxy from ${path}: ${reason}; to fix: ${howToFix}`, { cause });
  }
  const abi = symbols.gvproxy_abi_version();
  if (abi !== GVPROXY_ABI_VERSION) {
    throw new GvproxyError(
      "LIBRARY_NOT_FOUND",
      `libgvproxy at ${path} speaks ABI version ${abi}, this binding needs ${GVPROXY_ABI_VERSION}; to fix: ${howToFix}`,
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
