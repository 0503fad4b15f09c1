// SqliteStore: the shared Store contract on a fresh file per test, plus what only SQLite has
// (schema migrations in PRAGMA user_version, WAL mode).

import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import Database from "better-sqlite3";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { SqliteStore } from "./sqlite.ts";
import { SCHEMA_VERSION } from "./sqlite-schema.ts";
import { storeContract } from "./store.contract.ts";

function tempDir(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), "locus-sqlite-"));
}

storeContract("SqliteStore", async () => {
  const dir = tempDir();
  const file = path.join(dir, "locus.db");
  let current = new SqliteStore(file);
  return {
    store: current,
    reopen: async () => {
      await current.close();
      current = new SqliteStore(file);
      return current;
    },
    cleanup: async () => {
      await current.close();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
});

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
});
