// The owner of a fix's way through the hub. Each group commit reads top to bottom in #commit:
// deduplicate → judge → commit fixes, states and outbox in one transaction → acknowledge →
// publish. Fixes that arrive while one transaction is written go into the next one, and each
// message is acknowledged only once its fixes are committed and durable, with the events they
// caused. Two stages overlap: while one group commit reaches the disk (SQLite's fdatasync runs off
// the event loop), the next is already written, so a message that arrives meanwhile waits for
// one flush, not for the rest of the current one and then its own. Acknowledgements and events
// still follow commit order: a store's flush covers every commit made before it.
// On a store several hubs share, a commit whose vehicle states another hub has written since they
// were read is refused whole; the group commit is then deduplicated and judged again from the
// stored states, a bounded number of times, and otherwise fails (nothing acknowledged, so the
// devices or the broker send it again).

import type { Fix } from "@locus/protocol";
import type { Decision, GeofenceEngine } from "../geofence/engine.ts";
import type { FixSource, HubMetrics } from "../metrics.ts";
import {
  type Committed,
  type OutboxEvent,
  type PartitionClaim,
  StateConflict,
  type Store,
} from "../store/store.ts";
import { Deduplicator } from "./dedup.ts";

const noop = () => {};

/** Judgements of one group commit at most: the first, and re-judgements after state conflicts. */
const JUDGE_ATTEMPTS = 5;

interface Pending {
  fixes: readonly Fix[];
  source: FixSource;
  arrivedAt: number;
  done: (err: Error | null) => void;
  claim: PartitionClaim | undefined;
}

/** Where fixes go to be stored: the pipeline itself, or the engine in front of it (cluster/). */
export interface FixSink {
  /**
   * Queues one message's fixes; `done` runs once they are stored (null) or could not be (the
   * sender should send them again). An empty list is acknowledged at once.
   */
  submit(fixes: readonly Fix[], done: (err: Error | null) => void, source?: FixSource): void;
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

export class IngestPipeline implements FixSink {
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
   * An empty list is acknowledged at once. `source` says where they came from, for the metrics;
   * `claim`, the partition they belong to and the fencing token it is held by, when they come
   * from the engine (the commit is refused with Fenced if another hub has claimed it since).
   */
  submit(
    fixes: readonly Fix[],
    done: (err: Error | null) => void,
    source: FixSource = "agent",
    claim?: PartitionClaim,
  ): void {
    if (fixes.length === 0) {
      done(null);
      return;
    }
    this.#queue.push({ fixes, source, arrivedAt: performance.now(), done, claim });
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

  /**
   * After a state conflict: the stored states of the vehicles judged, and their newest stored
   * fixes (another hub may have stored some of this commit's), are read again.
   */
  async #reread(decision: Decision): Promise<void> {
    const { store, engine } = this.#o;
    if (store.versionedStates === undefined) throw new Error("state conflict without versions");
    const ids = decision.vehicles.map((v) => v.vehicle_id);
    engine.reload(ids, await store.versionedStates(ids));
    this.#dedup.forget(ids);
  }

  /** Writes one group commit, then acknowledges it once durable and `previous` has settled. */
  async #commit(batch: Pending[], onWritten: () => void, previous: Promise<void>): Promise<void> {
    const { store, engine, metrics } = this.#o;
    const fixes: Fix[] = [];
    const claims: PartitionClaim[] = [];
    for (const p of batch) {
      for (const f of p.fixes) fixes.push(f);
      if (p.claim !== undefined) claims.push(p.claim);
    }
    let events: OutboxEvent[];
    let fresh: Fix[];
    try {
      let committed: Committed;
      let decision: Decision;
      for (let attempt = 1; ; attempt++) {
        fresh = await this.#dedup.fresh(fixes);
        decision = await engine.judge(fresh, Date.now());
        try {
          committed = await store.commit(
            claims.length > 0
              ? { fixes: fresh, ...decision, claims }
              : { fixes: fresh, ...decision },
          );
          break;
        } catch (err) {
          if (!(err instanceof StateConflict) || attempt >= JUDGE_ATTEMPTS) throw err;
          metrics.stateConflicts.inc();
          await this.#reread(decision);
        }
      }
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
    countBySource(metrics, batch, fresh, fixes.length);
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

/**
 * Counts the committed fixes of a group commit by source. Most commits store every fix they
 * took, so each message's count is its length; only when duplicates were dropped are the stored
 * fixes told apart from the dropped ones (the deduplicator keeps the fix objects it was given).
 */
function countBySource(
  metrics: HubMetrics,
  batch: readonly Pending[],
  fresh: readonly Fix[],
  taken: number,
): void {
  const counts = new Map<FixSource, number>();
  const stored = fresh.length === taken ? null : new Set(fresh);
  for (const p of batch) {
    let n = 0;
    if (stored === null) n = p.fixes.length;
    else for (const f of p.fixes) if (stored.has(f)) n++;
    if (n > 0) counts.set(p.source, (counts.get(p.source) ?? 0) + n);
  }
  for (const [source, n] of counts) metrics.fixesBySource.inc({ source }, n);
}
