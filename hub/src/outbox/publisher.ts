// Drains the event outbox to MQTT in outbox order and marks what the broker took as delivered.
// Events live in the store until then: a crash means republishing (same ids), never losing.
//
// Events go out a window at a time: up to `window` publishes handed to the broker in outbox
// order before waiting for it to take them. One at a time, each event would wait for its own
// turn of the event loop (aedes confirms a publish with setImmediate), a few hundred a second
// while the loop is busy ingesting. A broker takes publishes in the order given and, when one
// fails, fails the ones after it too (aedes only when closed; an MQTT connection when lost, TCP
// keeping order), so what was taken is a prefix of the window. Should a later one succeed
// anyway, the retry sends it again from the first failure on: duplicates, with the same ids,
// after the failed event; the first copies of events never go out of order otherwise.

import { Backoff, EVENTS_TOPIC, encodeEvent } from "@locus/protocol";
import type { OutboxEvent, Store } from "../store/store.ts";

/** Longest wait between retries, ms. */
const MAX_RETRY_MS = 30_000;

/**
 * Publishes one payload at QoS 1; resolves once the broker (or the engine, with several hubs)
 * has taken it. `id` is the event's, for an engine that stores a repeat once.
 */
export type PublishEvent = (topic: string, payload: string, id: string) => Promise<void>;

export interface OutboxPublisherOptions {
  store: Store;
  publish: PublishEvent;
  /** Events held in memory at most; beyond it, they are read back from the store. */
  maxQueued?: number;
  /** Events marked delivered per store write. */
  markBatch?: number;
  /**
   * Once caught up, how long delivered events wait to be marked, ms, so that a trickle of events
   * costs one store write per interval rather than one per event. A mark lost in a crash only
   * means those events go out again, with the same ids.
   */
  markDelayMs?: number;
  /**
   * Upper bound of the first wait before retrying after a failed publish, ms; it doubles with
   * each failure in a row, up to 30 s, and each wait is drawn below it (full jitter).
   */
  retryMs?: number;
  /** Uniform in [0, 1), for the jitter; injectable for tests. */
  random?: () => number;
  /** Publishes handed to the broker at once, in order, before waiting for them. */
  window?: number;
  /** A failed publish or store call; `retryInMs` when a retry is scheduled. */
  onError?: (err: Error, retryInMs?: number) => void;
}

export class OutboxPublisher {
  readonly #o: Required<OutboxPublisherOptions>;
  #queue: OutboxEvent[] = [];
  /** True when the store may hold undelivered events that are not in #queue. */
  #behind = true;
  /** Highest seqno taken into #queue or published; older ones are never queued again. */
  #lastSeqno = 0;
  /** Set when enqueue leaves an event to the store: a read already under way may not see it. */
  #skipped = false;
  readonly #backoff: Backoff;
  #delivered: number[] = [];
  #running: Promise<void> | null = null;
  #started = false;
  #stopped = false;
  #retryTimer: NodeJS.Timeout | null = null;
  #startTimer: NodeJS.Timeout | null = null;
  #markTimer: NodeJS.Timeout | null = null;

