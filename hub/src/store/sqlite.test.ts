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

  it("migrates a version 6 database for crossings: detect_crossing, interpolated, last positions", async () => {
    const T0 = Date.parse("2026-11-24T20:00:00.000Z");
    const old = new Database(file);
    old.pragma("journal_mode = WAL");
    migrate(old, 6);
    const square = JSON.stringify([
      [
        [
          [0, 0],
          [1, 0],
          [1, 1],
          [0, 1],
          [0, 0],
        ],
      ],
    ]);
    const fence = old.prepare(
      `INSERT INTO geofences (id, name, geometry_type, polygons, properties, created_at, updated_at)
       VALUES (?, ?, 'Polygon', ?, ?, 0, 0)`,
    );
    fence.run("on", "on", square, JSON.stringify({ detect_crossing: true }));
    fence.run("text", "text", square, JSON.stringify({ detect_crossing: "true" }));
    fence.run("off", "off", square, "{}");
    // A circle (migration 6) whose properties asked for crossings: circles detect none.
    old
      .prepare(
        `INSERT INTO geofences (id, name, geometry_type, polygons, radius_m, properties, created_at, updated_at)
         VALUES ('round', 'round', 'Point', '[0.5,0.5]', 100, ?, 0, 0)`,
      )
      .run(JSON.stringify({ detect_crossing: true }));
    const vehicle = old.prepare("INSERT INTO vehicles (id, last_fix, state) VALUES (?, ?, ?)");
    const fixAt = (ts: number, accuracy?: number) =>
      JSON.stringify({ vehicle_id: "v", latitude: 34.5, longitude: -118.25, ts, accuracy });
    const stateAt = (ts: number) => JSON.stringify({ last_ts: ts, inside: [["on", ts, 0]] });
    vehicle.run("v1", fixAt(T0, 12), stateAt(T0));
    vehicle.run("v2", fixAt(T0), stateAt(T0));
    // A last fix that is not the applied one (cannot happen, but must not be taken for it).
    vehicle.run("v3", fixAt(T0 - 1000), stateAt(T0));
    vehicle.run("v4", null, JSON.stringify({ last_ts: null, inside: [] }));
    old
      .prepare(
        `INSERT INTO events (id, type, vehicle_id, geofence_id, geofence_name, ts, latitude, longitude, detected_at)
         VALUES ('e-1', 'enter', 'v1', 'on', 'on', ?, 34, -118, ?)`,
      )
      .run(T0, T0);
    old.close();

    const store = new SqliteStore(file);
    try {
      const crossing = Object.fromEntries(
        (await store.allGeofences()).map((g) => [g.id, g.detect_crossing]),
      );
      expect(crossing).toEqual({ on: true, text: false, off: false, round: false });
      const states = await store.vehicleStates();
      expect(states.get("v1")?.last_position).toEqual({
        longitude: -118.25,
        latitude: 34.5,
        accuracy: 12,
      });
      expect(states.get("v1")?.inside.get("on")).toEqual({ entered_at: T0, dwell_emitted: false });
      expect(states.get("v2")?.last_position).toEqual({ longitude: -118.25, latitude: 34.5 });
      expect(states.get("v3")?.last_position).toBeUndefined();
      expect(states.get("v4")?.last_position).toBeUndefined();
      const [event] = await store.events({ limit: 10 });
      expect(event?.id).toBe("e-1");
      expect(event).not.toHaveProperty("interpolated");
    } finally {
      await store.close();
    }
    expect(userVersion()).toBe(SCHEMA_VERSION);
  });
});
