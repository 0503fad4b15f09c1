// The demo's city: a box over downtown Los Angeles and a handful of named geofences in it, laid
// out so that a fleet driving the street grid crosses them within seconds. Edges are rotated off
// the grid's north-south and east-west streets, so no vehicle drives along a boundary.

import type { BBox } from "@locus/simulator";

/** About 3.7 × 3.3 km around downtown Los Angeles. */
export const DEMO_BBOX: BBox = { west: -118.275, south: 34.035, east: -118.235, north: 34.065 };
/** Street spacing of the demo's grid, metres. */
export const DEMO_BLOCK_M = 200;

type Position = [number, number];
type Ring = Position[];

export interface DemoFence {
  type: "Feature";
  properties: { name: string; description: string };
  geometry:
    | { type: "Polygon"; coordinates: Ring[] }
    | { type: "MultiPolygon"; coordinates: Ring[][] };
}

/**
 * A closed ring of `sides` vertices around (lon, lat), `radiusM` metres out, turned by
 * `rotationDeg`; counter-clockwise (RFC 7946 exterior) unless `clockwise` (a hole).
 */
export function ring(
  lon: number,
  lat: number,
  radiusM: number,
  sides: number,
  rotationDeg: number,
  clockwise = false,
): Ring {
  const mPerDegLat = 111_195;
  const mPerDegLon = mPerDegLat * Math.cos((lat * Math.PI) / 180);
  const out: Ring = [];
  for (let i = 0; i < sides; i++) {
    const k = clockwise ? sides - i : i;
    const a = ((rotationDeg + (360 * k) / sides) * Math.PI) / 180;
    // Six decimals (~0.1 m) keep the JSON short.
    const x = Math.round((lon + (radiusM * Math.cos(a)) / mPerDegLon) * 1e6) / 1e6;
    const y = Math.round((lat + (radiusM * Math.sin(a)) / mPerDegLat) * 1e6) / 1e6;
    out.push([x, y]);
  }
  out.push([...(out[0] as Position)]);
  return out;
}

function polygon(name: string, description: string, rings: Ring[]): DemoFence {
  return {
    type: "Feature",
    properties: { name, description },
    geometry: { type: "Polygon", coordinates: rings },
  };
}

/** The sample geofences: polygons, one with a hole, and a MultiPolygon of two parts. */
export const DEMO_FENCES: DemoFence[] = [
  polygon("civic-center", "City Hall and the courts", [ring(-118.2437, 34.0537, 420, 7, 11)]),
  polygon("little-tokyo", "Little Tokyo", [ring(-118.2395, 34.0495, 300, 6, 17)]),
  polygon(
    "pershing-square-ring",
    "A ring around Pershing Square: the square itself (the hole) is outside",
    [ring(-118.2523, 34.0481, 480, 8, 22.5), ring(-118.2523, 34.0481, 200, 8, 22.5, true)],
  ),
  polygon("fashion-district", "Fashion District", [ring(-118.2505, 34.0405, 380, 5, 9)]),
  polygon("south-park", "South Park and the convention centre", [
    ring(-118.2655, 34.0425, 450, 6, 33),
  ]),
  {
    type: "Feature",
    properties: { name: "freight-depots", description: "Two depots that are one geofence" },
    geometry: {
      type: "MultiPolygon",
      coordinates: [[ring(-118.2405, 34.0405, 260, 6, 5)], [ring(-118.2665, 34.0585, 300, 7, 19)]],
    },
  },
];
