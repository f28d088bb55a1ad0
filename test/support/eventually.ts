/**
 * The one way suites wait on a condition: poll it until it holds, with a deadline, never
 * a fixed sleep standing in for "long enough".
 */

export interface PollOptions {
  /** How long to keep trying. Default 10 s. */
  readonly timeoutMs?: number;
  /** Pause between attempts. Default 20 ms. */
  readonly intervalMs?: number;
}

/**
 * Polls `condition` until it holds and resolves true, or resolves false once `timeoutMs`
 * has passed with it still unmet (for callers that report the miss themselves). The
 * condition is tried at least once, and once more at the deadline.
 */
export async function poll(condition: () => boolean | Promise<boolean>, options: PollOptions = {}): Promise<boolean> {
  const { timeoutMs = 10_000, intervalMs = 20 } = options;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await condition()) return true;
    if (Date.now() >= deadline) return false;
    await Bun.sleep(Math.min(intervalMs, Math.max(0, deadline - Date.now())));
  }
}

/** Polls `condition` until it holds; throws an error naming `what` after `timeoutMs`. */
export async function eventually(what: string, condition: () => boolean | Promise<boolean>, options: PollOptions = {}): Promise<void> {
  if (!(await poll(condition, options))) {
    throw new Error(`${what}: still not true after ${options.timeoutMs ?? 10_000} ms`);
  }
}
