// The SQLite store's rows and how they become records: one place for the column shapes.

import type { EventColumns } from "./codec.ts";
import type { GeofenceRecord, GeometryType } from "./store.ts";

export interface GeofenceRow {
  id: string;
  name: string;
  geometry_type: GeometryType;
  /** The coordinates as JSON: polygons, a circle's centre or a corridor's line. */
  polygons: string;
  radius_m: number | null;
  width_m: number | null;
  properties: string;
  hysteresis_m: number | null;
  max_accuracy_m: number | null;
  dwell_s: number | null;
  /** 0 or 1. */
  detect_crossing: number;
  created_at: number;
  updated_at: number;
}

export interface EventRow extends EventColumns {
  seqno: number;
}

export function geofenceFromRow(row: GeofenceRow): GeofenceRecord {
  const coordinates = JSON.parse(row.polygons);
  const shape: Pick<GeofenceRecord, "polygons" | "circle" | "corridor"> = { polygons: [] };
  if (row.geometry_type === "Point") {
    if (row.radius_m === null) throw new Error(`circle ${row.id} has no radius`);
    shape.circle = { center: coordinates, radius_m: row.radius_m };
  } else if (row.geometry_type === "LineString") {
    if (row.width_m === null) throw new Error(`corridor ${row.id} has no width`);
    shape.corridor = { line: coordinates, width_m: row.width_m };
  } else {
    shape.polygons = coordinates;
  }
  return {
    id: row.id,
    name: row.name,
    geometry_type: row.geometry_type,
    ...shape,
    properties: JSON.parse(row.properties),
    hysteresis_m: row.hysteresis_m,
    max_accuracy_m: row.max_accuracy_m,
    dwell_s: row.dwell_s,
    detect_crossing: row.detect_crossing === 1,
    created_at: row.created_at,
    updated_at: row.updated_at,
  };
}
