// The SQLite store's rows and how they become records: one place for the column shapes.

import type { EventColumns } from "./codec.ts";
import type { GeofenceRecord } from "./store.ts";

export interface GeofenceRow {
  id: string;
  name: string;
  geometry_type: "Polygon" | "MultiPolygon";
  polygons: string;
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
  return {
    id: row.id,
    name: row.name,
    geometry_type: row.geometry_type,
    polygons: JSON.parse(row.polygons),
    properties: JSON.parse(row.properties),
    hysteresis_m: row.hysteresis_m,
    max_accuracy_m: row.max_accuracy_m,
    dwell_s: row.dwell_s,
    detect_crossing: row.detect_crossing === 1,
    created_at: row.created_at,
    updated_at: row.updated_at,
  };
}
