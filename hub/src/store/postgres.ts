// The production store: PostgreSQL with PostGIS. Fix positions and geofence shapes are PostGIS
// geometries (SRID 4326), so the geofences table can serve as the spatial index itself
// (PostgisFenceIndex). Vehicle states carry versions that commit checks, and geofence changes are
// announced (NOTIFY) for other hubs on the same database.

import pg from "pg";
import type { MultiPolygonCoords } from "../geofence/fence.ts";
import type { VehicleState } from "../geofence/membership.ts";
import { decodeState, type VehicleRow, vehicleFromRow } from "./codec.ts";
import { idGenerator } from "./ids.ts";
import { PostgresAccounts } from "./postgres-accounts.ts";
import { commitGroup } from "./postgres-ingest.ts";
import { PostgresRetention } from "./postgres-retention.ts";
import {
  EVENT_COLUMNS,
  type EventRow,
  eventFromRow,
  FIX_COLUMNS,
  type FixRow,
  fixFromRow,
  GEOFENCE_COLUMNS,
  type GeofenceRow,
  geofenceFromRow,
  VEHICLE_COLUMNS,
} from "./postgres-rows.ts";
import { migrate } from "./postgres-schema.ts";
import { PostgresWebhooks } from "./postgres-webhooks.ts";
import { multiPolygonToWkb, shapeColumns } from "./postgres-wkb.ts";
import type {
  Committed,
  EventFilter,
  FixKey,
  GeofenceInput,
  GeofenceRecord,
  GroupCommit,
  Page,
  Store,
  TimeRange,
  VersionedState,
} from "./store.ts";

export interface PostgresStoreOptions {
  /** Connections in the pool. Default 10. */
  maxConnections?: number;
}

/** How long to wait for a connection before the operation fails. */
const CONNECT_TIMEOUT_MS = 10_000;
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

/** The Store on PostgreSQL + PostGIS. Open it with openPostgresStore, which migrates the schema. */
export class PostgresStore implements Store {
  readonly kind = "postgres";
  /** The connection pool; PostgisFenceIndex shares it. */
  readonly pool: pg.Pool;
  readonly #newId: (now: number) => string;
  /** MQTT accounts and REST tokens (postgres-accounts.ts). */
  readonly accounts: PostgresAccounts;
  /** Webhooks, their cursors and deliveries logs (postgres-webhooks.ts). */
  readonly webhooks: PostgresWebhooks;
  #closed = false;

  /** Use openPostgresStore: it connects and migrates first. `highestId` is max(geofences.id). */
  constructor(pool: pg.Pool, highestId?: string) {
    this.pool = pool;
    this.#newId = idGenerator(highestId);
    this.accounts = new PostgresAccounts(pool);
    this.webhooks = new PostgresWebhooks(pool);
  }

  async createGeofence(input: GeofenceInput, now: number): Promise<GeofenceRecord> {
    // The geometry goes in as WKB: JSON text made for other stores is of no use here.
    const { polygons_json: _json, ...fields } = input;
    const record: GeofenceRecord = {
      ...fields,
      id: this.#newId(now),
      created_at: now,
      updated_at: now,
      version: 1,
    };
    const shape = shapeColumns(record);
    await this.pool.query(
      `INSERT INTO geofences (id, name, geometry_type, geom, properties, hysteresis_m,
         max_accuracy_m, dwell_s, created_at, updated_at, radius_m, width_m, reach, detect_crossing)
       VALUES ($1, $2, $3, ST_SetSRID(ST_GeomFromWKB($4), 4326), $5::jsonb, $6, $7, $8, $9, $9,
         $10, $11, ST_MakeEnvelope(($12::float8[])[1], ($12::float8[])[2], ($12::float8[])[3], ($12::float8[])[4], 4326), $13)`,
      [
        record.id,
        record.name,
        record.geometry_type,
        shape.wkb,
        JSON.stringify(record.properties),
        record.hysteresis_m,
        record.max_accuracy_m,
        record.dwell_s,
        now,
        shape.radius_m,
        shape.width_m,
        shape.reach,
        record.detect_crossing,
      ],
    );
    return record;
  }

