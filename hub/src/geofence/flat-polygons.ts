// MultiPolygon coordinates as three typed arrays, so a worker thread can hand a big geometry to
// the main thread by transferring buffers rather than cloning 100,000 small arrays.

import type { MultiPolygonCoords, Position } from "./fence.ts";

/** Positions as [lon0, lat0, lon1, lat1, …]; rings and polygons as end offsets into them. */
export interface FlatPolygons {
  coords: Float64Array;
  /** For each ring, the index of the position after its last one. */
  ringEnds: Uint32Array;
  /** For each polygon, the index of the ring after its last one. */
  polygonEnds: Uint32Array;
}

/** Flattens validated coordinates; the inverse of nestPolygons. */
export function flattenPolygons(polygons: MultiPolygonCoords): FlatPolygons {
  let positions = 0;
  let rings = 0;
  for (const polygon of polygons) {
    rings += polygon.length;
    for (const ring of polygon) positions += ring.length;
  }
  const coords = new Float64Array(positions * 2);
  const ringEnds = new Uint32Array(rings);
  const polygonEnds = new Uint32Array(polygons.length);
  let p = 0;
  let r = 0;
  for (const [i, polygon] of polygons.entries()) {
    for (const ring of polygon) {
      for (const [lon, lat] of ring) {
        coords[2 * p] = lon;
        coords[2 * p + 1] = lat;
        p++;
      }
      ringEnds[r++] = p;
    }
    polygonEnds[i] = r;
  }
  return { coords, ringEnds, polygonEnds };
}

/** The nested coordinates the engine and the stores take. */
export function nestPolygons(flat: FlatPolygons): MultiPolygonCoords {
  const { coords, ringEnds, polygonEnds } = flat;
  const polygons: Position[][][] = [];
  let ring = 0;
  let position = 0;
  for (const polygonEnd of polygonEnds) {
    const polygon: Position[][] = [];
    for (; ring < polygonEnd; ring++) {
      const end = ringEnds[ring] ?? 0;
      const positions: Position[] = new Array(end - position);
      for (let k = 0; position < end; position++, k++) {
        positions[k] = [coords[2 * position] ?? 0, coords[2 * position + 1] ?? 0];
      }
      polygon.push(positions);
    }
    polygons.push(polygon);
  }
  return polygons;
}
