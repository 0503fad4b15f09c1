// Where a straight segment between two fixes runs inside a circle or a corridor (crossing.ts has the
// interface and the polygons). Inside is what the engine says: within the reach of the centre, or
// of one of the corridor's great-circle arcs, by sphere.ts's distances.
//
// The segment is straight in [longitude, latitude] degrees, point(t) = a + t·(b − a). A circle, or
// one corridor segment with its round ends (a capsule), meets it in one interval of t. That
// interval is first estimated on a plane tangent at the capsule's first position (longitude
// scaled by the cosine of its latitude, so the segment stays straight there), then each end is
// refined by bisection on the exact spherical distance, to ~1e-12 of the segment (well under a
// millimetre for any segment shorter than 1,000 km). A corridor is the union of its capsules'
// intervals. Tolerance: a segment that only grazes a capsule, by less than the tangent plane's
// distortion (about reach² / Earth radius: 0.16 m on a 1 km reach), may be missed.

import type { CrossableShape, CrossingSpan } from "./crossing.ts";
import { MAX_SPANS } from "./crossing.ts";
import type { Fence, Position } from "./fence.ts";
import { reachBounds } from "./reach.ts";
import { angleBetween, angleToArc, metresToAngle, reachBox, toUnit, type Unit } from "./sphere.ts";

const RADIANS = Math.PI / 180;
/** Bisection stops when the bracket is this small (fraction of the segment). */
const T_EPSILON = 1e-12;
/** Most bisection steps per end (each halves the bracket: 60 reach 1e-18). */
const MAX_STEPS = 60;

/** One circle, or one corridor segment with its round ends: within `reach` radians of it. */
interface Capsule {
  readonly a: Position;
  readonly b: Position | null;
  readonly ua: Unit;
  readonly ub: Unit | null;
  readonly reach: number;
  readonly box: readonly [number, number, number, number];
}

/** A circle or corridor fence, for crossing detection. */
export class ReachShape implements CrossableShape {
  readonly minX: number;
  readonly minY: number;
  readonly maxX: number;
  readonly maxY: number;
  readonly #capsules: Capsule[] = [];

  constructor(fence: Pick<Fence, "circle" | "corridor">) {
    const box = reachBounds(fence);
    if (box === null) throw new Error("a crossing reach shape needs a circle or a corridor");
    [this.minX, this.minY, this.maxX, this.maxY] = box;
    if (fence.circle !== undefined) {
      const { center, radius_m } = fence.circle;
      const reach = metresToAngle(radius_m);
      this.#capsules.push({
        a: center,
        b: null,
        ua: toUnit(center[0], center[1]),
        ub: null,
        reach,
        box: reachBox([center], false, reach),
      });
    } else if (fence.corridor !== undefined) {
      const { line, width_m } = fence.corridor;
      const reach = metresToAngle(width_m / 2);
      for (let i = 1; i < line.length; i++) {
        const a = line[i - 1] as Position;
        const b = line[i] as Position;
        this.#capsules.push({
          a,
          b,
          ua: toUnit(a[0], a[1]),
          ub: toUnit(b[0], b[1]),
          reach,
          box: reachBox([a, b], true, reach),
        });
      }
    }
  }

  spans(ax: number, ay: number, bx: number, by: number): CrossingSpan[] {
    const minX = Math.min(ax, bx);
    const maxX = Math.max(ax, bx);
    const minY = Math.min(ay, by);
    const maxY = Math.max(ay, by);
    if (maxX < this.minX || minX > this.maxX || maxY < this.minY || minY > this.maxY) return [];
    const intervals: CrossingSpan[] = [];
    for (const capsule of this.#capsules) {
      const [x0, y0, x1, y1] = capsule.box;
      if (maxX < x0 || minX > x1 || maxY < y0 || minY > y1) continue;
      const span = capsuleSpan(capsule, ax, ay, bx, by);
      if (span !== null) intervals.push(span);
    }
    return unite(intervals);
  }
}

