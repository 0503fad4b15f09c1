// The one way a geofence change reaches this hub's engine and its live stream's clients, whether
// it was made through this hub's API or announced by the database after another hub made it
// (geofence/fence-sync.ts). Changes are applied one at a time, in the order they are given, and a
// versioned record (PostgreSQL) only when it is newer than the one applied: a change made here
// and announced again, or applied late after a newer one, changes nothing and is not streamed
// twice. A deleted fence stays deleted (ids are never reused).

import type { LiveFeed } from "../live/feed.ts";
import type { GeofenceRecord } from "../store/store.ts";
import type { FenceRegistry } from "./deps.ts";
import { toFeature } from "./geofence-feature.ts";

/** Deleted ids remembered, so that a change applied late cannot bring one back. */
const REMEMBERED_DELETIONS = 10_000;

export class LiveFences implements FenceRegistry {
  readonly #engine: FenceRegistry;
  readonly #feed: LiveFeed;
  /** The version applied of each live versioned fence. */
  readonly #versions = new Map<string, number>();
  /** Recently deleted ids, oldest first. */
  readonly #deleted = new Set<string>();
  readonly #insideFromStore: ((id: string) => Promise<string[]>) | null;
  #queue: Promise<unknown> = Promise.resolve();

  /**
   * `insideFromStore`: with several hubs, where memberships are read, since this hub's engine
   * holds only the vehicles of the partitions it judged.
   */
  constructor(
    engine: FenceRegistry,
    feed: LiveFeed,
    insideFromStore: ((id: string) => Promise<string[]>) | null = null,
  ) {
    this.#engine = engine;
    this.#feed = feed;
    this.#insideFromStore = insideFromStore;
  }

  /** Notes the versions of the fences the engine was loaded with at start. */
  loaded(records: readonly GeofenceRecord[]): void {
    for (const r of records) if (r.version !== undefined) this.#versions.set(r.id, r.version);
  }

  /** Whether this version of the fence, or a later one, or its deletion, is applied already. */
  hasApplied(id: string, version: number): boolean {
    return this.#deleted.has(id) || (this.#versions.get(id) ?? 0) >= version;
  }

  /** The ids of the live versioned fences (those a re-read of the catalogue can compare). */
  versionedIds(): string[] {
    return [...this.#versions.keys()];
  }

  /** Applies a stored (created or replaced) geofence; false when it was not newer. */
  upsert(record: GeofenceRecord): Promise<boolean> {
    return this.#serially(async () => {
      if (this.#deleted.has(record.id)) return false;
      if (record.version !== undefined) {
        if ((this.#versions.get(record.id) ?? 0) >= record.version) return false;
      }
      await this.#engine.upsert(record);
      if (record.version !== undefined) this.#versions.set(record.id, record.version);
      if (this.#feed.listeners > 0) this.#feed.publishGeofence(toFeature(record));
      return true;
    });
  }

  /** Applies a deletion; false when the fence was deleted here already. */
  remove(id: string): Promise<boolean> {
    return this.#serially(async () => {
      if (this.#deleted.has(id)) return false;
      this.#deleted.add(id);
      if (this.#deleted.size > REMEMBERED_DELETIONS) {
        this.#deleted.delete(this.#deleted.values().next().value as string);
      }
      this.#versions.delete(id);
      await this.#engine.remove(id);
      this.#feed.publishGeofenceDeleted(id);
      return true;
    });
  }

  has(id: string): boolean {
    return this.#engine.has(id);
  }

  vehiclesInside(id: string): string[] | Promise<string[]> {
    return this.#insideFromStore?.(id) ?? this.#engine.vehiclesInside(id);
  }

  /** Runs `apply` after every change given before it has been applied (or failed). */
  #serially<T>(apply: () => Promise<T>): Promise<T> {
    const run = this.#queue.then(apply);
    this.#queue = run.catch(() => {});
    return run;
  }
}
