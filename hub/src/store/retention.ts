// LOCUS_RETENTION_DAYS: deletes fixes and delivered events older than the retention period, in
// the background. Each pass deletes in small steps and yields to the event loop between them,
// so group commits and acknowledgements go on while it runs.

import type { Logger } from "pino";
import type { Store } from "./store.ts";

export interface RetentionOptions {
  store: Pick<Store, "deleteOlderThan">;
  /** Rows older than this (by ts) are deleted, ms. */
  retentionMs: number;
  logger: Logger;
  /** Called with the rows each step deleted (a metric). */
  onDeleted?: (rows: number) => void;
  /** Rows per step: one short transaction each. Default 500. */
  step?: number;
  /** Between the end of one pass and the start of the next, ms. Default one hour. */
  intervalMs?: number;
  /** The clock, epoch ms. Default Date.now. */
  now?: () => number;
}

/** Waits `ms` (at least one turn of the event loop). */
const rest = (ms: number) =>
  new Promise<void>((resolve) => (ms < 1 ? setImmediate(resolve) : setTimeout(resolve, ms)));

export class RetentionScheduler {
  readonly #o: RetentionOptions;
  #timer: NodeJS.Timeout | null = null;
  #running: Promise<void> | null = null;
  #stopped = false;

  constructor(options: RetentionOptions) {
    this.#o = options;
  }

  /** Runs a pass now, then one every interval, until stop(). */
  start(): void {
    this.#stopped = false;
    this.#schedule(0);
  }

  /** Stops scheduling and waits for a pass under way to end its current step. */
  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#timer = null;
    await this.#running;
  }

  /**
   * Deletes everything older than the retention period, step by step; resolves with the rows
   * deleted. Stops early once stop() is called.
   */
  async runPass(): Promise<number> {
    const { store, retentionMs, step = 500, now = Date.now } = this.#o;
    const before = now() - retentionMs;
    let total = 0;
    while (!this.#stopped) {
      const started = performance.now();
      const n = await store.deleteOlderThan(before, step);
      if (n === 0) break;
      total += n;
      this.#o.onDeleted?.(n);
      // Rest as long as the step took: the pass takes at most half of the time (of the event
      // loop, and of the SQLite writer), and group commits always find it idle in between.
      await rest(performance.now() - started);
    }
    return total;
  }

  #schedule(delayMs: number): void {
    if (this.#stopped) return;
    this.#timer = setTimeout(() => {
      this.#timer = null;
      this.#running = this.runPass()
        .then(
          (rows) => {
            if (rows > 0) this.#o.logger.info({ rows }, "retention: deleted old fixes and events");
          },
          (err: unknown) => {
            const message = err instanceof Error ? err.message : String(err);
            this.#o.logger.warn({ err: message }, "retention pass failed; will try again");
          },
        )
        .finally(() => {
          this.#running = null;
          this.#schedule(this.#o.intervalMs ?? 3_600_000);
        });
    }, delayMs);
    // Retention alone never keeps the process alive.
    this.#timer.unref();
  }
}
