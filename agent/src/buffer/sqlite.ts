// The agent's durable buffer: fixes in a SQLite file (WAL), each committed before it is sent and
// deleted only once acknowledged. The seq counter, the drop count and the last ack live in a
// one-row meta table, so they carry on across restarts even when the buffer was emptied.
//
// Durability: synchronous=FULL by default. In WAL mode, NORMAL already keeps every committed fix
// across a crash of the agent (kill -9): the commit has reached the operating system. Only a
// power cut can lose NORMAL's last commits, and on a vehicle power is cut every day. At GPS rates
// (about one fix a second) FULL's one fsync per commit is cheap, so FULL it is; NORMAL remains an
// option for fast sources on slow flash.

import fs from "node:fs";
import { copyReadings } from "@locus/protocol";
import type Database from "better-sqlite3";
import { openDatabase } from "../native/sqlite.ts";
import {
  BufferError,
  type BufferedFix,
  type BufferLimits,
  type BufferStats,
  bufferedFix,
  checkMaxFixes,
  type FixBuffer,
  type LastAck,
  type NewFix,
} from "./buffer.ts";
import { describe, errorCode, placeProblem } from "./sqlite-problems.ts";

export interface SqliteBufferOptions extends BufferLimits {
  /** SQLite `synchronous` setting; see the note at the top of this file. Default "full". */
  synchronous?: "full" | "normal";
  /** Largest the database file may grow, in bytes (for a small flash partition). Default: no limit. */
  maxBytes?: number;
}

/** Marks the file as a Locus agent buffer ("LCSA"), so another SQLite file is not mistaken for one. */
const APPLICATION_ID = 0x4c435341;
const SCHEMA_VERSION = 1;

const SCHEMA = `
CREATE TABLE IF NOT EXISTS fixes (
  seq INTEGER PRIMARY KEY,
  ts INTEGER NOT NULL,
  latitude REAL NOT NULL,
  longitude REAL NOT NULL,
  speed REAL,
  heading REAL,
  accuracy REAL,
  altitude REAL
);
CREATE TABLE IF NOT EXISTS meta (
  id INTEGER PRIMARY KEY CHECK (id = 1),
  next_seq INTEGER NOT NULL,
  dropped INTEGER NOT NULL,
  last_ack_seq INTEGER,
  last_ack_at INTEGER
);
INSERT OR IGNORE INTO meta (id, next_seq, dropped) VALUES (1, 0, 0);
`;

const FIX_COLUMNS = "seq, ts, latitude, longitude, speed, heading, accuracy, altitude";

interface FixRow {
  seq: number;
  ts: number;
  latitude: number;
  longitude: number;
  speed: number | null;
  heading: number | null;
  accuracy: number | null;
  altitude: number | null;
}

interface MetaRow {
  next_seq: number;
  dropped: number;
  last_ack_seq: number | null;
  last_ack_at: number | null;
}

function fromRow(row: FixRow): BufferedFix {
  const fix: BufferedFix = {
    seq: row.seq,
    ts: row.ts,
    latitude: row.latitude,
    longitude: row.longitude,
  };
  return copyReadings(fix, row);
}

function lastAckOf(meta: MetaRow): LastAck | null {
  return meta.last_ack_seq === null || meta.last_ack_at === null
    ? null
    : { seq: meta.last_ack_seq, at: meta.last_ack_at };
}

function checkApplication(db: Database.Database, file: string): void {
  const appId = db.pragma("application_id", { simple: true }) as number;
  const version = db.pragma("user_version", { simple: true }) as number;
  if (appId === APPLICATION_ID) {
    if (version > SCHEMA_VERSION) {
      throw new BufferError(
        `buffer ${file}: written by a newer agent (schema ${version}, this agent knows ${SCHEMA_VERSION})`,
        file,
      );
    }
    return;
  }
  const tables = db
    .prepare("SELECT count(*) AS n FROM sqlite_schema WHERE type = 'table'")
    .get() as { n: number };
  if (appId !== 0 || tables.n > 0) {
    throw new BufferError(`buffer ${file}: not a Locus agent buffer (another SQLite file)`, file);
  }
}

/** The durable buffer: one SQLite file per agent. Open it with `SqliteBuffer.open`. */
export class SqliteBuffer implements FixBuffer {
  private readonly insert: Database.Statement;
  private readonly setNextSeq: Database.Statement;
  private readonly dropOldest: Database.Statement;
  private readonly addDropped: Database.Statement;
  private readonly selectAfter: Database.Statement;
  private readonly deleteRange: Database.Statement;
  private readonly setLastAck: Database.Statement;
  private readonly selectOldest: Database.Statement;
  private readonly putTx: (seq: number, fix: NewFix, over: number) => void;
  private readonly ackTx: (fromSeq: number, toSeq: number, at: number) => number;
  private readonly dropTx: (over: number) => void;
  // Cached copies of what is on disk, updated only after a commit succeeded.
  private count: number;
  private nextSeq: number;
  private droppedCount: number;
  private last: LastAck | null;

