// The page's model of the fleet: vehicles and geofences as the stream last described them.
// Pure: no DOM, no map, no clock (callers pass the time), so it is tested on its own.

import type {
  Fix,
  GeofenceEvent,
  GeofenceFeature,
  ShownStatus,
  StreamMessage,
  Vehicle,
} from "./types.ts";

/** Used when the hub does not say: a vehicle silent this long is shown as stale. */
export const DEFAULT_STALE_AFTER_S = 300;

/**
 * offline when the agent said so; stale when its newest fix is too old (or none); else online.
 * `fixMs` is the newest fix's time when the caller has it parsed already.
 */
export function shownStatus(
  vehicle: Vehicle,
  nowMs: number,
  staleAfterS: number,
  fixMs?: number,
): ShownStatus {
  if (vehicle.status === "offline") return "offline";
  const fix = vehicle.last_fix;
  if (!fix) return "stale";
  const ts = fixMs ?? Date.parse(fix.ts);
  if (!Number.isFinite(ts) || nowMs - ts > staleAfterS * 1000) return "stale";
  return "online";
}

/** Which vehicles a message touched: the lists and the map layer update only those. */
export interface FleetChange {
  /** Vehicles whose fix, status or memberships changed (including new ones). */
  vehicles: Set<string>;
  /** Geofences added, replaced or deleted. */
  geofences: Set<string>;
  /** Everything was replaced (a snapshot). */
  reset: boolean;
}

function isGeofence(feature: unknown): feature is GeofenceFeature {
  const f = feature as GeofenceFeature | null;
  return typeof f?.id === "string" && typeof f.properties?.name === "string" && !!f.geometry;
}

export class Fleet {
  readonly vehicles = new Map<string, Vehicle>();
  /** Each vehicle's newest fix time, ms: parsed once, compared and judged many times. */
  private readonly fixMs = new Map<string, number>();
  readonly geofences = new Map<string, GeofenceFeature>();
  staleAfterS = DEFAULT_STALE_AFTER_S;

  /** Applies one stream message (events are applied to memberships only; the feed shows them). */
  apply(message: StreamMessage): FleetChange {
    const change: FleetChange = { vehicles: new Set(), geofences: new Set(), reset: false };
    switch (message.type) {
      case "snapshot":
        this.vehicles.clear();
        this.geofences.clear();
        for (const v of message.vehicles)
          this.vehicles.set(v.id, { ...v, geofences: [...v.geofences] });
        for (const g of message.geofences.features) if (isGeofence(g)) this.geofences.set(g.id, g);
        if (typeof message.stale_after_s === "number" && message.stale_after_s > 0) {
          this.staleAfterS = message.stale_after_s;
        }
        change.reset = true;
        break;
      case "fixes":
        for (const fix of message.fixes)
          if (this.applyFix(fix)) change.vehicles.add(fix.vehicle_id ?? "");
        break;
      case "status": {
        const v = this.vehicle(message.vehicle_id);
        if (v.status !== message.status) {
          v.status = message.status;
          change.vehicles.add(v.id);
        }
        break;
      }
      case "event":
        if (this.applyEvent(message.event)) change.vehicles.add(message.event.vehicle_id);
        break;
      case "geofence":
        if (message.op === "upsert") {
          if (isGeofence(message.geofence))
            this.geofences.set(message.geofence.id, message.geofence);
          change.geofences.add(message.geofence.id);
        } else {
          this.geofences.delete(message.id);
          change.geofences.add(message.id);
          // Memberships of a deleted geofence are no longer shown (as the REST API does).
          for (const v of this.vehicles.values()) {
            const i = v.geofences.indexOf(message.id);
            if (i >= 0) {
              v.geofences.splice(i, 1);
              change.vehicles.add(v.id);
            }
          }
        }
        break;
    }
    change.vehicles.delete("");
    return change;
  }

  /** A vehicle's status as the map shows it at `nowMs`. */
  statusOf(vehicle: Vehicle, nowMs: number): ShownStatus {
    return shownStatus(vehicle, nowMs, this.staleAfterS, this.fixMs.get(vehicle.id));
  }

  /**
   * Takes the hub's answer to who is inside a geofence (GET /api/v1/geofences/{id}/vehicles) as
   * the truth for that geofence; enter and exit events keep it current from there.
   */
  setInside(geofenceId: string, vehicleIds: string[]): Set<string> {
    const inside = new Set(vehicleIds);
    const changed = new Set<string>();
    for (const id of inside) {
      const v = this.vehicle(id);
      if (!v.geofences.includes(geofenceId)) {
        v.geofences.push(geofenceId);
        v.geofences.sort();
        changed.add(id);
      }
    }
    for (const v of this.vehicles.values()) {
      const i = v.geofences.indexOf(geofenceId);
      if (i >= 0 && !inside.has(v.id)) {
        v.geofences.splice(i, 1);
        changed.add(v.id);
      }
    }
    return changed;
  }

  /** The ids of the vehicles inside a geofence now, sorted. */
  inside(geofenceId: string): string[] {
    const ids: string[] = [];
    for (const v of this.vehicles.values()) if (v.geofences.includes(geofenceId)) ids.push(v.id);
    return ids.sort();
  }

  private vehicle(id: string): Vehicle {
    let v = this.vehicles.get(id);
    if (!v) {
      v = { id, last_fix: null, geofences: [], status: "unknown" };
      this.vehicles.set(id, v);
    }
    return v;
  }

  /** Keeps the newest fix: one that arrives late (older than the one shown) changes nothing. */
  private applyFix(fix: Fix): boolean {
    if (typeof fix.vehicle_id !== "string" || fix.vehicle_id === "") return false;
    const v = this.vehicle(fix.vehicle_id);
    const ms = Date.parse(fix.ts);
    if ((this.fixMs.get(v.id) ?? Number.NEGATIVE_INFINITY) > ms) return false;
    v.last_fix = fix;
    this.fixMs.set(v.id, ms);
    return true;
  }

  private applyEvent(event: GeofenceEvent): boolean {
    const v = this.vehicle(event.vehicle_id);
    const i = v.geofences.indexOf(event.geofence_id);
    if (event.type === "enter" && i < 0) {
      v.geofences.push(event.geofence_id);
      v.geofences.sort();
      return true;
    }
    if (event.type === "exit" && i >= 0) {
      v.geofences.splice(i, 1);
      return true;
    }
    return false;
  }
}
