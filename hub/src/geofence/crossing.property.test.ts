// The crossing maths against an independent oracle (turf): on random star-shaped polygons, with
// holes and second parts, and random segments whose ends are both outside, the spans must start
// and end where turf finds the segment meeting the boundary, there must be as many ends as
// boundary crossings, and turf must find a span's middle inside and a gap's middle outside.

import booleanIntersects from "@turf/boolean-intersects";
import { lineString, multiPolygon, point } from "@turf/helpers";
import lineIntersect from "@turf/line-intersect";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { crossableShape, MAX_SPANS } from "./crossing.ts";
import type { Position, Ring } from "./fence.ts";

type Polygons = Ring[][];

/** A star-shaped ring around (cx, cy): n vertices at jittered angles and radii. */
function star(cx: number, cy: number, size: number, radii: number[]): Ring {
  const n = radii.length;
  const ring: Position[] = radii.map((r, i) => {
    const angle = (i * 2 * Math.PI) / n;
    return [cx + size * r * Math.cos(angle), cy + size * r * Math.sin(angle)];
  });
  ring.push(ring[0] as Position);
  return ring;
}

/** Near Berlin, a few km across: one star (radii 0.5–1), maybe a hole, maybe a second part. */
const polygonsArb: fc.Arbitrary<Polygons> = fc
  .record({
    cx: fc.double({ min: 13.3, max: 13.5, noNaN: true }),
    cy: fc.double({ min: 52.4, max: 52.6, noNaN: true }),
    size: fc.double({ min: 0.005, max: 0.05, noNaN: true }),
    radii: fc.array(fc.double({ min: 0.5, max: 1, noNaN: true }), { minLength: 3, maxLength: 24 }),
    hole: fc.option(fc.integer({ min: 3, max: 8 })),
    second: fc.option(
      fc.record({
        dx: fc.double({ min: -0.15, max: 0.15, noNaN: true }),
        radii: fc.array(fc.double({ min: 0.5, max: 1, noNaN: true }), {
          minLength: 3,
          maxLength: 12,
        }),
      }),
    ),
  })
  .map(({ cx, cy, size, radii, hole, second }) => {
    const rings: Ring[] = [star(cx, cy, size, radii)];
    // Every edge of the shell keeps outside a disc of radius 0.5·size·cos(π/n) ≥ 0.25·size.
    if (hole !== null) rings.push([...star(cx, cy, 0.2 * size, new Array(hole).fill(1))].reverse());
    const polygons: Polygons = [rings];
    // Far enough along x never to overlap the first: |dx| ≥ 2.2·size.
    if (second !== null) {
      const dx = Math.sign(second.dx || 1) * (2.2 * size + Math.abs(second.dx));
      polygons.push([star(cx + dx, cy, size, second.radii)]);
    }
    return polygons;
  });

/** A uniform double in [min, max] (fast-check's doubles favour the bounds). */
function uniform(min: number, max: number): fc.Arbitrary<number> {
  return fc.integer({ min: 0, max: 1_000_000 }).map((k) => min + ((max - min) * k) / 1_000_000);
}

/**
 * A segment between two points around the polygons' bbox centre, 0.3 to 1.5 times its size
 * away: most pass through or near the shapes, some end inside them (and are filtered out).
 */
function segmentArb(polygons: Polygons): fc.Arbitrary<[Position, Position]> {
  const xs = polygons.flat(2).map((p) => p[0]);
  const ys = polygons.flat(2).map((p) => p[1]);
  const [x0, x1, y0, y1] = [Math.min(...xs), Math.max(...xs), Math.min(...ys), Math.max(...ys)];
  const [cx, cy, size] = [(x0 + x1) / 2, (y0 + y1) / 2, Math.max(x1 - x0, y1 - y0)];
  const position = fc
    .tuple(uniform(0, 2 * Math.PI), uniform(0.3, 1.5))
    .map(
      ([angle, r]): Position => [cx + size * r * Math.cos(angle), cy + size * r * Math.sin(angle)],
    );
  return fc.tuple(position, position);
}

const caseArb = polygonsArb.chain((polygons) =>
  segmentArb(polygons).map((segment) => ({ polygons, segment })),
);

describe("crossing spans agree with turf", () => {
  it("on random polygons with holes and parts, for segments with both ends outside", () => {
    let crossed = 0;
    let severalSpans = 0;
    fc.assert(
      fc.property(caseArb, ({ polygons, segment }) => {
        const shape = multiPolygon(polygons as unknown as number[][][][]);
        const [a, b] = segment;
        const outside = (p: Position) => !booleanIntersects(point([...p]), shape);
        fc.pre(outside(a) && outside(b));

        const spans = crossableShape({ polygons }).spans(a[0], a[1], b[0], b[1]);
        const at = (t: number): Position => [a[0] + t * (b[0] - a[0]), a[1] + t * (b[1] - a[1])];
        const line = lineString([[...a], [...b]]);

        expect(spans.length > 0).toBe(booleanIntersects(line, shape));
        if (spans.length === 0) return;
        crossed++;
        if (spans.length > 1) severalSpans++;

        const hits = distinct(
          lineIntersect(line, shape).features.map(
            (f) => f.geometry.coordinates as unknown as Position,
          ),
        );
        const scale = Math.hypot(b[0] - a[0], b[1] - a[1]);
        for (const s of spans) {
          expect(s.enter).toBeGreaterThan(0);
          expect(s.exit).toBeLessThan(1);
          expect(s.exit).toBeGreaterThan(s.enter);
          for (const t of [s.enter, s.exit]) {
            const [x, y] = at(t);
            const nearest = Math.min(...hits.map(([hx, hy]) => Math.hypot(hx - x, hy - y)));
            expect(nearest / scale).toBeLessThan(1e-9);
          }
          expect(booleanIntersects(point([...at((s.enter + s.exit) / 2)]), shape)).toBe(true);
        }
        for (let k = 0; k + 1 < spans.length; k++) {
          const gap = ((spans[k]?.exit as number) + (spans[k + 1]?.enter as number)) / 2;
          expect(booleanIntersects(point([...at(gap)]), shape)).toBe(false);
        }
        if (spans.length < MAX_SPANS) expect(hits.length).toBe(2 * spans.length);
      }),
      { numRuns: 400 },
    );
    // The generator must actually exercise crossings, including through holes or two parts.
    expect(crossed).toBeGreaterThan(50);
    expect(severalSpans).toBeGreaterThan(5);
  });
});

/** The points, with near-duplicates (a crossing at a shared vertex reported twice) dropped. */
function distinct(points: Position[]): Position[] {
  const out: Position[] = [];
  for (const p of points) {
    if (!out.some((q) => Math.hypot(q[0] - p[0], q[1] - p[1]) < 1e-12)) out.push(p);
  }
  return out;
}
