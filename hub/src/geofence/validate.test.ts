// Geofence geometry validation: RFC 7946 structure, OGC validity as PostGIS judges it, the vertex
// cap, and the normalised MultiPolygon it returns.

import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { type GeometryCheck, type GeometryProblem, validateGeometry } from "./validate.ts";

type Coords = number[][];

/** A ring written as in WKT, "x y, x y, …", positions exactly as given. */
const ring = (text: string): Coords =>
  text.split(",").map((position) => position.trim().split(/\s+/).map(Number));

/** An axis-aligned square ring from (x, y), counter-clockwise unless asked otherwise. */
function square(x: number, y: number, size: number, clockwise = false): Coords {
  const [x1, y1] = [x + size, y + size];
  const corners = ring(`${x} ${y}, ${x1} ${y}, ${x1} ${y1}, ${x} ${y1}, ${x} ${y}`);
  return clockwise ? corners.reverse() : corners;
}

const polygon = (...rings: unknown[]) => ({ type: "Polygon", coordinates: rings });
const multi = (...polygons: unknown[][]) => ({ type: "MultiPolygon", coordinates: polygons });

function problemOf(check: GeometryCheck): GeometryProblem {
  if (check.ok) throw new Error(`expected a problem, got ${JSON.stringify(check.polygons)}`);
  return check.problem;
}

/** Signed area (shoelace): positive for a counter-clockwise ring. */
function signedArea(positions: readonly (readonly number[])[]): number {
  let sum = 0;
  for (let i = 1; i < positions.length; i++) {
    const [x0 = 0, y0 = 0] = positions[i - 1] ?? [];
    const [x1 = 0, y1 = 0] = positions[i] ?? [];
    sum += x0 * y1 - x1 * y0;
  }
  return sum / 2;
}

/** A circle-like ring of `count` positions, the last closing it. */
function circle(count: number): Coords {
  const positions: Coords = [];
  for (let i = 0; i < count - 1; i++) {
    const angle = (2 * Math.PI * i) / (count - 1);
    positions.push([-118.25 + 0.2 * Math.cos(angle), 34.05 + 0.2 * Math.sin(angle)]);
  }
  positions.push([...(positions[0] ?? [])]);
  return positions;
}

