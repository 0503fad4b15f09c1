// The spatial lookup every geofence backend offers: which fences cover a point, and which fences
// that detect crossings a segment's box meets.
// Results may be promises so that a database-backed index (PostGIS) fits the same interface.

import type { Fence } from "./fence.ts";

/** A result that is either ready now or arrives later. */
export type MaybePromise<T> = T | Promise<T>;

/** A point as GeoJSON orders it: [longitude, latitude], WGS 84 degrees. */
export type LonLat = readonly [number, number];

/** An axis-aligned box: [minLon, minLat, maxLon, maxLat]. */
export type Box = readonly [number, number, number, number];

/**
 * The set of live fences, searchable by point. Semantics are those of PostGIS `ST_Covers` on
 * planar SRID 4326 geometry: a point on an edge or vertex (of a shell or of a hole) is covered,
 * a point strictly inside a hole is not.
 */
export interface FenceIndex {
  /** Adds the fence, or replaces the geometry and settings of the fence with the same id. */
  upsert(fence: Fence): MaybePromise<void>;
  /**
   * Takes the stored fences at start. An index that is the store's own table (PostGIS) already
   * holds them and only reads its size.
   */
  load(fences: readonly Fence[]): MaybePromise<void>;
  /** Forgets the fence with this id; an unknown id is not an error. */
  remove(id: string): MaybePromise<void>;
  /**
   * For each point, the ids of the fences covering it, sorted by UTF-16 code units (JavaScript's
   * default string order; PostgreSQL gives the same for ASCII ids under `COLLATE "C"`).
   */
  covering(points: readonly LonLat[]): MaybePromise<string[][]>;
  /**
   * For each box (a segment's between two fixes), the ids of the fences with `detect_crossing`
   * whose bounding box meets it, sorted as `covering` sorts. A superset is allowed: the caller
   * tests the segment against each fence's exact shape.
   */
  crossingCandidates(boxes: readonly Box[]): MaybePromise<string[][]>;
  /** How many fences are held. */
  readonly size: number;
}

/** The string order every FenceIndex result and every transition list is sorted by. */
export function compareIds(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
