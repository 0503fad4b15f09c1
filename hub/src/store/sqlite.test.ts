// SqliteStore: the shared Store contract on a fresh file per test, plus what only SQLite has
// (schema migrations in PRAGMA user_version, WAL mode).

import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import type { GeofenceEvent } from "@locus/protocol";
import Database from "better-sqlite3";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { ingest } from "../ingest/test-support.ts";
import { SqliteStore, type SqliteStoreOptions } from "./sqlite.ts";
import { migrate, SCHEMA_VERSION } from "./sqlite-schema.ts";
import { storeContract } from "./store.contract.ts";

function tempDir(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), "locus-sqlite-"));
}

function sqliteHarness(options: SqliteStoreOptions = {}) {
  return async () => {
    const dir = tempDir();
    const file = path.join(dir, "locus.db");
    let current = new SqliteStore(file, options);
    return {
      store: current,
      reopen: async () => {
        await current.close();
        current = new SqliteStore(file, options);
        return current;
      },
      cleanup: async () => {
        await current.close();
        fs.rmSync(dir, { recursive: true, force: true });
      },
    };
  };
}

// Fixes stay in fixes_recent through each test (the default moves them only by thousands)…
storeContract("SqliteStore", sqliteHarness());
// …or move into `fixes` after every group commit, a row at a time, while the test reads.
storeContract(
  "SqliteStore, fixes moved after each commit",
  sqliteHarness({ fixes: { moveAt: 1, chunk: 1 } }),
);

describe("SqliteStore on disk", () => {
  let dir: string;
  let file: string;

  beforeEach(() => {
    dir = tempDir();
    file = path.join(dir, "locus.db");
  });
  afterEach(() => {
    fs.rmSync(dir, { recursive: true, force: true });
  });

  function userVersion(): number {
    const db = new Database(file, { readonly: true });
    try {
      return db.pragma("user_version", { simple: true }) as number;
    } finally {
      db.close();
    }
  }

  it("migrates an empty file to the current schema", async () => {
    fs.writeFileSync(file, "");
    const store = new SqliteStore(file);
    await store.ping();
    expect(await store.allGeofences()).toEqual([]);
    expect(await store.outboxDepth()).toBe(0);
    await store.close();
    expect(userVersion()).toBe(SCHEMA_VERSION);
    // Opening a current database again migrates nothing and keeps the version.
    await new SqliteStore(file).close();
    expect(userVersion()).toBe(SCHEMA_VERSION);
  });

  it("creates the file when it does not exist", async () => {
    const store = new SqliteStore(file);
    await store.close();
    expect(fs.existsSync(file)).toBe(true);
    expect(userVersion()).toBe(SCHEMA_VERSION);
  });

  it("refuses a database from a newer build, naming both versions, and leaves it alone", () => {
    const newer = SCHEMA_VERSION + 1;
    const db = new Database(file);
    db.pragma(`user_version = ${newer}`);
    db.close();
    expect(() => new SqliteStore(file)).toThrow(
      new RegExp(`schema version ${newer}\\b.*newer than this hub knows \\(${SCHEMA_VERSION}\\)`),
    );
    expect(userVersion()).toBe(newer);
  });

  it("runs in WAL mode", async () => {
    const store = new SqliteStore(file);
    try {
      const db = new Database(file, { readonly: true });
      expect(db.pragma("journal_mode", { simple: true })).toBe("wal");
      db.close();
    } finally {
      await store.close();
    }
  });

  it("keeps the events of a version 1 database, their seqnos rising on, each id once", async () => {
    const T0 = Date.parse("2026-11-24T20:00:00.000Z");
    const old = new Database(file);
    old.pragma("journal_mode = WAL");
    migrate(old, 1);
    const insert = old.prepare(
      `INSERT INTO events (seqno, id, type, vehicle_id, geofence_id, geofence_name, ts, latitude, longitude, detected_at, delivered)
       VALUES (?, ?, 'enter', 'v1', 'f1', 'a', ?, 34, -118, ?, ?)`,
    );
    insert.run(1, "e-1", T0, T0 + 1, 1);
    insert.run(7, "e-7", T0 + 1000, T0 + 1001, 0);
    old.close();

    const store = new SqliteStore(file);
    try {
      expect((await store.events({ limit: 10 })).map((e) => e.id)).toEqual(["e-1", "e-7"]);
      expect((await store.undelivered(0, 10)).map((e) => [e.seqno, e.event.id])).toEqual([
        [7, "e-7"],
      ]);
      const fix = {
        vehicle_id: "v1",
        latitude: 34,
        longitude: -118,
        ts: T0 + 1000,
        ts_given: true,
      };
      const again = { ...(await store.events({ limit: 10 }))[1], id: "e-7" } as GeofenceEvent;
      const fresh = { ...again, id: "e-8", ts: new Date(T0 + 2000).toISOString() };
      const result = await ingest(store, [fix], () => ({ vehicles: [], events: [again, fresh] }));
      expect(result.events.map((e) => e.event.id)).toEqual(["e-8"]);
      expect(result.events[0]?.seqno).toBeGreaterThan(7);
    } finally {
      await store.close();
    }
    expect(userVersion()).toBe(SCHEMA_VERSION);
  });
});
