// SqliteFixes on a real SQLite file: duplicates found whichever table holds the original, rows
// moved in arrival order and a chunk at a time, leftovers moved at open, nothing remembered from
// a transaction that rolled back, and a differential run against a plain model.

import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import type { Fix } from "@locus/protocol";
import Database from "better-sqlite3";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { mulberry32 } from "../../../tests/support/random.ts";
import { SqliteFixes, type SqliteFixesOptions } from "./sqlite-fixes.ts";
import { migrate } from "./sqlite-schema.ts";

const T0 = Date.parse("2026-11-25T03:00:00.000Z");

function fixAt(vehicleId: string, s: number, extra: Partial<Fix> = {}): Fix {
  return {
    vehicle_id: vehicleId,
    latitude: 34.05 + s * 1e-5,
    longitude: -118.24,
    ts: T0 + s * 1000,
    ts_given: true,
    ...extra,
  };
}

describe("SqliteFixes", () => {
  let dir: string;
  let file: string;
  let db: Database.Database;

  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "locus-fixes-"));
    file = path.join(dir, "locus.db");
    db = open();
  });
  afterEach(() => {
    if (db.open) db.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  function open(): Database.Database {
    const d = new Database(file);
    d.pragma("journal_mode = WAL");
    migrate(d);
    return d;
  }

  /**
   * Appends the fixes `stored` does not know (and no earlier copy in the batch), in a transaction
   * of its own, and commits, as a group commit does. Returns what it appended.
   */
  function append(fixes: SqliteFixes, batch: Fix[]): Fix[] {
    const seen = new Set<string>();
    const fresh = batch.filter((f) => {
      if (!f.ts_given) return true;
      const key = `${f.vehicle_id} ${f.ts} ${f.seq}`;
      if (seen.has(key)) return false;
      seen.add(key);
      return !fixes.stored([{ vehicle_id: f.vehicle_id, ts: f.ts, seq: f.seq ?? null }])[0];
    });
    const appended = db.transaction(() => fixes.append(fresh, T0)).immediate();
    appended.commit();
    return fresh;
  }

  function count(table: string): number {
    return (db.prepare(`SELECT count(*) AS n FROM ${table}`).get() as { n: number }).n;
  }

  const all = { limit: 1000 };

  it("finds a duplicate whether its original waits in fixes_recent or was moved", () => {
    const fixes = new SqliteFixes(db, { moveAt: 1000, chunk: 2 });
    expect(append(fixes, [fixAt("v1", 1, { seq: 1 }), fixAt("v1", 2, { seq: 2 })])).toHaveLength(2);
    // Still in fixes_recent: the in-memory keys answer.
    expect(append(fixes, [fixAt("v1", 1, { seq: 1, speed: 3 })])).toEqual([]);
    expect(fixes.moveChunk()).toBe(2);
    expect(count("fixes")).toBe(2);
    expect(count("fixes_recent")).toBe(0);
    // Moved: `fixes` answers.
    expect(append(fixes, [fixAt("v1", 2, { seq: 2 }), fixAt("v1", 1, { seq: 1 })])).toEqual([]);
    // Older than the newest but new: kept.
    expect(append(fixes, [fixAt("v1", 1, { seq: 9 })])).toHaveLength(1);
    expect(fixes.history("v1", all).map((f) => f.seq)).toEqual([1, 9, 2]);
  });

  it("moves the oldest rows first, as many as asked in one transaction", () => {
    const fixes = new SqliteFixes(db, { moveAt: 6, chunk: 2 });
    append(
      fixes,
      [1, 2, 3, 4, 5].map((s) => fixAt("v1", s)),
    );
    expect(fixes.shouldMove).toBe(false);
    append(fixes, [fixAt("v2", 1)]);
    expect(fixes.shouldMove).toBe(true);
    expect(fixes.chunkAfter(1)).toBe(2);
    expect(fixes.chunkAfter(3)).toBe(6);
    expect(fixes.moveChunk(2)).toBe(2);
    expect(db.prepare("SELECT ts FROM fixes ORDER BY ts").pluck().all()).toEqual([
      T0 + 1000,
      T0 + 2000,
    ]);
    expect(fixes.shouldMove).toBe(false);
    expect(fixes.moveChunk(3)).toBe(3);
    expect(count("fixes")).toBe(5);
    expect(fixes.recent).toBe(1);
    expect(fixes.moveChunk(3)).toBe(1);
    expect(fixes.moveChunk(3)).toBe(0);
    expect(fixes.history("v1", all).map((f) => f.ts)).toEqual(
      [1, 2, 3, 4, 5].map((s) => T0 + s * 1000),
    );
  });

  it("moves every leftover row at open, and still knows them for duplicates", () => {
    const first = new SqliteFixes(db, { moveAt: 1000 });
    append(first, [fixAt("v1", 5), fixAt("v1", 3, { seq: 1 }), fixAt("v2", 4)]);
    db.close(); // as a crash would leave it: three rows in fixes_recent
    db = open();
    expect(count("fixes_recent")).toBe(3);
    const fixes = new SqliteFixes(db);
    expect(count("fixes_recent")).toBe(0);
    expect(count("fixes")).toBe(3);
    expect(append(fixes, [fixAt("v1", 3, { seq: 1 }), fixAt("v1", 5), fixAt("v2", 4)])).toEqual([]);
    expect(fixes.history("v1", all)).toEqual([fixAt("v1", 3, { seq: 1 }), fixAt("v1", 5)]);
  });

  it("remembers nothing of a transaction that rolled back", () => {
    const fixes = new SqliteFixes(db);
    const batch = [fixAt("v1", 7), fixAt("v1", 8)];
    expect(() =>
      db
        .transaction(() => {
          fixes.append(batch, T0);
          throw new Error("disk full");
        })
        .immediate(),
    ).toThrow("disk full");
    expect(count("fixes_recent")).toBe(0);
    expect(fixes.newest(["v1"])).toEqual(new Map());
    // Neither the keys nor the newest ts were taken: the same fixes are new, not duplicates.
    expect(append(fixes, batch)).toEqual(batch);
  });

  it("reads history across both tables in order, within the range and up to the limit", () => {
    const fixes = new SqliteFixes(db, { moveAt: 1000, chunk: 3 });
    append(fixes, [fixAt("v1", 2), fixAt("v1", 4), fixAt("v1", 6)]);
    fixes.moveChunk();
    append(fixes, [fixAt("v1", 1), fixAt("v1", 5), fixAt("v1", 7), fixAt("v2", 3)]);
    const seconds = (r: { from?: number; to?: number; limit: number }) =>
      fixes.history("v1", r).map((f) => (f.ts - T0) / 1000);
    expect(seconds(all)).toEqual([1, 2, 4, 5, 6, 7]);
    expect(seconds({ limit: 3 })).toEqual([1, 2, 4]);
    expect(seconds({ from: T0 + 4000, to: T0 + 6000, limit: 10 })).toEqual([4, 5, 6]);
  });

  it("agrees with a plain model over random appends, moves and reopenings", () => {
    for (let seed = 1; seed <= 20; seed++) {
      const random = mulberry32(seed);
      const options: SqliteFixesOptions = {
        moveAt: 1 + Math.floor(random() * 40),
        chunk: 1 + Math.floor(random() * 10),
      };
      let fixes = new SqliteFixes(db, options);
      const model = new Map<string, Fix>();
      const stored: Fix[] = [];
      for (let step = 0; step < 60; step++) {
        const batch: Fix[] = [];
        for (let k = Math.floor(random() * 8); k > 0; k--) {
          const vehicle = `v${Math.floor(random() * 4)}`;
          const extra: Partial<Fix> = {};
          if (random() < 0.5) extra.seq = Math.floor(random() * 3);
          if (random() < 0.1) extra.ts_given = false;
          // Mostly moving forward, sometimes a redelivery or an old fix.
          batch.push(fixAt(vehicle, step + Math.floor(random() * 6) - 4, extra));
        }
        const expected: Fix[] = [];
        for (const f of batch) {
          if (!f.ts_given) {
            expected.push(f);
            continue;
          }
          const key = `${f.vehicle_id}|${f.ts}|${f.seq ?? -1}`;
          if (model.has(key)) continue;
          model.set(key, f);
          expected.push(f);
        }
        stored.push(...expected);
        expect(append(fixes, batch), `seed ${seed} step ${step}`).toEqual(expected);
        if (fixes.shouldMove && random() < 0.8) fixes.moveChunk(fixes.chunkAfter(batch.length));
        if (random() < 0.05) {
          db.close();
          db = open();
          fixes = new SqliteFixes(db, options);
        }
      }
      for (const v of ["v0", "v1", "v2", "v3"]) {
        const history = fixes.history(v, all);
        const mine = stored.filter((f) => f.vehicle_id === v);
        expect(history, `seed ${seed} ${v}`).toHaveLength(mine.length);
        const ts = history.map((f) => f.ts);
        expect(ts, `seed ${seed} ${v} in ts order`).toEqual([...ts].sort((a, b) => a - b));
        for (const f of mine.filter((m) => m.ts_given)) expect(history).toContainEqual(f);
      }
      db.exec("DELETE FROM fixes; DELETE FROM fixes_recent;");
    }
  });
});
