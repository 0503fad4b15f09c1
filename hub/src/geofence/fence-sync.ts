// Brings the geofence changes the database announces (made through this hub or another one) to
// this hub's live fences, one at a time in the order announced. A change applied already (this
// hub's own) costs nothing; an upsert is applied as the row reads now (a version at least as new
// as announced); a deletion as such. After the announcing
// connection was lost, the whole catalogue is read again and compared, since changes may have
// been missed meanwhile.

import type { GeofenceRecord, Store } from "../store/store.ts";

/** The live fences as the sync sees them (api/live-fences.ts): applying is theirs. */
export interface SyncedFences {
  upsert(record: GeofenceRecord): Promise<boolean>;
  remove(id: string): Promise<boolean>;
  /** Whether this version of the fence, or a later one, or its deletion, is applied already. */
  hasApplied(id: string, version: number): boolean;
  /** Ids of the live fences that a re-read can compare. */
  versionedIds(): string[];
}

export interface FenceSyncOptions {
  store: Pick<Store, "getGeofence" | "allGeofences">;
  fences: SyncedFences;
  /** A change was applied (op "upsert" or "delete"), or the catalogue re-read ("resync"). */
  onApplied?: (op: "upsert" | "delete" | "resync") => void;
  /** Reading a change failed: the next announced change brings a whole re-read instead. */
  onError?: (err: Error) => void;
}

export class FenceSync {
  readonly #o: FenceSyncOptions;
  #queue: Promise<void>;
  #open: () => void = () => {};
  /** A read failed: the catalogue is read whole at the next chance. */
  #stale = false;

  constructor(options: FenceSyncOptions) {
    this.#o = options;
    // Held until `start`: changes announced while the engine loads wait for it.
    this.#queue = new Promise((resolve) => {
      this.#open = resolve;
    });
  }

  /** Starts applying the changes announced so far, and later ones. */
  start(): void {
    this.#open();
  }

  /** An announced change. */
  change(change: { id: string; op: "upsert" | "delete"; version: number }): void {
    this.#then(async () => {
      if (this.#stale) {
        await this.#resync();
        return;
      }
      // This hub's own changes are applied already: nothing to read.
      if (this.#o.fences.hasApplied(change.id, change.version)) {
        this.#o.onApplied?.(change.op);
        return;
      }
      if (change.op === "delete") {
        await this.#o.fences.remove(change.id);
        this.#o.onApplied?.("delete");
        return;
      }
      const record = await this.#o.store.getGeofence(change.id);
      // Deleted since: its deletion is announced next.
      if (record !== null) await this.#o.fences.upsert(record);
      this.#o.onApplied?.("upsert");
    });
  }

  /** Changes may have been missed: the whole catalogue is read and compared. */
  resync(): void {
    this.#then(() => this.#resync());
  }

  /** Resolves once every change given so far is applied (or failed). */
  idle(): Promise<void> {
    return this.#queue;
  }

  async #resync(): Promise<void> {
    // Ids known before the read: any of them absent from it was deleted. A fence created after
    // the read began is not among them, and is kept.
    const known = this.#o.fences.versionedIds();
    const records = await this.#o.store.allGeofences();
    this.#stale = false;
    const present = new Set<string>();
    for (const record of records) {
      present.add(record.id);
      await this.#o.fences.upsert(record);
    }
    for (const id of known) if (!present.has(id)) await this.#o.fences.remove(id);
    this.#o.onApplied?.("resync");
  }

  #then(step: () => Promise<void>): void {
    this.#queue = this.#queue.then(step).catch((err: unknown) => {
      this.#stale = true;
      this.#o.onError?.(err instanceof Error ? err : new Error(String(err)));
    });
  }
}
