// One group commit on PostgreSQL: one set-based statement, however many fixes, vehicles and
// events it carries.

import { randomInt } from "node:crypto";
import type { Fix, GeofenceEvent } from "@locus/protocol";
import type pg from "pg";
import { encodeFix, encodeState } from "./codec.ts";
import { LOCK_OUTBOX, SCHEMA_KEY } from "./postgres-schema.ts";
import {
  Fenced,
  type GroupCommit,
  type OutboxEvent,
  type PartitionClaim,
  PartitionGap,
  StateConflict,
  type VehicleUpdate,
} from "./store.ts";

/** SQLSTATE of the vehicles trigger that refuses a state judged from an older version. */
const STATE_CONFLICT_CODE = "LC409";
/** SQLSTATE of the partition_claims trigger that refuses a lower fencing token (migration 8). */
export const FENCED_CODE = "LC410";
/** SQLSTATE of the partition_claims trigger that refuses messages after uncommitted ones. */
const GAP_CODE = "LC411";

/** Attempts of one group commit that hit a deadlock or serialisation failure (another hub). */
const INGEST_ATTEMPTS = 3;

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
// Fixes and vehicles go as one JSON parameter each, read by json_to_recordset: JSON.stringify
// is native, where a text[] parameter is escaped element by element in JavaScript (measured: pg's
// array serialisation was a tenth of the hub's CPU per fix). Numbers survive exactly: JSON
// carries the shortest decimal that reads back as the same double. Fixes are inserted in key
// order, sorted by the server, so two transactions storing overlapping batches lock alike.
// Each vehicle row is written as version base + 1, base being the version of the state it was
// judged from; the vehicles trigger (migration 3) refuses it when the stored version is another,
// and the whole statement fails with SQLSTATE LC409. Rows without a base (tools, tests) are
// written whatever is stored. The vehicles' JSON is read once (uv) for both. With several hubs on
// the engine, the partitions carried are written with this hub's fencing tokens (pc); the
// partition_claims trigger (migration 8) fails the statement with SQLSTATE LC410 when another
// hub has claimed one under a higher token.
const COMMIT_GROUP = `
  WITH
  fx AS (
    INSERT INTO fixes (vehicle_id, ts, seq_key, nonce, geom, speed, heading, accuracy, altitude,
      received_at)
    SELECT u.v, u.t, u.s, u.n, ST_SetSRID(ST_MakePoint(u.x, u.y), 4326), u.sp, u.hd, u.ac, u.al,
      $2
    FROM json_to_recordset($1::json) AS u(v text, t bigint, s bigint, n bigint, x float8,
      y float8, sp float8, hd float8, ac float8, al float8)
    ORDER BY u.v COLLATE "C", u.t, u.s, u.n
    ON CONFLICT DO NOTHING
  ),
  uv AS MATERIALIZED (
    SELECT * FROM json_to_recordset($3::json)
      AS u(id text, last_fix jsonb, state jsonb, base bigint)
  ),
  vh AS (
    INSERT INTO vehicles (id, last_fix, state, version)
    SELECT u.id, u.last_fix, u.state, u.base + 1 FROM uv AS u
    WHERE u.base IS NOT NULL
    ORDER BY u.id COLLATE "C"
    ON CONFLICT (id) DO UPDATE SET last_fix = excluded.last_fix, state = excluded.state,
      version = excluded.version
  ),
  vu AS (
    INSERT INTO vehicles (id, last_fix, state, version)
    SELECT u.id, u.last_fix, u.state, 1 FROM uv AS u
    WHERE u.base IS NULL
    ORDER BY u.id COLLATE "C"
    ON CONFLICT (id) DO UPDATE SET last_fix = excluded.last_fix, state = excluded.state,
      version = vehicles.version + 1
  ),
  pc AS (
    INSERT INTO partition_claims (partition, token, owner, claimed_at, committed_seq, follows)
    SELECT c.p, c.t, c.o, $2, c.s, c.f
    FROM json_to_recordset($15::json) AS c(p integer, t bigint, o text, s bigint, f bigint)
    ORDER BY c.p
    ON CONFLICT (partition) DO UPDATE SET token = excluded.token, owner = excluded.owner,
      claimed_at = excluded.claimed_at, follows = excluded.follows,
      committed_seq = greatest(partition_claims.committed_seq, excluded.committed_seq)
  ),
  lk AS (SELECT pg_advisory_xact_lock($13, ${SCHEMA_KEY}))
  INSERT INTO events (id, type, vehicle_id, geofence_id, geofence_name, ts, latitude, longitude,
    detected_at, interpolated)
  SELECT u.id, u.type, u.vehicle_id, u.geofence_id, u.geofence_name, u.ts, u.latitude,
    u.longitude, u.detected_at, u.interpolated
  FROM lk, unnest($4::text[], $5::text[], $6::text[], $7::text[], $8::text[], $9::bigint[],
    $10::float8[], $11::float8[], $12::bigint[], $14::boolean[]) WITH ORDINALITY
    AS u(id, type, vehicle_id, geofence_id, geofence_name, ts, latitude, longitude, detected_at,
      interpolated, ord)
  ORDER BY u.ord
  ON CONFLICT (id) DO NOTHING
  RETURNING seqno, id`;

