// Where the SQLite store keeps fixes. History is read by vehicle, so `fixes` is clustered by
// (vehicle_id, ts). Writing each group commit straight into it would write one page per vehicle
// in the commit (35 pages for 35 vehicles, ~6 KB per fix), which the WAL, its fdatasync and the
// checkpoints all pay for. Instead a group commit appends to `fixes_recent`, a plain table in
// arrival order (one or two pages per commit), and the rows move into `fixes` later in chunks in
// arrival order, sorted, so each vehicle's page takes many rows at once. A chunk is one short
// transaction of its own, between group commits.
//
// A fix's key is (vehicle, ts, seq, nonce), the nonce 0 when the fix carried its ts. Whether a
// key is stored is looked up in `fixes` by its key, and in fixes_recent, which has no index, by
// one scan for all the keys of a call that may be there (their vehicle has a row there at least
// as new). Such look-ups are rare (redeliveries, late fixes: the caller skips every fix newer
// than its vehicle's newest) and fixes_recent is small, so no fix pays for keeping its key in
// memory. At open every row left in fixes_recent moves into `fixes` first.

import { randomInt } from "node:crypto";
import type { Fix } from "@locus/protocol";
import type Database from "better-sqlite3";
import { type FixReadingColumns, fixFromColumns } from "./codec.ts";
import type { FixKey, TimeRange } from "./store.ts";

export interface SqliteFixesOptions {
  /** Rows in fixes_recent from which they move into `fixes`. */
  moveAt?: number;
  /** Fewest rows moved per transaction: more rows per vehicle share each page written. */
  chunk?: number;
}

export interface FixRow extends FixReadingColumns {
  vehicle_id: string;
  ts: number;
  seq_key: number;
  nonce: number;
}

export function fixFromRow(row: FixRow): Fix {
  return fixFromColumns({
    ...row,
    seq: row.seq_key < 0 ? null : row.seq_key,
    ts_given: row.nonce === 0,
  });
}

const COLUMNS =
  "vehicle_id, ts, seq_key, nonce, latitude, longitude, speed, heading, accuracy, altitude, received_at";
const ROW_VALUES = 11;
const ROW = `(${Array(ROW_VALUES).fill("?").join(", ")})`;
/** Rows per multi-row INSERT: 352 parameters, well within SQLite's limit of 32,766. */
const APPEND_ROWS = 32;

/** Row order of a vehicle's history. */
function before(a: FixRow, b: FixRow): boolean {
  if (a.ts !== b.ts) return a.ts < b.ts;
  if (a.seq_key !== b.seq_key) return a.seq_key < b.seq_key;
  return a.nonce < b.nonce;
}

/** What one append wrote, applied to memory only once its transaction committed. */
export interface Appended {
  commit(): void;
}

function keyOf(vehicleId: string, ts: number, seqKey: number): string {
  return `${vehicleId}\u0000${ts}\u0000${seqKey}`;
}

export class SqliteFixes {
  readonly #stmt;
  readonly #moveAt: number;
  readonly #chunk: number;
  /**
   * Per vehicle, the newest ts appended to fixes_recent since open. Never lowered when rows move:
   * the row is then in `fixes`, still stored.
   */
  readonly #recentNewest = new Map<string, number>();
  /** Rows in fixes_recent (committed). */
  #recent = 0;

