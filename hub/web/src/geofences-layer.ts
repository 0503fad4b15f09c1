// Geofences on the map: `geofence-fill`, `geofence-corridor` and `geofence-line` layers, names as
// HTML labels (the offline style has no glyphs), and a flash on a geofence when one of its events
// happens. shape-display.ts says how circles and corridors are drawn.

import type { Feature } from "geojson";
import type {
  ExpressionSpecification,
  GeoJSONSource,
  MapLayerMouseEvent,
  Map as MapLibreMap,
} from "maplibre-gl";
import maplibregl from "maplibre-gl";
import { displayFeature, displayGeometry, outline } from "./shape-display.ts";
import type { GeofenceFeature } from "./types.ts";

const SOURCE = "geofences";
const FLASH_MS = 900;
/** Labels are DOM elements: past this many geofences only the first ones are named. */
const MAX_LABELS = 500;

/**
 * Where a geofence's name goes: above its largest ring, centred on it, so the label (HTML, drawn
 * over the map) never hides the vehicles inside.
 */
export function labelPoint(geofence: GeofenceFeature): [number, number] {
  const ring = outline(displayGeometry(geofence));
  if (ring.length === 0) return [0, 0];
  let west = Number.POSITIVE_INFINITY;
  let east = Number.NEGATIVE_INFINITY;
  let north = Number.NEGATIVE_INFINITY;
  for (const [x = 0, y = 0] of ring) {
    west = Math.min(west, x);
    east = Math.max(east, x);
    north = Math.max(north, y);
  }
  return [(west + east) / 2, north];
}

export class GeofencesLayer {
  private readonly featureIds = new Map<string, number>();
  private readonly labels = new Map<string, maplibregl.Marker>();
  private readonly flashes = new Map<string, ReturnType<typeof setTimeout>>();
  private selected: string | null = null;
  private hidden: string | null = null;
  private geofences: GeofenceFeature[] = [];

  constructor(
    private readonly map: MapLibreMap,
    private readonly select: (geofenceId: string) => void,
  ) {}

  install(): void {
    const map = this.map;
    map.addSource(SOURCE, { type: "geojson", data: { type: "FeatureCollection", features: [] } });
    const state = (key: string): ExpressionSpecification => [
      "boolean",
      ["feature-state", key],
      false,
    ];
    map.addLayer({
      id: "geofence-fill",
      type: "fill",
      source: SOURCE,
      paint: {
        "fill-color": ["case", state("flash"), "#f59e0b", "#4f46e5"],
        "fill-opacity": ["case", state("flash"), 0.32, state("selected"), 0.24, 0.12],
      },
    });
    // A corridor: its line drawn as wide as the corridor, in metres at every zoom (the pixel
    // width at zoom 0 doubles per level, as Web Mercator's scale does), with round ends.
    map.addLayer({
      id: "geofence-corridor",
      type: "line",
      source: SOURCE,
      filter: ["==", ["geometry-type"], "LineString"],
      layout: { "line-cap": "round", "line-join": "round" },
      paint: {
        "line-color": ["case", state("flash"), "#f59e0b", "#4f46e5"],
        "line-opacity": ["case", state("flash"), 0.32, state("selected"), 0.24, 0.12],
        "line-width": [
          "interpolate",
          ["exponential", 2],
          ["zoom"],
          0,
          ["get", "corridor_px0"],
          24,
          ["*", ["get", "corridor_px0"], 2 ** 24],
        ],
      },
    });
    map.addLayer({
      id: "geofence-line",
      type: "line",
      source: SOURCE,
      paint: {
        "line-color": ["case", state("flash"), "#d97706", "#4338ca"],
        "line-width": ["case", state("selected"), 3, state("flash"), 3, 1.6],
      },
    });
    const clicked = (e: MapLayerMouseEvent) => {
      // A vehicle on top of a geofence wins the click.
      if (
        map.queryRenderedFeatures(e.point, {
          layers: ["vehicles", "vehicle-clusters", "vehicle-selected-icon"],
        }).length
      ) {
        return;
      }
      const id = e.features?.[0]?.properties?.gid;
      if (typeof id === "string") this.select(id);
    };
    map.on("click", "geofence-fill", clicked);
    map.on("click", "geofence-corridor", clicked);
  }

  /** Draws these geofences (all of them: geofences are few next to vehicles). */
  render(geofences: Iterable<GeofenceFeature>): void {
    this.geofences = [...geofences];
    const features: Feature[] = [];
    for (const g of this.geofences) {
      if (g.id === this.hidden) continue;
      features.push(displayFeature(g, this.featureId(g.id)));
    }
    (this.map.getSource(SOURCE) as GeoJSONSource).setData({ type: "FeatureCollection", features });
    this.renderLabels();
    if (this.selected) this.setState(this.selected, { selected: true });
  }

  /** Hides one geofence while the editor shows it for changing, or none. */
  hide(geofenceId: string | null): void {
    this.hidden = geofenceId;
    this.render(this.geofences);
  }

  highlight(geofenceId: string | null): void {
    if (this.selected) this.setState(this.selected, { selected: false });
    this.selected = geofenceId;
    if (geofenceId) this.setState(geofenceId, { selected: true });
    for (const [id, label] of this.labels) {
      label.getElement().classList.toggle("selected", id === geofenceId);
    }
  }

  /** Briefly lights up a geofence, on the map and on its label. */
  flash(geofenceId: string): void {
    if (!this.featureIds.has(geofenceId)) return;
    clearTimeout(this.flashes.get(geofenceId));
    this.setState(geofenceId, { flash: true });
    const label = this.labels.get(geofenceId)?.getElement();
    label?.classList.remove("flash");
    // Reading layout restarts the CSS animation when a second event comes during the first.
    void label?.offsetWidth;
    label?.classList.add("flash");
    this.flashes.set(
      geofenceId,
      setTimeout(() => {
        this.flashes.delete(geofenceId);
        this.setState(geofenceId, { flash: false });
        label?.classList.remove("flash");
      }, FLASH_MS),
    );
  }

  private setState(geofenceId: string, state: Record<string, boolean>): void {
    const id = this.featureIds.get(geofenceId);
    if (id !== undefined) this.map.setFeatureState({ source: SOURCE, id }, state);
  }

  private featureId(geofenceId: string): number {
    let id = this.featureIds.get(geofenceId);
    if (id === undefined) {
      id = this.featureIds.size + 1;
      this.featureIds.set(geofenceId, id);
    }
    return id;
  }

  private renderLabels(): void {
    const keep = new Set<string>();
    for (const g of this.geofences.slice(0, MAX_LABELS)) {
      if (g.id === this.hidden) continue;
      keep.add(g.id);
      let marker = this.labels.get(g.id);
      if (!marker) {
        const el = document.createElement("div");
        el.className = "geofence-label";
        el.dataset.labelGeofenceId = g.id;
        marker = new maplibregl.Marker({ element: el, anchor: "bottom", offset: [0, -3] })
          .setLngLat(labelPoint(g))
          .addTo(this.map);
        this.labels.set(g.id, marker);
      }
      marker.setLngLat(labelPoint(g));
      marker.getElement().textContent = g.properties.name;
      marker.getElement().classList.toggle("selected", g.id === this.selected);
    }
    for (const [id, marker] of this.labels) {
      if (!keep.has(id)) {
        marker.remove();
        this.labels.delete(id);
      }
    }
  }
}
