// Finds the fixes of a group commit that are not stored yet. A fix newer than any stored for its
// vehicle is new: the common case, one comparison against a newest ts kept in memory. Only older
// fixes carrying their own ts (a redelivery, a backlog) are looked up in the store. A fix without
// its own ts is never a duplicate.

import type { Fix } from "@locus/protocol";
import type { FixKey, Store } from "../store/store.ts";

function keyOf(fix: Fix): string {
  return `${fix.vehicle_id}\u0000${fix.ts}\u0000${fix.seq ?? -1}`;
}

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

    // A fix newer than every earlier one of its vehicle cannot repeat any of them, so the keys of
    // the batch are only made once an older fix turns up (rare: a redelivery, a late fix).
    const newest = new Map<string, number>();
    let keys: Set<string> | null = null;
    const candidates: { at: number; key: FixKey }[] = [];
    const keep: boolean[] = [];
    for (let i = 0; i < fixes.length; i++) {
      const fix = fixes[i] as Fix;
      keep.push(true);
      if (!fix.ts_given) continue;
      const top = newest.get(fix.vehicle_id) ?? (this.#newest.get(fix.vehicle_id) as number);
      if (fix.ts > top) {
        newest.set(fix.vehicle_id, fix.ts);
        keys?.add(keyOf(fix));
        continue;
      }
      if (keys === null) {
        keys = new Set();
        for (let j = 0; j < i; j++) {
          const earlier = fixes[j] as Fix;
          if (earlier.ts_given && keep[j]) keys.add(keyOf(earlier));
        }
      }
      const key = keyOf(fix);
      if (keys.has(key)) {
        keep[i] = false;
        continue;
      }
      keys.add(key);
      candidates.push({
        at: i,
        key: { vehicle_id: fix.vehicle_id, ts: fix.ts, seq: fix.seq ?? null },
      });
    }
    if (candidates.length > 0) {
      const stored = await this.#store.storedFixes(candidates.map((c) => c.key));
      for (let i = 0; i < candidates.length; i++) {
        if (stored[i]) keep[(candidates[i] as { at: number }).at] = false;
      }
    }
    return fixes.filter((_, i) => keep[i]);
  }

  /** Drops what is known of these vehicles' stored fixes: another hub has stored some since. */
  forget(vehicleIds: Iterable<string>): void {
    for (const id of vehicleIds) this.#newest.delete(id);
  }

  /** Records fixes as stored: later copies of them are duplicates. */
  committed(fixes: readonly Fix[]): void {
    for (const fix of fixes) {
      const top = this.#newest.get(fix.vehicle_id);
      if (top === undefined || fix.ts > top) this.#newest.set(fix.vehicle_id, fix.ts);
    }
  }
}
