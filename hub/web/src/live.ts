// The live view: applies each stream message to the fleet model, then hands what changed to the
// map layers, the lists and the details panel, and keeps the selection.

import type { Map as MapLibreMap } from "maplibre-gl";
import maplibregl from "maplibre-gl";
import type { DetailsPanel } from "./details.ts";
import type { EventFeed } from "./event-feed.ts";
import type { Fleet } from "./fleet.ts";
import type { GeofenceList } from "./geofence-list.ts";
import type { GeofencesLayer } from "./geofences-layer.ts";
import { displayGeometry } from "./shape-display.ts";
import type { StreamMessage, Vehicle } from "./types.ts";
import type { VehicleList } from "./vehicle-list.ts";
import type { VehiclesLayer } from "./vehicles-layer.ts";

export interface LocusStats {
  updates: number;
  vehicles: number;
}

export interface LiveParts {
  map: MapLibreMap;
  fleet: Fleet;
  vehicles: VehiclesLayer;
  geofences: GeofencesLayer;
  vehicleList: VehicleList;
  geofenceList: GeofenceList;
  feed: EventFeed;
  details: DetailsPanel;
  stats: LocusStats;
}

export class LiveView {
  private fitted = false;

  constructor(private readonly p: LiveParts) {}

  readonly statusOf = (v: Vehicle) => this.p.fleet.statusOf(v, Date.now());

  /** Applies one message and hands what changed to the map, the lists and the details. */
  apply(message: StreamMessage, receivedAt: number): void {
    const { fleet, vehicles, geofences, vehicleList, geofenceList, feed, details, stats } = this.p;
    const change = fleet.apply(message);
    switch (message.type) {
      case "snapshot":
        vehicles.reset(fleet.vehicles.values(), this.statusOf);
        geofences.render(fleet.geofences.values());
        vehicleList.render(true);
        geofenceList.render();
        if (!this.fitted) this.fitToFleet();
        this.fitted = true;
        break;
      case "fixes": {
        const changed = [...change.vehicles].flatMap((id) => fleet.vehicles.get(id) ?? []);
        vehicles.update(changed, this.statusOf);
        vehicleList.update(change.vehicles, fleet.vehicles);
        for (const fix of message.fixes) details.newFix(fix);
        stats.updates++;
        performance.measure("locus:apply-fixes", { start: receivedAt, end: performance.now() });
        break;
      }
      case "status": {
        const v = fleet.vehicles.get(message.vehicle_id);
        if (v) vehicles.update([v], this.statusOf);
        vehicleList.update(change.vehicles, fleet.vehicles);
        break;
      }
      case "event":
        feed.add(message.event);
        geofences.flash(message.event.geofence_id);
        vehicleList.update(change.vehicles, fleet.vehicles);
        geofenceList.render();
        break;
      case "geofence":
        geofences.render(fleet.geofences.values());
        geofenceList.render();
        if (message.op === "delete" && details.current?.id === message.id) this.select(null);
        break;
    }
    stats.vehicles = fleet.vehicles.size;
    const sel = details.current;
    if (
      change.reset ||
      (sel?.kind === "vehicle" && change.vehicles.has(sel.id)) ||
      (sel?.kind === "geofence" && (change.geofences.has(sel.id) || change.vehicles.size > 0))
    ) {
      details.refresh();
    }
  }

  /** Memberships were corrected from the hub: the geofence list's counts follow. */
  membershipsChanged(): void {
    this.p.geofenceList.render();
  }

  /** Re-judges stale vehicles as time passes (no message comes when a vehicle falls silent). */
  tick(): void {
    this.p.vehicles.update(this.p.fleet.vehicles.values(), this.statusOf);
    this.p.vehicleList.tick();
    this.p.details.refresh();
  }

  select(selection: { kind: "vehicle" | "geofence"; id: string } | null, fly = false): void {
    const { vehicles, geofences, vehicleList, geofenceList, details, fleet, map } = this.p;
    details.show(selection);
    vehicles.highlight(selection?.kind === "vehicle" ? selection.id : null);
    vehicleList.highlight(selection?.kind === "vehicle" ? selection.id : null);
    geofences.highlight(selection?.kind === "geofence" ? selection.id : null);
    geofenceList.highlight(selection?.kind === "geofence" ? selection.id : null);
    if (!fly || !selection) return;
    if (selection.kind === "vehicle") {
      const fix = fleet.vehicles.get(selection.id)?.last_fix;
      if (fix)
        map.easeTo({ center: [fix.longitude, fix.latitude], zoom: Math.max(map.getZoom(), 13) });
    } else {
      const g = fleet.geofences.get(selection.id);
      if (g) map.fitBounds(boundsOf([displayGeometry(g)]), { padding: 80, maxZoom: 16 });
    }
  }

  private fitToFleet(): void {
    const { fleet, map } = this.p;
    const geometries: GeoJSON.Geometry[] = [...fleet.geofences.values()].map(displayGeometry);
    for (const v of fleet.vehicles.values()) {
      if (v.last_fix) {
        geometries.push({
          type: "Point",
          coordinates: [v.last_fix.longitude, v.last_fix.latitude],
        });
      }
    }
    if (geometries.length === 0) return;
    map.fitBounds(boundsOf(geometries), { padding: 60, maxZoom: 14, duration: 0 });
  }
}

function boundsOf(geometries: GeoJSON.Geometry[]): maplibregl.LngLatBounds {
  const bounds = new maplibregl.LngLatBounds();
  const visit = (c: unknown): void => {
    if (Array.isArray(c) && typeof c[0] === "number") bounds.extend(c as [number, number]);
    else if (Array.isArray(c)) for (const x of c) visit(x);
  };
  for (const g of geometries) if ("coordinates" in g) visit(g.coordinates);
  return bounds;
}