  constructor(options: OutboxPublisherOptions) {
    this.#o = {
      maxQueued: 10_000,
      markBatch: 500,
      markDelayMs: 100,
      retryMs: 250,
      window: 256,
      onError: () => {},
      random: Math.random,
      ...options,
    };
    this.#backoff = new Backoff({
      initialMs: this.#o.retryMs,
      maxMs: Math.max(this.#o.retryMs, MAX_RETRY_MS),
      random: this.#o.random,
    });
  }

  /**
   * Starts with what a previous run left undelivered, after `graceMs`: subscribers that lost
   * their connection when the hub stopped get that long to come back before publishing resumes.
   */
  start(graceMs = 0): void {
    this.#stopped = false;
    const begin = () => {
      this.#startTimer = null;
      this.#started = true;
      this.#kick();
    };
    if (graceMs > 0) this.#startTimer = setTimeout(begin, graceMs);
    else begin();
  }

  /** Hands over freshly committed events (in outbox order). */
  enqueue(events: readonly OutboxEvent[]): void {
    for (const e of events) {
      if (e.seqno <= this.#lastSeqno) continue;
      if (this.#behind || this.#queue.length >= this.#o.maxQueued) {
        // The store has it; it will be read back in order once the queue drains.
        this.#behind = true;
        this.#skipped = true;
        continue;
      }
      this.#queue.push(e);
      this.#lastSeqno = e.seqno;
    }
    this.#kick();
  }

  /** Publishes everything queued or left in the store, then records it delivered. */
  async drain(): Promise<void> {
    if (this.#startTimer !== null) {
      clearTimeout(this.#startTimer);
      this.#startTimer = null;
      this.#started = true;
    }
    while (!this.#stopped && (this.#running !== null || this.#queue.length > 0 || this.#behind)) {
      this.#kick();
      if (this.#running === null) break;
      await this.#running;
    }
    await this.#markDelivered();
  }

  /** Stops publishing; what was not published stays in the store for the next start. */
  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#startTimer) clearTimeout(this.#startTimer);
    this.#startTimer = null;
    if (this.#retryTimer) clearTimeout(this.#retryTimer);
    this.#retryTimer = null;
    await this.#running;
    await this.#markDelivered();
  }

  /** Marks what was delivered after markDelayMs, unless a mark is already due. */
  #markSoon(): void {
    if (this.#markTimer !== null || this.#delivered.length === 0) return;
    this.#markTimer = setTimeout(() => {
      this.#markTimer = null;
      void this.#markDelivered();
    }, this.#o.markDelayMs);
    this.#markTimer.unref();
  }

  #kick(): void {
    if (!this.#started || this.#stopped) return;
    if (this.#running !== null || this.#retryTimer !== null) return;
    if (this.#queue.length === 0 && !this.#behind) return;
    this.#running = this.#run().finally(() => {
      this.#running = null;
      // Events enqueued while the last ones were being marked delivered found the run still
      // going and did not start another: they are waiting.
      this.#kick();
    });
  }

  async #run(): Promise<void> {
    while (!this.#stopped) {
      if (this.#queue.length === 0) {
        if (!this.#behind) break;
        await this.#markDelivered();
        try {
          await this.#refill();
        } catch (err) {
          this.#retryLater(err);
          return;
        }
        continue;
      }
      // Only this loop removes from the head; enqueue and refill append.
      const window = this.#queue.slice(0, this.#o.window);
      const { taken, error } = await this.#publishWindow(window);
      for (let i = 0; i < taken; i++) this.#delivered.push((window[i] as OutboxEvent).seqno);
      this.#queue.splice(0, taken);
      if (error !== undefined) {
        this.#retryLater(error);
        return;
      }
      this.#backoff.reset();
      if (this.#delivered.length >= this.#o.markBatch) await this.#markDelivered();
    }
    this.#markSoon();
  }

  /**
   * Hands every event of the window to the broker in order, then waits for all of them. `taken`:
   * how many from the start the broker took before the first failure, whose error is `error`.
   */
  async #publishWindow(
    window: readonly OutboxEvent[],
  ): Promise<{ taken: number; error?: unknown }> {
    const results = await Promise.allSettled(
      window.map((e) => {
        try {
          return this.#o.publish(EVENTS_TOPIC, encodeEvent(e.event), e.event.id);
        } catch (err) {
          return Promise.reject(err);
        }
      }),
    );
    const failed = results.findIndex((r) => r.status === "rejected");
    if (failed < 0) return { taken: window.length };
    return { taken: failed, error: (results[failed] as PromiseRejectedResult).reason };
  }

  /** Reports the failure and runs again after the next backoff delay. */
  #retryLater(err: unknown): void {
    const error = err instanceof Error ? err : new Error(String(err));
    if (this.#stopped) {
      this.#o.onError(error);
      return;
    }
    const delay = this.#backoff.next();
    this.#o.onError(error, delay);
    this.#retryTimer = setTimeout(() => {
      this.#retryTimer = null;
      this.#kick();
    }, delay);
  }

  /** Reads the next undelivered events from the store, after what was already queued. */
  async #refill(): Promise<void> {
    this.#skipped = false;
    const rows = await this.#o.store.undelivered(this.#lastSeqno, this.#o.maxQueued);
    for (const row of rows) {
      this.#queue.push(row);
      this.#lastSeqno = row.seqno;
    }
    // Fewer than a full page means the store held nothing else when it was read; an event
    // enqueued during the read may have been committed after it, so then read again.
    if (rows.length < this.#o.maxQueued && !this.#skipped) this.#behind = false;
  }

  async #markDelivered(): Promise<void> {
    if (this.#markTimer !== null) {
      clearTimeout(this.#markTimer);
      this.#markTimer = null;
    }
    if (this.#delivered.length === 0) return;
    const seqnos = this.#delivered;
    this.#delivered = [];
    try {
      await this.#o.store.markDelivered(seqnos);
    } catch (err) {
      // Not marked means published again after a restart, with the same ids: safe.
      this.#delivered = seqnos.concat(this.#delivered);
      this.#o.onError(err instanceof Error ? err : new Error(String(err)));
    }
  }
}
