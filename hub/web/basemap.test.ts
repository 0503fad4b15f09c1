import { describe, expect, it } from "vitest";
import { buildBasemap, readWorldAtlas } from "./basemap.mjs";

describe("offline basemap", () => {
  const layers = buildBasemap(readWorldAtlas());

  it("has land polygons and border lines at both scales", () => {
    expect(Object.keys(layers).sort()).toEqual([
      "borders-110m",
      "borders-50m",
      "land-110m",
      "land-50m",
    ]);
    for (const scale of ["110m", "50m"]) {
      const land = layers[`land-${scale}`];
      const borders = layers[`borders-${scale}`];
      expect(land?.features.length).toBeGreaterThan(0);
      expect(land?.features.every((f) => f.geometry.type.endsWith("Polygon"))).toBe(true);
      expect(borders?.features[0]?.geometry.type).toBe("MultiLineString");
    }
  });

  it("keeps valid rings with rounded coordinates, continuous across the antimeridian", () => {
    // Collected first and checked once: an expect per coordinate would take seconds.
    const problems: string[] = [];
    let positions = 0;
    for (const f of layers["land-50m"]?.features ?? []) {
      const g = f.geometry;
      const polygons =
        g.type === "MultiPolygon" ? g.coordinates : g.type === "Polygon" ? [g.coordinates] : [];
      for (const ring of polygons.flat()) {
        if (ring.length < 4) problems.push(`ring of ${ring.length}`);
        if (String(ring[0]) !== String(ring[ring.length - 1])) problems.push("open ring");
        let previous: number | null = null;
        for (const [lng = 0, lat = 0] of ring) {
          positions++;
          if (Math.abs(lng) > 360 || Math.abs(lat) > 90)
            problems.push(`out of range ${lng},${lat}`);
          // A step across the antimeridian would be drawn right across the world (but Antarctica
          // closes round the pole with one, off the edge of the map).
          if (previous !== null && Math.abs(lng - previous) > 180 && Math.abs(lat) < 84) {
            problems.push(`jump ${previous} to ${lng} at ${lat}`);
          }
          previous = lng;
          if (Math.round(lng * 1000) / 1000 !== lng) problems.push(`not rounded ${lng}`);
        }
      }
    }
    expect(problems.slice(0, 5)).toEqual([]);
    expect(positions).toBeGreaterThan(10_000);
  });
});
