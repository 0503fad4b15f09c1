// Vehicles on the map as WebGL layers (no DOM marker per vehicle): one clustered GeoJSON source
// whose features carry numeric ids, so each update is a diff handed to GeoJSONSource.updateData
// instead of the whole fleet again. Layers: `vehicles` (points), `vehicle-clusters`.

import type { Feature, FeatureCollection, Point } from "geojson";
import type {
  ExpressionSpecification,
  GeoJSONFeatureDiff,
  GeoJSONSource,
  MapLayerMouseEvent,
  Map as MapLibreMap,
} from "maplibre-gl";
import maplibregl from "maplibre-gl";
import type { ShownStatus, Vehicle } from "./types.ts";
import { addVehicleIcons } from "./vehicle-icon.ts";

const SOURCE = "vehicles";
/** The selected vehicle again, unclustered: it stays in sight, ringed, when its cluster forms. */
const SELECTED_SOURCE = "selected-vehicle";

const ICON_LAYOUT = {
  "icon-image": [
    "concat",
    "vehicle-",
    ["get", "status"],
    ["case", ["has", "heading"], "-heading", "-still"],
  ] as ExpressionSpecification,
  "icon-rotate": ["coalesce", ["get", "heading"], 0] as ExpressionSpecification,
  "icon-rotation-alignment": "map" as const,
  "icon-allow-overlap": true,
  "icon-ignore-placement": true,
};
/** Cluster counts are HTML (no glyph server); only this many are drawn at once. */
const MAX_COUNT_LABELS = 300;

export type StatusOf = (vehicle: Vehicle) => ShownStatus;

interface Shown {
  status: ShownStatus;
  lng: number;
  lat: number;
  heading: number | null;
}

function shownOf(vehicle: Vehicle, status: ShownStatus): Shown | null {
  const fix = vehicle.last_fix;
  if (!fix) return null;
  const heading =
    typeof fix.heading === "number" && Number.isFinite(fix.heading) ? fix.heading : null;
  return { status, lng: fix.longitude, lat: fix.latitude, heading };
}

export class VehiclesLayer {
  /** Feature ids: MapLibre wants numbers; vehicle ids are strings. */
  private readonly featureIds = new Map<string, number>();
  private readonly shown = new Map<string, Shown>();
  private readonly countLabels = new Map<number, maplibregl.Marker>();
  private countsScheduled = false;
  private selected: string | null = null;

  constructor(
    private readonly map: MapLibreMap,
    private readonly select: (vehicleId: string) => void,
  ) {}

  install(): void {
    const map = this.map;
    addVehicleIcons(map);
    map.addSource(SOURCE, {
      type: "geojson",
      data: { type: "FeatureCollection", features: [] },
      cluster: true,
      clusterRadius: 45,
      clusterMaxZoom: 13,
    });
    map.addLayer({
      id: "vehicle-clusters",
      type: "circle",
      source: SOURCE,
      filter: ["has", "point_count"],
      paint: {
        "circle-color": "#1e3a5f",
        "circle-opacity": 0.88,
        "circle-radius": ["step", ["get", "point_count"], 14, 10, 17, 100, 21, 1000, 26],
        "circle-stroke-color": "rgba(255,255,255,0.9)",
        "circle-stroke-width": 2.5,
      },
    });
    map.addLayer({
      id: "vehicles",
      type: "symbol",
      source: SOURCE,
      filter: ["!", ["has", "point_count"]],
      layout: {
        ...ICON_LAYOUT,
        "symbol-sort-key": ["match", ["get", "status"], "online", 3, "stale", 2, 1],
      },
    });
    map.addSource(SELECTED_SOURCE, {
      type: "geojson",
      data: { type: "FeatureCollection", features: [] },
    });
    map.addLayer({
      id: "vehicle-selected",
      type: "circle",
      source: SELECTED_SOURCE,
      paint: {
        "circle-radius": 18,
        "circle-color": "rgba(37, 99, 235, 0.18)",
        "circle-stroke-color": "#2563eb",
        "circle-stroke-width": 2,
      },
    });
    map.addLayer({
      id: "vehicle-selected-icon",
      type: "symbol",
      source: SELECTED_SOURCE,
      layout: ICON_LAYOUT,
    });

    map.on("click", "vehicle-selected-icon", (e: MapLayerMouseEvent) => {
      const id = e.features?.[0]?.properties?.id;
      if (typeof id === "string") this.select(id);
    });
    map.on("click", "vehicles", (e: MapLayerMouseEvent) => {
      const id = e.features?.[0]?.properties?.id;
      if (typeof id === "string") this.select(id);
    });
    map.on("click", "vehicle-clusters", (e: MapLayerMouseEvent) => {
      const feature = e.features?.[0];
      const clusterId = feature?.properties?.cluster_id;
      if (typeof clusterId !== "number" || feature?.geometry.type !== "Point") return;
      this.zoomInto(clusterId, feature.geometry.coordinates as [number, number]);
    });
    for (const layer of ["vehicles", "vehicle-clusters"]) {
      map.on("mouseenter", layer, () => {
        map.getCanvas().style.cursor = "pointer";
      });
      map.on("mouseleave", layer, () => {
        map.getCanvas().style.cursor = "";
      });
    }
    // Counts follow the clusters: redrawn once each update's tiles are in, and when the map rests.
    map.on("sourcedata", (e) => {
      if (e.sourceId === SOURCE && e.isSourceLoaded) this.scheduleCountLabels();
    });
    map.on("idle", () => this.scheduleCountLabels());
  }

