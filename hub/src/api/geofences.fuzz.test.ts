// Generated geofences against the geofence routes over a real SQLite store: near-valid Features,
// degenerate rings on a small grid, and racing changes to one geofence. The API answers 2xx or a
// 4xx in the error shape, never 5xx, and what it accepts is a geometry CONTRACT §5 allows.
// fast-check prints the seed of a failure; FC_SEED=<seed> replays it, FC_RUNS_SCALE=n runs longer.

import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { fill, HUGE, hugeNumber, jsonBody, jsonText, nastyString } from "./fuzz-arbitraries.ts";
import {
  type Auth,
  checkAnswer,
  checkPaging,
  closeFuzzApi,
  count,
  fuzzApi,
  inject,
  type Method,
  openFuzzApi,
  type Request,
  roundTrip,
  runs,
  statuses,
} from "./fuzz-harness.ts";
import { polygonFeature } from "./test-support.ts";

beforeAll(openFuzzApi);
afterAll(closeFuzzApi);

const number = fc.oneof(
  { weight: 4, arbitrary: fc.double({ min: -200, max: 200, noNaN: true }) },
  { weight: 1, arbitrary: hugeNumber },
  { weight: 1, arbitrary: fc.constantFrom<unknown>(HUGE, "1", null, true, [], {}, "NaN") },
);
const position = fc.oneof(
  { weight: 8, arbitrary: fc.tuple(number, number) },
  { weight: 1, arbitrary: fc.array(number, { maxLength: 4 }) },
  { weight: 1, arbitrary: jsonBody },
);
/** A counter-clockwise square somewhere on the map: a ring that is fine. */
const square = fc
  .tuple(
    fc.double({ min: -179, max: 179, noNaN: true }),
    fc.double({ min: -89, max: 89, noNaN: true }),
  )
  .map(([lon, lat]) => [
    [lon, lat],
    [lon + 0.5, lat],
    [lon + 0.5, lat + 0.5],
    [lon, lat + 0.5],
    [lon, lat],
  ]);
/** Rings: random positions (often crossing themselves), closed or not, and squares. */
const ring = fc.oneof(
  fc
    .tuple(fc.array(position, { maxLength: 8 }), fc.boolean())
    .map(([ps, close]) => (close && ps.length > 0 ? [...ps, ps[0]] : ps)),
  square,
);
const polygonCoords = fc.array(ring, { maxLength: 3 });
const geometry = fc.oneof(
  polygonCoords.map((coordinates) => ({ type: "Polygon", coordinates })),
  fc
    .array(polygonCoords, { maxLength: 3 })
    .map((coordinates) => ({ type: "MultiPolygon", coordinates })),
  fc
    .tuple(fc.constantFrom("Point", "LineString", "GeometryCollection", "polygon", ""), jsonBody)
    .map(([type, coordinates]) => ({ type, coordinates })),
  jsonBody,
);
const geofenceProperties = fc.record(
  {
    name: fc.oneof(nastyString, jsonBody),
    radius_m: number,
    width_m: number,
    hysteresis_m: number,
    max_accuracy_m: number,
    dwell_s: number,
    created_at: nastyString,
    extra: jsonBody,
  },
  { requiredKeys: [] },
);
/**
 * Rings on a small grid: repeated points, collinear runs, touching and crossing edges, spikes and
 * holes that share edges with their shell are common here, as they never are with random doubles.
 */
const gridPosition = fc.oneof(
  {
    weight: 8,
    arbitrary: fc.tuple(fc.integer({ min: 0, max: 3 }), fc.integer({ min: 0, max: 3 })),
  },
  {
    weight: 1,
    arbitrary: fc.tuple(
      fc.constantFrom(-180, 180, 179.999999, 0),
      fc.constantFrom(-90, 90, 0, 1e-300),
    ),
  },
  {
    weight: 1,
    arbitrary: fc.tuple(
      fc.integer({ min: 0, max: 3 }),
      fc.integer({ min: 0, max: 3 }),
      fc.integer(),
    ),
  },
);
const gridRing = fc
  .tuple(fc.array(gridPosition, { minLength: 0, maxLength: 10 }), fc.nat({ max: 9 }))
  .map(([ps, open]) => (open === 0 || ps.length === 0 ? ps : [...ps, ps[0]]));