describe("validateGeometry accepts", () => {
  const cases: { name: string; geometry: unknown; polygons: unknown }[] = [
    { name: "a simple square", geometry: polygon(square(0, 0, 1)), polygons: [[square(0, 0, 1)]] },
    {
      name: "a clockwise square, reversed",
      geometry: polygon(square(0, 0, 1, true)),
      polygons: [[square(0, 0, 1)]],
    },
    {
      name: "a polygon with a hole, the hole made clockwise",
      geometry: polygon(square(0, 0, 10), square(2, 2, 2)),
      polygons: [[square(0, 0, 10), square(2, 2, 2, true)]],
    },
    {
      name: "a hole touching the exterior at one point",
      geometry: polygon(square(0, 0, 10), ring("0 5, 3 4, 3 6, 0 5")),
      polygons: [[square(0, 0, 10), ring("0 5, 3 6, 3 4, 0 5")]],
    },
    {
      name: "a MultiPolygon of disjoint parts",
      geometry: multi([square(0, 0, 1)], [square(5, 5, 1, true)]),
      polygons: [[square(0, 0, 1)], [square(5, 5, 1)]],
    },
    {
      name: "3D positions, altitude dropped",
      geometry: polygon(square(0, 0, 1).map(([x, y]) => [x, y, 120.5])),
      polygons: [[square(0, 0, 1)]],
    },
    {
      name: "repeated consecutive positions, removed",
      geometry: polygon(ring("0 0, 0 0, 1 0, 1 1, 1 1, 1 1, 0 1, 0 0, 0 0")),
      polygons: [[square(0, 0, 1)]],
    },
    {
      name: "a straight run through a middle position",
      geometry: polygon(ring("0 0, 1 0, 2 0, 2 2, 0 2, 0 0")),
      polygons: [[ring("0 0, 1 0, 2 0, 2 2, 0 2, 0 0")]],
    },
    {
      name: "two holes touching each other at one point",
      geometry: polygon(square(0, 0, 10), square(2, 2, 2), square(4, 4, 2)),
      polygons: [[square(0, 0, 10), square(2, 2, 2, true), square(4, 4, 2, true)]],
    },
    {
      name: "two holes meeting the exterior at the same point",
      geometry: polygon(square(0, 0, 10), ring("5 0, 2 3, 4 3, 5 0"), ring("5 0, 6 3, 8 3, 5 0")),
      polygons: [[square(0, 0, 10), ring("5 0, 2 3, 4 3, 5 0"), ring("5 0, 6 3, 8 3, 5 0")]],
    },
    {
      name: "MultiPolygon parts touching at one point",
      geometry: multi([square(0, 0, 1)], [square(1, 1, 1)]),
      polygons: [[square(0, 0, 1)], [square(1, 1, 1)]],
    },
    {
      name: "an island inside another part's hole",
      geometry: multi([square(0, 0, 10), square(2, 2, 6)], [square(4, 4, 2)]),
      polygons: [[square(0, 0, 10), square(2, 2, 6, true)], [square(4, 4, 2)]],
    },
    {
      name: "an island touching its lake's shore at its first position",
      geometry: multi([square(0, 0, 10), square(2, 2, 6)], [ring("2 2, 3 4, 4 3, 2 2")]),
      polygons: [[square(0, 0, 10), square(2, 2, 6, true)], [ring("2 2, 4 3, 3 4, 2 2")]],
    },
    {
      name: "a ring spanning the whole coordinate range",
      geometry: polygon(ring("-180 -90, 180 -90, 180 90, -180 90, -180 -90")),
      polygons: [[ring("-180 -90, 180 -90, 180 90, -180 90, -180 -90")]],
    },
  ];
  it.each(cases)("$name", ({ geometry, polygons }) => {
    expect(validateGeometry(geometry)).toMatchObject({ ok: true, polygons });
  });

  it("counts the returned positions", () => {
    const check = validateGeometry(multi([square(0, 0, 10), square(2, 2, 2)], [square(20, 0, 1)]));
    expect(check.ok && check.vertexCount).toBe(15);
  });

  it("accepts a 100,000-vertex ring, at the cap", () => {
    // How fast: `npm run bench:engine` times it; a test asserts only the answer.
    const positions = circle(100_000);
    const check = validateGeometry(polygon(positions));
    expect(check.ok && check.vertexCount).toBe(100_000);
    // One more position, a harmless repeat, goes over the cap.
    positions.splice(1, 0, [...(positions[1] ?? [])]);
    expect(problemOf(validateGeometry(polygon(positions))).message).toBe(
      "geometry has 100001 vertices; the limit is 100000",
    );
  });
});

