// Circles and corridors in the memory index against an independent oracle: turf's great-circle
// distance (@turf/distance) and point-to-line distance (@turf/point-to-line-distance, geodesic),
// on random shapes anywhere on Earth and points around their edges.
//
// turf uses a sphere of radius 6371008.8 m (ours: 6371008.77 m, 4.5e-9 relative) and converts
// through longitude/latitude on the way (mm-level rounding on metre-long segments), so a point
// within ORACLE_TOLERANCE of the edge may legitimately be judged either way; every other point
// must agree.

import { distance as turfDistance } from "@turf/distance";
import { lineString } from "@turf/helpers";
import { pointToLineDistance } from "@turf/point-to-line-distance";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { Fence, Position } from "./fence.ts";
import { MemoryFenceIndex } from "./memory-index.ts";
import { besideArc, destination } from "./shape-probes.ts";

/** Metres of disagreement allowed at the edge: 1 cm plus 1e-6 of the radius or half width. */
const tolerance = (reach: number) => 0.01 + reach * 1e-6;

const lon = fc.double({ min: -180, max: 180, noNaN: true });
const lat = fc.oneof(
  fc.double({ min: -89.999, max: 89.999, noNaN: true }),
  fc.double({ min: 88, max: 89.999, noNaN: true }),
  fc.double({ min: -89.999, max: -88, noNaN: true }),
);
const place = fc.oneof(
  fc.tuple(lon, lat),
  // Beside the antimeridian.
  fc.tuple(fc.double({ min: 179, max: 180, noNaN: true }), lat),
  fc.tuple(fc.double({ min: -180, max: -179, noNaN: true }), lat),
);
/** Metres from 1 to 100,000, spread evenly in log scale. */
const metres = fc.noBias(fc.integer({ min: 0, max: 5000 })).map((k) => 10 ** (k / 1000));
const bearing = fc.double({ min: 0, max: 360, noNaN: true });
/** Where a probe lands, as a multiple of the reach: mostly near the edge. */
const factor = fc.oneof(
  fc.noBias(fc.double({ min: 0, max: 3, noNaN: true })),
  // 1 ± 10^e: just inside or outside the edge, from 1e-9 to 10% of the reach away.
  fc
    .tuple(fc.boolean(), fc.noBias(fc.integer({ min: -900, max: -100 })))
    .map(([outside, k]) => 1 + (outside ? 1 : -1) * 10 ** (k / 100)),
  fc.constantFrom(0, 1),
);

interface Tally {
  agreed: number;
  atTheEdge: number;
}

function judge(fence: Fence, point: Position, oracleM: number, reach: number, t: Tally): void {
  const index = new MemoryFenceIndex();
  index.upsert(fence);
  const covered = index.coveringPoint(point[0], point[1]).includes(fence.id);
  if (Math.abs(oracleM - reach) <= tolerance(reach)) {
    t.atTheEdge++;
    return;
  }
  t.agreed++;
  expect(covered, `oracle ${oracleM} m for reach ${reach} m at ${point}`).toBe(oracleM <= reach);
}

describe("circles and corridors agree with turf", () => {
  it("circles: covered exactly when turf's distance to the centre is at most the radius", () => {
    const t: Tally = { agreed: 0, atTheEdge: 0 };
    fc.assert(
      fc.property(place, metres, bearing, factor, ([x, y], radius, b, f) => {
        const fence: Fence = {
          id: "c",
          name: "c",
          polygons: [],
          circle: { center: [x, y], radius_m: radius },
        };
        const point = destination(x, y, b, radius * f);
        const oracle = turfDistance([x, y], [...point], { units: "meters" });
        judge(fence, point, oracle, radius, t);
      }),
      { numRuns: 3000 },
    );
    // Most probes are clear of the edge; about a third are placed right on it.
    expect(t.agreed).toBeGreaterThan(1200);
  });

  it("corridors: covered exactly when turf's distance to the line is at most half the width", () => {
    const t: Tally = { agreed: 0, atTheEdge: 0 };
    const steps = fc.array(fc.tuple(bearing, fc.double({ min: 0.2, max: 30, noNaN: true })), {
      minLength: 1,
      maxLength: 6,
    });
    fc.assert(
      fc.property(
        place,
        metres,
        steps,
        fc.nat(),
        bearing,
        factor,
        fc.double({ min: 0, max: 1, noNaN: true }),
        ([x, y], width, walk, from, b, f, along) => {
          const line: Position[] = [[x, y]];
          for (const [heading, length] of walk) {
            const [px, py] = line[line.length - 1] as Position;
            line.push(destination(px, py, heading, length * width));
          }
          const fence: Fence = {
            id: "r",
            name: "r",
            polygons: [],
            corridor: { line, width_m: width },
          };
          // From a vertex in any direction (the round ends), or straight out from a point along
          // a segment (its sides).
          const k = from % (2 * line.length - 1);
          const a = line[Math.floor(k / 2)] as Position;
          const next = line[Math.min(line.length - 1, Math.floor(k / 2) + 1)] as Position;
          const reach = (width / 2) * f;
          const point =
            k % 2 === 0
              ? destination(a[0], a[1], b, reach)
              : besideArc(a, next, along, b < 180, reach);
          const oracle = pointToLineDistance([...point], lineString(line.map((q) => [...q])), {
            units: "meters",
          });
          judge(fence, point, oracle, width / 2, t);
        },
      ),
      { numRuns: 3000 },
    );
    // Most probes are clear of the edge; about a third are placed right on it.
    expect(t.agreed).toBeGreaterThan(1200);
  });
});