  async replaceGeofence(id: string, input: GeofenceInput, now: number) {
    const shape = shapeColumns(input);
    const result = await this.pool.query<{ created_at: string; version: string }>(
      `UPDATE geofences SET name = $2, geometry_type = $3, geom = ST_SetSRID(ST_GeomFromWKB($4), 4326),
         properties = $5::jsonb, hysteresis_m = $6, max_accuracy_m = $7, dwell_s = $8, updated_at = $9,
         radius_m = $10, width_m = $11, reach = ST_MakeEnvelope(($12::float8[])[1], ($12::float8[])[2], ($12::float8[])[3], ($12::float8[])[4], 4326),
         detect_crossing = $13
       WHERE id = $1
       RETURNING created_at, version`,
      [
        id,
        input.name,
        input.geometry_type,
        shape.wkb,
        JSON.stringify(input.properties),
        input.hysteresis_m,
        input.max_accuracy_m,
        input.dwell_s,
        now,
        shape.radius_m,
        shape.width_m,
        shape.reach,
        input.detect_crossing,
      ],
    );
    const row = result.rows[0];
    if (row === undefined) return null;
    const { polygons_json: _json, ...fields } = input;
    return {
      ...fields,
      id,
      created_at: Number(row.created_at),
      updated_at: now,
      version: Number(row.version),
    };
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

  async newestFixTs(vehicleIds: readonly string[]) {
    const out = new Map<string, number>();
    if (vehicleIds.length === 0) return out;
    // One index probe per vehicle (fixes' key starts with vehicle_id, ts).
    const result = await this.pool.query<{ id: string; ts: string }>({
      name: "locus_newest_fix_ts",
      text: `SELECT v.id, (SELECT max(ts) FROM fixes f WHERE f.vehicle_id = v.id) AS ts
             FROM unnest($1::text[]) AS v(id)`,
      values: [vehicleIds],
    });
    for (const row of result.rows) if (row.ts !== null) out.set(row.id, Number(row.ts));
    return out;
  }

  async storedFixes(keys: readonly FixKey[]) {
    if (keys.length === 0) return [];
    const result = await this.pool.query<{ i: number }>({
      name: "locus_stored_fixes",
      text: `SELECT k.i::int AS i
             FROM unnest($1::text[], $2::bigint[], $3::bigint[]) WITH ORDINALITY AS k(v, ts, seq, i)
             WHERE EXISTS (SELECT 1 FROM fixes f WHERE f.vehicle_id = k.v AND f.ts = k.ts
               AND f.seq_key = k.seq AND f.nonce = 0)`,
      values: [keys.map((k) => k.vehicle_id), keys.map((k) => k.ts), keys.map((k) => k.seq ?? -1)],
    });
    const stored = keys.map(() => false);
    for (const row of result.rows) stored[row.i - 1] = true;
    return stored;
  }

  /** One transaction; see postgres-ingest.ts. Committed means durable here. */
  async commit(batch: GroupCommit): Promise<Committed> {
    return { events: await commitGroup(this.pool, batch), durable: Promise.resolve() };
  }

  async vehicleStates() {
    const result = await this.pool.query<{ id: string; state: string }>(
      "SELECT id, state::text AS state FROM vehicles",
    );
    const states = new Map<string, VehicleState>();
    for (const row of result.rows) states.set(row.id, decodeState(row.state));
    return states;
  }

  async versionedStates(ids?: readonly string[]) {
    const result =
      ids === undefined
        ? await this.pool.query<{ id: string; state: string; version: string }>(
            "SELECT id, state::text AS state, version FROM vehicles",
          )
        : await this.pool.query<{ id: string; state: string; version: string }>({
            name: "locus_versioned_states",
            text: `SELECT id, state::text AS state, version FROM vehicles
                   WHERE id = ANY($1::text[])`,
            values: [ids],
          });
    const states = new Map<string, VersionedState>();
    for (const row of result.rows) {
      states.set(row.id, { state: decodeState(row.state), version: Number(row.version) });
    }
    return states;
  }

  async vehiclesInside(geofenceId: string) {
    // A membership is [geofence id, entered at, dwell emitted] (codec.ts).
    const result = await this.pool.query<{ id: string }>({
      name: "locus_vehicles_inside",
      text: `SELECT id FROM vehicles
             WHERE EXISTS (SELECT 1 FROM jsonb_array_elements(state -> 'inside') AS m
                           WHERE m ->> 0 = $1)
             ORDER BY id COLLATE "C"`,
      values: [geofenceId],
    });
    return result.rows.map((r) => r.id);
  }

  async claimPartition(partition: number, owner: string) {
    // The token is the stored one plus one: every claim's is higher than any before it, whoever
    // handed out the lease, so the previous owner's commits fail from this one's on.
    const result = await this.pool.query<{ token: string; committed_seq: string }>({
      name: "locus_claim_partition",
      text: `INSERT INTO partition_claims (partition, token, owner, claimed_at)
             VALUES ($1, 1, $2, $3)
             ON CONFLICT (partition) DO UPDATE SET token = partition_claims.token + 1,
               owner = excluded.owner, claimed_at = excluded.claimed_at, follows = 0
             RETURNING token, committed_seq`,
      values: [partition, owner, Date.now()],
    });
    const row = result.rows[0];
    if (row === undefined) throw new Error(`claiming partition ${partition} returned no row`);
    return { token: Number(row.token), committedSeq: Number(row.committed_seq) };
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

  // --- end of accounts and tokens ---

  async ping() {
    await this.pool.query("SELECT 1");
  }

  async close() {
    if (this.#closed) return;
    this.#closed = true;
    await this.pool.end();
  }

  // Retention, kept at the end of the class.

  #retention: PostgresRetention | null = null;

  async deleteOlderThan(before: number, limit: number): Promise<number> {
    this.#retention ??= new PostgresRetention(this.pool);
    return this.#retention.deleteOlderThan(before, limit);
  }
}
