// One group commit on PostgreSQL: a handful of set-based statements per transaction, however many
// fixes, vehicles and events it carries.

import { randomInt } from "node:crypto";
import type { Fix, GeofenceEvent } from "@locus/protocol";
import type pg from "pg";
import { encodeFix, encodeState } from "./codec.ts";
import { LOCK_OUTBOX, SCHEMA_KEY } from "./postgres-schema.ts";
import type { Decide, Decision, IngestResult, OutboxEvent } from "./store.ts";

/** Attempts of one group commit that hit a deadlock or serialisation failure (another hub). */
const INGEST_ATTEMPTS = 3;

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

/**
 * Store.ingest on PostgreSQL, in one transaction: all fixes in one INSERT … SELECT FROM unnest …
 * ON CONFLICT DO NOTHING whose RETURNING tells which were new; then `decide`; then one upsert for
 * the vehicles and one insert for the events. Retried whole after a deadlock with another hub.
 */
export async function ingestGroupCommit(
  pool: pg.Pool,
  fixes: readonly Fix[],
  decide: Decide,
): Promise<IngestResult> {
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
    const client = await pool.connect();
    try {
      await client.query("BEGIN");
      const inserted = await insertFixes(client, sorted, receivedAt);
      const fresh = order.filter((f) => inserted.has(f.key)).map((f) => f.fix);
      const decision = decide(fresh);
      await upsertVehicles(client, decision);
      const events = await insertEvents(client, decision);
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

async function insertFixes(
  client: pg.PoolClient,
  rows: readonly FixIdentity[],
  receivedAt: number,
) {
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

async function upsertVehicles(client: pg.PoolClient, decision: Decision): Promise<void> {
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

async function insertEvents(client: pg.PoolClient, decision: Decision): Promise<OutboxEvent[]> {
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
