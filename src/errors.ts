/**
 * The one error type of bun-gvproxy. Every failure, whether found by the TypeScript
 * validation or reported by libgvproxy through its result envelope, surfaces as a
 * {@link GvproxyError} with a stable {@link GvproxyErrorCode}.
 */

/** Every error code, in the order DESIGN.md lists them. */
export const GVPROXY_ERROR_CODES = [
  "INVALID_CONFIG",
  "SOCKET_PATH_TOO_LONG",
  "SOCKET_IN_USE",
  "NOT_A_SOCKET",
  "ADDRESS_IN_USE",
  "PERMISSION_DENIED",
  "DESTROYED",
  "LIBRARY_NOT_FOUND",
  "INTERNAL",
] as const;

/**
 * Why an operation failed:
 * - `INVALID_CONFIG`: a config field is missing, malformed or out of range.
 * - `SOCKET_PATH_TOO_LONG`: the socket path exceeds the platform's `sun_path` limit.
 * - `SOCKET_IN_USE`: something is already listening on the socket path.
 * - `NOT_A_SOCKET`: a file that is not a socket exists at the socket path (it is left alone).
 * - `ADDRESS_IN_USE`: a host port of a mapping cannot be bound.
 * - `PERMISSION_DENIED`: the socket directory or a port is not permitted.
 * - `DESTROYED`: a method was called after `destroy()`/`close()`.
 * - `LIBRARY_NOT_FOUND`: libgvproxy could not be loaded.
 * - `INTERNAL`: anything else, including a recovered Go panic.
 */
export type GvproxyErrorCode = (typeof GVPROXY_ERROR_CODES)[number];

/** Whether `value` is one of the {@link GvproxyErrorCode} strings. */
export function isGvproxyErrorCode(value: unknown): value is GvproxyErrorCode {
  return typeof value === "string" && (GVPROXY_ERROR_CODES as readonly string[]).includes(value);
}

/** Extra details of a {@link GvproxyError}. */
export interface GvproxyErrorOptions {
  /** The config field at fault, e.g. `socketPath` or `portMappings[1].hostPort`. */
  readonly field?: string;
  /** The underlying error, when there is one. */
  readonly cause?: unknown;
}

/**
 * An error raised by bun-gvproxy. The `message` names the path, port or field at fault so a
 * person can act on it; `code` is stable and meant for programs.
 */
export class GvproxyError extends Error {
  /** The stable reason for the failure. */
  readonly code: GvproxyErrorCode;
  /** The config field at fault, when the failure is about one field. */
  readonly field?: string;

  /**
   * @param code the stable reason for the failure
   * @param message what went wrong, naming the path, port or field
   * @param options the field at fault and the underlying cause, if any
   */
  constructor(code: GvproxyErrorCode, message: string, options: GvproxyErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = "GvproxyError";
    this.code = code;
    if (options.field !== undefined) this.field = options.field;
  }
}