  private constructor(
    private readonly db: Database.Database,
    /** The buffer file, as given. */
    readonly path: string,
    private readonly maxFixes: number,
    private readonly maxBytes: number | undefined,
  ) {
    this.insert = db.prepare(`INSERT INTO fixes (${FIX_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`);
    this.setNextSeq = db.prepare("UPDATE meta SET next_seq = ?");
    this.dropOldest = db.prepare(
      "DELETE FROM fixes WHERE seq IN (SELECT seq FROM fixes ORDER BY seq LIMIT ?)",
    );
    this.addDropped = db.prepare("UPDATE meta SET dropped = dropped + ?");
    this.selectAfter = db.prepare(
      `SELECT ${FIX_COLUMNS} FROM fixes WHERE seq > ? ORDER BY seq LIMIT ?`,
    );
    this.deleteRange = db.prepare("DELETE FROM fixes WHERE seq BETWEEN ? AND ?");
    this.setLastAck = db.prepare("UPDATE meta SET last_ack_seq = ?, last_ack_at = ?");
    this.selectOldest = db.prepare(`SELECT ${FIX_COLUMNS} FROM fixes ORDER BY seq LIMIT 1`);
    this.dropTx = db.transaction((over: number) => {
      this.dropOldest.run(over);
      this.addDropped.run(over);
    });
    this.putTx = db.transaction((seq: number, fix: NewFix, over: number) => {
      this.insert.run(
        seq,
        fix.ts,
        fix.latitude,
        fix.longitude,
        fix.speed ?? null,
        fix.heading ?? null,
        fix.accuracy ?? null,
        fix.altitude ?? null,
      );
      this.setNextSeq.run(seq + 1);
      if (over > 0) this.dropTx(over);
    });
    this.ackTx = db.transaction((fromSeq: number, toSeq: number, at: number) => {
      const removed = this.deleteRange.run(fromSeq, toSeq).changes;
      this.setLastAck.run(toSeq, at);
      return removed;
    });

    const meta = db.prepare("SELECT * FROM meta").get() as MetaRow;
    const counts = db.prepare("SELECT count(*) AS n, max(seq) AS top FROM fixes").get() as {
      n: number;
      top: number | null;
    };
    this.count = counts.n;
    // The counter never goes back, even if the meta row was somehow behind the fixes.
    this.nextSeq = Math.max(meta.next_seq, counts.top === null ? 0 : counts.top + 1);
    this.droppedCount = meta.dropped;
    this.last = lastAckOf(meta);
  }

  /**
   * Opens (creating if needed) the buffer at `file`. Throws a BufferError naming the file and the
   * cause when it cannot be opened and written. Fixes beyond a lowered `maxFixes` are dropped.
   */
  static open(file: string, options: SqliteBufferOptions = {}): SqliteBuffer {
    const maxFixes = checkMaxFixes(options.maxFixes);
    const { maxBytes } = options;
    if (maxBytes !== undefined && (!Number.isSafeInteger(maxBytes) || maxBytes < 65_536)) {
      throw new RangeError(`maxBytes must be an integer of at least 65536, not ${maxBytes}`);
    }
    const problem = placeProblem(file);
    if (problem !== null) {
      throw new BufferError(`buffer ${file}: cannot open: ${problem[0]}`, file, problem[1]);
    }
    let db: Database.Database | undefined;
    try {
      db = openDatabase(file);
      db.pragma("busy_timeout = 5000");
      checkApplication(db, file);
      db.pragma("journal_mode = WAL");
      db.pragma(`synchronous = ${options.synchronous === "normal" ? "NORMAL" : "FULL"}`);
      if (maxBytes !== undefined) {
        const pageSize = db.pragma("page_size", { simple: true }) as number;
        db.pragma(`max_page_count = ${Math.floor(maxBytes / pageSize)}`);
      }
      const setUp = db.transaction(() => {
        db?.exec(SCHEMA);
        db?.pragma(`application_id = ${APPLICATION_ID}`);
        db?.pragma(`user_version = ${SCHEMA_VERSION}`);
      });
      setUp.immediate();
      const buffer = new SqliteBuffer(db, file, maxFixes, maxBytes);
      buffer.trim();
      return buffer;
    } catch (err) {
      db?.close();
      if (err instanceof BufferError) throw err;
      throw new BufferError(
        `buffer ${file}: cannot open: ${describe(err, maxBytes)}`,
        file,
        errorCode(err),
        { cause: err },
      );
    }
  }

