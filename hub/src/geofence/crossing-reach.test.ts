// Crossings through circles and corridors: hand-made cases, and a property test against an
// independent oracle (turf's great-circle distances, sampled densely along the segment).

import { distance as turfDistance } from "@turf/distance";
import { lineString } from "@turf/helpers";
import { pointToLineDistance } from "@turf/point-to-line-distance";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { type CrossingSpan, crossableShape } from "./crossing.ts";
import type { Fence, Position } from "./fence.ts";
import { distanceToCenterM, distanceToLineM } from "./reach.ts";

const circle = (center: Position, radius_m: number): Fence => ({
  id: "c",
  name: "c",
  polygons: [],
  circle: { center, radius_m },
  detect_crossing: true,
});
const corridor = (line: Position[], width_m: number): Fence => ({
  id: "k",
  name: "k",
  polygons: [],
  corridor: { line, width_m },
  detect_crossing: true,
});
const at = (a: Position, b: Position, t: number): [number, number] => [
  a[0] + t * (b[0] - a[0]),
  a[1] + t * (b[1] - a[1]),
];

describe("crossings through a circle", () => {
  const fence = circle([10, 50], 1000);
  const shape = crossableShape(fence);

  it("a segment through the centre enters and exits symmetrically, on the engine's edge", () => {
    const a: Position = [9.9, 50];
    const b: Position = [10.1, 50];
    const spans = shape.spans(a[0], a[1], b[0], b[1]);
    expect(spans).toHaveLength(1);
    const { enter, exit } = spans[0] as CrossingSpan;
    // 0.2° of longitude at 50°N is ~14.3 km: the circle takes ~2 km of it around the middle.
    const length = distanceToCenterM({ center: a, radius_m: 0 }, b[0], b[1]);
    expect(enter).toBeCloseTo(0.5 - 1000 / length, 3);
    expect(exit).toBeCloseTo(0.5 + 1000 / length, 3);
    expect(enter + exit).toBeCloseTo(1, 6);
    const c = fence.circle as NonNullable<Fence["circle"]>;
    for (const t of [enter, exit]) {
      expect(Math.abs(distanceToCenterM(c, ...at(a, b, t)) - 1000)).toBeLessThan(0.001);
    }
  });

  it("a segment passing just outside gives nothing; just inside, one short span", () => {
    // 1° of latitude is ~111.195 km: 1001 m and 999 m north of the centre.
    const dLat = (m: number) => m / 111_195.08;
    const out = shape.spans(9.9, 50 + dLat(1001), 10.1, 50 + dLat(1001));
    expect(out).toEqual([]);
    const grazing = shape.spans(9.9, 50 + dLat(999), 10.1, 50 + dLat(999));
    expect(grazing).toHaveLength(1);
    const { enter, exit } = grazing[0] as CrossingSpan;
    expect(exit - enter).toBeGreaterThan(0);
    expect(exit - enter).toBeLessThan(0.01);
  });

  it("a segment ending inside exits at 1", () => {
    const spans = shape.spans(9.9, 50, 10, 50);
    expect(spans).toHaveLength(1);
    expect((spans[0] as CrossingSpan).exit).toBe(1);
  });
});

describe("crossings through a corridor", () => {
  it("a corridor with a bend crossed twice gives two spans on the engine's edge", () => {
    const fence = corridor(
      [
        [10, 50],
        [10.05, 50.05],
        [10.1, 50],
      ],
      200,
    );
    const shape = crossableShape(fence);
    const a: Position = [9.95, 50.02];
    const b: Position = [10.15, 50.02];
    const spans = shape.spans(a[0], a[1], b[0], b[1]);
    expect(spans).toHaveLength(2);
    const [first, second] = spans as [CrossingSpan, CrossingSpan];
    expect(first.exit).toBeLessThan(0.5);
    expect(second.enter).toBeGreaterThan(0.5);
    const k = fence.corridor as NonNullable<Fence["corridor"]>;
    for (const t of [first.enter, first.exit, second.enter, second.exit]) {
      expect(Math.abs(distanceToLineM(k, ...at(a, b, t)) - 100)).toBeLessThan(0.001);
    }
    // Mirror image: the crossings are symmetric about the bend's meridian.
    expect(first.enter + second.exit).toBeCloseTo(1, 6);
  });

  it("a segment cutting the bend's corner is one span (the two capsules unite)", () => {
    const fence = corridor(
      [
        [10, 50],
        [10.05, 50],
        [10.05, 50.05],
      ],
      200,
    );
    // From 36 m before the bend on the first leg to 56 m after it on the second: neither leg's
    // capsule alone holds the whole segment, their union does.
    expect(crossableShape(fence).spans(10.0495, 50, 10.05, 50.0005)).toEqual([
      { enter: 0, exit: 1 },
    ]);
  });
});