/** Whether point(t) of the segment is within the capsule's reach (boundary included). */
function insideAt(capsule: Capsule, ax: number, ay: number, bx: number, by: number, t: number) {
  const p = toUnit(ax + t * (bx - ax), ay + t * (by - ay));
  const angle =
    capsule.ub === null ? angleBetween(p, capsule.ua) : angleToArc(p, capsule.ua, capsule.ub);
  return angle <= capsule.reach;
}

/** The stretch of the segment inside one capsule, or null. */
function capsuleSpan(
  capsule: Capsule,
  ax: number,
  ay: number,
  bx: number,
  by: number,
): CrossingSpan | null {
  const estimate = planarEstimate(capsule, ax, ay, bx, by);
  if (estimate === null) return null;
  const inside = (t: number) => insideAt(capsule, ax, ay, bx, by, t);
  const seed = Math.min(1, Math.max(0, estimate.seed));
  if (!inside(seed)) return null;
  const enter = inside(0) ? 0 : boundary(inside, seed, estimate.lo, 0);
  const exit = inside(1) ? 1 : boundary(inside, seed, estimate.hi, 1);
  return exit > enter ? { enter, exit } : null;
}

/**
 * The boundary between `seed` (inside) and `end` (0 or 1, outside), starting from the planar
 * guess: the bracket is widened from the guess until its outer end is outside, then bisected.
 */
function boundary(inside: (t: number) => boolean, seed: number, guess: number, end: 0 | 1): number {
  const dir = end === 1 ? 1 : -1;
  let margin = Math.max(1e-9, Math.abs(guess - seed) * 1e-3);
  let outer = seed + dir * Math.max(0, dir * (guess - seed)) + dir * margin;
  while (dir * (end - outer) > 0 && inside(outer)) {
    margin *= 4;
    outer = seed + dir * Math.max(0, dir * (guess - seed)) + dir * margin;
  }
  if (dir * (outer - end) >= 0) outer = end;
  let lo = seed;
  let hi = outer;
  // Narrow from the inside towards the guess first, so the bracket is not the whole segment.
  const near = seed + dir * Math.max(0, dir * (guess - seed)) - dir * margin;
  if (dir * (near - seed) > 0 && dir * (outer - near) > 0 && inside(near)) lo = near;
  for (let step = 0; step < MAX_STEPS && Math.abs(hi - lo) > T_EPSILON; step++) {
    const mid = (lo + hi) / 2;
    if (inside(mid)) lo = mid;
    else hi = mid;
  }
  return lo;
}

/**
 * On the plane tangent at the capsule's first position (radians; longitude scaled by the cosine
 * of its latitude): the t interval [lo, hi] where the line meets the capsule, and a seed t inside
 * it within [0, 1] (the point nearest the capsule's core). Null when the line misses the capsule
 * by more than a tenth of the reach (a grazing miss is left to the exact test).
 */
function planarEstimate(
  capsule: Capsule,
  ax: number,
  ay: number,
  bx: number,
  by: number,
): { lo: number; hi: number; seed: number } | null {
  const [lon0, lat0] = capsule.a;
  const k = Math.cos(lat0 * RADIANS);
  const project = (lon: number, lat: number): [number, number] => [
    wrap(lon - lon0) * k * RADIANS,
    (lat - lat0) * RADIANS,
  ];
  const [px, py] = project(ax, ay);
  const [qx, qy] = project(bx, by);
  const dx = qx - px;
  const dy = qy - py;
  const r = capsule.reach;
  const [ex, ey] = capsule.b === null ? [0, 0] : project(capsule.b[0], capsule.b[1]);
  // Nearest approach of the segment (t in [0, 1]) to the core segment 0–e, by sampling the
  // distance function's minimum: the squared distance to a segment is convex along a line.
  const dist = (t: number) => distanceToCore(px + t * dx, py + t * dy, ex, ey);
  let lo = 0;
  let hi = 1;
  for (let i = 0; i < 100 && hi - lo > 1e-12; i++) {
    const m1 = lo + (hi - lo) / 3;
    const m2 = hi - (hi - lo) / 3;
    if (dist(m1) <= dist(m2)) hi = m2;
    else lo = m1;
  }
  const seed = (lo + hi) / 2;
  if (dist(seed) > r * 1.1) return null;
  // The line's interval in the capsule: the hull of its intervals in both discs and the strip.
  let enter = Infinity;
  let exit = -Infinity;
  const take = (span: [number, number] | null) => {
    if (span === null) return;
    enter = Math.min(enter, span[0]);
    exit = Math.max(exit, span[1]);
  };
  take(discSpan(px, py, dx, dy, 0, 0, r));
  if (capsule.b !== null) {
    take(discSpan(px, py, dx, dy, ex, ey, r));
    take(stripSpan(px, py, dx, dy, ex, ey, r));
  }
  if (!(exit >= enter)) return { lo: seed, hi: seed, seed };
  return { lo: enter, hi: exit, seed };
}

