// The selected vehicle's track: layer `track`, a line through its fixes over the chosen period.

import type { Position } from "geojson";
import type { GeoJSONSource, Map as MapLibreMap } from "maplibre-gl";

const SOURCE = "track";

export class TrackLayer {
  private positions: Position[] = [];

  constructor(private readonly map: MapLibreMap) {}

  install(): void {
    this.map.addSource(SOURCE, { type: "geojson", data: this.data() });
    this.map.addLayer({
      id: "track-casing",
      type: "line",
      source: SOURCE,
      layout: { "line-join": "round", "line-cap": "round" },
      paint: { "line-color": "#ffffff", "line-width": 6, "line-opacity": 0.9 },
    });
    this.map.addLayer({
      id: "track",
      type: "line",
      source: SOURCE,
      layout: { "line-join": "round", "line-cap": "round" },
      paint: { "line-color": "#2563eb", "line-width": 3 },
    });
  }

  set(positions: Position[]): void {
    this.positions = positions;
    this.source().setData(this.data());
  }

  /** A new fix of the selected vehicle extends its track. */
  extend(position: Position): void {
    this.positions.push(position);
    this.source().setData(this.data());
  }

  clear(): void {
    this.set([]);
  }

  private source(): GeoJSONSource {
    return this.map.getSource(SOURCE) as GeoJSONSource;
  }

  private data(): GeoJSON.FeatureCollection {
    const features: GeoJSON.Feature[] =
      this.positions.length >= 2
        ? [
            {
              type: "Feature",
              properties: {},
              geometry: { type: "LineString", coordinates: this.positions },
            },
          ]
        : [];
    return { type: "FeatureCollection", features };
  }
}
