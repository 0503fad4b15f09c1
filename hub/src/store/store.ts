// The hub's storage interface: geofences, fixes, vehicle state and the event outbox.
// SQLite implements it for the embedded hub; PostgreSQL for production. One contract suite tests both.

import type { Fix, GeofenceEvent } from "@locus/protocol";
import type { MultiPolygonCoords } from "../geofence/fence.ts";
import type { VehicleState } from "../geofence/membership.ts";

/** A geofence as stored: the validated geometry plus what the API returns. */
export interface GeofenceRecord {
  id: string;
  name: string;
  /** The geometry type the client sent; a Polygon is stored as a MultiPolygon of one. */
  geometry_type: "Polygon" | "MultiPolygon";
  polygons: MultiPolygonCoords;
  /** The Feature's other properties, kept as sent (jitter settings included). */
  properties: Record<string, unknown>;
  hysteresis_m: number | null;
  max_accuracy_m: number | null;
  dwell_s: number | null;
  created_at: number;
  updated_at: number;
}

export type GeofenceInput = Omit<GeofenceRecord, "id" | "created_at" | "updated_at">;

/** A vehicle's judged state and newest applied fix, written in the same transaction as its fixes. */
export interface VehicleUpdate {
  vehicle_id: string;
  state: VehicleState;
  last_fix: Fix;
}

/** What the engine decided about the fixes of one group commit that were not duplicates. */
export interface Decision {
  vehicles: VehicleUpdate[];
  events: GeofenceEvent[];
}

/**
 * Called inside the ingest transaction with the fixes that were new (duplicates removed), in
 * arrival order. Must be pure: when the transaction fails, its result is thrown away, and a store
 * that retries a transaction may call it again; only the last call's result is written.
 */
export type Decide = (fresh: readonly Fix[]) => Decision;

export interface IngestResult {
  /** Fixes stored by this call. */
  stored: number;
  /** Fixes that were already stored (redeliveries). */
  duplicates: number;
  /** The events written to the outbox, with their outbox positions, in order. */
  events: OutboxEvent[];
}

export interface OutboxEvent {
  /** Position in the outbox: publication order. */
  seqno: number;
  event: GeofenceEvent;
}

export interface VehicleRecord {
  id: string;
  last_fix: Fix | null;
  state: VehicleState;
  status: "online" | "offline" | "unknown";
}

export interface Page {
  limit: number;
  /** Return items strictly after this id (ids sort in creation order). */
  after?: string;
}

export interface TimeRange {
  from?: number;
  to?: number;
  limit: number;
}

export interface EventFilter extends TimeRange {
  vehicle_id?: string;
  geofence_id?: string;
  type?: string;
}

export interface Store {
  /** "sqlite" or "postgres": shown by health and metrics. */
  readonly kind: string;

  createGeofence(input: GeofenceInput, now: number): Promise<GeofenceRecord>;
  /** null when there is no geofence with this id. */
  replaceGeofence(id: string, input: GeofenceInput, now: number): Promise<GeofenceRecord | null>;
  deleteGeofence(id: string): Promise<boolean>;
  getGeofence(id: string): Promise<GeofenceRecord | null>;
  listGeofences(page: Page): Promise<GeofenceRecord[]>;
  /** Every geofence, to load the index at start. */
  allGeofences(): Promise<GeofenceRecord[]>;

  /**
   * One group commit: store the fixes (duplicates by vehicle_id, ts and seq are skipped), then
   * write what `decide` returns for the new ones (vehicle state and outbox events), atomically.
   * Resolves once the commit is durable. `committed`, when given, runs as soon as the transaction
   * has committed, which may be before it is durable: from then on later transactions see it
   * (a store whose durability comes after the commit, such as SQLite's, lets the next group
   * commit be written while this one reaches the disk).
   */
  ingest(fixes: readonly Fix[], decide: Decide, committed?: () => void): Promise<IngestResult>;
  /** Every vehicle's judged state, to warm the engine at start. */
  vehicleStates(): Promise<Map<string, VehicleState>>;
  setVehicleStatus(vehicleId: string, status: "online" | "offline", at: number): Promise<void>;

  listVehicles(page: Page): Promise<VehicleRecord[]>;
  getVehicle(id: string): Promise<VehicleRecord | null>;
  /** A vehicle's fixes in ts order within [from, to]. */
  locations(vehicleId: string, range: TimeRange): Promise<Fix[]>;
  /** Stored events in ts order (then outbox order). */
  events(filter: EventFilter): Promise<GeofenceEvent[]>;

  /** The oldest undelivered outbox events after seqno `after`, in outbox order. */
  undelivered(after: number, limit: number): Promise<OutboxEvent[]>;
  markDelivered(seqnos: readonly number[]): Promise<void>;
  outboxDepth(): Promise<number>;

  /**
   * Optional second opinion on a geometry that passed validateGeometry, from the database that
   * will hold it (PostGIS ST_IsValidDetail): null when valid, else the reason, to answer 400 with.
   */
  checkGeometry?(polygons: MultiPolygonCoords): Promise<string | null>;

  /** Throws when the store cannot be reached. */
  ping(): Promise<void>;
  close(): Promise<void>;
}