/** Longitude difference into (−180, 180]. */
function wrap(deg: number): number {
  let d = deg % 360;
  if (d > 180) d -= 360;
  if (d <= -180) d += 360;
  return d;
}

/** Planar distance from (x, y) to the segment 0–(ex, ey). */
function distanceToCore(x: number, y: number, ex: number, ey: number): number {
  const l2 = ex * ex + ey * ey;
  const s = l2 === 0 ? 0 : Math.max(0, Math.min(1, (x * ex + y * ey) / l2));
  return Math.hypot(x - s * ex, y - s * ey);
}

/** The t interval where the line p + t·d is within r of (cx, cy), or null. */
function discSpan(
  px: number,
  py: number,
  dx: number,
  dy: number,
  cx: number,
  cy: number,
  r: number,
): [number, number] | null {
  const fx = px - cx;
  const fy = py - cy;
  const a = dx * dx + dy * dy;
  const c = fx * fx + fy * fy - r * r;
  if (a === 0) return c <= 0 ? [-Infinity, Infinity] : null;
  const half = fx * dx + fy * dy;
  const disc = half * half - a * c;
  if (disc < 0) return null;
  const root = Math.sqrt(disc);
  return [(-half - root) / a, (-half + root) / a];
}

/** The t interval where the line p + t·d lies beside the segment 0–e within r of it, or null. */
function stripSpan(
  px: number,
  py: number,
  dx: number,
  dy: number,
  ex: number,
  ey: number,
  r: number,
): [number, number] | null {
  const length = Math.hypot(ex, ey);
  if (length === 0) return null;
  const ux = ex / length;
  const uy = ey / length;
  // Along the core (0 ≤ s ≤ length) and across it (|h| ≤ r), both linear in t.
  let lo = -Infinity;
  let hi = Infinity;
  const clip = (v0: number, v1: number, min: number, max: number) => {
    if (v1 === 0) {
      if (v0 < min || v0 > max) hi = -Infinity;
      return;
    }
    const t0 = (min - v0) / v1;
    const t1 = (max - v0) / v1;
    lo = Math.max(lo, Math.min(t0, t1));
    hi = Math.min(hi, Math.max(t0, t1));
  };
  clip(px * ux + py * uy, dx * ux + dy * uy, 0, length);
  clip(px * uy - py * ux, dx * uy - dy * ux, -r, r);
  return hi >= lo ? [lo, hi] : null;
}

/** The union of the intervals, in order; at most MAX_SPANS (the last one spans the rest). */
function unite(intervals: CrossingSpan[]): CrossingSpan[] {
  intervals.sort((p, q) => p.enter - q.enter || p.exit - q.exit);
  const merged: CrossingSpan[] = [];
  for (const { enter, exit } of intervals) {
    const last = merged[merged.length - 1];
    if (last !== undefined && enter <= last.exit) last.exit = Math.max(last.exit, exit);
    else merged.push({ enter, exit });
  }
  if (merged.length <= MAX_SPANS) return merged;
  const kept = merged.slice(0, MAX_SPANS - 1);
  const rest = merged.slice(MAX_SPANS - 1);
  kept.push({
    enter: (rest[0] as CrossingSpan).enter,
    exit: Math.max(...rest.map((s) => s.exit)),
  });
  return kept;
}