  /** Replaces every vehicle (after a snapshot). */
  reset(vehicles: Iterable<Vehicle>, statusOf: StatusOf): void {
    this.shown.clear();
    const features: Feature<Point>[] = [];
    for (const v of vehicles) {
      const shown = shownOf(v, statusOf(v));
      if (!shown) continue;
      this.shown.set(v.id, shown);
      features.push(this.feature(v.id, shown));
    }
    const data: FeatureCollection = { type: "FeatureCollection", features };
    this.source().setData(data);
    this.drawSelected();
  }

  /** Hands MapLibre only what changed for these vehicles: new points, moves, status, heading. */
  update(vehicles: Iterable<Vehicle>, statusOf: StatusOf): number {
    const add: Feature<Point>[] = [];
    const update: GeoJSONFeatureDiff[] = [];
    const touched = new Set<string>();
    for (const v of vehicles) {
      const next = shownOf(v, statusOf(v));
      const before = this.shown.get(v.id);
      if (!next) continue;
      this.shown.set(v.id, next);
      if (v.id === this.selected) touched.add(v.id);
      if (!before) {
        add.push(this.feature(v.id, next));
        continue;
      }
      const diff: GeoJSONFeatureDiff = { id: this.featureId(v.id) };
      if (before.lng !== next.lng || before.lat !== next.lat) {
        diff.newGeometry = { type: "Point", coordinates: [next.lng, next.lat] };
      }
      const props: { key: string; value: unknown }[] = [];
      if (before.status !== next.status) props.push({ key: "status", value: next.status });
      if (next.heading !== null && before.heading !== next.heading) {
        props.push({ key: "heading", value: next.heading });
      }
      if (next.heading === null && before.heading !== null) diff.removeProperties = ["heading"];
      if (props.length > 0) diff.addOrUpdateProperties = props;
      if (diff.newGeometry || diff.addOrUpdateProperties || diff.removeProperties)
        update.push(diff);
    }
    if (add.length > 0 || update.length > 0) this.source().updateData({ add, update });
    if (this.selected && touched.has(this.selected)) this.drawSelected();
    return add.length + update.length;
  }

  /** Rings the selected vehicle (or none). */
  highlight(vehicleId: string | null): void {
    this.selected = vehicleId;
    this.drawSelected();
  }

  private drawSelected(): void {
    const shown = this.selected ? this.shown.get(this.selected) : undefined;
    const features = this.selected && shown ? [this.feature(this.selected, shown)] : [];
    (this.map.getSource(SELECTED_SOURCE) as GeoJSONSource).setData({
      type: "FeatureCollection",
      features,
    });
  }

  private source(): GeoJSONSource {
    return this.map.getSource(SOURCE) as GeoJSONSource;
  }

  private featureId(vehicleId: string): number {
    let id = this.featureIds.get(vehicleId);
    if (id === undefined) {
      id = this.featureIds.size + 1;
      this.featureIds.set(vehicleId, id);
    }
    return id;
  }

  private feature(vehicleId: string, shown: Shown): Feature<Point> {
    const properties: Record<string, unknown> = { id: vehicleId, status: shown.status };
    if (shown.heading !== null) properties.heading = shown.heading;
    return {
      type: "Feature",
      id: this.featureId(vehicleId),
      geometry: { type: "Point", coordinates: [shown.lng, shown.lat] },
      properties,
    };
  }

  private async zoomInto(clusterId: number, center: [number, number]): Promise<void> {
    const zoom = await this.source().getClusterExpansionZoom(clusterId);
    this.map.easeTo({ center, zoom: Math.min(zoom, 16) });
  }

  private scheduleCountLabels(): void {
    if (this.countsScheduled) return;
    this.countsScheduled = true;
    requestAnimationFrame(() => {
      this.countsScheduled = false;
      this.drawCountLabels();
    });
  }

  /** The number of vehicles on each visible cluster, as small HTML labels. */
  private drawCountLabels(): void {
    const seen = new Set<number>();
    for (const f of this.map.querySourceFeatures(SOURCE, { filter: ["has", "point_count"] })) {
      const id = f.properties?.cluster_id;
      if (typeof id !== "number" || seen.has(id) || seen.size >= MAX_COUNT_LABELS) continue;
      if (f.geometry.type !== "Point") continue;
      seen.add(id);
      const count = String(f.properties?.point_count_abbreviated ?? f.properties?.point_count);
      const at = f.geometry.coordinates as [number, number];
      let marker = this.countLabels.get(id);
      if (!marker) {
        const el = document.createElement("div");
        el.className = "cluster-count";
        marker = new maplibregl.Marker({ element: el }).setLngLat(at).addTo(this.map);
        this.countLabels.set(id, marker);
      }
      marker.setLngLat(at);
      marker.getElement().textContent = count;
    }
    for (const [id, marker] of this.countLabels) {
      if (!seen.has(id)) {
        marker.remove();
        this.countLabels.delete(id);
      }
    }
  }
}