const gridGeofence = fc
  .tuple(
    fc.array(fc.array(gridRing, { minLength: 1, maxLength: 3 }), { minLength: 1, maxLength: 3 }),
    fc.boolean(),
  )
  .map(([polygons, multi]) => ({
    type: "Feature",
    geometry: multi
      ? { type: "MultiPolygon", coordinates: polygons }
      : { type: "Polygon", coordinates: polygons[0] },
    properties: { name: "grid" },
  }));

type Ring = number[][];
function orient(a: number[], b: number[], c: number[]): number {
  const v =
    ((b[0] as number) - (a[0] as number)) * ((c[1] as number) - (a[1] as number)) -
    ((b[1] as number) - (a[1] as number)) * ((c[0] as number) - (a[0] as number));
  return Math.sign(v);
}
/** Whether two segments cross at a point inside both (not merely touch). */
function properlyCross(a: number[], b: number[], c: number[], d: number[]): boolean {
  const o1 = orient(a, b, c);
  const o2 = orient(a, b, d);
  const o3 = orient(c, d, a);
  const o4 = orient(c, d, b);
  return o1 * o2 < 0 && o3 * o4 < 0;
}
/** The first problem with an accepted ring by CONTRACT §5, or null. */
function ringProblem(ring: Ring): string | null {
  if (ring.length < 4) return "fewer than 4 positions";
  if (JSON.stringify(ring[0]) !== JSON.stringify(ring[ring.length - 1])) return "not closed";
  const n = ring.length - 1;
  for (let i = 0; i < n; i++) {
    for (let j = i + 2; j < n; j++) {
      if (i === 0 && j === n - 1) continue; // neighbours across the closing point
      if (
        properlyCross(
          ring[i] as number[],
          ring[i + 1] as number[],
          ring[j] as number[],
          ring[j + 1] as number[],
        )
      ) {
        return `edges ${i} and ${j} cross`;
      }
    }
  }
  return null;
}
/** Whether `p` is inside or on `ring` (even-odd, boundary included). */
function covers(ring: Ring, p: number[]): boolean {
  const [x, y] = p as [number, number];
  let inside = false;
  for (let i = 0, j = ring.length - 1; i < ring.length; j = i++) {
    const [xi, yi] = ring[i] as [number, number];
    const [xj, yj] = ring[j] as [number, number];
    if (
      orient([xj, yj], [xi, yi], [x, y]) === 0 &&
      Math.min(xi, xj) <= x &&
      x <= Math.max(xi, xj) &&
      Math.min(yi, yj) <= y &&
      y <= Math.max(yi, yj)
    ) {
      return true;
    }
    if (yi > y !== yj > y && x < ((xj - xi) * (y - yi)) / (yj - yi) + xi) inside = !inside;
  }
  return inside;
}
/** The first problem with an accepted geometry, checked independently of the hub's code. */
function geometryProblem(geometry: { type: string; coordinates: unknown }): string | null {
  const polygons = (
    geometry.type === "Polygon" ? [geometry.coordinates] : geometry.coordinates
  ) as Ring[][];
  for (const [p, rings] of polygons.entries()) {
    for (const [r, ring] of rings.entries()) {
      const problem = ringProblem(ring);
      if (problem !== null) return `polygon ${p} ring ${r}: ${problem}`;
      if (r > 0 && !ring.every((pt) => covers(rings[0] as Ring, pt))) {
        return `polygon ${p} hole ${r} is outside its shell`;
      }
    }
  }
  return null;
}

/** Geofences the API should store: a square, a name, and settings within their ranges. */
const validGeofence = fc.record({
  type: fc.constant("Feature"),
  geometry: square.map((r) => ({ type: "Polygon", coordinates: [r] })),
  properties: fc.record(
    {
      name: fc.string({ minLength: 1, maxLength: 200 }),
      hysteresis_m: fc.double({ min: 0, max: 100, noNaN: true }),
      dwell_s: fc.integer({ min: 1, max: 3600 }),
      note: fc.jsonValue({ maxDepth: 2 }),
    },
    { requiredKeys: ["name"] },
  ),
});
/** GeoJSON Features that are almost right: the bodies that reach the geometry checks. */
const nearGeofence = fc
  .record(
    {
      type: fc.oneof(fc.constant("Feature"), nastyString),
      geometry,
      properties: fc.oneof({ weight: 5, arbitrary: geofenceProperties }, jsonBody),
      id: nastyString,
    },
    { requiredKeys: ["geometry", "properties"] },
  )
  .map((f) => ({ type: "Feature", ...f }));
const geofenceBody = fc.oneof(validGeofence, nearGeofence);

