// How the PostgreSQL store's rows read back as the hub's objects: the columns each query selects
// (geometry as WKB or coordinates, bigint as text, jsonb as text) and the conversions.

import type { Fix, GeofenceEvent } from "@locus/protocol";
import { eventFromColumns, type FixReadingColumns, fixFromColumns } from "./codec.ts";
import { wkbToMultiPolygon, wkbToPositions } from "./postgres-wkb.ts";
import type { GeofenceRecord, GeometryType } from "./store.ts";

export interface GeofenceRow {
  id: string;
  name: string;
  geometry_type: GeometryType;
  wkb: Buffer;
  radius_m: number | null;
  width_m: number | null;
  properties: Record<string, unknown>;
  hysteresis_m: number | null;
  max_accuracy_m: number | null;
  dwell_s: number | null;
  detect_crossing: boolean;
  created_at: string;
  updated_at: string;
  version: string;
}

export interface FixRow extends FixReadingColumns {
  vehicle_id: string;
  ts: string;
  seq_key: string;
  nonce: string;
}

export interface EventRow {
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
  interpolated: boolean;
}

export const GEOFENCE_COLUMNS = `id, name, geometry_type, ST_AsBinary(geom) AS wkb, radius_m,
  width_m, properties, hysteresis_m, max_accuracy_m, dwell_s, detect_crossing, created_at, updated_at,
  version`;
export const FIX_COLUMNS = `vehicle_id, ts, seq_key, nonce, ST_Y(geom) AS latitude, ST_X(geom) AS longitude,
  speed, heading, accuracy, altitude`;
export const EVENT_COLUMNS = `seqno, id, type, vehicle_id, geofence_id, geofence_name, ts, latitude,
  longitude, detected_at, interpolated`;
export const VEHICLE_COLUMNS = "id, name, last_fix::text AS last_fix, state::text AS state, status";

export function geofenceFromRow(row: GeofenceRow): GeofenceRecord {
  const shape: Pick<GeofenceRecord, "polygons" | "circle" | "corridor"> = { polygons: [] };
  if (row.geometry_type === "Point") {
    const [center] = wkbToPositions(row.wkb);
    if (center === undefined || row.radius_m === null)
      throw new Error(`circle ${row.id} is incomplete`);
    shape.circle = { center, radius_m: row.radius_m };
  } else if (row.geometry_type === "LineString") {
    if (row.width_m === null) throw new Error(`corridor ${row.id} has no width`);
    shape.corridor = { line: wkbToPositions(row.wkb), width_m: row.width_m };
  } else {
    shape.polygons = wkbToMultiPolygon(row.wkb);
  }
  return {
    id: row.id,
    name: row.name,
    geometry_type: row.geometry_type,
    ...shape,
    properties: row.properties,
    hysteresis_m: row.hysteresis_m,
    max_accuracy_m: row.max_accuracy_m,
    dwell_s: row.dwell_s,
    detect_crossing: row.detect_crossing,
    created_at: Number(row.created_at),
    updated_at: Number(row.updated_at),
    version: Number(row.version),
  };
}

export function fixFromRow(row: FixRow): Fix {
  const seq = Number(row.seq_key);
  return fixFromColumns({
    ...row,
    ts: Number(row.ts),
    seq: seq < 0 ? null : seq,
    ts_given: row.nonce === "0",
  });
}

export function eventFromRow(row: EventRow): GeofenceEvent {
  // bigint columns arrive as text.
  return eventFromColumns({ ...row, ts: Number(row.ts), detected_at: Number(row.detected_at) });
}
