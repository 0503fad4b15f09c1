// Retention for the PostgreSQL store: deletes fixes and delivered events older than a time, a
// bounded number of rows per call, through indexes only, so ingestion is never held up for long.

import type pg from "pg";

/** Vehicles looked at per statement. */
const PAGE = 256;

export class PostgresRetention {
  readonly #pool: pg.Pool;
  /** The vehicle after which the next call looks for old fixes: calls take turns. */
  #cursor = "";

  constructor(pool: pg.Pool) {
    this.#pool = pool;
  }

  /** Deletes at most `limit` rows older than `before` (epoch ms); returns how many went. */
  async deleteOlderThan(before: number, limit: number): Promise<number> {
    let deleted = await this.#deleteFixes(before, limit);
    if (deleted < limit) {
      // Undelivered events are the outbox: they go out first, however old. So are events after
      // a webhook's cursor: that webhook has not delivered (or given up on) them yet.
      const result = await this.#pool.query(
        `DELETE FROM events WHERE seqno = ANY(ARRAY(
           SELECT seqno FROM events WHERE ts < $1 AND delivered
             AND seqno <= (SELECT coalesce(min(cursor), 9223372036854775807) FROM webhooks)
           ORDER BY ts, seqno LIMIT $2))`,
        [before, limit - deleted],
      );
      deleted += result.rowCount ?? 0;
    }
    return deleted;
  }

  /** Goes through the vehicles from the cursor, once round at most, until `limit` rows went. */
  async #deleteFixes(before: number, limit: number): Promise<number> {
    const start = this.#cursor;
    let deleted = 0;
    let wrapped = false;
    while (deleted < limit) {
      // `fixes` has its primary key on (vehicle_id, ts, …): the next vehicle is one index seek
      // (a loose index scan, PAGE of them per statement), a vehicle's old rows one index range.
      const result = await this.#pool.query<{ deleted: number; last: string | null }>(
        `WITH RECURSIVE v (id, n) AS (
           SELECT (SELECT min(vehicle_id) FROM fixes WHERE vehicle_id > $1), 1
           UNION ALL
           SELECT (SELECT min(vehicle_id) FROM fixes WHERE vehicle_id > v.id), v.n + 1
           FROM v WHERE v.id IS NOT NULL AND v.n < ${PAGE}
         ),
         old AS (
           SELECT f.ctid AS tid FROM v CROSS JOIN LATERAL (
             SELECT ctid FROM fixes WHERE vehicle_id = v.id AND ts < $2 ORDER BY ts LIMIT $3
           ) f WHERE v.id IS NOT NULL LIMIT $3),
         gone AS (DELETE FROM fixes WHERE ctid = ANY(ARRAY(SELECT tid FROM old)) RETURNING 1)
         SELECT (SELECT count(*) FROM gone)::int AS deleted, (SELECT max(id) FROM v) AS last`,
        [this.#cursor, before, limit - deleted],
      );
      const row = result.rows[0] as { deleted: number; last: string | null };
      deleted += row.deleted;
      if (row.last === null) {
        this.#cursor = "";
        if (wrapped || start === "") break;
        wrapped = true;
        continue;
      }
      // The page may hold more old rows than this call took: it is taken up again next time.
      if (deleted >= limit) break;
      this.#cursor = row.last;
      if (wrapped && row.last >= start) break;
    }
    return deleted;
  }
}