/**
 * Store.commit on PostgreSQL: one statement (see COMMIT_GROUP), whatever the number of fixes,
 * vehicles and events. Retried whole after a deadlock or serialisation failure. Throws
 * StateConflict, with nothing written, when a vehicle's stored state version is not the one its
 * update was judged from (another hub wrote it since).
 */
export async function commitGroup(pool: pg.Pool, batch: GroupCommit): Promise<OutboxEvent[]> {
  // Each event id once (the first), in decided order.
  const byId = new Map<string, GeofenceEvent>();
  for (const e of batch.events) if (!byId.has(e.id)) byId.set(e.id, e);
  const values = [
    fixesJson(batch.fixes),
    Date.now(),
    vehiclesJson(batch.vehicles),
    ...eventColumns([...byId.values()]),
    LOCK_OUTBOX,
    [...byId.values()].map((e) => e.interpolated === true),
    claimsJson(batch.claims ?? []),
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
      if ((err as { code?: string }).code === STATE_CONFLICT_CODE) {
        throw new StateConflict((err as { detail?: string }).detail ?? "", { cause: err });
      }
      if ((err as { code?: string }).code === FENCED_CODE) {
        throw new Fenced(Number((err as { detail?: string }).detail), { cause: err });
      }
      if ((err as { code?: string }).code === GAP_CODE) {
        throw new PartitionGap(Number((err as { detail?: string }).detail), { cause: err });
      }
      if (attempt >= INGEST_ATTEMPTS || !isRetryable(err)) throw err;
    }
  }
}

/** The fixes as the JSON array COMMIT_GROUP reads (absent readings are null there). */
function fixesJson(fixes: readonly Fix[]): string {
  return JSON.stringify(
    fixes.map((fix) => ({
      v: fix.vehicle_id,
      t: fix.ts,
      s: fix.seq ?? -1,
      // A fix without its own ts gets a random nonce: it never collides, not even with itself.
      n: fix.ts_given ? 0 : randomInt(1, 2 ** 47),
      x: fix.longitude,
      y: fix.latitude,
      sp: fix.speed,
      hd: fix.heading,
      ac: fix.accuracy,
      al: fix.altitude,
    })),
  );
}

/**
 * One row per partition, under the highest token given for it, the highest stream sequence and
 * the lowest sequence followed, as a JSON array.
 */
function claimsJson(claims: readonly PartitionClaim[]): string {
  const rows = new Map<number, { p: number; t: number; o: string; s: number; f: number }>();
  for (const c of claims) {
    const row = rows.get(c.partition);
    const [seq, follows] = [c.seq ?? 0, c.follows ?? 0];
    if (row === undefined) {
      rows.set(c.partition, { p: c.partition, t: c.token, o: c.owner, s: seq, f: follows });
    } else {
      if (c.token > row.t) Object.assign(row, { t: c.token, o: c.owner });
      row.s = Math.max(row.s, seq);
      row.f = Math.min(row.f, follows);
    }
  }
  return JSON.stringify([...rows.values()]);
}

/** One row per vehicle (the last update wins, as when applied one by one), as a JSON array. */
function vehiclesJson(vehicles: readonly VehicleUpdate[]): string {
  const last = new Map(vehicles.map((v) => [v.vehicle_id, v]));
  const rows: string[] = [];
  for (const v of last.values()) {
    // encodeFix and encodeState give JSON already: spliced in, not encoded twice.
    const base = v.base_version === undefined ? "null" : String(v.base_version);
    rows.push(
      `{"id":${JSON.stringify(v.vehicle_id)},"last_fix":${encodeFix(v.last_fix)},"state":${encodeState(v.state)},"base":${base}}`,
    );
  }
  return `[${rows.join(",")}]`;
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
