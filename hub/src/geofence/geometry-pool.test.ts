// The geometry worker pool over a real worker thread: same verdicts as validateGeometry, the
// queue bound, and a new worker after the old one died.

import { afterEach, describe, expect, it } from "vitest";
import { flattenPolygons, nestPolygons } from "./flat-polygons.ts";
import { GeometryPool, GeometryPoolBusy } from "./geometry-pool.ts";
import { validateGeometry } from "./validate.ts";

const pools: GeometryPool[] = [];
afterEach(async () => {
  for (const pool of pools.splice(0)) await pool.close();
});
function newPool(maxPending = 4, maxOldGenerationSizeMb?: number): GeometryPool {
  const pool = new GeometryPool({
    maxPending,
    ...(maxOldGenerationSizeMb === undefined ? {} : { resourceLimits: { maxOldGenerationSizeMb } }),
  });
  pools.push(pool);
  return pool;
}

const CLOCKWISE: number[][] = [
  [0, 0],
  [0, 1],
  [1, 1, 30],
  [1, 1],
  [1, 0],
  [0, 0],
];
const HOLE: [number, number][] = [
  [0.2, 0.2],
  [0.2, 0.4],
  [0.4, 0.4],
  [0.4, 0.2],
  [0.2, 0.2],
];
const BOWTIE: [number, number][] = [
  [0, 0],
  [1, 1],
  [1, 0],
  [0, 1],
  [0, 0],
];

function body(geometry: unknown): string {
  return JSON.stringify({ type: "Feature", properties: { name: "x" }, geometry });
}

describe("flat polygons", () => {
  it("round-trips nested coordinates through typed arrays", () => {
    const polygons = [[BOWTIE, HOLE], [HOLE.map(([x, y]): [number, number] => [x + 5, y])]];
    const flat = flattenPolygons(polygons);
    expect(flat.ringEnds).toEqual(new Uint32Array([5, 10, 15]));
    expect(flat.polygonEnds).toEqual(new Uint32Array([2, 3]));
    expect(nestPolygons(flat)).toEqual(polygons);
  });
});

describe("GeometryPool", () => {
  it("gives validateGeometry's verdicts, with the polygons as JSON too", async () => {
    const pool = newPool();
    for (const geometry of [
      { type: "Polygon", coordinates: [CLOCKWISE, HOLE] },
      { type: "MultiPolygon", coordinates: [[CLOCKWISE], [HOLE.map(([x, y]) => [x + 3, y])]] },
      { type: "Polygon", coordinates: [BOWTIE] },
      { type: "Polygon", coordinates: [[[0, 0], "a"]] },
    ]) {
      const inline = validateGeometry(geometry, { maxVertices: 100 });
      const offloaded = await pool.check(body(geometry), 100);
      if (inline.ok) {
        expect(offloaded).toEqual({ ...inline, polygonsJson: JSON.stringify(inline.polygons) });
      } else {
        expect(offloaded).toEqual(inline);
      }
    }
    const capped = await pool.check(body({ type: "Polygon", coordinates: [CLOCKWISE] }), 5);
    expect(capped).toMatchObject({ ok: false, problem: { path: "geometry.coordinates" } });
  });

  it("refuses a job beyond the bound and takes jobs again once they are answered", async () => {
    const pool = newPool(2);
    const geometry = body({ type: "Polygon", coordinates: [CLOCKWISE] });
    const first = pool.check(geometry, 100);
    const second = pool.check(geometry, 100);
    expect(pool.pending).toBe(2);
    await expect(pool.check(geometry, 100)).rejects.toBeInstanceOf(GeometryPoolBusy);
    expect((await first).ok).toBe(true);
    expect((await second).ok).toBe(true);
    expect(pool.pending).toBe(0);
    expect((await pool.check(geometry, 100)).ok).toBe(true);
  });

  it("fails a job the worker cannot read, and every job once closed", async () => {
    const pool = newPool();
    // Text the main thread would never send: the worker's JSON.parse fails, the job with it.
    await expect(pool.check("{", 100)).rejects.toThrow(/geometry check failed/);
    const geometry = body({ type: "Polygon", coordinates: [CLOCKWISE] });
    expect((await pool.check(geometry, 100)).ok).toBe(true);
    await pool.close();
    await expect(pool.check(geometry, 100)).rejects.toThrow(/closed/);
  });

  it("fails the job of a worker that ran out of memory and starts a new one for the next", async () => {
    const pool = newPool(4, 64);
    // A million positions: far more heap than the worker may take to read and check them.
    const ring = Array.from({ length: 1_000_000 }, (_, i) => [i * 1e-6, (i % 2) * 1e-6]);
    const huge = body({ type: "Polygon", coordinates: [ring] });
    await expect(pool.check(huge, 2_000_000)).rejects.toThrow(/geometry worker stopped/);
    const geometry = body({ type: "Polygon", coordinates: [CLOCKWISE] });
    expect((await pool.check(geometry, 100)).ok).toBe(true);
  });
});