describe("the geofence routes under generated geometry", () => {
  it("answers near-valid geofences without a 5xx", async () => {
    const write = fc.tuple(
      fc.constantFrom<[Method, string]>(
        ["POST", "/api/v1/geofences"],
        ["PUT", "/api/v1/geofences/:id"],
      ),
      geofenceBody,
    );
    await fc.assert(
      fc.asyncProperty(
        write,
        fc.constantFrom<Auth>("admin", "admin", "admin", "read"),
        async ([[method, template], value], a) => {
          await roundTrip({
            method,
            url: fill(template, fuzzApi().fenceId),
            auth: a,
            payload: jsonText(value),
            contentType: "application/json",
            known: true,
          });
        },
      ),
      runs(300),
    );
  });

  it("judges degenerate geometry on a grid with a 201 or a 400, and stores what it accepts", async () => {
    await fc.assert(
      fc.asyncProperty(gridGeofence, fc.boolean(), async (feature, put) => {
        const request: Request = {
          method: put ? "PUT" : "POST",
          url: put ? `/api/v1/geofences/${fuzzApi().fenceId}` : "/api/v1/geofences",
          auth: "admin",
          payload: feature,
          known: true,
        };
        const response = await inject(request);
        count(request, response.statusCode);
        checkAnswer(request, response);
        expect([200, 201, 400], response.body).toContain(response.statusCode);
        if (response.statusCode < 300) {
          const id = response.json().id as string;
          const again = await inject({
            method: "GET",
            url: `/api/v1/geofences/${id}`,
            auth: "admin",
          });
          expect(again.statusCode).toBe(200);
          expect(again.json().geometry).toEqual(response.json().geometry);
          expect(fuzzApi().t.fences.has(id)).toBe(true);
          // What the hub accepted, sent back, is a geometry CONTRACT §5 allows.
          expect(
            geometryProblem(response.json().geometry),
            JSON.stringify(feature.geometry),
          ).toBeNull();
        }
      }),
      runs(300),
    );
    // Both outcomes occurred: the grid reaches the checks and gets past them.
    expect(statuses("POST", "/api/v1/geofences").has(201)).toBe(true);
  });

  it("answers concurrent changes to one geofence without a 5xx", async () => {
    const op = fc.constantFrom<Method>("GET", "PUT", "PUT", "DELETE");
    await fc.assert(
      fc.asyncProperty(fc.array(op, { minLength: 2, maxLength: 10 }), async (methods) => {
        const created = await inject({
          method: "POST",
          url: "/api/v1/geofences",
          auth: "admin",
          payload: polygonFeature("race"),
        });
        expect(created.statusCode).toBe(201);
        const url = `/api/v1/geofences/${created.json().id}`;
        const requests: Request[] = methods.map((method) => ({
          method,
          url,
          auth: "admin",
          known: true,
          ...(method === "PUT" ? { payload: polygonFeature("race-2") } : {}),
        }));
        const responses = await Promise.all(requests.map(inject));
        responses.forEach((response, i) => {
          const request = requests[i] as Request;
          count(request, response.statusCode);
          checkAnswer(request, response);
          expect([200, 204, 404], response.body).toContain(response.statusCode);
        });
        // Deleted means gone for good: no PUT brings it back, and the engine does not know it.
        const deleted = responses.some(
          (r, i) => requests[i]?.method === "DELETE" && r.statusCode === 204,
        );
        const after = await inject({ method: "GET", url, auth: "admin" });
        if (deleted) {
          expect(after.statusCode).toBe(404);
          expect(fuzzApi().t.fences.has(created.json().id)).toBe(false);
        } else {
          expect(after.statusCode).toBe(200);
        }
      }),
      runs(100),
    );
  });

  it("pages through what the properties created: every geofence once", async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 1, max: 9 }), async (limit) => {
        expect(await checkPaging("/api/v1/geofences", "features", "id", limit)).toBeGreaterThan(
          limit,
        );
      }),
      runs(10),
    );
  });

  it("reached the handlers: the generators got past the token and the parser", () => {
    // A generator that only ever met the token check or the JSON parser would test nothing.
    const expected: [string, string, number[]][] = [
      ["POST", "/api/v1/geofences", [201, 400, 403]],
      ["PUT", "/api/v1/geofences/:id", [200, 400]],
      ["DELETE", "/api/v1/geofences/:id", [204, 404]],
    ];
    for (const [method, path, codes] of expected) {
      const got = statuses(method, path);
      for (const code of codes)
        expect(got.has(code), `${method} ${path} ${code}: ${[...got]}`).toBe(true);
    }
  });
});
