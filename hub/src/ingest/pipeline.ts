// The owner of a fix's way through the hub. Each group commit reads top to bottom in #commit:
// deduplicate → judge → commit fixes, states and outbox in one transaction → acknowledge →
// publish. Fixes that arrive while one transaction is written go into the next one, and each
// message is acknowledged only once its fixes are committed and durable, with the events they
// caused. Two stages overlap: while one group commit reaches the disk (SQLite's fdatasync runs off
// the event loop), the next is already written, so a message that arrives meanwhile waits for
// one flush, not for the rest of the current one and then its own. Acknowledgements and events
// still follow commit order: a store's flush covers every commit made before it.

import type { Fix } from "@locus/protocol";
import type { GeofenceEngine } from "../geofence/engine.ts";
import type { HubMetrics } from "../metrics.ts";
import type { OutboxEvent, Store } from "../store/store.ts";
import { Deduplicator } from "./dedup.ts";

const noop = () => {};

interface Pending {
  fixes: readonly Fix[];
  arrivedAt: number;
  done: (err: Error | null) => void;
}

export interface PipelineOptions {
  store: Store;
  engine: GeofenceEngine;
  metrics: HubMetrics;
  /** Receives the events of each commit, in outbox order. */
  onEvents: (events: OutboxEvent[]) => void;
  /**
   * Receives the fixes of each commit that were stored (duplicates left out), after their
   * messages were acknowledged, in commit order: the live stream's feed.
   */
  onFixes?: (fixes: readonly Fix[]) => void;
  /** Most fixes in one transaction; the rest wait for the next. Keeps each commit short. */
  maxFixesPerCommit?: number;
  /**
   * Group commits committed but not yet durable, at most. At 2, the next one is written while
   * one reaches the disk; more would only make commits smaller, each rewriting the same pages.
   */
  maxUnflushed?: number;
}

export class IngestPipeline {
  readonly #o: Required<PipelineOptions>;
  readonly #dedup: Deduplicator;
  #queue: Pending[] = [];
  #queuedFixes = 0;
  /** A transaction is being written (set until the store reports it committed, or failed). */
  #writing = false;
  /** Group commits started and not yet settled (durable or failed). */
  readonly #inFlight = new Set<Promise<void>>();
  #unflushed = 0;
  #scheduled = false;
  /** Settles once the latest group commit has been acknowledged (or failed). */
  #last: Promise<void> = Promise.resolve();
  /** Why the latest group commit failed; null once one succeeds. */
  #failure: string | null = null;

  constructor(options: PipelineOptions) {
    this.#o = { maxFixesPerCommit: 5000, maxUnflushed: 2, onFixes: noop, ...options };
    this.#dedup = new Deduplicator(options.store);
  }

  /**
   * Why the latest group commit failed (a full disk, say), or null when it succeeded: health
   * answers 503 meanwhile. It clears by itself with the next commit that succeeds, which the
   * devices' resending of what was not acknowledged brings about.
   */
  get failure(): string | null {
    return this.#failure;
  }

  /** Fixes waiting for the next commit. */
  get depth(): number {
    return this.#queuedFixes;
  }

  /**
   * Queues one message's fixes; `done` runs after they are committed (null) or the commit failed.
   * An empty list is acknowledged at once.
   */
  submit(fixes: readonly Fix[], done: (err: Error | null) => void): void {
    if (fixes.length === 0) {
      done(null);
      return;
    }
    this.#queue.push({ fixes, arrivedAt: performance.now(), done });
    this.#queuedFixes += fixes.length;
    this.#schedule();
  }

  /** Resolves once every queued fix is committed (or failed). */
  async flush(): Promise<void> {
    while (this.#queue.length > 0 || this.#inFlight.size > 0) {
      this.#start();
      await Promise.all(this.#inFlight);
    }
  }

  /** Starts a commit one turn of the event loop later, so every message read meanwhile joins. */
  #schedule(): void {
    if (this.#scheduled || this.#queue.length === 0) return;
    this.#scheduled = true;
    setImmediate(() => {
      this.#scheduled = false;
      this.#start();
    });
  }

  #start(): void {
    if (this.#writing || this.#queue.length === 0) return;
    if (this.#unflushed >= this.#o.maxUnflushed) return;
    const batch = this.#take();
    this.#writing = true;
    this.#unflushed++;
    let written = false;
    // Once the transaction is written, the next may be (the store keeps commit order on disk).
    const onWritten = () => {
      if (written) return;
      written = true;
      this.#writing = false;
      this.#schedule();
    };
    const commit = this.#commit(batch, onWritten, this.#last).finally(() => {
      onWritten();
      this.#unflushed--;
      this.#inFlight.delete(commit);
      this.#schedule();
    });
    this.#inFlight.add(commit);
    this.#last = commit.then(noop, noop);
  }

  #take(): Pending[] {
    let count = 0;
    let n = 0;
    while (n < this.#queue.length && (n === 0 || count < this.#o.maxFixesPerCommit)) {
      count += (this.#queue[n] as Pending).fixes.length;
      n++;
    }
    const batch = this.#queue.slice(0, n);
    this.#queue = this.#queue.slice(n);
    this.#queuedFixes -= count;
    return batch;
  }

  /** Writes one group commit, then acknowledges it once durable and `previous` has settled. */
  async #commit(batch: Pending[], onWritten: () => void, previous: Promise<void>): Promise<void> {
    const { store, engine, metrics } = this.#o;
    const fixes: Fix[] = [];
    for (const p of batch) for (const f of p.fixes) fixes.push(f);
    let events: OutboxEvent[];
    let fresh: Fix[];
    try {
      fresh = await this.#dedup.fresh(fixes);
      const decision = await engine.judge(fresh, Date.now());
      const committed = await store.commit({ fixes: fresh, ...decision });
      // Committed: the next group commit deduplicates and judges from here on. Should the flush
      // fail, the store refuses every later write (see sqlite-sync.ts), so nothing is judged from
      // a state that is not on disk.
      this.#dedup.committed(fresh);
      engine.apply(decision);
      onWritten();
      await committed.durable;
      events = committed.events;
    } catch (err) {
      await previous;
      const error = err instanceof Error ? err : new Error(String(err));
      metrics.groupCommitsFailed.inc();
      this.#failure = error.message;
      for (const p of batch) p.done(error);
      return;
    }
    // Acknowledgements and events in commit order, whatever order the store reports flushes in.
    await previous;
    this.#failure = null;
    const now = performance.now();
    metrics.fixesAccepted.inc(fresh.length);
    if (fresh.length < fixes.length) metrics.fixesDuplicate.inc(fixes.length - fresh.length);
    metrics.groupCommitSize.observe(fixes.length);
    for (const p of batch) {
      metrics.ingestLatency.observe((now - p.arrivedAt) / 1000);
      p.done(null);
    }
    if (fresh.length > 0) this.#o.onFixes(fresh);
    if (events.length > 0) {
      for (const e of events) metrics.events.inc({ type: e.event.type });
      this.#o.onEvents(events);
    }
  }
}
