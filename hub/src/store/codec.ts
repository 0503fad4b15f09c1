// How vehicle state and fixes are written into a store's text columns; shared by every store.

import { copyReadings, type Fix, formatTs, type GeofenceEvent } from "@locus/protocol";
import type { LastPosition, Membership, VehicleState } from "../geofence/membership.ts";
import type { VehicleRecord } from "./store.ts";

type StoredMembership = [fenceId: string, enteredAt: number, dwellEmitted: 0 | 1];
type StoredPosition = [longitude: number, latitude: number, accuracy: number | null];

export function encodeState(state: VehicleState): string {
  const inside: StoredMembership[] = [];
  for (const [id, m] of state.inside) inside.push([id, m.entered_at, m.dwell_emitted ? 1 : 0]);
  const p = state.last_position;
  if (p === undefined) return JSON.stringify({ last_ts: state.last_ts, inside });
  const last_position: StoredPosition = [p.longitude, p.latitude, p.accuracy ?? null];
  return JSON.stringify({ last_ts: state.last_ts, inside, last_position });
}

/** Reads a stored state; one written before positions were kept has no `last_position`. */
export function decodeState(text: string): VehicleState {
  const raw = JSON.parse(text) as {
    last_ts: number | null;
    inside: StoredMembership[];
    last_position?: StoredPosition | null;
  };
  const inside = new Map<string, Membership>();
  for (const [id, enteredAt, dwell] of raw.inside) {
    inside.set(id, { entered_at: enteredAt, dwell_emitted: dwell === 1 });
  }
  const state: VehicleState = { last_ts: raw.last_ts, inside };
  const p = raw.last_position;
  if (Array.isArray(p) && typeof p[0] === "number" && typeof p[1] === "number") {
    const last_position: LastPosition = { longitude: p[0], latitude: p[1] };
    if (typeof p[2] === "number") last_position.accuracy = p[2];
    state.last_position = last_position;
  }
  return state;
}

export function encodeFix(fix: Fix): string {
  return JSON.stringify(fix);
}

export function decodeFix(text: string): Fix {
  return JSON.parse(text) as Fix;
}

/** A fix's position and readings as a row holds them: NULL where the fix had none. */
export interface FixReadingColumns {
  latitude: number;
  longitude: number;
  speed: number | null;
  heading: number | null;
  accuracy: number | null;
  altitude: number | null;
}

/** Drops the optional fields a row holds as NULL, so stored fixes compare equal to decoded ones. */
export function fixFromColumns(
  row: FixReadingColumns & {
    vehicle_id: string;
    ts: number;
    seq: number | null;
    ts_given: boolean;
  },
): Fix {
  const fix: Fix = {
    vehicle_id: row.vehicle_id,
    latitude: row.latitude,
    longitude: row.longitude,
    ts: row.ts,
    ts_given: row.ts_given,
  };
  if (row.seq !== null) fix.seq = row.seq;
  return copyReadings(fix, row);
}

/** An event as both stores' rows hold it, with its times as epoch milliseconds. */
export interface EventColumns {
  id: string;
  type: string;
  vehicle_id: string;
  geofence_id: string;
  geofence_name: string;
  ts: number;
  latitude: number;
  longitude: number;
  detected_at: number;
  /** 1/true for an interpolated event; absent from rows read before events could be. */
  interpolated?: number | boolean;
}

export function eventFromColumns(row: EventColumns): GeofenceEvent {
  const event: GeofenceEvent = {
    id: row.id,
    type: row.type as GeofenceEvent["type"],
    vehicle_id: row.vehicle_id,
    geofence_id: row.geofence_id,
    geofence_name: row.geofence_name,
    ts: formatTs(row.ts),
    latitude: row.latitude,
    longitude: row.longitude,
    detected_at: formatTs(row.detected_at),
  };
  if (row.interpolated === 1 || row.interpolated === true) event.interpolated = true;
  return event;
}

/** A vehicle as both stores' rows hold it: its last fix and state as JSON text. */
export interface VehicleRow {
  id: string;
  /** Absent from rows of stores read before vehicles had names. */
  name?: string | null;
  last_fix: string | null;
  state: string;
  status: "online" | "offline" | "unknown";
}

export function vehicleFromRow(row: VehicleRow): VehicleRecord {
  const record: VehicleRecord = {
    id: row.id,
    last_fix: row.last_fix === null ? null : decodeFix(row.last_fix),
    state: decodeState(row.state),
    status: row.status,
  };
  if (typeof row.name === "string") record.name = row.name;
  return record;
}