describe("validateGeometry rejects", () => {
  const bowTie = ring("0 0, 2 2, 2 0, 0 2, 0 0");
  const cases: {
    name: string;
    geometry: unknown;
    path: string;
    message: RegExp;
    maxVertices?: number;
  }[] = [
    { name: "no object", geometry: null, path: "geometry", message: /must be an object.*null/ },
    {
      name: "a Point",
      geometry: { type: "Point", coordinates: [0, 0] },
      path: "geometry.type",
      message:
        /"Polygon" or "MultiPolygon" \(or "Point" with properties.radius_m.*\), found the string "Point"/,
    },
    {
      name: "a LineString",
      geometry: { type: "LineString", coordinates: ring("0 0, 1 1") },
      path: "geometry.type",
      message: /found the string "LineString"/,
    },
    {
      name: "missing coordinates",
      geometry: { type: "Polygon" },
      path: "geometry.coordinates",
      message: /non-empty array of rings.*found nothing/,
    },
    {
      name: "an empty MultiPolygon",
      geometry: multi(),
      path: "geometry.coordinates",
      message: /non-empty array of polygons/,
    },
    {
      name: "a Polygon nested one level short",
      geometry: polygon(...square(0, 0, 1)),
      path: "geometry.coordinates[0][0]",
      message: /must be a position.*found the number 0; check the nesting/,
    },
    {
      name: "a MultiPolygon nested like a Polygon",
      geometry: { type: "MultiPolygon", coordinates: [square(0, 0, 1)] },
      path: "geometry.coordinates[0][0][0]",
      message: /must be a position.*found the number 0/,
    },
    {
      name: "a string for a number",
      geometry: polygon([["0", 0], ...square(0, 0, 1).slice(1)]),
      path: "geometry.coordinates[0][0][0]",
      message: /the longitude, must be a finite number, found the string "0"/,
    },
    {
      name: "NaN (not JSON, but a caller may pass it)",
      geometry: polygon(ring("0 0, 1 NaN, 1 1, 0 0")),
      path: "geometry.coordinates[0][1][1]",
      message: /the latitude, must be a finite number, found the number NaN/,
    },
    {
      name: "a position of four numbers",
      geometry: polygon(ring("0 0 0 0, 1 0, 1 1, 0 0")),
      path: "geometry.coordinates[0][0]",
      message: /must be a position \[longitude, latitude\] or \[longitude, latitude, altitude\]/,
    },
    {
      name: "a longitude out of range",
      geometry: polygon(ring("0 0, 200 0, 1 1, 0 0")),
      path: "geometry.coordinates[0][1][0]",
      message: /has longitude 200, outside -180..180/,
    },
    {
      name: "a latitude out of range",
      geometry: polygon(ring("0 0, 1 0, 1 -90.5, 0 0")),
      path: "geometry.coordinates[0][2][1]",
      message: /has latitude -90.5, outside -90..90/,
    },
    {
      name: "an unclosed ring",
      geometry: polygon(ring("0 0, 1 0, 1 1, 0 1")),
      path: "geometry.coordinates[0][3]",
      message: /ring 0 is not closed: its last position \[0, 1\] differs from its first \[0, 0\]/,
    },
    {
      name: "a ring of three positions",
      geometry: polygon(ring("0 0, 1 0, 0 0")),
      path: "geometry.coordinates[0]",
      message: /ring 0 has 3 positions; a ring needs at least 4/,
    },
    {
      name: "a ring of two distinct positions",
      geometry: polygon(ring("0 0, 1 0, 1 0, 0 0")),
      path: "geometry.coordinates[0]",
      message: /ring 0 has fewer than 3 distinct positions/,
    },
    {
      name: "a zero-area ring",
      geometry: polygon(square(0, 0, 10), ring("1 1, 2 2, 3 3, 1 1")),
      path: "geometry.coordinates[1]",
      message: /ring 1 has zero area: all its positions lie on one line/,
    },
    {
      name: "a bow-tie",
      geometry: polygon(bowTie),
      path: "geometry.coordinates[0][0]",
      message: /^ring 0 crosses itself between edge 0 and edge 2 near \[1, 1\]$/,
    },
    {
      name: "a bow-tie in polygon 1, named by polygon and ring",
      geometry: multi([square(10, 10, 1)], [bowTie]),
      path: "geometry.coordinates[1][0][0]",
      message: /^ring 0 of polygon 1 crosses itself between edge 0 and edge 2 near \[1, 1\]$/,
    },
    {
      name: "a spike out and back",
      geometry: polygon(ring("0 0, 4 0, 4 4, 2 4, 2 6, 2 4, 0 4, 0 0")),
      path: "geometry.coordinates[0][4]",
      message: /ring 0 turns back along itself at position 4 \[2, 6\]/,
    },
    {
      name: "a collinear backtrack past the start",
      geometry: polygon(ring("0 0, 4 0, 4 4, 0 4, 0 -2, 0 0")),
      path: "geometry.coordinates[0][4]",
      message: /ring 0 turns back along itself at position 4 \[0, -2\]/,
    },
    {
      name: "a ring touching itself at a vertex",
      geometry: polygon(ring("0 0, 4 0, 2 2, 4 4, 0 4, 2 2, 0 0")),
      path: "geometry.coordinates[0][1]",
      message: /ring 0 touches itself at \[2, 2\] \(edges 1 and 4\)/,
    },
    {
      name: "a ring touching itself mid-edge",
      geometry: polygon(ring("0 0, 4 0, 4 4, 2 0, 0 4, 0 0")),
      path: "geometry.coordinates[0][0]",
      message: /ring 0 touches itself at \[2, 0\]/,
    },
    {
      name: "a ring running along itself",
      geometry: polygon(ring("0 0, 6 0, 6 2, 4 2, 4 0, 2 0, 2 2, 0 2, 0 0")),
      path: "geometry.coordinates[0][0]",
      message: /ring 0 runs along itself between edge 0 and edge 4/,
    },
    {
      name: "a hole outside its exterior",
      geometry: polygon(square(0, 0, 4), square(10, 10, 1)),
      path: "geometry.coordinates[1]",
      message: /ring 1 is a hole outside the exterior ring \(ring 0\)/,
    },
    {
      name: "a hole around its exterior",
      geometry: polygon(square(1, 1, 2), square(0, 0, 4)),
      path: "geometry.coordinates[1]",
      message: /ring 1 is a hole outside the exterior ring/,
    },
    {
      name: "a hole outside, touching its exterior at its first position",
      geometry: polygon(square(0, 0, 4), ring("0 2, -2 3, -2 1, 0 2")),
      path: "geometry.coordinates[1]",
      message: /ring 1 is a hole outside the exterior ring/,
    },
    {
      name: "a hole crossing its exterior",
      geometry: polygon(square(0, 0, 4), square(3, 1, 2)),
      path: "geometry.coordinates[1]",
      message: /ring 1 is a hole that crosses the exterior ring \(ring 0\) near \[4, 1\]/,
    },
    {
      name: "a hole crossing its exterior only at vertices",
      geometry: polygon(square(0, 0, 4), ring("1 0, 2 -1, 3 0, 2 1, 1 0")),
      path: "geometry.coordinates[1]",
      message: /ring 1 is a hole that crosses the exterior ring \(ring 0\) near \[1, 0\]/,
    },
    {
      name: "a hole sharing an edge with its exterior",
      geometry: polygon(square(0, 0, 4), square(0, 0, 2)),
      path: "geometry.coordinates[0]",
      message: /ring 0 and ring 1 share an edge near \[0, 0\]/,
    },
    {
      name: "a hole touching its exterior at two points",
      geometry: polygon(square(0, 0, 4), ring("0 2, 2 0, 2 2, 0 2")),
      path: "geometry.coordinates[0]",
      message: /the polygon has its interior cut in pieces: ring 0 and ring 1 touch at \[/,
    },
    {
      name: "a chain of touching holes across the polygon",
      geometry: polygon(square(0, 0, 10), ring("0 5, 4 4, 4 6, 0 5"), ring("4 5, 10 5, 7 7, 4 5")),
      path: "geometry.coordinates[1]",
      message: /interior cut in pieces: ring 1 and ring 2 touch at \[4, 5\]/,
    },
    {
      name: "a hole inside a hole",
      geometry: polygon(square(0, 0, 10), square(1, 1, 8), square(2, 2, 2)),
      path: "geometry.coordinates[2]",
      message: /ring 2 is a hole inside ring 1, another hole/,
    },
    {
      name: "holes crossing each other",
      geometry: polygon(square(0, 0, 10), square(1, 1, 4), square(3, 3, 4)),
      path: "geometry.coordinates[1]",
      message: /holes ring 1 and ring 2 cross near/,
    },
    {
      name: "overlapping MultiPolygon parts",
      geometry: multi([square(0, 0, 4)], [square(2, 2, 4)]),
      path: "geometry.coordinates[0][0]",
      message: /polygons 0 and 1 overlap: ring 0 of polygon 0 crosses ring 0 of polygon 1 near/,
    },
    {
      name: "MultiPolygon parts crossing only at vertices",
      geometry: multi([square(0, 0, 2)], [ring("0 0, 3 -1, 2 2, 0 0")]),
      path: "geometry.coordinates[0][0]",
      message: /polygons 0 and 1 overlap/,
    },
    {
      name: "a MultiPolygon part inside another",
      geometry: multi([square(0, 0, 10)], [square(2, 2, 2)]),
      path: "geometry.coordinates[1]",
      message: /polygon 1 lies inside polygon 0; the polygons of a MultiPolygon must not overlap/,
    },
    {
      name: "a MultiPolygon part around another's hole",
      geometry: multi([square(0, 0, 10), square(4, 4, 1)], [square(2, 2, 6)]),
      path: "geometry.coordinates[1]",
      message: /polygon 1 lies inside polygon 0/,
    },
    {
      name: "MultiPolygon parts sharing an edge",
      geometry: multi([square(0, 0, 1)], [square(1, 0, 1)]),
      path: "geometry.coordinates[0][0]",
      message: /polygons 0 and 1 share an edge/,
    },
    {
      name: "hundreds of rings meeting at one point",
      geometry: multi(
        ...Array.from({ length: 300 }, (_, i) => {
          const [a0, a1] = [(2 * Math.PI * i) / 300, (2 * Math.PI * (i + 0.5)) / 300];
          return [
            [
              [0, 0],
              [Math.cos(a0), Math.sin(a0)],
              [Math.cos(a1), Math.sin(a1)],
              [0, 0],
            ],
          ];
        }),
      ),
      path: "geometry.coordinates",
      message: /too many places where rings touch .* near \[0, 0\]/,
    },
    {
      name: "more vertices than the cap",
      geometry: polygon(square(0, 0, 10), square(1, 1, 1)),
      path: "geometry.coordinates",
      message: /^geometry has 10 vertices; the limit is 9$/,
      maxVertices: 9,
    },
  ];
  it.each(cases)("$name", ({ geometry, path, message, maxVertices }) => {
    const problem = problemOf(validateGeometry(geometry, { maxVertices }));
    expect(problem.path).toBe(path);
    expect(problem.message).toMatch(message);
  });
});

/** A closed ring through the given positions. */
const closed = (points: Coords): Coords => [...points, [...(points[0] ?? [])]];

describe("validateGeometry properties", () => {
  const smallRing = fc
    .array(fc.tuple(fc.integer({ min: 0, max: 5 }), fc.integer({ min: 0, max: 5 })), {
      minLength: 3,
      maxLength: 9,
    })
    .map((points) => closed(points));

  it("never throws, whatever it is given", () => {
    const shaped = fc.record({
      type: fc.constantFrom("Polygon", "MultiPolygon", "Point"),
      coordinates: fc.oneof(fc.jsonValue(), fc.array(fc.array(fc.array(fc.jsonValue())))),
    });
    fc.assert(
      fc.property(fc.oneof(fc.jsonValue(), fc.anything(), shaped), (value) => {
        const check = validateGeometry(value);
        expect(typeof check.ok).toBe("boolean");
      }),
      { numRuns: 2000 },
    );
  });

  it("returns what it accepts normalised: closed, wound as RFC 7946 asks, and stable", () => {
    const geometry = fc.oneof(
      fc.array(smallRing, { minLength: 1, maxLength: 3 }).map((rings) => polygon(...rings)),
      fc
        .array(fc.array(smallRing, { minLength: 1, maxLength: 2 }), { minLength: 1, maxLength: 3 })
        .map((polygons) => multi(...polygons)),
    );
    fc.assert(
      fc.property(geometry, (value) => {
        const check = validateGeometry(value);
        if (!check.ok) return;
        for (const rings of check.polygons) {
          rings.forEach((ring, r) => {
            expect(ring[0]).toEqual(ring[ring.length - 1]);
            expect(Math.sign(signedArea(ring))).toBe(r === 0 ? 1 : -1);
          });
        }
        expect(validateGeometry(multi(...(check.polygons as unknown[][])))).toEqual(check);
      }),
      { numRuns: 3000 },
    );
  });

  it("accepts any star-shaped polygon in either winding and returns it counter-clockwise", () => {
    const star = fc.record({
      // Gaps between angles stay under 180°, so every vertex is visible from the centre.
      jitters: fc.array(fc.integer({ min: 0, max: 90 }), { minLength: 4, maxLength: 60 }),
      radii: fc.array(fc.double({ min: 0.001, max: 0.5, noNaN: true }), {
        minLength: 60,
        maxLength: 60,
      }),
      centre: fc.tuple(
        fc.double({ min: -179, max: 179, noNaN: true }),
        fc.double({ min: -89, max: 89, noNaN: true }),
      ),
      clockwise: fc.boolean(),
      hole: fc.boolean(),
    });
    fc.assert(
      fc.property(star, ({ jitters, radii, centre: [cx, cy], clockwise, hole }) => {
        const count = jitters.length;
        const points = jitters.map((jitter, i) => {
          const angle = ((i + jitter / 100) * 2 * Math.PI) / count;
          const radius = radii[i] ?? 0.1;
          return [cx + radius * Math.cos(angle), cy + radius * Math.sin(angle)];
        });
        const outline = closed(clockwise ? points.reverse() : points);
        // A small square about the centre lies inside: no edge passes closer than r·cos(81°).
        const size = 0.05 * Math.min(...radii.slice(0, count));
        const rings = hole ? [outline, square(cx - size / 2, cy - size / 2, size)] : [outline];
        const check = validateGeometry(polygon(...rings));
        if (!check.ok) throw new Error(check.problem.message);
        const [shell = [], inner = []] = check.polygons[0] ?? [];
        expect(signedArea(shell)).toBeGreaterThan(0);
        if (hole) expect(signedArea(inner)).toBeLessThan(0);
        expect(validateGeometry(multi(...(check.polygons as unknown[][])))).toEqual(check);
      }),
      { numRuns: 500 },
    );
  });
});
