// Retry delays: exponential backoff with full jitter, so a fleet (or several hubs) that lost a
// service at the same moment comes back spread over time instead of all at once.

export interface BackoffOptions {
  /** Upper bound of the first delay, ms. */
  initialMs: number;
  /** Largest upper bound, ms. */
  maxMs: number;
  /** Uniform in [0, 1); injectable for tests. */
  random?: () => number;
}

/** The delays of one retry loop: `next()` after each failure, `reset()` after a success that lasted. */
export class Backoff {
  private attempt = 0;
  private readonly random: () => number;

  constructor(private readonly options: BackoffOptions) {
    if (!(options.initialMs > 0) || !(options.maxMs >= options.initialMs)) {
      throw new RangeError(
        `backoff needs 0 < initialMs <= maxMs, not ${options.initialMs} and ${options.maxMs}`,
      );
    }
    this.random = options.random ?? Math.random;
  }

  /** The next delay, ms: uniform in [0, min(maxMs, initialMs * 2^attempt)). */
  next(): number {
    const cap = Math.min(this.options.maxMs, this.options.initialMs * 2 ** this.attempt);
    if (cap < this.options.maxMs) this.attempt++;
    return Math.floor(this.random() * cap);
  }

  /** Starts again from the first delay. */
  reset(): void {
    this.attempt = 0;
  }
}
