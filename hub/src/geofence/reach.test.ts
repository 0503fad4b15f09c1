import { describe, expect, it } from "vitest";
import { distanceToEdgeM } from "./distance.ts";
import type { CircleShape, CorridorShape, Fence, Position } from "./fence.ts";
import { compileFence, geometryCovers } from "./geometry.ts";
import { compileReaches, distanceToCenterM, distanceToLineM, reachBounds } from "./reach.ts";
import { angleToArc, reachBox, SPHERE_RADIUS_M, toUnit } from "./sphere.ts";

/** Degrees of latitude for `m` metres on the model sphere (exact along a meridian). */
const degLat = (m: number) => (m / SPHERE_RADIUS_M) * (180 / Math.PI);

const circle = (lon: number, lat: number, radius_m: number): Fence => ({
  id: "c",
  name: "c",
  polygons: [],
  circle: { center: [lon, lat], radius_m },
});
const corridor = (line: [number, number][], width_m: number): Fence => ({
  id: "r",
  name: "r",
  polygons: [],
  corridor: { line, width_m },
});

describe("circles", () => {
  it("covers points up to the radius, boundary inside, measured along a meridian", () => {
    const g = compileFence(circle(13.4, 52.5, 1000));
    expect(geometryCovers(g, 13.4, 52.5)).toBe(true);
    expect(geometryCovers(g, 13.4, 52.5 + degLat(999.99))).toBe(true);
    expect(geometryCovers(g, 13.4, 52.5 - degLat(999.99))).toBe(true);
    expect(geometryCovers(g, 13.4, 52.5 + degLat(1000.01))).toBe(false);
    expect(
      distanceToCenterM(circle(13.4, 52.5, 1).circle as CircleShape, 13.4, 52.5 + degLat(1000)),
    ).toBeCloseTo(1000, 6);
  });

  it("is round, not a lon/lat box: east-west degrees are shorter at 60°N", () => {
    const g = compileFence(circle(10, 60, 1000));
    // 1 km east at 60°N is about twice as many degrees of longitude as of latitude.
    const east = degLat(1000) / Math.cos((60 * Math.PI) / 180);
    expect(geometryCovers(g, 10 + east * 0.999, 60)).toBe(true);
    expect(geometryCovers(g, 10 + east * 1.001, 60)).toBe(false);
    expect(geometryCovers(g, 10 + (east * 800) / 1000, 60 + degLat(800))).toBe(false);
    expect(geometryCovers(g, 10 + (east * 600) / 1000, 60 + degLat(790))).toBe(true);
  });

  it("reaches across the antimeridian and over a pole", () => {
    const date = compileFence(circle(179.999, 0, 10_000));
    expect(geometryCovers(date, -179.95, 0)).toBe(true);
    expect(geometryCovers(date, -179.9, 0)).toBe(false);
    expect(geometryCovers(date, 179.95, 0)).toBe(true);
    const pole = compileFence(circle(0, 89.95, 20_000));
    expect(geometryCovers(pole, 180, 89.95)).toBe(true);
    expect(geometryCovers(pole, 90, 89.9)).toBe(true);
    expect(geometryCovers(pole, 0, 89.7)).toBe(false);
  });
});

describe("corridors", () => {
  const equator = corridor(
    [
      [0, 0],
      [1, 0],
    ],
    200,
  );

  it("covers up to half the width from the line, with round ends", () => {
    const g = compileFence(equator);
    expect(geometryCovers(g, 0.5, degLat(99.99))).toBe(true);
    expect(geometryCovers(g, 0.5, -degLat(99.99))).toBe(true);
    expect(geometryCovers(g, 0.5, degLat(100.01))).toBe(false);
    expect(geometryCovers(g, 1 + degLat(99.99), 0)).toBe(true);
    expect(geometryCovers(g, 1 + degLat(100.01), 0)).toBe(false);
    expect(geometryCovers(g, -degLat(70), degLat(70))).toBe(true);
    expect(geometryCovers(g, -degLat(71), degLat(71))).toBe(false);
  });

  it("follows great-circle arcs: the arc from (0°, 60°N) to (10°, 60°N) bulges north", () => {
    const line = corridor(
      [
        [0, 60],
        [10, 60],
      ],
      100,
    );
    const g = compileFence(line);
    // The great circle's highest point, halfway, is about 0.09° north of the 60th parallel.
    expect(geometryCovers(g, 5, 60)).toBe(false);
    const p = toUnit(5, 60);
    const arcNorth = angleToArc(p, toUnit(0, 60), toUnit(10, 60)) * (180 / Math.PI);
    expect(arcNorth).toBeGreaterThan(0.09);
    expect(geometryCovers(g, 5, 60 + arcNorth)).toBe(true);
    // The bbox includes the bulge.
    const [box] = compileReaches(line);
    expect(box?.maxY).toBeGreaterThan(60 + arcNorth);
  });

  it("tests long lines part by part, each part boxed on its own", () => {
    const line: [number, number][] = [];
    for (let i = 0; i <= 100; i++) line.push([i * 0.01, (i % 2) * 0.01]);
    const fence = corridor(line, 50);
    const parts = compileReaches(fence);
    expect(parts.length).toBe(Math.ceil(100 / 16));
    const g = compileFence(fence);
    for (let i = 0; i < 100; i++) {
      const [x, y] = [
        ((line[i] as Position)[0] + (line[i + 1] as Position)[0]) / 2,
        ((line[i] as Position)[1] + (line[i + 1] as Position)[1]) / 2,
      ];
      expect(geometryCovers(g, x, y)).toBe(true);
    }
    expect(geometryCovers(g, 0.5, 0.02)).toBe(false);
  });

  it("measures distances to the line for hysteresis", () => {
    const d = distanceToLineM(equator.corridor as CorridorShape, 0.5, degLat(250));
    expect(d).toBeCloseTo(250, 6);
    expect(distanceToEdgeM(equator, 0.5, degLat(250))).toBeCloseTo(150, 6);
    expect(distanceToEdgeM(equator, 0.5, 0)).toBe(0);
    expect(distanceToEdgeM(circle(0, 0, 100), 0, degLat(130))).toBeCloseTo(30, 6);
  });
});

describe("bboxes", () => {
  it("grow by the reach, and span all longitudes near a pole or across the antimeridian", () => {
    const [minX, minY, maxX, maxY] = reachBox([[10, 0]], false, 1000 / SPHERE_RADIUS_M);
    expect(maxY - minY).toBeCloseTo(2 * degLat(1000), 7);
    expect(maxX - minX).toBeCloseTo(2 * degLat(1000), 7);
    expect(reachBox([[179.99, 10]], false, 10_000 / SPHERE_RADIUS_M)).toEqual([
      -180,
      expect.any(Number),
      180,
      expect.any(Number),
    ]);
    const across = reachBox(
      [
        [179.5, 0],
        [-179.5, 0],
      ],
      true,
      1 / SPHERE_RADIUS_M,
    );
    expect([across[0], across[2]]).toEqual([-180, 180]);
    const polar = reachBounds(circle(0, 89.99, 5000));
    expect(polar).toEqual([-180, expect.any(Number), 180, 90]);
  });
});
