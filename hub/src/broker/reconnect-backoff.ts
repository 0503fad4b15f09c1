// How long the hub waits before reconnecting to its broker: exponential backoff with full jitter,
// so that many hubs (or one restarted broker) do not see a thundering herd.

export interface Backoff {
  /** The first cap on the wait, ms; it doubles per failure. */
  minMs: number;
  /** The largest cap, ms. */
  maxMs: number;
}

/** A wait drawn uniformly from [0, min(maxMs, minMs · 2^failures)], ms. */
export function reconnectDelay(
  { minMs, maxMs }: Backoff,
  failures: number,
  random: () => number = Math.random,
): number {
  const cap = Math.min(maxMs, minMs * 2 ** Math.min(20, Math.max(0, failures)));
  return Math.round(random() * cap);
}
