/**
 * A small seeded pseudo-random generator (mulberry32) for property and fuzz-style tests:
 * the same seed replays the same sequence, so a failure is reproduced by its printed seed.
 */

/** Deterministic random choices drawn from one 32-bit seed. */
export class SeededRandom {
  readonly seed: number;
  #state: number;

  constructor(seed: number) {
    this.seed = seed >>> 0;
    this.#state = this.seed;
  }

  /** A seed from `HARDEN_SEED` when set (to replay a failure), otherwise a fresh one. */
  static seedFromEnv(variable = "HARDEN_SEED"): number {
    const fromEnv = process.env[variable];
    if (fromEnv !== undefined && fromEnv !== "") {
      const seed = Number(fromEnv);
      if (!Number.isInteger(seed)) throw new Error(`${variable}=${fromEnv} is not an integer seed`);
      return seed >>> 0;
    }
    return (Math.random() * 2 ** 32) >>> 0;
  }

  /** Uniform in [0, 1). */
  next(): number {
    // mulberry32: tiny, fast and good enough to spread test inputs.
    this.#state = (this.#state + 0x6d2b79f5) >>> 0;
    let t = this.#state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  }

  /** An integer in [min, max], both included. */
  int(min: number, max: number): number {
    return min + Math.floor(this.next() * (max - min + 1));
  }

  /** True with probability `p`. */
  chance(p: number): boolean {
    return this.next() < p;
  }

  /** One element of `items`. */
  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new Error("pick from an empty list");
    return items[this.int(0, items.length - 1)] as T;
  }

  /** `length` random bytes. */
  bytes(length: number): Uint8Array {
    const out = new Uint8Array(length);
    for (let i = 0; i < length; i++) out[i] = this.int(0, 255);
    return out;
  }
}
