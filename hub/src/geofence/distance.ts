// Distance in metres from a point to a fence's boundary, for the hysteresis band.
//
// The fence is projected onto a plane tangent at the point (local equirectangular: x scaled by
// cos(latitude)). Over metres to a few kilometres the error is well under 1% away from the poles,
// which is ample for a jitter band; it is not a geodesic distance and must not be used as one.

import type { Fence, MultiPolygonCoords } from "./fence.ts";
import { distanceToCenterM, distanceToLineM } from "./reach.ts";

/** Mean Earth radius (IUGG), metres. */
const EARTH_RADIUS_M = 6_371_008.8;
const RADIANS = Math.PI / 180;

/**
 * Metres from (lon, lat) to the edge of any kind of fence, for a point judged outside it: to the
 * polygons' boundary (as below), or how far beyond a circle's radius or a corridor's half width
 * (great-circle distances, see sphere.ts). Never negative.
 */
export function distanceToEdgeM(fence: Fence, lon: number, lat: number): number {
  if (fence.circle !== undefined) {
    return Math.max(0, distanceToCenterM(fence.circle, lon, lat) - fence.circle.radius_m);
  }
  if (fence.corridor !== undefined) {
    return Math.max(0, distanceToLineM(fence.corridor, lon, lat) - fence.corridor.width_m / 2);
  }
  return distanceToBoundaryM(fence.polygons, lon, lat);
}

/**
 * Shortest distance in metres from (lon, lat) to any edge of any ring (shells and holes) of the
 * polygons. Whether the point is inside or outside is not considered: 0 means on the boundary.
 */
export function distanceToBoundaryM(
  polygons: MultiPolygonCoords,
  lon: number,
  lat: number,
): number {
  const ky = EARTH_RADIUS_M * RADIANS;
  const kx = ky * Math.cos(lat * RADIANS);
  let best = Infinity;
  for (const rings of polygons) {
    for (const ring of rings) {
      const first = ring[0];
      if (first === undefined) continue;
      let ax = (first[0] - lon) * kx;
      let ay = (first[1] - lat) * ky;
      if (ring.length === 1) best = Math.min(best, Math.hypot(ax, ay));
      for (let i = 1; i < ring.length; i++) {
        const b = ring[i] as readonly [number, number];
        const bx = (b[0] - lon) * kx;
        const by = (b[1] - lat) * ky;
        const d = distanceFromOriginToSegment(ax, ay, bx, by);
        if (d < best) best = d;
        ax = bx;
        ay = by;
      }
    }
  }
  return best;
}

/** Distance from (0, 0) to the segment a–b in the plane. */
function distanceFromOriginToSegment(ax: number, ay: number, bx: number, by: number): number {
  const dx = bx - ax;
  const dy = by - ay;
  const lengthSq = dx * dx + dy * dy;
  if (lengthSq === 0) return Math.hypot(ax, ay);
  const t = Math.max(0, Math.min(1, -(ax * dx + ay * dy) / lengthSq));
  return Math.hypot(ax + t * dx, ay + t * dy);
}
