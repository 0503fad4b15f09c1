// The embedded hub's store: one SQLite file in WAL mode, written by this process alone.

import Database from "better-sqlite3";
import type { VehicleState } from "../geofence/membership.ts";
import {
  decodeState,
  encodeFix,
  encodeState,
  eventFromColumns,
  type VehicleRow,
  vehicleFromRow,
} from "./codec.ts";
import { idGenerator } from "./ids.ts";
import { SqliteAccounts } from "./sqlite-accounts.ts";
import { Checkpointer } from "./sqlite-checkpoint.ts";
import { SqliteFixes, type SqliteFixesOptions } from "./sqlite-fixes.ts";
import { SqliteRetention } from "./sqlite-retention.ts";
import { type EventRow, type GeofenceRow, geofenceFromRow } from "./sqlite-rows.ts";
import { migrate } from "./sqlite-schema.ts";
import { WalSync } from "./sqlite-sync.ts";
import { SqliteWebhooks } from "./sqlite-webhooks.ts";
import type {
  Committed,
  EventFilter,
  FixKey,
  GeofenceInput,
  GeofenceRecord,
  GroupCommit,
  OutboxEvent,
  Page,
  Store,
  TimeRange,
} from "./store.ts";

export interface SqliteStoreOptions {
  /**
   * "full" (default): a write resolves only once it is on disk (the WAL fdatasynced, see
   * sqlite-sync.ts), so an acknowledged fix survives power loss. "normal": once committed; it
   * survives a crash of the process, not of the machine.
   */
  synchronous?: "full" | "normal";
  /** When fixes move from fixes_recent into `fixes` (see sqlite-fixes.ts); tests make it small. */
  fixes?: SqliteFixesOptions;
}

const EMPTY_STATE = JSON.stringify({ last_ts: null, inside: [] });

export class SqliteStore implements Store {
  readonly kind = "sqlite";
  readonly #db: Database.Database;
  readonly #newId: (now: number) => string;
  readonly #stmt;
  /** Checkpoints on a worker thread; this connection never does (see sqlite-checkpoint.ts). */
  readonly #checkpointer: Checkpointer;
  #closing: Promise<void> | null = null;
  /** With synchronous "full": flushes the WAL off the event loop (see sqlite-sync.ts). */
  readonly #wal: WalSync | null = null;
  readonly #fixes: SqliteFixes;
  /** A chunk of fixes is about to move from fixes_recent into `fixes`. */
  #moving = false;
  /** MQTT accounts and REST tokens (sqlite-accounts.ts). */
  readonly accounts: SqliteAccounts;
  /** Webhooks, their cursors and deliveries logs (sqlite-webhooks.ts). */
  readonly webhooks: SqliteWebhooks;