/** Metres of disagreement allowed with turf at the edge (rounding, turf's sphere). */
const tolerance = (reach: number) => 0.01 + reach * 1e-6;
const SAMPLES = 2000;

/**
 * Samples the segment: every sample further than the tolerance from the edge (by turf) must be
 * inside a span exactly when turf says it is within reach. Returns the disagreements.
 */
function disagreements(
  spans: readonly CrossingSpan[],
  a: Position,
  b: Position,
  reach: number,
  oracle: (p: [number, number]) => number,
): number {
  let wrong = 0;
  for (let i = 0; i <= SAMPLES; i++) {
    const t = i / SAMPLES;
    const d = oracle(at(a, b, t));
    if (Math.abs(d - reach) <= tolerance(reach)) continue;
    const inSpan = spans.some((s) => s.enter <= t && t <= s.exit);
    if (inSpan !== d <= reach) wrong++;
  }
  return wrong;
}

const centre = fc.tuple(
  fc.double({ min: -170, max: 170, noNaN: true }),
  fc.double({ min: -70, max: 70, noNaN: true }),
);
const metres = fc.noBias(fc.integer({ min: 1000, max: 4700 })).map((k) => 10 ** (k / 1000));
const offset = fc.double({ min: -3, max: 3, noNaN: true });

/** A point `fx`, `fy` reaches away from `c` (reach in metres, in degrees roughly). */
function near(c: Position, reach: number, fx: number, fy: number): Position {
  const deg = reach / 111_195;
  return [c[0] + (fx * deg) / Math.cos((c[1] * Math.PI) / 180), c[1] + fy * deg];
}

const circleOracle = (c: Position) => (p: [number, number]) =>
  turfDistance(c as [number, number], p, { units: "meters" });
const lineOracle = (line: Position[]) => {
  const geo = lineString(line as [number, number][]);
  return (p: [number, number]) => pointToLineDistance(p, geo, { units: "meters" });
};

describe("crossings through circles and corridors against turf", () => {
  it("circles: spans agree with densely sampled great-circle distance", () => {
    fc.assert(
      fc.property(centre, metres, offset, offset, offset, offset, (c, r, f1, f2, f3, f4) => {
        const a = near(c, r, f1, f2);
        const b = near(c, r, f3, f4);
        const spans = crossableShape(circle(c, r)).spans(a[0], a[1], b[0], b[1]);
        expect(disagreements(spans, a, b, r, circleOracle(c))).toBe(0);
      }),
      { numRuns: 60, seed: 20261206 },
    );
  });

  it("corridors: spans agree with densely sampled distance to the line", () => {
    fc.assert(
      fc.property(
        centre,
        metres,
        fc.array(fc.tuple(offset, offset), { minLength: 2, maxLength: 5 }),
        offset,
        offset,
        offset,
        offset,
        (c, w, bends, f1, f2, f3, f4) => {
          const line = bends.map(([x, y]) => near(c, w, 2 * x, 2 * y));
          if (line.every((p) => p[0] === line[0]?.[0] && p[1] === line[0]?.[1])) return;
          const a = near(c, w, 2 * f1, 2 * f2);
          const b = near(c, w, 2 * f3, 2 * f4);
          const spans = crossableShape(corridor(line, w)).spans(a[0], a[1], b[0], b[1]);
          expect(disagreements(spans, a, b, w / 2, lineOracle(line))).toBe(0);
        },
      ),
      { numRuns: 60, seed: 20261206 },
    );
  });
});
