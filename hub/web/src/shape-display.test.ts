import { describe, expect, it } from "vitest";
import { distanceM } from "./circle.ts";
import { labelPoint } from "./geofences-layer.ts";
import { corridorPixelsAtZoom0, displayFeature, displayGeometry } from "./shape-display.ts";
import type { GeofenceFeature } from "./types.ts";

const circle: GeofenceFeature = {
  type: "Feature",
  id: "c",
  geometry: { type: "Point", coordinates: [13.4, 52.5] },
  properties: { name: "c", radius_m: 300 },
};
const corridor: GeofenceFeature = {
  type: "Feature",
  id: "r",
  geometry: {
    type: "LineString",
    coordinates: [
      [0, 60],
      [0.01, 60],
    ],
  },
  properties: { name: "r", width_m: 100 },
};

describe("how circles and corridors are drawn", () => {
  it("draws a circle as a closed polygon on its radius", () => {
    const geometry = displayGeometry(circle);
    expect(geometry.type).toBe("Polygon");
    const ring = geometry.type === "Polygon" ? (geometry.coordinates[0] ?? []) : [];
    expect(ring.length).toBeGreaterThan(60);
    for (const p of ring) expect(distanceM([13.4, 52.5], p)).toBeCloseTo(300, -1);
    const [, north] = labelPoint(circle);
    expect(north).toBeGreaterThan(52.5 + 0.0026);
  });

  it("draws a corridor as its line, as many pixels wide as metres at each zoom", () => {
    expect(displayGeometry(corridor)).toBe(corridor.geometry);
    // At 60° N one pixel at zoom 0 is half of 78 km: 100 m is 100 / 39136 px.
    expect(corridorPixelsAtZoom0(corridor)).toBeCloseTo(100 / (78271.517 * 0.5), 8);
    expect(corridorPixelsAtZoom0(circle)).toBe(0);
    expect(displayFeature(corridor, 7)).toMatchObject({
      id: 7,
      properties: { gid: "r", name: "r" },
      geometry: corridor.geometry,
    });
  });
});