  constructor(path: string, options: SqliteStoreOptions = {}) {
    const db = new Database(path);
    this.#db = db;
    try {
      db.pragma("journal_mode = WAL");
      // Commits never fsync on the event loop; "full" durability comes from #wal instead.
      db.pragma("synchronous = NORMAL");
      db.pragma("busy_timeout = 5000");
      // 32 MiB of pages kept (SQLite's default is 2 MiB): the pages every commit touches (the
      // vehicles, the ends of the event indexes, the pages fixes move into) stay in memory
      // instead of being read back from the file.
      db.pragma(`cache_size = -${32 * 1024}`);
      migrate(db);
      this.#fixes = new SqliteFixes(db, options.fixes);
      db.pragma("wal_autocheckpoint = 0");
      if (options.synchronous !== "normal") this.#wal = new WalSync(path);
    } catch (err) {
      db.close();
      throw err;
    }
    this.#checkpointer = new Checkpointer(path, {
      // Without the worker, checkpoints fall back to this connection, as SQLite does by default.
      onFailure: () => {
        if (db.open) db.pragma("wal_autocheckpoint = 1000");
      },
    });
    const highest = db.prepare("SELECT max(id) AS id FROM geofences").get() as {
      id: string | null;
    };
    this.#newId = idGenerator(highest.id ?? undefined);
    this.accounts = new SqliteAccounts(db, {
      durable: () => this.#durable(),
      writable: () => this.#writable(),
      settleFixes: () => {
        this.#fixes.moveChunk(this.#fixes.recent);
      },
      fixesPurged: (id) => this.#fixes.forgetVehicle(id),
    });
    this.webhooks = new SqliteWebhooks(db, {
      durable: () => this.#durable(),
      writable: () => this.#writable(),
    });
    this.#stmt = {
      insertGeofence: db.prepare(
        `INSERT INTO geofences (id, name, geometry_type, polygons, radius_m, width_m, properties, hysteresis_m, max_accuracy_m, dwell_s, detect_crossing, created_at, updated_at)
         VALUES (@id, @name, @geometry_type, @polygons, @radius_m, @width_m, @properties, @hysteresis_m, @max_accuracy_m, @dwell_s, @detect_crossing, @created_at, @updated_at)`,
      ),
      replaceGeofence: db.prepare(
        `UPDATE geofences SET name = @name, geometry_type = @geometry_type, polygons = @polygons,
           radius_m = @radius_m, width_m = @width_m, properties = @properties, hysteresis_m = @hysteresis_m, max_accuracy_m = @max_accuracy_m,
           dwell_s = @dwell_s, detect_crossing = @detect_crossing, updated_at = @updated_at
         WHERE id = @id`,
      ),
      deleteGeofence: db.prepare("DELETE FROM geofences WHERE id = ?"),
      getGeofence: db.prepare("SELECT * FROM geofences WHERE id = ?"),
      listGeofences: db.prepare("SELECT * FROM geofences WHERE id > ? ORDER BY id LIMIT ?"),
      allGeofences: db.prepare("SELECT * FROM geofences ORDER BY id"),
      upsertVehicle: db.prepare(
        `INSERT INTO vehicles (id, last_fix, state) VALUES (?, ?, ?)
         ON CONFLICT (id) DO UPDATE SET last_fix = excluded.last_fix, state = excluded.state`,
      ),
      setStatus: db.prepare(
        `INSERT INTO vehicles (id, state, status, status_at) VALUES (?, ?, ?, ?)
         ON CONFLICT (id) DO UPDATE SET status = excluded.status, status_at = excluded.status_at`,
      ),
      vehicleStates: db.prepare("SELECT id, state FROM vehicles"),
      listVehicles: db.prepare("SELECT * FROM vehicles WHERE id > ? ORDER BY id LIMIT ?"),
      getVehicle: db.prepare("SELECT * FROM vehicles WHERE id = ?"),
      // An event id is stored once. Its vehicle and ts are part of it, so looking among that
      // vehicle's events at that ts (events_vehicle_ts) finds it without an index on ids.
      eventExists: db.prepare("SELECT 1 FROM events WHERE vehicle_id = ? AND ts = ? AND id = ?"),
      insertEvent: db.prepare(
        `INSERT INTO events (id, type, vehicle_id, geofence_id, geofence_name, ts, latitude, longitude, detected_at, interpolated)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      ),
      undelivered: db.prepare(
        "SELECT * FROM events WHERE delivered = 0 AND seqno > ? ORDER BY seqno LIMIT ?",
      ),
      markDelivered: db.prepare("UPDATE events SET delivered = 1 WHERE seqno = ?"),
      outboxDepth: db.prepare("SELECT count(*) AS n FROM events WHERE delivered = 0"),
      ping: db.prepare("SELECT 1"),
    };
  }

  async createGeofence(input: GeofenceInput, now: number): Promise<GeofenceRecord> {
    const { polygons_json, ...fields } = input;
    const record: GeofenceRecord = {
      ...fields,
      id: this.#newId(now),
      created_at: now,
      updated_at: now,
    };
    this.#stmt.insertGeofence.run(this.#geofenceParams(record, polygons_json));
    await this.#durable();
    return record;
  }

  async replaceGeofence(id: string, input: GeofenceInput, now: number) {
    const existing = this.#stmt.getGeofence.get(id) as GeofenceRow | undefined;
    if (!existing) return null;
    const { polygons_json, ...fields } = input;
    const record: GeofenceRecord = {
      ...fields,
      id,
      created_at: existing.created_at,
      updated_at: now,
    };
    this.#stmt.replaceGeofence.run(this.#geofenceParams(record, polygons_json));
    await this.#durable();
    return record;
  }

  async deleteGeofence(id: string) {
    const deleted = this.#stmt.deleteGeofence.run(id).changes > 0;
    if (deleted) await this.#durable();
    return deleted;
  }

  async getGeofence(id: string) {
    const row = this.#stmt.getGeofence.get(id) as GeofenceRow | undefined;
    return row ? geofenceFromRow(row) : null;
  }

  async listGeofences(page: Page) {
    const rows = this.#stmt.listGeofences.all(page.after ?? "", page.limit) as GeofenceRow[];
    return rows.map(geofenceFromRow);
  }

  async allGeofences() {
    return (this.#stmt.allGeofences.all() as GeofenceRow[]).map(geofenceFromRow);
  }

  async newestFixTs(vehicleIds: readonly string[]) {
    return this.#fixes.newest(vehicleIds);
  }

  async storedFixes(keys: readonly FixKey[]) {
    return this.#fixes.stored(keys);
  }

  async commit(batch: GroupCommit): Promise<Committed> {
    const receivedAt = Date.now();
    const run = this.#db.transaction(() => {
      const appended = this.#fixes.append(batch.fixes, receivedAt);
      for (const v of batch.vehicles) {
        this.#stmt.upsertVehicle.run(v.vehicle_id, encodeFix(v.last_fix), encodeState(v.state));
      }
      const events: OutboxEvent[] = [];
      for (const e of batch.events) {
        const ts = Date.parse(e.ts);
        if (this.#stmt.eventExists.get(e.vehicle_id, ts, e.id) !== undefined) continue;
        const result = this.#stmt.insertEvent.run(
          e.id,
          e.type,
          e.vehicle_id,
          e.geofence_id,
          e.geofence_name,
          ts,
          e.latitude,
          e.longitude,
          Date.parse(e.detected_at),
          e.interpolated === true ? 1 : 0,
        );
        events.push({ seqno: Number(result.lastInsertRowid), event: e });
      }
      return { events, appended };
    });
    this.#writable();
    const { events, appended } = run.immediate();
    appended.commit();
    this.#moveFixes(batch.fixes.length);
    return { events, durable: this.#durable() ?? Promise.resolve() };
  }

  async vehicleStates() {
    const states = new Map<string, VehicleState>();
    for (const row of this.#stmt.vehicleStates.iterate() as Iterable<{
      id: string;
      state: string;
    }>) {
      states.set(row.id, decodeState(row.state));
    }
    return states;
  }

  async setVehicleStatus(vehicleId: string, status: "online" | "offline", at: number) {
    this.#writable();
    this.#stmt.setStatus.run(vehicleId, EMPTY_STATE, status, at);
    await this.#durable();
  }

  async listVehicles(page: Page) {
    const rows = this.#stmt.listVehicles.all(page.after ?? "", page.limit) as VehicleRow[];
    return rows.map(vehicleFromRow);
  }

  async getVehicle(id: string) {
    const row = this.#stmt.getVehicle.get(id) as VehicleRow | undefined;
    return row ? vehicleFromRow(row) : null;
  }

  async locations(vehicleId: string, range: TimeRange) {
    return this.#fixes.history(vehicleId, range);
  }

  async events(filter: EventFilter) {
    const where: string[] = [];
    const params: (string | number)[] = [];
    if (filter.vehicle_id !== undefined) {
      where.push("vehicle_id = ?");
      params.push(filter.vehicle_id);
    }
    if (filter.geofence_id !== undefined) {
      where.push("geofence_id = ?");
      params.push(filter.geofence_id);
    }
    if (filter.type !== undefined) {
      where.push("type = ?");
      params.push(filter.type);
    }
    if (filter.from !== undefined) {
      where.push("ts >= ?");
      params.push(filter.from);
    }
    if (filter.to !== undefined) {
      where.push("ts <= ?");
      params.push(filter.to);
    }
    const sql = `SELECT * FROM events ${where.length ? `WHERE ${where.join(" AND ")}` : ""}
      ORDER BY ts, seqno LIMIT ?`;
    const rows = this.#db.prepare(sql).all(...params, filter.limit) as EventRow[];
    return rows.map(eventFromColumns);
  }

  async undelivered(after: number, limit: number) {
    const rows = this.#stmt.undelivered.all(after, limit) as EventRow[];
    // Rows may come from a commit whose flush is still under way: never publish an event
    // before the fixes that caused it are on disk.
    await this.#durable();
    return rows.map((row) => ({ seqno: row.seqno, event: eventFromColumns(row) }));
  }

  async markDelivered(seqnos: readonly number[]) {
    // Not waited for on disk: a mark lost in a power cut only means those events go out again,
    // with the same ids, which the outbox allows; the next flushed commit covers it anyway.
    this.#db.transaction(() => {
      for (const seqno of seqnos) this.#stmt.markDelivered.run(seqno);
    })();
  }

  async outboxDepth() {
    return (this.#stmt.outboxDepth.get() as { n: number }).n;
  }

  // --- end of accounts and tokens ---

  async ping() {
    this.#writable();
    this.#stmt.ping.get();
  }

  close(): Promise<void> {
    // The worker's connection closes first, so this one, the last, checkpoints and removes the WAL.
    this.#closing ??= this.#checkpointer.close().then(async () => {
      await this.#wal?.close();
      if (this.#db.open) this.#db.close();
    });
    return this.#closing;
  }

  /**
   * Moves fixes into `fixes` once enough wait in fixes_recent: one chunk after a group commit, on
   * the next turn of the event loop, so that moving never holds up the writer for more than one
   * chunk at a time. The moves need no flush of their own: a row is in one table or the other in
   * every committed state, and the next group commit's flush covers them.
   */
  #moveFixes(committed: number): void {
    if (this.#moving || !this.#fixes.shouldMove) return;
    this.#moving = true;
    setImmediate(() => {
      this.#moving = false;
      if (this.#closing !== null || this.#wal?.failure) return;
      try {
        this.#fixes.moveChunk(this.#fixes.chunkAfter(committed));
      } catch {
        // A full or failing disk: the rows stay in fixes_recent, readable, and moving is tried
        // again after the next group commit.
      }
    });
  }

  /** With synchronous "full": resolves once everything committed so far is on disk. */
  #durable(): Promise<void> | undefined {
    return this.#wal?.sync();
  }

  /** Refuses writes once the disk has failed a flush (see WalSync.failure). */
  #writable(): void {
    const failure = this.#wal?.failure;
    if (failure) throw failure;
  }

  #geofenceParams(record: GeofenceRecord, polygonsJson?: string) {
    return {
      id: record.id,
      name: record.name,
      geometry_type: record.geometry_type,
      polygons: polygonsJson ?? JSON.stringify(coordinatesOf(record)),
      radius_m: record.circle?.radius_m ?? null,
      width_m: record.corridor?.width_m ?? null,
      properties: JSON.stringify(record.properties),
      hysteresis_m: record.hysteresis_m,
      max_accuracy_m: record.max_accuracy_m,
      dwell_s: record.dwell_s,
      detect_crossing: record.detect_crossing ? 1 : 0,
      created_at: record.created_at,
      updated_at: record.updated_at,
    };
  }

  // Retention and limits, kept together at the end of the class.

  #retention: SqliteRetention | null = null;

  async deleteOlderThan(before: number, limit: number): Promise<number> {
    if (this.#closing !== null) return 0;
    this.#writable();
    this.#retention ??= new SqliteRetention(this.#db, this.#fixes);
    // Not flushed on its own: a delete lost in a power cut is only done again.
    return this.#retention.deleteOlderThan(before, limit);
  }

  /**
   * Caps the database at `pages` pages (PRAGMA max_page_count on this connection), or lifts the cap
   * with null; returns the cap in force. Past it SQLite answers SQLITE_FULL, "database or disk is
   * full", exactly as for a full disk, and a commit fails as it would then.
   */
  limitPages(pages: number | null): number {
    const value = pages === null ? 4_294_967_294 : Math.max(1, Math.trunc(pages));
    return this.#db.pragma(`max_page_count = ${value}`, { simple: true }) as number;
  }

  /** Pages the database takes now (PRAGMA page_count). */
  pageCount(): number {
    return this.#db.pragma("page_count", { simple: true }) as number;
  }
}

/** The GeoJSON coordinates the polygons column holds for each kind of geofence. */
function coordinatesOf(record: GeofenceRecord): unknown {
  if (record.circle !== undefined) return record.circle.center;
  if (record.corridor !== undefined) return record.corridor.line;
  return record.polygons;
}
