// Where a straight segment between two fixes runs inside a geofence: the maths behind crossings
// detected between sparse fixes (`detect_crossing`), apart from who asks and what is emitted.
//
// The segment is straight in planar [longitude, latitude] degrees, the plane fences are judged in
// (PostGIS SRID 4326 semantics). Each shape kind implements CrossableShape: polygons (with holes,
// and MultiPolygons) here, circles and corridors in crossing-reach.ts.

import { ReachShape } from "./crossing-reach.ts";
import type { Fence } from "./fence.ts";
import { type CompiledGeometry, compileFence, geometryCovers } from "./geometry.ts";

/** A stretch of the segment inside the shape, as fractions of the segment: 0 ≤ enter < exit ≤ 1. */
export interface CrossingSpan {
  enter: number;
  exit: number;
}

/** A shape that can tell where a straight segment runs inside it. */
export interface CrossableShape {
  readonly minX: number;
  readonly minY: number;
  readonly maxX: number;
  readonly maxY: number;
  /**
   * The stretches of the segment (ax, ay) → (bx, by) inside the shape (boundary included), in
   * order, separated by stretches outside; at most MAX_SPANS. Touching the shape at single points
   * gives no span.
   */
  spans(ax: number, ay: number, bx: number, by: number): CrossingSpan[];
}

/**
 * Most spans reported for one segment and one shape. A segment that would run in and out more
 * often (a comb-shaped fence) reports the first MAX_SPANS − 1 and one last span from the next
 * entry to the last exit, so that a client's geometry cannot make one fix yield unbounded events.
 */
export const MAX_SPANS = 16;

/** Whether a fence detects crossings: any fence (polygon, circle, corridor) with `detect_crossing`. */
export function detectsCrossing(fence: Pick<Fence, "detect_crossing">): boolean {
  return fence.detect_crossing === true;
}

/** The shape of a fence for crossing detection. */
export function crossableShape(
  fence: Pick<Fence, "polygons" | "circle" | "corridor">,
): CrossableShape {
  if (fence.circle !== undefined || fence.corridor !== undefined) return new ReachShape(fence);
  return new PolygonShape(compileFence(fence));
}

/** Polygons with holes: the boundary splits the segment; the middle of each piece says which side. */
export class PolygonShape implements CrossableShape {
  readonly #geometry: CompiledGeometry;

  constructor(geometry: CompiledGeometry) {
    this.#geometry = geometry;
  }

  get minX(): number {
    return this.#geometry.minX;
  }
  get minY(): number {
    return this.#geometry.minY;
  }
  get maxX(): number {
    return this.#geometry.maxX;
  }
  get maxY(): number {
    return this.#geometry.maxY;
  }

  spans(ax: number, ay: number, bx: number, by: number): CrossingSpan[] {
    const g = this.#geometry;
    const minX = Math.min(ax, bx);
    const maxX = Math.max(ax, bx);
    const minY = Math.min(ay, by);
    const maxY = Math.max(ay, by);
    if (maxX < g.minX || minX > g.maxX || maxY < g.minY || minY > g.maxY) return [];
    const cuts = [0, 1];
    for (const polygon of g.polygons) {
      if (maxX < polygon.minX || minX > polygon.maxX) continue;
      if (maxY < polygon.minY || minY > polygon.maxY) continue;
      addCuts(polygon.coords, polygon.ringEnds, ax, ay, bx, by, cuts);
    }
    cuts.sort((p, q) => p - q);
    return classify(cuts, (t) => geometryCovers(g, ax + t * (bx - ax), ay + t * (by - ay)));
  }
}

// Relative slack on the edge parameter: a cut a little beyond an edge's end only adds a piece
// that the midpoint test classifies, while a cut lost to rounding would merge two pieces.
const SLACK = 1e-9;

/**
 * Adds to `cuts` the fraction of the segment where it meets each ring edge: the crossing point,
 * or both ends of a collinear overlap. Fractions outside [0, 1] are dropped.
 */
function addCuts(
  coords: Float64Array,
  ringEnds: Int32Array,
  ax: number,
  ay: number,
  bx: number,
  by: number,
  cuts: number[],
): void {
  const dx = bx - ax;
  const dy = by - ay;
  const minX = Math.min(ax, bx);
  const maxX = Math.max(ax, bx);
  const minY = Math.min(ay, by);
  const maxY = Math.max(ay, by);
  const lengthSq = dx * dx + dy * dy;
  let start = 0;
  for (let r = 0; r < ringEnds.length; r++) {
    const end = ringEnds[r] as number;
    let cx = coords[start] as number;
    let cy = coords[start + 1] as number;
    for (let i = start + 2; i < end; i += 2) {
      const ex = coords[i] as number;
      const ey = coords[i + 1] as number;
      if (
        !(Math.max(cx, ex) < minX || Math.min(cx, ex) > maxX) &&
        !(Math.max(cy, ey) < minY || Math.min(cy, ey) > maxY)
      ) {
        const fx = ex - cx;
        const fy = ey - cy;
        const denom = dx * fy - dy * fx;
        const qx = cx - ax;
        const qy = cy - ay;
        if (denom !== 0) {
          const t = (qx * fy - qy * fx) / denom;
          const u = (qx * dy - qy * dx) / denom;
          if (u >= -SLACK && u <= 1 + SLACK) pushCut(cuts, t);
        } else if (lengthSq > 0) {
          // Parallel: where the edge's ends project onto the segment (for a collinear overlap, its
          // ends; otherwise harmless extra cuts).
          pushCut(cuts, (qx * dx + qy * dy) / lengthSq);
          pushCut(cuts, ((ex - ax) * dx + (ey - ay) * dy) / lengthSq);
        }
      }
      cx = ex;
      cy = ey;
    }
    start = end;
  }
}

function pushCut(cuts: number[], t: number): void {
  if (t > 0 && t < 1) cuts.push(t);
}

/**
 * Turns sorted cuts (0 first, 1 last) into spans: each piece between two cuts is inside or
 * outside as its middle is; touching inside pieces merge. Pieces of zero length are skipped.
 */
function classify(cuts: readonly number[], covers: (t: number) => boolean): CrossingSpan[] {
  const spans: CrossingSpan[] = [];
  let open: number | null = null;
  for (let i = 0; i + 1 < cuts.length; i++) {
    const a = cuts[i] as number;
    const b = cuts[i + 1] as number;
    if (!(b > a)) continue;
    const inside = covers((a + b) / 2);
    if (inside && open === null) {
      if (spans.length === MAX_SPANS - 1) {
        spans.push({ enter: a, exit: lastExit(cuts, i, covers) });
        return spans;
      }
      open = a;
    } else if (!inside && open !== null) {
      spans.push({ enter: open, exit: a });
      open = null;
    }
  }
  if (open !== null) spans.push({ enter: open, exit: 1 });
  return spans;
}

/** The end of the last inside piece at or after piece `from` (which is inside), scanning back. */
function lastExit(cuts: readonly number[], from: number, covers: (t: number) => boolean): number {
  for (let i = cuts.length - 2; i > from; i--) {
    const a = cuts[i] as number;
    const b = cuts[i + 1] as number;
    if (b > a && covers((a + b) / 2)) return b;
  }
  return cuts[from + 1] as number;
}
