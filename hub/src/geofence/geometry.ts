// Exact point-in-polygon with ST_Covers semantics (boundary inside, holes outside) over flat
// Float64Array coordinates, compiled once per fence so the lookup hot path allocates nothing.
//
// Coordinates are planar [longitude, latitude] degrees, as PostGIS treats SRID 4326 geometry.
// Fences that cross the antimeridian are out of scope: a ring from 179° to -179° is read as
// spanning the whole globe the other way round, exactly as a planar geometry would be.

import type { Fence, Ring } from "./fence.ts";
import { orient2d } from "./orient.ts";
import { type CompiledReach, compileReaches, reachCovers } from "./reach.ts";
import { toUnit } from "./sphere.ts";

/** One polygon of a fence: its shell and holes as flat [x0, y0, x1, y1, …] rings, plus its bbox. */
export interface CompiledPolygon {
  readonly minX: number;
  readonly minY: number;
  readonly maxX: number;
  readonly maxY: number;
  /** Every ring's positions back to back; each ring is closed (its last position repeats the first). */
  readonly coords: Float64Array;
  /** Exclusive end offset (into `coords`) of each ring; ring 0 is the shell, the rest are holes. */
  readonly ringEnds: Int32Array;
}

/**
 * A fence's geometry compiled for lookups: one entry per polygon (or per part of a circle or
 * corridor), plus the bbox of them all.
 */
export interface CompiledGeometry {
  readonly polygons: readonly CompiledPolygon[];
  /** A circle's or a corridor's parts; empty for a polygon fence. */
  readonly reaches: readonly CompiledReach[];
  readonly minX: number;
  readonly minY: number;
  readonly maxX: number;
  readonly maxY: number;
}

/** Flattens a fence's polygons into typed arrays; rings left open are closed defensively. */
export function compileFence(
  fence: Pick<Fence, "polygons" | "circle" | "corridor">,
): CompiledGeometry {
  const polygons: CompiledPolygon[] = [];
  let minX = Infinity;
  let minY = Infinity;
  let maxX = -Infinity;
  let maxY = -Infinity;
  for (const rings of fence.polygons) {
    const shell = rings[0];
    if (shell === undefined || shell.length === 0) continue;
    const polygon = compilePolygon(rings);
    polygons.push(polygon);
    if (polygon.minX < minX) minX = polygon.minX;
    if (polygon.minY < minY) minY = polygon.minY;
    if (polygon.maxX > maxX) maxX = polygon.maxX;
    if (polygon.maxY > maxY) maxY = polygon.maxY;
  }
  const reaches = compileReaches(fence);
  for (const part of reaches) {
    if (part.minX < minX) minX = part.minX;
    if (part.minY < minY) minY = part.minY;
    if (part.maxX > maxX) maxX = part.maxX;
    if (part.maxY > maxY) maxY = part.maxY;
  }
  return { polygons, reaches, minX, minY, maxX, maxY };
}

function compilePolygon(rings: readonly Ring[]): CompiledPolygon {
  let total = 0;
  for (const ring of rings) total += (ring.length + (isClosed(ring) ? 0 : 1)) * 2;
  const coords = new Float64Array(total);
  const ringEnds = new Int32Array(rings.length);
  let at = 0;
  rings.forEach((ring, r) => {
    for (const [x, y] of ring) {
      coords[at++] = x;
      coords[at++] = y;
    }
    const first = ring[0];
    if (first !== undefined && !isClosed(ring)) {
      coords[at++] = first[0];
      coords[at++] = first[1];
    }
    ringEnds[r] = at;
  });
  // Holes lie inside the shell, so the shell alone bounds the polygon.
  const shellEnd = ringEnds[0] ?? 0;
  let minX = Infinity;
  let minY = Infinity;
  let maxX = -Infinity;
  let maxY = -Infinity;
  for (let i = 0; i < shellEnd; i += 2) {
    const x = coords[i] as number;
    const y = coords[i + 1] as number;
    if (x < minX) minX = x;
    if (y < minY) minY = y;
    if (x > maxX) maxX = x;
    if (y > maxY) maxY = y;
  }
  return { minX, minY, maxX, maxY, coords, ringEnds };
}

function isClosed(ring: Ring): boolean {
  const first = ring[0];
  const last = ring[ring.length - 1];
  return first !== undefined && last !== undefined && first[0] === last[0] && first[1] === last[1];
}

/**
 * Whether the polygon covers (px, py): inside, or on any ring's boundary, and not strictly inside
 * a hole. One pass over all rings: even-odd crossing parity (shell and holes together) with an
 * early return on a boundary hit. Every side-of-edge decision goes through the exact `orient2d`,
 * so a point on an edge or a vertex is always reported inside, never lost to rounding.
 */
export function polygonCovers(polygon: CompiledPolygon, px: number, py: number): boolean {
  const c = polygon.coords;
  const ends = polygon.ringEnds;
  let inside = false;
  let start = 0;
  for (let r = 0; r < ends.length; r++) {
    const end = ends[r] as number;
    let ax = c[start] as number;
    let ay = c[start + 1] as number;
    for (let i = start + 2; i < end; i += 2) {
      const bx = c[i] as number;
      const by = c[i + 1] as number;
      // Only an edge whose y-span holds py can be crossed by the ray or hold the point.
      if ((ay <= py || by <= py) && (ay >= py || by >= py) && (px <= ax || px <= bx)) {
        const straddles = ay > py !== by > py;
        if (px < ax && px < bx) {
          // Wholly to the right: cannot hold the point, and is crossed whenever it straddles.
          if (straddles) inside = !inside;
        } else {
          const side = orient2d(ax, ay, bx, by, px, py);
          if (side === 0) return true;
          // The +x ray crosses an upward edge when the point is left of it, a downward one when right.
          if (straddles && by > ay === side > 0) inside = !inside;
        }
      }
      ax = bx;
      ay = by;
    }
    start = end;
  }
  return inside;
}

/** Whether any polygon of the compiled fence covers the point (bbox first, then exact). */
export function geometryCovers(geometry: CompiledGeometry, px: number, py: number): boolean {
  if (px < geometry.minX || px > geometry.maxX || py < geometry.minY || py > geometry.maxY) {
    return false;
  }
  for (const polygon of geometry.polygons) {
    if (px < polygon.minX || px > polygon.maxX || py < polygon.minY || py > polygon.maxY) continue;
    if (polygonCovers(polygon, px, py)) return true;
  }
  if (geometry.reaches.length === 0) return false;
  const p = toUnit(px, py);
  for (const part of geometry.reaches) {
    if (px < part.minX || px > part.maxX || py < part.minY || py > part.maxY) continue;
    if (reachCovers(part, p)) return true;
  }
  return false;
}
