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

/** The pool's verdict on `text`, bodies kept 8 levels deep. */
function check(pool: GeometryPool, text: string, maxVertices: number) {
  return pool.check(text, { maxVertices, keepDepth: 8 });
}

/** The stand-in coordinates the worker leaves in a body with a valid Polygon. */
const STAND_IN = [
  [
    [0, 0],
    [0, 0],
    [0, 0],
    [0, 0],
  ],
];

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
      const offloaded = await check(pool, body(geometry), 100);
      if (inline.ok) {
        const { polygons, vertexCount } = inline;
        const polygonsJson = JSON.stringify(polygons);
        expect(offloaded).toMatchObject({ kind: "checked", geometry: { polygons, vertexCount } });
        expect(offloaded).toMatchObject({ geometry: { polygonsJson } });
      } else {
        expect(offloaded).toEqual({ kind: "invalid", problem: inline.problem });
      }
    }
    const capped = await check(pool, body({ type: "Polygon", coordinates: [CLOCKWISE] }), 5);
    expect(capped).toMatchObject({ kind: "invalid", problem: { path: "geometry.coordinates" } });
  });

  it("answers the body without its coordinates, and cut below the depth kept", async () => {
    const pool = newPool();
    // Deeper than JSON.stringify can go: the worker must not recurse on it either.
    const deep = `${"[".repeat(100_000)}"bottom"${"]".repeat(100_000)}`;
    const sent = {
      type: "Feature",
      id: "g1",
      geometry: { type: "Polygon", bbox: [0, 0, 1, 1], coordinates: [CLOCKWISE] },
      properties: { name: "x", hysteresis_m: 5, deep: "DEEP" },
    };
    const text = JSON.stringify(sent).replace('"DEEP"', deep);
    const offloaded = await check(pool, text, 100);
    expect(offloaded.kind).toBe("checked");
    const answered = offloaded.kind === "checked" ? offloaded.body : undefined;
    // Levels 1 (the body) to 8 as sent: properties is level 2, deep level 3, so 5 arrays deeper
    // the 6th is cut.
    expect(answered).toEqual({
      ...sent,
      geometry: { type: "Polygon", bbox: [0, 0, 1, 1], coordinates: STAND_IN },
      properties: { name: "x", hysteresis_m: 5, deep: [[[[[[{}]]]]]] },
    });
    // No geometry: the body is answered as parsed, nothing validated.
    const bare = await check(pool, JSON.stringify({ type: "Feature", properties: {} }), 100);
    expect(bare).toEqual({ kind: "checked", body: { type: "Feature", properties: {} } });
    // No object: the caller parses it itself.
    expect(await check(pool, "[1, 2]", 100)).toEqual({ kind: "checked" });
  });

  it("refuses what fastify's JSON parser refuses", async () => {
    const pool = newPool();
    for (const text of [
      "{",
      '{"type": "Feature", "__proto__": {"x": 1}}',
      '{"properties": {"constructor": {"prototype": {"x": 1}}}}',
    ]) {
      expect(await check(pool, text, 100)).toEqual({ kind: "unparsable" });
    }
  });

  it("refuses a job beyond the bound and takes jobs again once they are answered", async () => {
    const pool = newPool(2);
    const geometry = body({ type: "Polygon", coordinates: [CLOCKWISE] });
    const first = check(pool, geometry, 100);
    const second = check(pool, geometry, 100);
    expect(pool.pending).toBe(2);
    await expect(check(pool, geometry, 100)).rejects.toBeInstanceOf(GeometryPoolBusy);
    expect((await first).kind).toBe("checked");
    expect((await second).kind).toBe("checked");
    expect(pool.pending).toBe(0);
    expect((await check(pool, geometry, 100)).kind).toBe("checked");
  });

  it("fails every job once closed", async () => {
    const pool = newPool();
    const geometry = body({ type: "Polygon", coordinates: [CLOCKWISE] });
    expect((await check(pool, geometry, 100)).kind).toBe("checked");
    await pool.close();
    await expect(check(pool, geometry, 100)).rejects.toThrow(/closed/);
  });

  it("fails the job of a worker that ran out of memory and starts a new one for the next", async () => {
    const pool = newPool(4, 64);
    // A million positions: far more heap than the worker may take to read and check them.
    const ring = Array.from({ length: 1_000_000 }, (_, i) => [i * 1e-6, (i % 2) * 1e-6]);
    const huge = body({ type: "Polygon", coordinates: [ring] });
    await expect(check(pool, huge, 2_000_000)).rejects.toThrow(/geometry worker stopped/);
    const geometry = body({ type: "Polygon", coordinates: [CLOCKWISE] });
    expect((await check(pool, geometry, 100)).kind).toBe("checked");
  });
});
