// Group commit: fixes that arrive while one transaction is written go into the next one, and each
// message is acknowledged only once its fixes are committed, with the events they caused.

import type { Fix } from "@locus/protocol";
import type { FenceCatalogue } from "../geofence/catalogue.ts";
import type { HubMetrics } from "../metrics.ts";
import type { OutboxEvent, Store } from "../store/store.ts";
import type { Detector } from "./detector.ts";

interface Pending {
  fixes: readonly Fix[];
  arrivedAt: number;
  done: (err: Error | null) => void;
}

export interface PipelineOptions {
  store: Store;
  fences: FenceCatalogue;
  detector: Detector;
  metrics: HubMetrics;
  /** Receives the events of each commit, in outbox order. */
  onEvents: (events: OutboxEvent[]) => void;
  /** Most fixes in one transaction; the rest wait for the next. Keeps each commit short. */
  maxFixesPerCommit?: number;
}

export class IngestPipeline {
  readonly #o: Required<PipelineOptions>;
  #queue: Pending[] = [];
  #queuedFixes = 0;
  #running: Promise<void> | null = null;
  #scheduled = false;

  constructor(options: PipelineOptions) {
    this.#o = { maxFixesPerCommit: 5000, ...options };
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
    // Wait one turn of the event loop, so that every message read in this I/O phase joins.
    if (!this.#scheduled && this.#running === null) {
      this.#scheduled = true;
      setImmediate(() => {
        this.#scheduled = false;
        this.#start();
      });
    }
  }

  /** Resolves once every queued fix is committed (or failed). */
  async flush(): Promise<void> {
    while (this.#running !== null || this.#queue.length > 0) {
      if (this.#running === null) this.#start();
      await this.#running;
    }
  }

  #start(): void {
    if (this.#running !== null || this.#queue.length === 0) return;
    this.#running = this.#drain().finally(() => {
      this.#running = null;
      // Messages that arrived during the last commit may still be queued.
      if (this.#queue.length > 0) this.#start();
    });
  }

  async #drain(): Promise<void> {
    while (this.#queue.length > 0) {
      const batch = this.#take();
      await this.#commit(batch);
    }
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

  async #commit(batch: Pending[]): Promise<void> {
    const { store, fences, detector, metrics } = this.#o;
    const fixes: Fix[] = [];
    for (const p of batch) for (const f of p.fixes) fixes.push(f);
    let result: Awaited<ReturnType<Store["ingest"]>>;
    let committed: ReturnType<Detector["decide"]> | null = null;
    try {
      const points = fixes.map((f) => [f.longitude, f.latitude] as const);
      const found = await fences.index.covering(points);
      const covering = new Map<Fix, readonly string[]>();
      for (let i = 0; i < fixes.length; i++) covering.set(fixes[i] as Fix, found[i] ?? []);
      result = await store.ingest(fixes, (fresh) => {
        committed = detector.decide(fresh, covering, Date.now());
        return committed;
      });
    } catch (err) {
      const error = err instanceof Error ? err : new Error(String(err));
      for (const p of batch) p.done(error);
      return;
    }
    if (committed) detector.commit(committed);
    const now = performance.now();
    metrics.fixesAccepted.inc(result.stored);
    if (result.duplicates > 0) metrics.fixesDuplicate.inc(result.duplicates);
    metrics.groupCommitSize.observe(fixes.length);
    for (const p of batch) {
      metrics.ingestLatency.observe((now - p.arrivedAt) / 1000);
      p.done(null);
    }
    if (result.events.length > 0) {
      for (const e of result.events) metrics.events.inc({ type: e.event.type });
      this.#o.onEvents(result.events);
    }
  }
}
