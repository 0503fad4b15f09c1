// One group commit on PostgreSQL: one set-based statement, however many fixes, vehicles and
// events it carries.

import { randomInt } from "node:crypto";
import type { Fix, GeofenceEvent } from "@locus/protocol";
import type pg from "pg";
import { encodeFix, encodeState } from "./codec.ts";
import { LOCK_OUTBOX, SCHEMA_KEY } from "./postgres-schema.ts";
import type { GroupCommit, OutboxEvent, VehicleUpdate } from "./store.ts";

/** Attempts of one group commit that hit a deadlock or serialisation failure (another hub). */
const INGEST_ATTEMPTS = 3;

/** A fix as the insert sends it. */
interface FixRowInput {
  fix: Fix;
  seqKey: number;
  nonce: number;
}

function byteOrder(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Retried: another transaction deadlocked with this one, or a serialisation conflict. */
function isRetryable(err: unknown): boolean {
  const code = (err as { code?: string }).code;
  return code === "40P01" || code === "40001";
}

// The whole group commit is one statement, so one round trip and its own transaction: the fixes
// and the vehicles are written by data-modifying CTEs, which run to completion whether or not
// the rest reads them, and the events by the main INSERT, whose RETURNING gives their seqnos. The
// events are joined to the advisory lock, so the lock is held before the first event takes its
// seqno and until the commit: seqnos then become visible in increasing order even when another
// connection writes events, and a publisher reading "after seqno n" never skips one committed
// late.
const COMMIT_GROUP = `
  WITH
  fx AS (
    INSERT INTO fixes (vehicle_id, ts, seq_key, nonce, geom, speed, heading, accuracy, altitude,
      received_at)
    SELECT u.vehicle_id, u.ts, u.seq_key, u.nonce, ST_SetSRID(ST_MakePoint(u.lon, u.lat), 4326),
      u.speed, u.heading, u.accuracy, u.altitude, $11
    FROM unnest($1::text[], $2::bigint[], $3::bigint[], $4::bigint[], $5::float8[], $6::float8[],
      $7::float8[], $8::float8[], $9::float8[], $10::float8[])
      AS u(vehicle_id, ts, seq_key, nonce, lon, lat, speed, heading, accuracy, altitude)
    ON CONFLICT DO NOTHING
  ),
  vh AS (
    -- Sent as text[] and cast per row: measured ~1.5x faster than a jsonb[] parameter.
    INSERT INTO vehicles (id, last_fix, state)
    SELECT u.id, u.last_fix::jsonb, u.state::jsonb
    FROM unnest($12::text[], $13::text[], $14::text[]) AS u(id, last_fix, state)
    ON CONFLICT (id) DO UPDATE SET last_fix = excluded.last_fix, state = excluded.state
  ),
  lk AS (SELECT pg_advisory_xact_lock($24, ${SCHEMA_KEY}))
  INSERT INTO events (id, type, vehicle_id, geofence_id, geofence_name, ts, latitude, longitude,
    detected_at)
  SELECT u.id, u.type, u.vehicle_id, u.geofence_id, u.geofence_name, u.ts, u.latitude,
    u.longitude, u.detected_at
  FROM lk, unnest($15::text[], $16::text[], $17::text[], $18::text[], $19::text[], $20::bigint[],
    $21::float8[], $22::float8[], $23::bigint[]) WITH ORDINALITY
    AS u(id, type, vehicle_id, geofence_id, geofence_name, ts, latitude, longitude, detected_at,
      ord)
  ORDER BY u.ord
  ON CONFLICT (id) DO NOTHING
  RETURNING seqno, id`;

/**
 * Store.commit on PostgreSQL: one statement (see COMMIT_GROUP), whatever the number of fixes,
 * vehicles and events. Retried whole after a deadlock or serialisation failure.
 */
export async function commitGroup(pool: pg.Pool, batch: GroupCommit): Promise<OutboxEvent[]> {
  // Each event id once (the first), in decided order.
  const byId = new Map<string, GeofenceEvent>();
  for (const e of batch.events) if (!byId.has(e.id)) byId.set(e.id, e);
  const values = [
    ...fixColumns(batch.fixes, Date.now()),
    ...vehicleColumns(batch.vehicles),
    ...eventColumns([...byId.values()]),
    LOCK_OUTBOX,
  ];
  for (let attempt = 1; ; attempt++) {
    try {
      const result = await pool.query<{ seqno: string; id: string }>({
        name: "locus_commit_group",
        text: COMMIT_GROUP,
        values,
      });
      const out: OutboxEvent[] = [];
      for (const row of result.rows) {
        const event = byId.get(row.id);
        if (event !== undefined) out.push({ seqno: Number(row.seqno), event });
      }
      return out.sort((a, b) => a.seqno - b.seqno);
    } catch (err) {
      if (attempt >= INGEST_ATTEMPTS || !isRetryable(err)) throw err;
    }
  }
}

/** The fixes as eleven parameters, rows in key order (so overlapping batches lock alike). */
function fixColumns(fixes: readonly Fix[], receivedAt: number): unknown[] {
  const rows: FixRowInput[] = fixes.map((fix) => ({
    fix,
    seqKey: fix.seq ?? -1,
    nonce: fix.ts_given ? 0 : randomInt(1, 2 ** 47),
  }));
  rows.sort(
    (a, b) =>
      byteOrder(a.fix.vehicle_id, b.fix.vehicle_id) ||
      a.fix.ts - b.fix.ts ||
      a.seqKey - b.seqKey ||
      a.nonce - b.nonce,
  );
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
  return [...Object.values(cols), receivedAt];
}

/** One row per vehicle (the last update wins, as when applied one by one), in id order. */
function vehicleColumns(vehicles: readonly VehicleUpdate[]): unknown[] {
  const last = new Map(vehicles.map((v) => [v.vehicle_id, v]));
  const updates = [...last.values()].sort((a, b) => byteOrder(a.vehicle_id, b.vehicle_id));
  return [
    updates.map((v) => v.vehicle_id),
    updates.map((v) => encodeFix(v.last_fix)),
    updates.map((v) => encodeState(v.state)),
  ];
}

function eventColumns(events: readonly GeofenceEvent[]): unknown[] {
  return [
    events.map((e) => e.id),
    events.map((e) => e.type),
    events.map((e) => e.vehicle_id),
    events.map((e) => e.geofence_id),
    events.map((e) => e.geofence_name),
    events.map((e) => Date.parse(e.ts)),
    events.map((e) => e.latitude),
    events.map((e) => e.longitude),
    events.map((e) => Date.parse(e.detected_at)),
  ];
}
