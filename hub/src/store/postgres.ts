// The production store: PostgreSQL with PostGIS, shared by any number of hubs. Fix positions and
// geofence shapes are PostGIS geometries (SRID 4326), so the geofences table can serve as the
// spatial index itself (PostgisFenceIndex).

import { randomInt } from "node:crypto";
import { type Fix, formatTs, type GeofenceEvent } from "@locus/protocol";
import pg from "pg";
import type { MultiPolygonCoords } from "../geofence/fence.ts";
import type { VehicleState } from "../geofence/membership.ts";
import { decodeFix, decodeState, encodeFix, encodeState, fixFromColumns } from "./codec.ts";
import { idGenerator } from "./ids.ts";
import { LOCK_OUTBOX, migrate, SCHEMA_KEY } from "./postgres-schema.ts";
import { multiPolygonToWkb, wkbToMultiPolygon } from "./postgres-wkb.ts";
import type {
  Decide,
  Decision,
  EventFilter,
  GeofenceInput,
  GeofenceRecord,
  IngestResult,
  OutboxEvent,
  Page,
  Store,
  TimeRange,
  VehicleRecord,
} from "./store.ts";

export interface PostgresStoreOptions {
  /** Connections in the pool. Default 10. */
  maxConnections?: number;
}

/** How long to wait for a connection before the operation fails. */
const CONNECT_TIMEOUT_MS = 10_000;
/** Attempts of one group commit that hit a deadlock or serialisation failure (another hub). */
const INGEST_ATTEMPTS = 3;
const EMPTY_STATE = JSON.stringify({ last_ts: null, inside: [] });

/**
 * Connects, applies the schema migrations and returns the store. Throws an Error saying what is
 * wrong when the database cannot be reached, lacks PostGIS, or has a schema newer than this hub.
 */
export async function openPostgresStore(
  url: string,
  options: PostgresStoreOptions = {},
): Promise<PostgresStore> {
  const pool = new pg.Pool({
    connectionString: url,
    max: options.maxConnections ?? 10,
    connectionTimeoutMillis: CONNECT_TIMEOUT_MS,
    application_name: "locus-hub",
  });
  // An idle connection that dies (a server restart) is dropped by the pool, which emits this;
  // without a listener the process would exit. The next query reconnects, or fails and says why.
  pool.on("error", () => {});
  try {
    try {
      await pool.query("SELECT 1");
    } catch (err) {
      throw new Error(`cannot connect to PostgreSQL at ${describeUrl(url)}: ${reason(err)}`, {
        cause: err,
      });
    }
    await migrate(pool);
    const highest = await pool.query<{ id: string | null }>("SELECT max(id) AS id FROM geofences");
    return new PostgresStore(pool, highest.rows[0]?.id ?? undefined);
  } catch (err) {
    await pool.end();
    throw err;
  }
}

/** host:port/database, without credentials, for messages. */
function describeUrl(url: string): string {
  try {
    const u = new URL(url);
    return `${u.hostname || "localhost"}:${u.port || "5432"}${u.pathname}`;
  } catch {
    return "the configured address";
  }
}

/** An error's message; Node's AggregateError (every address of a host refused) has none of its own. */
function reason(err: unknown): string {
  if (err instanceof AggregateError && err.errors.length > 0) {
    return err.errors.map((e) => reason(e)).join("; ");
  }
  if (err instanceof Error) {
    const code = (err as { code?: string }).code;
    return err.message || code || err.name;
  }
  return String(err);
}

interface GeofenceRow {
  id: string;
  name: string;
  geometry_type: "Polygon" | "MultiPolygon";
  wkb: Buffer;
  properties: Record<string, unknown>;
  hysteresis_m: number | null;
  max_accuracy_m: number | null;
  dwell_s: number | null;
  created_at: string;
  updated_at: string;
}

interface FixRow {
  vehicle_id: string;
  ts: string;
  seq_key: string;
  nonce: string;
  latitude: number;
  longitude: number;
  speed: number | null;
  heading: number | null;
  accuracy: number | null;
  altitude: number | null;
}

