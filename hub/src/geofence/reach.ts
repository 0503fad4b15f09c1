// Circles and corridors compiled for lookups: a fence that is "everything within so many metres of
// a point or a line" becomes parts of a few segments each, with a lon/lat bbox for the spatial
// index and unit vectors for the exact distance test (sphere.ts states the model and accuracy).

import type { CircleShape, CorridorShape, Fence, Position } from "./fence.ts";
import {
  angleBetween,
  angleToArc,
  angleToMetres,
  type Box,
  metresToAngle,
  reachBox,
  toUnit,
  type Unit,
} from "./sphere.ts";

/**
 * Segments per part of a corridor: each part has its own bbox in the index, so a long winding
 * line is not one box over its whole extent, and a lookup tests only the segments near it.
 */
const SEGMENTS_PER_PART = 16;

/** A circle, or a run of a corridor's segments: inside is within `reachM` metres of it. */
export interface CompiledReach {
  readonly minX: number;
  readonly minY: number;
  readonly maxX: number;
  readonly maxY: number;
  /** Unit vectors of the positions, 3 numbers each: one for a circle, 2 or more for a corridor. */
  readonly xyz: Float64Array;
  /** The radius, or half the corridor's width, metres. */
  readonly reachM: number;
  /** The squared chord of the reach angle: a point that close to a position is inside. */
  readonly chord2: number;
  /** The sine of the reach angle: a point beside an arc that close to its plane is inside. */
  readonly sine: number;
}

/** The parts of a circle or corridor fence; none for a polygon fence. */
export function compileReaches(fence: Pick<Fence, "circle" | "corridor">): CompiledReach[] {
  if (fence.circle !== undefined) {
    const { center, radius_m } = fence.circle;
    return [compilePart([center], false, radius_m)];
  }
  if (fence.corridor === undefined) return [];
  const { line, width_m } = fence.corridor;
  const parts: CompiledReach[] = [];
  for (let start = 0; start < line.length - 1; start += SEGMENTS_PER_PART) {
    const run = line.slice(start, Math.min(line.length, start + SEGMENTS_PER_PART + 1));
    parts.push(compilePart(run, true, width_m / 2));
  }
  return parts;
}

function compilePart(positions: readonly Position[], arcs: boolean, reachM: number): CompiledReach {
  const xyz = new Float64Array(positions.length * 3);
  positions.forEach(([lon, lat], i) => {
    xyz.set(toUnit(lon, lat), 3 * i);
  });
  const reach = metresToAngle(reachM);
  const [minX, minY, maxX, maxY] = reachBox(positions, arcs, reach);
  const chord = 2 * Math.sin(reach / 2);
  return { minX, minY, maxX, maxY, xyz, reachM, chord2: chord * chord, sine: Math.sin(reach) };
}

/**
 * Whether the point (as a unit vector) is within the part's reach: the boundary is inside. The
 * same test as angleBetween / angleToArc ≤ reach, with the angles' monotonic functions compared
 * instead (chord ≤ 2 sin(reach / 2), height ≤ sin reach): no asin, no allocation, and the first
 * position or arc in reach answers.
 */
export function reachCovers(part: CompiledReach, p: Unit): boolean {
  const c = part.xyz;
  const [px, py, pz] = p;
  for (let i = 0; i < c.length; i += 3) {
    const dx = px - (c[i] as number);
    const dy = py - (c[i + 1] as number);
    const dz = pz - (c[i + 2] as number);
    if (dx * dx + dy * dy + dz * dz <= part.chord2) return true;
  }
  for (let i = 3; i < c.length; i += 3) {
    if (besideArcWithin(c, i - 3, i, px, py, pz, part.sine)) return true;
  }
  return false;
}

/**
 * Whether p lies beside the arc from position a to position b of `c` (its projection falls
 * between them) within `sine` of the arc's plane; as in sphere.ts angleToArc.
 */
function besideArcWithin(
  c: Float64Array,
  a: number,
  b: number,
  px: number,
  py: number,
  pz: number,
  sine: number,
): boolean {
  const ax = c[a] as number;
  const ay = c[a + 1] as number;
  const az = c[a + 2] as number;
  const bx = c[b] as number;
  const by = c[b + 1] as number;
  const bz = c[b + 2] as number;
  const ex = bx - ax;
  const ey = by - ay;
  const ez = bz - az;
  const nx = ay * ez - az * ey;
  const ny = az * ex - ax * ez;
  const nz = ax * ey - ay * ex;
  const n2 = nx * nx + ny * ny + nz * nz;
  if (n2 === 0) return false;
  const qx = px - ax;
  const qy = py - ay;
  const qz = pz - az;
  const height = qx * nx + qy * ny + qz * nz;
  if (height * height > sine * sine * n2) return false;
  const fromA = (ny * az - nz * ay) * qx + (nz * ax - nx * az) * qy + (nx * ay - ny * ax) * qz;
  if (fromA < 0) return false;
  const rx = px - bx;
  const ry = py - by;
  const rz = pz - bz;
  return (by * nz - bz * ny) * rx + (bz * nx - bx * nz) * ry + (bx * ny - by * nx) * rz >= 0;
}

/** The bbox of all of a circle's or corridor's parts (for a database's index), or null. */
export function reachBounds(fence: Pick<Fence, "circle" | "corridor">): Box | null {
  const parts = compileReaches(fence);
  if (parts.length === 0) return null;
  const box: Box = [Infinity, Infinity, -Infinity, -Infinity];
  for (const part of parts) {
    box[0] = Math.min(box[0], part.minX);
    box[1] = Math.min(box[1], part.minY);
    box[2] = Math.max(box[2], part.maxX);
    box[3] = Math.max(box[3], part.maxY);
  }
  return box;
}

/** Metres from (lon, lat) to a circle's centre. */
export function distanceToCenterM(circle: CircleShape, lon: number, lat: number): number {
  const [clon, clat] = circle.center;
  return angleToMetres(angleBetween(toUnit(lon, lat), toUnit(clon, clat)));
}

/** Metres from (lon, lat) to the nearest point of a corridor's line. */
export function distanceToLineM(corridor: CorridorShape, lon: number, lat: number): number {
  const p = toUnit(lon, lat);
  const line = corridor.line;
  const first = line[0];
  if (first === undefined) return Infinity;
  let a = toUnit(first[0], first[1]);
  if (line.length === 1) return angleToMetres(angleBetween(p, a));
  let best = Infinity;
  for (let i = 1; i < line.length; i++) {
    const [lon1, lat1] = line[i] as Position;
    const b = toUnit(lon1, lat1);
    best = Math.min(best, angleToArc(p, a, b));
    a = b;
  }
  return angleToMetres(best);
}