  put(fix: NewFix): BufferedFix {
    const seq = this.nextSeq;
    const over = Math.max(0, this.count + 1 - this.maxFixes);
    try {
      this.putTx(seq, fix, over);
    } catch (err) {
      throw this.failure("fix not stored", err, true);
    }
    this.nextSeq = seq + 1;
    this.count += 1 - over;
    this.droppedCount += over;
    return bufferedFix(seq, fix);
  }

  nextBatch(afterSeq: number, limit: number): BufferedFix[] {
    try {
      return (this.selectAfter.all(afterSeq, limit) as FixRow[]).map(fromRow);
    } catch (err) {
      throw this.failure("cannot read fixes", err, false);
    }
  }

  ack(fromSeq: number, toSeq: number, at: number): number {
    let removed: number;
    try {
      removed = this.ackTx(fromSeq, toSeq, at);
    } catch (err) {
      throw this.failure("acknowledged fixes not removed", err, false);
    }
    this.count -= removed;
    this.last = { seq: toSeq, at };
    return removed;
  }

  depth(): number {
    return this.count;
  }

  oldest(): BufferedFix | null {
    try {
      const row = this.selectOldest.get() as FixRow | undefined;
      return row === undefined ? null : fromRow(row);
    } catch (err) {
      throw this.failure("cannot read fixes", err, false);
    }
  }

  lastAck(): LastAck | null {
    return this.last === null ? null : { ...this.last };
  }

  dropped(): number {
    return this.droppedCount;
  }

  stats(): BufferStats {
    return {
      depth: this.count,
      oldest: this.oldest(),
      lastAck: this.lastAck(),
      dropped: this.droppedCount,
      nextSeq: this.nextSeq,
    };
  }

  close(): void {
    if (this.db.open) this.db.close();
  }

  // Drops the oldest fixes beyond the limit (after a restart with a lower --max-buffer).
  private trim(): void {
    const over = this.count - this.maxFixes;
    if (over <= 0) return;
    try {
      this.dropTx(over);
    } catch (err) {
      throw this.failure("cannot drop fixes beyond the limit", err, true);
    }
    this.count -= over;
    this.droppedCount += over;
  }

  private failure(what: string, err: unknown, kept: boolean): BufferError {
    const tail = kept ? `; the ${this.count} fixes already buffered are kept` : "";
    return new BufferError(
      `buffer ${this.path}: ${what}: ${describe(err, this.maxBytes)}${tail}`,
      this.path,
      errorCode(err),
      { cause: err },
    );
  }
}

/**
 * Reads a buffer file's stats without changing it (for `locus-agent status`, also while an
 * agent runs on it). Throws a BufferError when the file is missing or not a buffer.
 */
export function readBufferStats(file: string): BufferStats {
  if (!fs.existsSync(file)) {
    throw new BufferError(`buffer ${file}: no such file`, file, "ENOENT");
  }
  let db: Database.Database | undefined;
  try {
    db = openDatabase(file, { readonly: true, fileMustExist: true });
    db.pragma("busy_timeout = 5000");
    checkApplication(db, file);
    const appId = db.pragma("application_id", { simple: true }) as number;
    if (appId !== APPLICATION_ID) {
      throw new BufferError(`buffer ${file}: not a Locus agent buffer (empty file)`, file);
    }
    const read = db.transaction(() => {
      const meta = db?.prepare("SELECT * FROM meta").get() as MetaRow;
      const counts = db?.prepare("SELECT count(*) AS n, max(seq) AS top FROM fixes").get() as {
        n: number;
        top: number | null;
      };
      const oldest = db?.prepare(`SELECT ${FIX_COLUMNS} FROM fixes ORDER BY seq LIMIT 1`).get() as
        | FixRow
        | undefined;
      return {
        depth: counts.n,
        oldest: oldest === undefined ? null : fromRow(oldest),
        lastAck: lastAckOf(meta),
        dropped: meta.dropped,
        nextSeq: Math.max(meta.next_seq, counts.top === null ? 0 : counts.top + 1),
      };
    });
    return read();
  } catch (err) {
    if (err instanceof BufferError) throw err;
    throw new BufferError(
      `buffer ${file}: cannot read: ${describe(err, undefined)}`,
      file,
      errorCode(err),
      { cause: err },
    );
  } finally {
    db?.close();
  }
}