interface EventRow {
  seqno: string;
  id: string;
  type: string;
  vehicle_id: string;
  geofence_id: string;
  geofence_name: string;
  ts: string;
  latitude: number;
  longitude: number;
  detected_at: string;
}

interface VehicleRow {
  id: string;
  last_fix: string | null;
  state: string;
  status: "online" | "offline" | "unknown";
}

const GEOFENCE_COLUMNS = `id, name, geometry_type, ST_AsBinary(geom) AS wkb, properties,
  hysteresis_m, max_accuracy_m, dwell_s, created_at, updated_at`;
const FIX_COLUMNS = `vehicle_id, ts, seq_key, nonce, ST_Y(geom) AS latitude, ST_X(geom) AS longitude,
  speed, heading, accuracy, altitude`;
const EVENT_COLUMNS = `seqno, id, type, vehicle_id, geofence_id, geofence_name, ts, latitude,
  longitude, detected_at`;
const VEHICLE_COLUMNS = "id, last_fix::text AS last_fix, state::text AS state, status";

function geofenceFromRow(row: GeofenceRow): GeofenceRecord {
  return {
    id: row.id,
    name: row.name,
    geometry_type: row.geometry_type,
    polygons: wkbToMultiPolygon(row.wkb),
    properties: row.properties,
    hysteresis_m: row.hysteresis_m,
    max_accuracy_m: row.max_accuracy_m,
    dwell_s: row.dwell_s,
    created_at: Number(row.created_at),
    updated_at: Number(row.updated_at),
  };
}

function fixFromRow(row: FixRow): Fix {
  const seq = Number(row.seq_key);
  return fixFromColumns({
    ...row,
    ts: Number(row.ts),
    seq: seq < 0 ? null : seq,
    ts_given: row.nonce === "0",
  });
}

function eventFromRow(row: EventRow): GeofenceEvent {
  return {
    id: row.id,
    type: row.type as GeofenceEvent["type"],
    vehicle_id: row.vehicle_id,
    geofence_id: row.geofence_id,
    geofence_name: row.geofence_name,
    ts: formatTs(Number(row.ts)),
    latitude: row.latitude,
    longitude: row.longitude,
    detected_at: formatTs(Number(row.detected_at)),
  };
}

function vehicleFromRow(row: VehicleRow): VehicleRecord {
  return {
    id: row.id,
    last_fix: row.last_fix === null ? null : decodeFix(row.last_fix),
    state: decodeState(row.state),
    status: row.status,
  };
}

/** A fix as the insert sends it; `key` is its identity as the RETURNING clause spells it. */
interface FixIdentity {
  fix: Fix;
  seqKey: number;
  nonce: number;
  key: string;
}

function identityKey(
  vehicleId: string,
  ts: number | string,
  seqKey: number | string,
  nonce: number | string,
) {
  return `${vehicleId}\u0000${ts}\u0000${seqKey}\u0000${nonce}`;
}

