// The SQLite store's rows and how they become records: one place for the column shapes.

import type { GeofenceEvent } from "@locus/protocol";
import { decodeFix, decodeState, type EventColumns, eventFromColumns } from "./codec.ts";
import type { GeofenceRecord, VehicleRecord } from "./store.ts";

export interface GeofenceRow {
  id: string;
  name: string;
  geometry_type: "Polygon" | "MultiPolygon";
  polygons: string;
  properties: string;
  hysteresis_m: number | null;
  max_accuracy_m: number | null;
  dwell_s: number | null;
  created_at: number;
  updated_at: number;
}

export interface EventRow extends EventColumns {
  seqno: number;
}

export interface VehicleRow {
  id: string;
  last_fix: string | null;
  state: string;
  status: "online" | "offline" | "unknown";
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
    created_at: row.created_at,
    updated_at: row.updated_at,
  };
}

export function eventFromRow(row: EventRow): GeofenceEvent {
  return eventFromColumns(row);
}

export function vehicleFromRow(row: VehicleRow): VehicleRecord {
  return {
    id: row.id,
    last_fix: row.last_fix === null ? null : decodeFix(row.last_fix),
    state: decodeState(row.state),
    status: row.status,
  };
}
