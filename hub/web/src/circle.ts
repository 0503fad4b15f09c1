// Circles on the map: the hub stores a circle as its centre (a Point) and radius_m; the map draws
// a 64-sided polygon of it for display only, and reads a drawn circle's centre and radius back.

import type { Position } from "geojson";

const EARTH_RADIUS_M = 6_371_008.8;
export const CIRCLE_VERTICES = 64;

const rad = (deg: number) => (deg * Math.PI) / 180;
const deg = (r: number) => (r * 180) / Math.PI;

/** Great-circle distance between two [lng, lat] positions, m. */
export function distanceM(a: Position, b: Position): number {
  const [lng1 = 0, lat1 = 0] = a;
  const [lng2 = 0, lat2 = 0] = b;
  const h =
    Math.sin(rad(lat2 - lat1) / 2) ** 2 +
    Math.cos(rad(lat1)) * Math.cos(rad(lat2)) * Math.sin(rad(lng2 - lng1) / 2) ** 2;
  return 2 * EARTH_RADIUS_M * Math.asin(Math.min(1, Math.sqrt(h)));
}

/** The position `distance` m from `from` along `bearing` degrees from north. */
function destination(from: Position, distance: number, bearing: number): Position {
  const [lng = 0, lat = 0] = from;
  const d = distance / EARTH_RADIUS_M;
  const φ1 = rad(lat);
  const θ = rad(bearing);
  const φ2 = Math.asin(Math.sin(φ1) * Math.cos(d) + Math.cos(φ1) * Math.sin(d) * Math.cos(θ));
  const λ2 =
    rad(lng) +
    Math.atan2(Math.sin(θ) * Math.sin(d) * Math.cos(φ1), Math.cos(d) - Math.sin(φ1) * Math.sin(φ2));
  const round = (x: number) => Math.round(x * 1e7) / 1e7;
  return [round(((deg(λ2) + 540) % 360) - 180), round(deg(φ2))];
}

/** A closed counter-clockwise ring of `vertices` positions around `center` (RFC 7946 order). */
export function circleRing(
  center: Position,
  radiusM: number,
  vertices = CIRCLE_VERTICES,
): Position[] {
  const ring: Position[] = [];
  // Bearings that decrease turn counter-clockwise seen from above, as RFC 7946 wants outer rings.
  for (let i = 0; i < vertices; i++)
    ring.push(destination(center, radiusM, 360 - (360 * i) / vertices));
  ring.push(ring[0] as Position);
  return ring;
}

/** Centre and radius of a drawn circle's ring: the mean of its vertices and mean distance to them. */
export function circleOf(ring: Position[]): { center: [number, number]; radiusM: number } {
  const open = ring.length > 1 ? ring.slice(0, -1) : ring;
  let lng = 0;
  let lat = 0;
  for (const [x = 0, y = 0] of open) {
    lng += x;
    lat += y;
  }
  const center: [number, number] = [lng / open.length, lat / open.length];
  const radiusM = open.reduce((sum, p) => sum + distanceM(center, p), 0) / open.length;
  return {
    center: [Math.round(center[0] * 1e7) / 1e7, Math.round(center[1] * 1e7) / 1e7],
    radiusM: Math.round(radiusM * 10) / 10,
  };
}