function byteOrder(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Retried: another hub's transaction deadlocked with this one, or a serialisation conflict. */
function isRetryable(err: unknown): boolean {
  const code = (err as { code?: string }).code;
  return code === "40P01" || code === "40001";
}

/** The Store on PostgreSQL + PostGIS. Open it with openPostgresStore, which migrates the schema. */
export class PostgresStore implements Store {
  readonly kind = "postgres";
  /** The connection pool; PostgisFenceIndex shares it. */
  readonly pool: pg.Pool;
  readonly #newId: (now: number) => string;
  #closed = false;

  /** Use openPostgresStore: it connects and migrates first. `highestId` is max(geofences.id). */
  constructor(pool: pg.Pool, highestId?: string) {
    this.pool = pool;
    this.#newId = idGenerator(highestId);
  }

  async createGeofence(input: GeofenceInput, now: number): Promise<GeofenceRecord> {
    const record: GeofenceRecord = {
      ...input,
      id: this.#newId(now),
      created_at: now,
      updated_at: now,
    };
    await this.pool.query(
      `INSERT INTO geofences (id, name, geometry_type, geom, properties, hysteresis_m,
         max_accuracy_m, dwell_s, created_at, updated_at)
       VALUES ($1, $2, $3, ST_SetSRID(ST_GeomFromWKB($4), 4326), $5::jsonb, $6, $7, $8, $9, $9)`,
      [
        record.id,
        record.name,
        record.geometry_type,
        multiPolygonToWkb(record.polygons),
        JSON.stringify(record.properties),
        record.hysteresis_m,
        record.max_accuracy_m,
        record.dwell_s,
        now,
      ],
    );
    return record;
  }

  async replaceGeofence(id: string, input: GeofenceInput, now: number) {
    const result = await this.pool.query<{ created_at: string }>(
      `UPDATE geofences SET name = $2, geometry_type = $3, geom = ST_SetSRID(ST_GeomFromWKB($4), 4326),
         properties = $5::jsonb, hysteresis_m = $6, max_accuracy_m = $7, dwell_s = $8, updated_at = $9
       WHERE id = $1
       RETURNING created_at`,
      [
        id,
        input.name,
        input.geometry_type,
        multiPolygonToWkb(input.polygons),
        JSON.stringify(input.properties),
        input.hysteresis_m,
        input.max_accuracy_m,
        input.dwell_s,
        now,
      ],
    );
    const row = result.rows[0];
    if (row === undefined) return null;
    return { ...input, id, created_at: Number(row.created_at), updated_at: now };
  }

  async deleteGeofence(id: string) {
    const result = await this.pool.query("DELETE FROM geofences WHERE id = $1", [id]);
    return (result.rowCount ?? 0) > 0;
  }

  async getGeofence(id: string) {
    const result = await this.pool.query<GeofenceRow>(
      `SELECT ${GEOFENCE_COLUMNS} FROM geofences WHERE id = $1`,
      [id],
    );
    const row = result.rows[0];
    return row ? geofenceFromRow(row) : null;
  }

  async listGeofences(page: Page) {
    const result = await this.pool.query<GeofenceRow>(
      `SELECT ${GEOFENCE_COLUMNS} FROM geofences WHERE id > $1 ORDER BY id LIMIT $2`,
      [page.after ?? "", page.limit],
    );
    return result.rows.map(geofenceFromRow);
  }

  async allGeofences() {
    const result = await this.pool.query<GeofenceRow>(
      `SELECT ${GEOFENCE_COLUMNS} FROM geofences ORDER BY id`,
    );
    return result.rows.map(geofenceFromRow);
  }

  /**
   * One transaction: all fixes in one INSERT … SELECT FROM unnest … ON CONFLICT DO NOTHING whose
   * RETURNING tells which were new; then `decide`; then one upsert for the vehicles and one
   * insert for the events.
   */
  async ingest(fixes: readonly Fix[], decide: Decide): Promise<IngestResult> {
    const receivedAt = Date.now();
    // Later copies of a fix within the call are duplicates of the first, as across calls.
    const unique = new Map<string, FixIdentity>();
    const order: FixIdentity[] = [];
    for (const fix of fixes) {
      const seqKey = fix.seq ?? -1;
      const nonce = fix.ts_given ? 0 : randomInt(1, 2 ** 47);
      const identity = {
        fix,
        seqKey,
        nonce,
        key: identityKey(fix.vehicle_id, fix.ts, seqKey, nonce),
      };
      if (unique.has(identity.key)) continue;
      unique.set(identity.key, identity);
      order.push(identity);
    }
    // Rows are inserted in key order, so two hubs storing overlapping batches lock alike.
    const sorted = [...order].sort(
      (a, b) =>
        byteOrder(a.fix.vehicle_id, b.fix.vehicle_id) ||
        a.fix.ts - b.fix.ts ||
        a.seqKey - b.seqKey ||
        a.nonce - b.nonce,
    );
    for (let attempt = 1; ; attempt++) {
      const client = await this.pool.connect();
      try {
        await client.query("BEGIN");
        const inserted = await this.#insertFixes(client, sorted, receivedAt);
        const fresh = order.filter((f) => inserted.has(f.key)).map((f) => f.fix);
        const decision = decide(fresh);
        await this.#upsertVehicles(client, decision);
        const events = await this.#insertEvents(client, decision);
        await client.query("COMMIT");
        client.release();
        return { stored: fresh.length, duplicates: fixes.length - fresh.length, events };
      } catch (err) {
        // A connection whose rollback fails is broken: releasing it with the error discards it.
        const broken = await client.query("ROLLBACK").then(
          () => undefined,
          (rollbackError: Error) => rollbackError,
        );
        client.release(broken);
        if (attempt >= INGEST_ATTEMPTS || !isRetryable(err)) throw err;
      }
    }
  }

  async #insertFixes(client: pg.PoolClient, rows: readonly FixIdentity[], receivedAt: number) {
    const cols = {
      vehicle: [] as string[],
      ts: [] as number[],
      seq: [] as number[],
      nonce: [] as number[],
      lon: [] as number[],
      lat: [] as number[],
      speed: [] as (number | null)[],
      heading: [] as (number | null)[],
      accuracy: [] as (number | null)[],
      altitude: [] as (number | null)[],
    };
    for (const { fix, seqKey, nonce } of rows) {
      cols.vehicle.push(fix.vehicle_id);
      cols.ts.push(fix.ts);
      cols.seq.push(seqKey);
      cols.nonce.push(nonce);
      cols.lon.push(fix.longitude);
      cols.lat.push(fix.latitude);
      cols.speed.push(fix.speed ?? null);
      cols.heading.push(fix.heading ?? null);
      cols.accuracy.push(fix.accuracy ?? null);
      cols.altitude.push(fix.altitude ?? null);
    }
    const result = await client.query<{
      vehicle_id: string;
      ts: string;
      seq_key: string;
      nonce: string;
    }>({
      name: "locus_insert_fixes",
      text: `INSERT INTO fixes (vehicle_id, ts, seq_key, nonce, geom, speed, heading, accuracy,
               altitude, received_at)
             SELECT u.vehicle_id, u.ts, u.seq_key, u.nonce,
               ST_SetSRID(ST_MakePoint(u.lon, u.lat), 4326), u.speed, u.heading, u.accuracy,
               u.altitude, $11
             FROM unnest($1::text[], $2::bigint[], $3::bigint[], $4::bigint[], $5::float8[],
               $6::float8[], $7::float8[], $8::float8[], $9::float8[], $10::float8[])
               AS u(vehicle_id, ts, seq_key, nonce, lon, lat, speed, heading, accuracy, altitude)
             ON CONFLICT DO NOTHING
             RETURNING vehicle_id, ts, seq_key, nonce`,
      values: [
        cols.vehicle,
        cols.ts,
        cols.seq,
        cols.nonce,
        cols.lon,
        cols.lat,
        cols.speed,
        cols.heading,
        cols.accuracy,
        cols.altitude,
        receivedAt,
      ],
    });
    return new Set(result.rows.map((r) => identityKey(r.vehicle_id, r.ts, r.seq_key, r.nonce)));
  }

  async #upsertVehicles(client: pg.PoolClient, decision: Decision): Promise<void> {
    if (decision.vehicles.length === 0) return;
    // One row per vehicle (the last update wins, as when applied one by one), in id order.
    const last = new Map(decision.vehicles.map((v) => [v.vehicle_id, v]));
    const updates = [...last.values()].sort((a, b) => byteOrder(a.vehicle_id, b.vehicle_id));
    await client.query({
      name: "locus_upsert_vehicles",
      // Sent as text[] and cast per row: measured ~1.5x faster than a jsonb[] parameter.
      text: `INSERT INTO vehicles (id, last_fix, state)
             SELECT u.id, u.last_fix::jsonb, u.state::jsonb
             FROM unnest($1::text[], $2::text[], $3::text[]) AS u(id, last_fix, state)
             ON CONFLICT (id) DO UPDATE SET last_fix = excluded.last_fix, state = excluded.state`,
      values: [
        updates.map((v) => v.vehicle_id),
        updates.map((v) => encodeFix(v.last_fix)),
        updates.map((v) => encodeState(v.state)),
      ],
    });
  }

  async #insertEvents(client: pg.PoolClient, decision: Decision): Promise<OutboxEvent[]> {
    if (decision.events.length === 0) return [];
    const byId = new Map<string, GeofenceEvent>();
    for (const e of decision.events) if (!byId.has(e.id)) byId.set(e.id, e);
    const events = [...byId.values()];
    // Held until commit: seqnos then become visible in increasing order even with several hubs
    // writing, so a publisher reading "after seqno n" never skips one committed late.
    await client.query(`SELECT pg_advisory_xact_lock($1, ${SCHEMA_KEY})`, [LOCK_OUTBOX]);
    const result = await client.query<{ seqno: string; id: string }>({
      name: "locus_insert_events",
      text: `INSERT INTO events (id, type, vehicle_id, geofence_id, geofence_name, ts, latitude,
               longitude, detected_at)
             SELECT u.id, u.type, u.vehicle_id, u.geofence_id, u.geofence_name, u.ts, u.latitude,
               u.longitude, u.detected_at
             FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::bigint[],
               $7::float8[], $8::float8[], $9::bigint[]) WITH ORDINALITY
               AS u(id, type, vehicle_id, geofence_id, geofence_name, ts, latitude, longitude,
                 detected_at, ord)
             ORDER BY u.ord
             ON CONFLICT (id) DO NOTHING
             RETURNING seqno, id`,
      values: [
        events.map((e) => e.id),
        events.map((e) => e.type),
        events.map((e) => e.vehicle_id),
        events.map((e) => e.geofence_id),
        events.map((e) => e.geofence_name),
        events.map((e) => Date.parse(e.ts)),
        events.map((e) => e.latitude),
        events.map((e) => e.longitude),
        events.map((e) => Date.parse(e.detected_at)),
      ],
    });
    const out: OutboxEvent[] = [];
    for (const row of result.rows) {
      const event = byId.get(row.id);
      if (event !== undefined) out.push({ seqno: Number(row.seqno), event });
    }
    return out.sort((a, b) => a.seqno - b.seqno);
  }

  async vehicleStates() {
    const result = await this.pool.query<{ id: string; state: string }>(
      "SELECT id, state::text AS state FROM vehicles",
    );
    const states = new Map<string, VehicleState>();
    for (const row of result.rows) states.set(row.id, decodeState(row.state));
    return states;
  }

  async setVehicleStatus(vehicleId: string, status: "online" | "offline", at: number) {
    await this.pool.query(
      `INSERT INTO vehicles (id, state, status, status_at) VALUES ($1, $2::jsonb, $3, $4)
       ON CONFLICT (id) DO UPDATE SET status = excluded.status, status_at = excluded.status_at`,
      [vehicleId, EMPTY_STATE, status, at],
    );
  }

  async listVehicles(page: Page) {
    const result = await this.pool.query<VehicleRow>(
      `SELECT ${VEHICLE_COLUMNS} FROM vehicles WHERE id > $1 ORDER BY id LIMIT $2`,
      [page.after ?? "", page.limit],
    );
    return result.rows.map(vehicleFromRow);
  }

  async getVehicle(id: string) {
    const result = await this.pool.query<VehicleRow>(
      `SELECT ${VEHICLE_COLUMNS} FROM vehicles WHERE id = $1`,
      [id],
    );
    const row = result.rows[0];
    return row ? vehicleFromRow(row) : null;
  }

  async locations(vehicleId: string, range: TimeRange) {
    const result = await this.pool.query<FixRow>(
      `SELECT ${FIX_COLUMNS} FROM fixes
       WHERE vehicle_id = $1 AND ts >= $2 AND ts <= $3
       ORDER BY ts, seq_key, nonce LIMIT $4`,
      [
        vehicleId,
        range.from ?? Number.MIN_SAFE_INTEGER,
        range.to ?? Number.MAX_SAFE_INTEGER,
        range.limit,
      ],
    );
    return result.rows.map(fixFromRow);
  }

  async events(filter: EventFilter) {
    // Fixed fragments, values only as parameters.
    const where: string[] = [];
    const params: (string | number)[] = [];
    const add = (fragment: string, value: string | number) => {
      params.push(value);
      where.push(`${fragment} $${params.length}`);
    };
    if (filter.vehicle_id !== undefined) add("vehicle_id =", filter.vehicle_id);
    if (filter.geofence_id !== undefined) add("geofence_id =", filter.geofence_id);
    if (filter.type !== undefined) add("type =", filter.type);
    if (filter.from !== undefined) add("ts >=", filter.from);
    if (filter.to !== undefined) add("ts <=", filter.to);
    params.push(filter.limit);
    const result = await this.pool.query<EventRow>(
      `SELECT ${EVENT_COLUMNS} FROM events
       ${where.length > 0 ? `WHERE ${where.join(" AND ")}` : ""}
       ORDER BY ts, seqno LIMIT $${params.length}`,
      params,
    );
    return result.rows.map(eventFromRow);
  }

  async undelivered(after: number, limit: number) {
    const result = await this.pool.query<EventRow>(
      `SELECT ${EVENT_COLUMNS} FROM events WHERE NOT delivered AND seqno > $1
       ORDER BY seqno LIMIT $2`,
      [after, limit],
    );
    return result.rows.map((row) => ({ seqno: Number(row.seqno), event: eventFromRow(row) }));
  }

  async markDelivered(seqnos: readonly number[]) {
    if (seqnos.length === 0) return;
    await this.pool.query(
      "UPDATE events SET delivered = true WHERE seqno = ANY($1::bigint[]) AND NOT delivered",
      [seqnos],
    );
  }

  async outboxDepth() {
    const result = await this.pool.query<{ n: number }>(
      "SELECT count(*)::int AS n FROM events WHERE NOT delivered",
    );
    return result.rows[0]?.n ?? 0;
  }

  /**
   * Whether PostGIS finds the geometry valid (ST_IsValidDetail): null when it does, else its
   * reason and where, e.g. "Self-intersection at or near point 1 2".
   */
  async checkGeometry(polygons: MultiPolygonCoords): Promise<string | null> {
    let result: pg.QueryResult<{
      valid: boolean;
      reason: string | null;
      x: number | null;
      y: number | null;
    }>;
    try {
      result = await this.pool.query(
        `SELECT d.valid, d.reason, ST_X(d.location) AS x, ST_Y(d.location) AS y
         FROM ST_IsValidDetail(ST_SetSRID(ST_GeomFromWKB($1), 4326)) AS d`,
        [multiPolygonToWkb(polygons)],
      );
    } catch (err) {
      // PostGIS refusing to read the geometry at all is a verdict on it too; anything else
      // (a lost connection) is not, and is thrown.
      const code = (err as { code?: string }).code ?? "";
      if (code === "XX000" || code.startsWith("22")) return (err as Error).message;
      throw err;
    }
    const row = result.rows[0];
    if (row === undefined || row.valid) return null;
    const where = row.x === null || row.y === null ? "" : ` at or near point ${row.x} ${row.y}`;
    return `${row.reason ?? "invalid geometry"}${where}`;
  }

  async ping() {
    await this.pool.query("SELECT 1");
  }

  async close() {
    if (this.#closed) return;
    this.#closed = true;
    await this.pool.end();
  }
}
