// Retention for the SQLite store: deletes fixes and delivered events older than a time, a few
// rows per call. The store's connection is synchronous, so each call is kept short (index range
// deletes only) and the group commits run between calls.

import type Database from "better-sqlite3";
import type { SqliteFixes } from "./sqlite-fixes.ts";

export class SqliteRetention {
  readonly #db: Database.Database;
  readonly #fixes: SqliteFixes;
  readonly #stmt;
  /** The vehicle after which the next call looks for old fixes in `fixes`: calls take turns. */
  #cursor = "";

  constructor(db: Database.Database, fixes: SqliteFixes) {
    this.#db = db;
    this.#fixes = fixes;
    this.#stmt = {
      // `fixes` is clustered by (vehicle_id, ts): the next vehicle is one seek in its key, and a
      // vehicle's old rows are one key range.
      nextVehicle: db.prepare("SELECT min(vehicle_id) FROM fixes WHERE vehicle_id > ?").pluck(),
      deleteFixes: db.prepare(
        `DELETE FROM fixes WHERE vehicle_id = @id AND ts < @before AND (ts, seq_key, nonce) IN
           (SELECT ts, seq_key, nonce FROM fixes WHERE vehicle_id = @id AND ts < @before
            ORDER BY ts LIMIT @limit)`,
      ),
      // Undelivered events are the outbox: they go out first, however old. So are events after
      // a webhook's cursor: that webhook has not delivered (or given up on) them yet.
      deleteEvents: db.prepare(
        `DELETE FROM events WHERE seqno IN
           (SELECT seqno FROM events WHERE ts < ? AND delivered = 1
              AND seqno <= (SELECT coalesce(min(cursor), 9223372036854775807) FROM webhooks)
            ORDER BY ts, seqno LIMIT ?)`,
      ),
    };
  }

  /** Deletes at most `limit` rows older than `before` (epoch ms); returns how many went. */
  deleteOlderThan(before: number, limit: number): number {
    // One statement on its own: SqliteFixes counts the rows of fixes_recent, and that count must
    // follow what is committed.
    const recent = this.#fixes.forgetOlderThan(before, limit);
    // The rest in one transaction rather than one per vehicle.
    const rest = this.#db
      .transaction(() => {
        let deleted = this.#deleteFixes(before, limit - recent);
        if (recent + deleted < limit) {
          deleted += this.#stmt.deleteEvents.run(before, limit - recent - deleted).changes;
        }
        return deleted;
      })
      .immediate();
    return recent + rest;
  }

  /** Goes through the vehicles from the cursor, once round at most, until `limit` rows went. */
  #deleteFixes(before: number, limit: number): number {
    const start = this.#cursor;
    let deleted = 0;
    let wrapped = false;
    while (deleted < limit) {
      const id = this.#stmt.nextVehicle.get(this.#cursor) as string | null;
      if (id === null) {
        this.#cursor = "";
        if (wrapped || start === "") break;
        wrapped = true;
        continue;
      }
      if (wrapped && id > start) break;
      deleted += this.#stmt.deleteFixes.run({ id, before, limit: limit - deleted }).changes;
      // A vehicle with more old rows than this call may take is taken up again next time.
      if (deleted >= limit) break;
      this.#cursor = id;
    }
    return deleted;
  }
}
