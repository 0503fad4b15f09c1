// Finds the fixes of a group commit that are not stored yet. A fix newer than any stored for its
// vehicle is new: the common case, one comparison against a newest ts kept in memory. Only older
// fixes carrying their own ts (a redelivery, a backlog) are looked up in the store. A fix without
// its own ts is never a duplicate.

import type { Fix } from "@locus/protocol";
import type { FixKey, Store } from "../store/store.ts";

export class Deduplicator {
  readonly #store: Pick<Store, "newestFixTs" | "storedFixes">;
  /** Newest stored ts per vehicle seen since start (read from the store on first sight). */
  readonly #newest = new Map<string, number>();

  constructor(store: Pick<Store, "newestFixTs" | "storedFixes">) {
    this.#store = store;
  }

  /**
   * The fixes of `fixes` not stored yet, in arrival order, later copies of one fix removed.
   * Reads only: call `committed` once they are stored.
   */
  async fresh(fixes: readonly Fix[]): Promise<Fix[]> {
    const unseen = new Set<string>();
    for (const fix of fixes) if (!this.#newest.has(fix.vehicle_id)) unseen.add(fix.vehicle_id);
    if (unseen.size > 0) {
      const found = await this.#store.newestFixTs([...unseen]);
      for (const id of unseen) this.#newest.set(id, found.get(id) ?? Number.NEGATIVE_INFINITY);
    }

    const newest = new Map<string, number>();
    const keys = new Set<string>();
    const candidates: { at: number; key: FixKey }[] = [];
    const keep: boolean[] = [];
    for (const fix of fixes) {
      if (!fix.ts_given) {
        keep.push(true);
        continue;
      }
      const key = `${fix.vehicle_id}\u0000${fix.ts}\u0000${fix.seq ?? -1}`;
      if (keys.has(key)) {
        keep.push(false);
        continue;
      }
      keys.add(key);
      const top = newest.get(fix.vehicle_id) ?? (this.#newest.get(fix.vehicle_id) as number);
      if (fix.ts > top) {
        newest.set(fix.vehicle_id, fix.ts);
      } else {
        candidates.push({
          at: keep.length,
          key: { vehicle_id: fix.vehicle_id, ts: fix.ts, seq: fix.seq ?? null },
        });
      }
      keep.push(true);
    }
    if (candidates.length > 0) {
      const stored = await this.#store.storedFixes(candidates.map((c) => c.key));
      for (let i = 0; i < candidates.length; i++) {
        if (stored[i]) keep[(candidates[i] as { at: number }).at] = false;
      }
    }
    return fixes.filter((_, i) => keep[i]);
  }

  /** Records fixes as stored: later copies of them are duplicates. */
  committed(fixes: readonly Fix[]): void {
    for (const fix of fixes) {
      const top = this.#newest.get(fix.vehicle_id);
      if (top === undefined || fix.ts > top) this.#newest.set(fix.vehicle_id, fix.ts);
    }
  }
}
