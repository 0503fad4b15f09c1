// Point-to-boundary distance in metres, the measure behind the hysteresis band.

import { describe, expect, it } from "vitest";
import { distanceToBoundaryM } from "./distance.ts";
import type { MultiPolygonCoords, Position } from "./fence.ts";

const LAT = 52.5;
const LON = 13.4;
const M_PER_DEG_LAT = (6_371_008.8 * Math.PI) / 180;
const M_PER_DEG_LON = M_PER_DEG_LAT * Math.cos((LAT * Math.PI) / 180);

/** The position `east` and `north` metres from (LON, LAT). */
function at(east: number, north: number): Position {
  return [LON + east / M_PER_DEG_LON, LAT + north / M_PER_DEG_LAT];
}

function square(x0: number, y0: number, x1: number, y1: number) {
  return [at(x0, y0), at(x1, y0), at(x1, y1), at(x0, y1), at(x0, y0)];
}

describe("distanceToBoundaryM", () => {
  const kmSquare: MultiPolygonCoords = [[square(0, 0, 1000, 1000), square(400, 400, 600, 600)]];

  const cases: [string, Position, number][] = [
    ["on an edge", at(1000, 500), 0],
    ["on a vertex", at(0, 0), 0],
    ["100 m east of the east edge", at(1100, 500), 100],
    ["30 m south of the south edge", at(500, -30), 30],
    ["diagonally off a corner", at(-30, -40), 50],
    ["inside, nearest the west edge", at(100, 200), 100],
    ["inside the hole, nearest the hole's edge", at(500, 480), 80],
  ];
  it.each(cases)("%s", (_name, [lon, lat], metres) => {
    // The projection is centred on the point, the helper on (LON, LAT): allow 0.1%.
    expect(Math.abs(distanceToBoundaryM(kmSquare, lon, lat) - metres)).toBeLessThanOrEqual(
      metres / 1000,
    );
  });

  it("stays within 0.5% of the true distance for kilometre bands", () => {
    const [lon, lat] = at(3000, 500);
    expect(Math.abs(distanceToBoundaryM(kmSquare, lon, lat) - 2000)).toBeLessThan(10);
  });

  it("measures to the nearest of several polygons", () => {
    const two: MultiPolygonCoords = [[square(0, 0, 10, 10)], [square(100, 0, 110, 10)]];
    const [lon, lat] = at(80, 5);
    expect(distanceToBoundaryM(two, lon, lat)).toBeCloseTo(20, 1);
  });

  it("is infinite for a fence without any ring", () => {
    expect(distanceToBoundaryM([], LON, LAT)).toBe(Number.POSITIVE_INFINITY);
  });
});
