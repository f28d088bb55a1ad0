/**
 * The test-only exports of libgvproxy (`gvproxy_test_*`): the one place their symbol
 * table is declared, the type derived from it. They exist only in the test build
 * (`make test-lib` -> build/test/libgvproxy.so, Go build tag `gvproxytest`); the release
 * library has none.
 *
 * A process has one Go runtime, so a script that needs the hooks must run the whole
 * binding on the test build: start it with {@link TEST_LIBRARY_ENV}.
 */
import { dlopen, FFIType, suffix, type FFIFunction, type Library } from "bun:ffi";
import { join, resolve } from "node:path";
import { gvproxyLibraryPath } from "../../src/ffi.ts";

/** Where `make test-lib` writes the test build. */
export const TEST_LIBRARY_PATH = resolve(join(import.meta.dir, "..", "..", "build", "test", `libgvproxy.${suffix}`));

/** Environment for a child process that uses the hooks: the binding loads the test build. */
export const TEST_LIBRARY_ENV: Readonly<Record<string, string>> = { GVPROXY_LIBRARY_PATH: TEST_LIBRARY_PATH };

const TEST_HOOK_SYMBOLS = {
  /** Starts `goroutines` goroutines each logging `perGoroutine` info records; 0, or -1 for bad arguments. */
  gvproxy_test_log_flood: { args: [FFIType.i32, FFIType.i32], returns: FFIType.i32 },
  /** Waits until every log-flood goroutine has finished. */
  gvproxy_test_log_flood_wait: { args: [], returns: FFIType.i32 },
  /** Records `flows` synthetic NAT connections (open + close events) on instance `id`; 0, or -1. */
  gvproxy_test_event_flood: { args: [FFIType.i64, FFIType.i32], returns: FFIType.i32 },
  /** Waits until every event-flood goroutine has finished. */
  gvproxy_test_event_flood_wait: { args: [], returns: FFIType.i32 },
  /** The Go runtime's goroutine count now. */
  gvproxy_test_goroutines: { args: [], returns: FFIType.i32 },
} as const satisfies Record<string, FFIFunction>;

/** The test hooks, typed from their table. */
export type TestHooks = Library<typeof TEST_HOOK_SYMBOLS>["symbols"];

/**
 * The hooks, from the library the binding loads. Throws unless that is the test build,
 * saying how to run the script; call it after the binding has loaded the library.
 */
export function loadTestHooks(): TestHooks {
  const path = gvproxyLibraryPath();
  if (path !== TEST_LIBRARY_PATH) {
    throw new Error(
      `the gvproxy_test_* hooks exist only in the test build: run with GVPROXY_LIBRARY_PATH=${TEST_LIBRARY_PATH} (built by \`make test-lib\`); the binding loads ${path}`,
    );
  }
  return dlopen(path, TEST_HOOK_SYMBOLS).symbols;
}
