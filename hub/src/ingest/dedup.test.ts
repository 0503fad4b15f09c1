// Deduplicator over a real SQLite store: which fixes of a group commit are fresh.

import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import type { Fix } from "@locus/protocol";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { SqliteStore } from "../store/sqlite.ts";
import { Deduplicator } from "./dedup.ts";
import { ingest } from "./test-support.ts";

const T0 = Date.parse("2026-12-06T10:00:00.000Z");

function fixAt(vehicleId: string, s: number, extra: Partial<Fix> = {}): Fix {
  return {
    vehicle_id: vehicleId,
    latitude: 34,
    longitude: -118,
    ts: T0 + s * 1000,
    ts_given: true,
    ...extra,
  };
}

describe("Deduplicator", () => {
  let dir: string;
  let store: SqliteStore;

  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "locus-dedup-"));
    store = new SqliteStore(path.join(dir, "locus.db"), { synchronous: "normal" });
  });
  afterEach(async () => {
    await store.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it("keeps fixes newer than the stored ones without looking them up, and drops repeats", async () => {
    await ingest(store, [fixAt("v1", 10, { seq: 10 })]);
    const dedup = new Deduplicator(store);
    const batch = [
      fixAt("v1", 11, { seq: 11 }),
      fixAt("v1", 12, { seq: 12 }),
      fixAt("v1", 12, { seq: 12, speed: 3 }),
      fixAt("v2", 1),
    ];
    expect(await dedup.fresh(batch)).toEqual([batch[0], batch[1], batch[3]]);
  });

  it("drops a repeat of a newer fix that comes after an older one in the same batch", async () => {
    await ingest(store, [fixAt("v1", 10, { seq: 10 })]);
    const dedup = new Deduplicator(store);
    const late = fixAt("v1", 3, { seq: 3 });
    const next = fixAt("v1", 20, { seq: 20 });
    const batch = [late, next, fixAt("v1", 20, { seq: 20 }), fixAt("v1", 10, { seq: 10 })];
    expect(await dedup.fresh(batch)).toEqual([late, next]);
  });

  it("takes what was committed as stored, and never a fix without its own ts for a repeat", async () => {
    const dedup = new Deduplicator(store);
    const first = [fixAt("v1", 1, { seq: 1 }), fixAt("v1", 2, { ts_given: false })];
    expect(await dedup.fresh(first)).toEqual(first);
    await store.commit({ fixes: first, vehicles: [], events: [] });
    dedup.committed(first);
    const again = [fixAt("v1", 1, { seq: 1 }), fixAt("v1", 2, { ts_given: false })];
    expect(await dedup.fresh(again)).toEqual([again[1]]);
  });
});