  constructor(
    readonly db: Database.Database,
    options: SqliteFixesOptions = {},
  ) {
    this.#moveAt = Math.max(1, options.moveAt ?? 8192);
    this.#chunk = Math.max(1, options.chunk ?? 1024);
    this.#stmt = {
      append: db.prepare(`INSERT INTO fixes_recent (${COLUMNS}) VALUES ${ROW}`),
      appendMany: db.prepare(
        `INSERT INTO fixes_recent (${COLUMNS}) VALUES ${Array(APPEND_ROWS).fill(ROW).join(", ")}`,
      ),
      // Rows are only ever removed oldest first, so the n-th in rowid order ends a chunk of n.
      nthRowid: db
        .prepare("SELECT rowid FROM fixes_recent ORDER BY rowid LIMIT 1 OFFSET ?")
        .pluck(),
      newest: db.prepare("SELECT max(ts) AS ts FROM fixes WHERE vehicle_id = ?").pluck(),
      stored: db.prepare(
        "SELECT 1 FROM fixes WHERE vehicle_id = ? AND ts = ? AND seq_key = ? AND nonce = 0",
      ),
      // OR IGNORE: a row already there is the same fix; keeping one copy is the point.
      move: db.prepare(
        `INSERT OR IGNORE INTO fixes (${COLUMNS}) SELECT ${COLUMNS} FROM fixes_recent
         WHERE rowid <= ? ORDER BY vehicle_id, ts, seq_key, nonce`,
      ),
      forget: db.prepare("DELETE FROM fixes_recent WHERE rowid <= ?"),
      // One scan of fixes_recent (no index) for the keys of one stored() call.
      recentKeys: db.prepare(
        `SELECT vehicle_id, ts, seq_key FROM fixes_recent
         WHERE nonce = 0 AND ts BETWEEN ? AND ? AND vehicle_id IN (SELECT value FROM json_each(?))`,
      ),
      moveAll: db.prepare(
        `INSERT OR IGNORE INTO fixes (${COLUMNS}) SELECT ${COLUMNS} FROM fixes_recent
         ORDER BY vehicle_id, ts, seq_key, nonce`,
      ),
      forgetAll: db.prepare("DELETE FROM fixes_recent"),
      history: db.prepare(
        `SELECT * FROM fixes WHERE vehicle_id = ? AND ts >= ? AND ts <= ?
         ORDER BY ts, seq_key, nonce LIMIT ?`,
      ),
      // No index: fixes_recent holds at most a few chunks, and an index by vehicle would bring
      // back the page per vehicle per commit this table exists to avoid.
      recentHistory: db.prepare(
        `SELECT * FROM fixes_recent WHERE vehicle_id = ? AND ts >= ? AND ts <= ?
         ORDER BY ts, seq_key, nonce LIMIT ?`,
      ),
    };
    db.transaction(() => {
      this.#stmt.moveAll.run();
      this.#stmt.forgetAll.run();
    }).immediate();
  }

  /** Rows waiting in fixes_recent. */
  get recent(): number {
    return this.#recent;
  }

  /** Whether rows should move now. */
  get shouldMove(): boolean {
    return this.recent >= this.#moveAt;
  }

  /** Rows to move after a group commit of `n` fixes: at least twice as many, so moving keeps up. */
  chunkAfter(n: number): number {
    return Math.max(this.#chunk, 2 * n);
  }

  /** Newest stored ts per vehicle, from `fixes` (indexed) and fixes_recent (in memory). */
  newest(vehicleIds: readonly string[]): Map<string, number> {
    const out = new Map<string, number>();
    for (const id of vehicleIds) {
      const moved = this.#stmt.newest.get(id) as number | null;
      const recent = this.#recentNewest.get(id);
      const ts = Math.max(moved ?? Number.NEGATIVE_INFINITY, recent ?? Number.NEGATIVE_INFINITY);
      if (ts !== Number.NEGATIVE_INFINITY) out.set(id, ts);
    }
    return out;
  }

  /** For each key, whether a fix with that identity and its own ts is stored. */
  stored(keys: readonly FixKey[]): boolean[] {
    const out = keys.map(
      (k) => this.#stmt.stored.get(k.vehicle_id, k.ts, k.seq ?? -1) !== undefined,
    );
    const maybe: number[] = [];
    for (let i = 0; i < keys.length; i++) {
      const k = keys[i] as FixKey;
      const recent = this.#recentNewest.get(k.vehicle_id);
      if (!out[i] && this.recent > 0 && recent !== undefined && k.ts <= recent) maybe.push(i);
    }
    if (maybe.length === 0) return out;
    let from = Number.POSITIVE_INFINITY;
    let to = Number.NEGATIVE_INFINITY;
    const vehicles = new Set<string>();
    for (const i of maybe) {
      const k = keys[i] as FixKey;
      from = Math.min(from, k.ts);
      to = Math.max(to, k.ts);
      vehicles.add(k.vehicle_id);
    }
    const rows = this.#stmt.recentKeys.all(from, to, JSON.stringify([...vehicles])) as {
      vehicle_id: string;
      ts: number;
      seq_key: number;
    }[];
    const there = new Set(rows.map((r) => keyOf(r.vehicle_id, r.ts, r.seq_key)));
    for (const i of maybe) {
      const k = keys[i] as FixKey;
      out[i] = there.has(keyOf(k.vehicle_id, k.ts, k.seq ?? -1));
    }
    return out;
  }

  /**
   * Appends fixes the caller found fresh; call inside the commit's transaction, and `commit()`
   * once it committed.
   */
  append(fixes: readonly Fix[], receivedAt: number): Appended {
    const newest = new Map<string, number>();
    // Rows go in statements of APPEND_ROWS (the rest one by one): one call into SQLite per
    // statement instead of per fix.
    const values: (string | number | null)[] = [];
    for (const fix of fixes) {
      const top = newest.get(fix.vehicle_id);
      if (top === undefined || fix.ts > top) newest.set(fix.vehicle_id, fix.ts);
      values.push(
        fix.vehicle_id,
        fix.ts,
        fix.seq ?? -1,
        // A fix without its own ts gets a random nonce: it never collides, not even with itself.
        fix.ts_given ? 0 : randomInt(1, 2 ** 47),
        fix.latitude,
        fix.longitude,
        fix.speed ?? null,
        fix.heading ?? null,
        fix.accuracy ?? null,
        fix.altitude ?? null,
        receivedAt,
      );
      if (values.length === APPEND_ROWS * ROW_VALUES) {
        this.#stmt.appendMany.run(values);
        values.length = 0;
      }
    }
    for (let i = 0; i < values.length; i += ROW_VALUES) {
      this.#stmt.append.run(values.slice(i, i + ROW_VALUES));
    }
    return {
      commit: () => {
        for (const [vehicle, ts] of newest) {
          const known = this.#recentNewest.get(vehicle);
          if (known === undefined || ts > known) this.#recentNewest.set(vehicle, ts);
        }
        this.#recent += fixes.length;
      },
    };
  }

  /** Moves the oldest `rows` of fixes_recent into `fixes` in one transaction; returns how many. */
  moveChunk(rows: number = this.#chunk): number {
    const n = Math.min(rows, this.#recent);
    if (n === 0) return 0;
    this.db
      .transaction(() => {
        const upTo = this.#stmt.nthRowid.get(n - 1) as number;
        this.#stmt.move.run(upTo);
        this.#stmt.forget.run(upTo);
      })
      .immediate();
    this.#recent -= n;
    return n;
  }

  /** Forgets a vehicle whose fixes were all deleted from `fixes` (fixes_recent holds none of them). */
  forgetVehicle(vehicleId: string): void {
    this.#recentNewest.delete(vehicleId);
  }

  /** A vehicle's fixes in ts order within the range, from both tables. */
  history(vehicleId: string, range: TimeRange): Fix[] {
    const params = [
      vehicleId,
      range.from ?? Number.MIN_SAFE_INTEGER,
      range.to ?? Number.MAX_SAFE_INTEGER,
      range.limit,
    ];
    const moved = this.#stmt.history.all(...params) as FixRow[];
    if (this.recent === 0) return moved.map(fixFromRow);
    const recent = this.#stmt.recentHistory.all(...params) as FixRow[];
    const out: Fix[] = [];
    let i = 0;
    let j = 0;
    while (out.length < range.limit && (i < moved.length || j < recent.length)) {
      const a = moved[i];
      const b = recent[j];
      if (b === undefined || (a !== undefined && before(a, b))) {
        out.push(fixFromRow(a as FixRow));
        i++;
      } else {
        out.push(fixFromRow(b));
        j++;
      }
    }
    return out;
  }

  /**
   * Deletes at most `limit` rows of fixes_recent whose ts is before `before`; returns how many
   * (retention). `newest` may still name a deleted ts: it only makes a redelivery be looked up.
   */
  forgetOlderThan(before: number, limit: number): number {
    if (this.#recent === 0 || limit <= 0) return 0;
    const n = this.db
      .prepare(
        "DELETE FROM fixes_recent WHERE rowid IN (SELECT rowid FROM fixes_recent WHERE ts < ? LIMIT ?)",
      )
      .run(before, limit).changes;
    this.#recent -= n;
    return n;
  }
}
